// Table tests for the local engine's parsers and file formats (no processes, no cgroups).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/local/cgroup.h"
#include "engine/local/log_writer.h"
#include "engine/local/outcome.h"
#include "engine/local/proc.h"
#include "engine/local/state_files.h"
#include "engine/local/watchdog.h"

namespace tug::engine::local {
namespace {

TEST(ProcStatTest, ParsesStartTimeWithCommContainingSpacesAndParens) {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss ...
  std::string text =
      "4242 (evil) (name x) S 1 4240 4240 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 "
      "987654321 12345678 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto st = ParseProcStat(text);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->comm, "evil) (name x");
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->pgrp, 4240);
  EXPECT_EQ(st->start_ticks, 987654321u);
  EXPECT_EQ(st->rss_pages, 321);
}

TEST(ProcStatTest, RejectsMalformedText) {
  EXPECT_FALSE(ParseProcStat("").ok());
  EXPECT_FALSE(ParseProcStat("12 (x S 1").ok());
  EXPECT_FALSE(ParseProcStat("12 (x) S 1 2 3").ok());
  EXPECT_FALSE(
      ParseProcStat("abc (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21").ok());
}

TEST(ProcStatTest, BootTimeFromProcStat) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1796600000\nprocesses 9\n"), 1796600000);
  EXPECT_EQ(ParseBootTime("cpu 1\nbtime 42"), 42);
  EXPECT_EQ(ParseBootTime("cpu 1\nbtime x\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("btimes 5\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime(""), std::nullopt);
  auto boot = BootTime();
  ASSERT_TRUE(boot.has_value());
  EXPECT_LE(*boot, ::time(nullptr));
}

TEST(WatchdogTest, SamplesTheWholeTreeBelowARootNotTheHost) {
  // A child with a grandchild: both are counted, this process (the root) is not.
  pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);  // so the test can kill child and grandchild together
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::pause();
      ::_exit(0);
    }
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  ::setpgid(child, child);
  struct KillGroup {
    pid_t pgid;
    ~KillGroup() {
      ::kill(-pgid, SIGKILL);
      int status = 0;
      ::waitpid(pgid, &status, 0);
    }
  } kill_group{child};
  std::optional<int64_t> rss;
  for (int i = 0; i < 6000; ++i) {  // until the grandchild exists (a guard of 60 s)
    rss = SampleDescendantsRss(::getpid());
    if (!rss) break;
    auto children =
        ReadFile("/proc/" + std::to_string(child) + "/task/" + std::to_string(child) + "/children");
    if (children.ok() && !SplitWords(*children).empty()) break;
    ::usleep(10'000);
  }
  if (!rss) GTEST_SKIP() << "this kernel has no /proc/<pid>/task/<tid>/children";
  auto self = ReadProcStat(::getpid());
  auto kid = ReadProcStat(child);
  ASSERT_TRUE(self.ok() && kid.ok());
  int64_t page = ::sysconf(_SC_PAGESIZE);
  rss = SampleDescendantsRss(::getpid());
  EXPECT_GE(*rss, kid->rss_pages * page);  // the child, plus its child
  EXPECT_LT(*rss, self->rss_pages * page + (64 << 20)) << "the root itself was counted?";
  // Nothing below a process without children.
  EXPECT_EQ(SampleDescendantsRss(0x7ffffff0).value_or(0), 0);
}

TEST(ProcStatTest, ReadsOwnProcess) {
  auto st = ReadProcStat(::getpid());
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(st->pid, ::getpid());
  EXPECT_TRUE(IsAliveWithStart(::getpid(), st->start_ticks));
  EXPECT_FALSE(IsAliveWithStart(::getpid(), st->start_ticks + 1));
  EXPECT_EQ(ReadProcStat(0x7ffffff0).error().code(), Code::kNotFound);
}

TEST(ProcCgroupTest, ParsesV1AndUnifiedLines) {
  auto cg = ParseProcCgroup(
      "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/523efea7\n3:cpu,cpuacct:/a/b\n0::/\n");
  ASSERT_TRUE(cg.ok()) << cg.error().ToString();
  ASSERT_TRUE(cg->unified.has_value());
  EXPECT_EQ(*cg->unified, "/");
  EXPECT_EQ(cg->v1.at("memory"), "/process_api/523efea7");
  EXPECT_EQ(cg->v1.at("cpu"), "/a/b");
  EXPECT_EQ(cg->v1.at("cpuacct"), "/a/b");
  EXPECT_EQ(cg->v1.at("name=systemd"), "/");
}

TEST(ProcCgroupTest, UnifiedOnlyHost) {
  auto cg = ParseProcCgroup("0::/user.slice/user-1000.slice/session-2.scope\n");
  ASSERT_TRUE(cg.ok());
  EXPECT_EQ(*cg->unified, "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_TRUE(cg->v1.empty());
  EXPECT_FALSE(ParseProcCgroup("garbage\n").ok());
}

TEST(MountInfoTest, FindsV1ControllersAndUnifiedMount) {
  CgroupMounts m = ParseMountInfo(
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup "
      "rw,cpu,cpuacct\n"
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(m.unified.has_value());
  EXPECT_EQ(m.unified->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m.v1.at("cpu").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m.v1.at("cpuacct").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m.v1.at("memory").root, "/docker/abc");
  EXPECT_EQ(m.v1.count("name=systemd"), 0u);
  EXPECT_EQ(m.v1.count("xattr"), 1u);  // harmless: nothing asks for it
}

TEST(MountInfoTest, CgroupDirMapsHierarchyPathsThroughTheMountRoot) {
  CgroupMount plain{"/", "/sys/fs/cgroup/memory"};
  EXPECT_EQ(CgroupDir(plain, "/process_api/x"), "/sys/fs/cgroup/memory/process_api/x");
  EXPECT_EQ(CgroupDir(plain, "/"), "/sys/fs/cgroup/memory");
  CgroupMount nested{"/docker/abc", "/sys/fs/cgroup/memory"};
  EXPECT_EQ(CgroupDir(nested, "/docker/abc"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(CgroupDir(nested, "/docker/abc/sub"), "/sys/fs/cgroup/memory/sub");
  EXPECT_EQ(CgroupDir(nested, "/docker/abcd"), "");
  EXPECT_EQ(CgroupDir(nested, "/other"), "");
}

TEST(CgroupCounterTest, ReadsOomKillFromV1OomControl) {
  auto n = ParseKeyedCounter("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "oom_kill");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
}

TEST(CgroupCounterTest, ReadsOomKillFromV2MemoryEvents) {
  std::string events = "low 0\nhigh 0\nmax 17\noom 1\noom_kill 1\noom_group_kill 0\n";
  EXPECT_EQ(*ParseKeyedCounter(events, "oom_kill"), 1);
  EXPECT_EQ(*ParseKeyedCounter(events, "oom_group_kill"), 0);
  EXPECT_EQ(*ParseKeyedCounter(events, "max"), 17);
  EXPECT_EQ(ParseKeyedCounter("oom 1\n", "oom_kill").error().code(), Code::kNotFound);
  EXPECT_EQ(ParseKeyedCounter("oom_kill x\n", "oom_kill").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(*ParseKeyedCounter("usage_usec 123456\nuser_usec 100\n", "usage_usec"), 123456);
}

TEST(CgroupModeTest, UnknownModeIsInvalid) {
  auto layout = DetectCgroups("v3");
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.error().code(), Code::kInvalidArgument);
  auto none = DetectCgroups("none");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->version, CgroupVersion::kNone);
}

std::string StripTimes(const std::string& log) {
  // "2026-01-01T00:00:00.000000Z stdout x" -> "stdout x"
  std::string out;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    std::string line = log.substr(pos, nl - pos);
    out += line.substr(line.find(' ') + 1) + "|";
    pos = nl + 1;
  }
  return out;
}

TEST(LineSplitterTest, SplitsOnNewlinesAndKeepsPartialLines) {
  LineSplitter s("stdout");
  std::string out;
  s.Feed("one\ntw", 0, out);
  EXPECT_EQ(StripTimes(out), "stdout one|");
  EXPECT_EQ(s.pending(), 2u);
  s.Feed("o\n\nthree", 0, out);
  EXPECT_EQ(StripTimes(out), "stdout one|stdout two|stdout |");
  s.Flush(0, out);
  EXPECT_EQ(StripTimes(out), "stdout one|stdout two|stdout |stdout three|");
  s.Flush(0, out);  // nothing pending: no empty line
  EXPECT_EQ(StripTimes(out), "stdout one|stdout two|stdout |stdout three|");
}

TEST(LineSplitterTest, CutsLongLines) {
  LineSplitter s("stderr", 4);
  std::string out;
  s.Feed("abcdefghij\n", 0, out);
  EXPECT_EQ(StripTimes(out), "stderr abcd|stderr efgh|stderr ij|");
  out.clear();
  s.Feed("wxyz\nab", 0, out);  // a newline right at the cut ends that line
  EXPECT_EQ(StripTimes(out), "stderr wxyz|");
  s.Feed("cdef", 0, out);
  EXPECT_EQ(StripTimes(out), "stderr wxyz|stderr abcd|");
}

TEST(LineSplitterTest, LinesCarryRfc3339Time) {
  EXPECT_EQ(FormatLogLine(1'700'000'000'123'456, "tugboat", "exited with code 0"),
            "2023-11-14T22:13:20.123456Z tugboat exited with code 0\n");
}

// wait statuses as the kernel encodes them
constexpr int Exited(int code) { return code << 8; }
constexpr int Killed(int sig) { return sig; }

TEST(DecideOutcomeTest, Table) {
  struct Case {
    const char* name;
    JobEnd end;
    std::optional<int> exit_code;
    std::string_view reason;
    std::string message_part;
  };
  JobEnd base;
  base.memory_limit_bytes = 64 << 20;
  base.stop_grace_ms = 5000;
  base.watchdog_interval_ms = 50;
  auto with = [&](auto f) {
    JobEnd e = base;
    f(e);
    return e;
  };
  std::vector<Case> cases = {
      {"exit 0", with([](JobEnd& e) { e.wait_status = Exited(0); }), 0, reason::kCompleted,
       "exited with code 0"},
      {"exit 3", with([](JobEnd& e) { e.wait_status = Exited(3); }), 3, reason::kError,
       "exited with code 3"},
      {"sigkill", with([](JobEnd& e) { e.wait_status = Killed(SIGKILL); }), 137, reason::kSignaled,
       "killed by signal 9 (SIGKILL)"},
      {"kernel oom", with([](JobEnd& e) {
         e.wait_status = Killed(SIGKILL);
         e.oom_kills = 1;
       }),
       137, reason::kOomKilled, "killed by the kernel: memory limit 64Mi reached (oom_kill 1)"},
      {"wrapper survived its child's oom", with([](JobEnd& e) {
         e.wait_status = Exited(0);
         e.oom_kills = 1;
       }),
       137, reason::kOomKilled, "memory limit 64Mi"},
      {"oom without a limit", with([](JobEnd& e) {
         e.wait_status = Killed(SIGKILL);
         e.oom_kills = 2;
         e.memory_limit_bytes = 0;
       }),
       137, reason::kOomKilled, "out of memory (oom_kill 2)"},
      {"watchdog", with([](JobEnd& e) {
         e.wait_status = Killed(SIGKILL);
         e.watchdog_killed = true;
         e.watchdog_resident_bytes = 70 << 20;
       }),
       137, reason::kOomKilled,
       "killed by the watchdog: memory limit 64Mi reached (resident 70Mi)"},
      {"oom beats stop", with([](JobEnd& e) {
         e.wait_status = Killed(SIGKILL);
         e.oom_kills = 1;
         e.stop_reason = reason::kStopped;
         e.stop_why = "stopped on request";
       }),
       137, reason::kOomKilled, "killed by the kernel"},
      {"stopped by SIGTERM", with([](JobEnd& e) {
         e.wait_status = Killed(SIGTERM);
         e.stop_reason = reason::kStopped;
         e.stop_why = "stopped on request";
       }),
       143, reason::kStopped, "stopped on request; killed by signal 15 (SIGTERM)"},
      {"stopped, exited cleanly on SIGTERM", with([](JobEnd& e) {
         e.wait_status = Exited(0);
         e.stop_reason = reason::kStopped;
         e.stop_why = "stopped on request";
       }),
       0, reason::kStopped, "stopped on request; exited with code 0"},
      {"deadline escalated", with([](JobEnd& e) {
         e.wait_status = Killed(SIGKILL);
         e.stop_reason = reason::kDeadlineExceeded;
         e.stop_why = "deadline of 10s exceeded";
         e.escalated = true;
       }),
       137, reason::kDeadlineExceeded,
       "deadline of 10s exceeded; killed with SIGKILL after the 5000 ms grace period"},
      {"never reaped", base, std::nullopt, reason::kSignaled, "without an exit status"},
  };
  for (const Case& c : cases) {
    Outcome o = DecideOutcome(c.end);
    EXPECT_EQ(o.exit_code, c.exit_code) << c.name;
    EXPECT_EQ(o.reason, c.reason) << c.name;
    EXPECT_NE(o.message.find(c.message_part), std::string::npos) << c.name << ": " << o.message;
  }
}

TEST(StateFilesTest, SpecRoundTrips) {
  ShimSpec spec;
  spec.attempt_id = "r-1";
  spec.run_id = "r";
  spec.argv = {"/bin/sh", "-c", "echo \"hi\""};
  spec.env = {{"A", "1"}, {"B", "x y"}};
  spec.working_dir = "/tmp";
  spec.log_path = "/logs/r/r-1/main.log";
  spec.memory_bytes = 64 << 20;
  spec.cpu_millis = 500;
  spec.timeout_seconds = 10;
  spec.stop_grace_ms = 250;
  spec.watchdog = true;
  spec.sync = true;
  spec.cgroups.version = CgroupVersion::kV1;
  spec.cgroups.memory = "/sys/fs/cgroup/memory/x/tugboat/r-1";
  spec.cgroups.cpu = "/sys/fs/cgroup/cpu/x/tugboat/r-1";
  auto back = ParseSpec(SerializeSpec(spec));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->argv, spec.argv);
  EXPECT_EQ(back->env, spec.env);
  EXPECT_EQ(back->memory_bytes, spec.memory_bytes);
  EXPECT_EQ(back->cpu_millis, 500);
  EXPECT_EQ(back->stop_grace_ms, 250);
  EXPECT_TRUE(back->watchdog);
  EXPECT_TRUE(back->sync);
  EXPECT_EQ(back->cgroups.version, CgroupVersion::kV1);
  EXPECT_EQ(back->cgroups.Dirs(), spec.cgroups.Dirs());
  EXPECT_FALSE(ParseSpec("{\"argv\": []}").ok());
  EXPECT_FALSE(ParseSpec("not json").ok());
}

TEST(StateFilesTest, StatusShimPidAndRefRoundTrip) {
  ShimStatus st{137, "OOMKilled", "killed by the kernel", 67108864, 1234, 10, 20};
  auto back = ParseStatus(SerializeStatus(st));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->exit_code, 137);
  EXPECT_EQ(back->reason, "OOMKilled");
  EXPECT_EQ(back->peak_memory_bytes, 67108864);
  EXPECT_EQ(back->ended_at, 20);
  ShimStatus failed{std::nullopt, "LaunchFailed", "no such dir", 0, 0, 5, 5};
  EXPECT_FALSE(ParseStatus(SerializeStatus(failed))->exit_code.has_value());

  auto early = ParseShimPid(SerializeShimPid({12, 3456, 0, 0}));
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->pid, 12);
  EXPECT_EQ(early->job_pid, 0);
  auto full = ParseShimPid(SerializeShimPid({12, 3456, 13, 1700000000000000}));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->start_ticks, 3456u);
  EXPECT_EQ(full->job_pid, 13);
  EXPECT_EQ(full->started_at, 1700000000000000);
  // The job's line is appended while readers may look: half of it is not there yet.
  auto half = ParseShimPid("12 3456\n13 170");
  ASSERT_TRUE(half.ok()) << half.error().ToString();
  EXPECT_EQ(half->pid, 12);
  EXPECT_EQ(half->job_pid, 0);
  auto appended = ParseShimPid(SerializeShimPid({12, 3456, 0, 0}) +
                               SerializeShimPidJob({12, 3456, 13, 1700000000000000}));
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended->job_pid, 13);
  EXPECT_EQ(appended->started_at, 1700000000000000);
  EXPECT_FALSE(ParseShimPid("12").ok());
  EXPECT_FALSE(ParseShimPid("x 1").ok());

  auto ref = ParseRef(SerializeRef({12, 3456, 13, "/state/r-1"}));
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->shim_pid, 12);
  EXPECT_EQ(ref->dir, "/state/r-1");
}

TEST(StateFilesTest, StatusFollowsReason) {
  EXPECT_EQ(StatusForReason("Completed"), AttemptStatus::kSucceeded);
  EXPECT_EQ(StatusForReason("Stopped"), AttemptStatus::kStopped);
  EXPECT_EQ(StatusForReason(reason::kLost), AttemptStatus::kLost);
  EXPECT_EQ(StatusForReason("OOMKilled"), AttemptStatus::kFailed);
  EXPECT_EQ(StatusForReason("DeadlineExceeded"), AttemptStatus::kFailed);
  EXPECT_EQ(StatusForReason("LaunchFailed"), AttemptStatus::kFailed);
}

TEST(FindExecutableTest, SearchesPathLikeExecvp) {
  EXPECT_EQ(FindExecutable("sh", "/nonexistent:/bin:/usr/bin"),
            std::optional<std::string>("/bin/sh"));
  EXPECT_FALSE(FindExecutable("no-such-command-tug", "/bin:/usr/bin").has_value());
  EXPECT_EQ(FindExecutable("./x", "/bin"), std::optional<std::string>("./x"));
}

}  // namespace
}  // namespace tug::engine::local
