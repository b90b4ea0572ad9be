// LocalEngine against real processes and real cgroups. This binary is also the shim
// ("local_engine_test __shim DIR") and a throw-away server ("__test_server ...") that a test
// kills with SIGKILL; see main() at the bottom.
#include "engine/local/local_engine.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/ids.h"
#include "core/quantity.h"
#include "engine/engine_conformance.h"
#include "engine/local/local_engine_test_fixture.h"
#include "logs/fs_log_store.h"
#include "shim/shim.h"

extern char** environ;

namespace tug::engine::local {
namespace {

using namespace local_test;  // NOLINT(google-build-using-namespace): the fixture's helpers
using conformance::Recorder;
using std::chrono::milliseconds;

// ---- Conformance -------------------------------------------------------------------------

// `checked`: this test binary's own `__shim` mode, built with the sanitizers, instead of tug-shim.
// `launcher`: shims forked by the launcher (the default) or exec'd per launch.
Result<std::unique_ptr<Engine>> MakeLocal(const conformance::Env& env, const std::string& mode,
                                          bool checked = false, bool launcher = true) {
  LocalEngineOptions o;
  o.state_dir = env.root + "/state";
  o.shim_command =
      checked ? std::vector<std::string>{"/proc/self/exe", "__shim"} : TestShimCommand();
  o.cgroup_mode = mode;
  o.stop_grace_ms = 2000;
  o.use_launcher = launcher;
  ASSIGN_OR_RETURN(std::unique_ptr<LocalEngine> engine,
                   LocalEngine::Create(o, *env.logs, *env.clock));
  return std::unique_ptr<Engine>(std::move(engine));
}

bool WaitEndedUnwatched(const conformance::Env& env, const std::string& attempt_id,
                        milliseconds timeout) {
  return WaitForPath(env.root + "/state/" + attempt_id, kStatusFile, timeout);
}

TEST_F(LocalEngineTest, RealOomIsKilledByTheKernelAndReported) {
  size_t e = Make();
  SKIP_WITHOUT_CGROUP(e);
  LaunchSpec spec = Spec({"perl", "-e", kAllocate256Mi});
  spec.resources.memory_bytes = 64 * kMi;
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kOomKilled);
  EXPECT_EQ(ended->outcome.exit_code, 137);
  EXPECT_NE(ended->outcome.message.find("64Mi"), std::string::npos) << ended->outcome.message;
  EXPECT_GE(ended->peak_memory_bytes, 32 * kMi);
  EXPECT_LE(ended->peak_memory_bytes, 80 * kMi);
  EXPECT_NE(Log(spec).find(" tugboat killed by the kernel: memory limit 64Mi reached"),
            std::string::npos)
      << Log(spec);
}

TEST_F(LocalEngineTest, OomOfAChildIsReportedEvenWhenTheWrapperShellSurvives) {
  size_t e = Make();
  SKIP_WITHOUT_CGROUP(e);
  LaunchSpec spec = Shell(std::string("perl -e '") + kAllocate256Mi + "'; echo survived");
  spec.resources.memory_bytes = 64 * kMi;
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->outcome.reason, reason::kOomKilled);
  EXPECT_EQ(ended->outcome.exit_code, 137);
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_NE(Log(spec).find(" stdout survived\n"), std::string::npos) << Log(spec);
}

TEST_F(LocalEngineTest, LimitsAreWrittenToTheAttemptCgroups) {
  size_t e = Make();
  SKIP_WITHOUT_CGROUP(e);
  LaunchSpec spec = Shell(WaitLoop(Go("go")));
  spec.resources.memory_bytes = 64 * kMi;
  spec.resources.cpu_millis = 500;
  auto launch = engine(e).Launch(spec);
  ASSERT_TRUE(launch.ok());
  const std::string launched = *launch;
  AttemptCgroups g = GroupsOf(e, spec.attempt_id);
  if (g.version == CgroupVersion::kV1) {
    EXPECT_EQ(SplitWords(*ReadFile(g.memory + "/memory.limit_in_bytes"))[0], "67108864");
    if (engine(e).cgroup_layout().cpu_limits) {
      EXPECT_EQ(SplitWords(*ReadFile(g.cpu + "/cpu.cfs_quota_us"))[0], "50000");
      EXPECT_EQ(SplitWords(*ReadFile(g.cpu + "/cpu.cfs_period_us"))[0], "100000");
    }
  } else {
    EXPECT_EQ(SplitWords(*ReadFile(g.unified + "/memory.max"))[0], "67108864");
    if (engine(e).cgroup_layout().cpu_limits) {
      EXPECT_EQ(*ReadFile(g.unified + "/cpu.max"), "50000 100000\n");
    }
  }
  // The job itself is in the groups.
  auto ref = ParseRef(launched);
  ASSERT_TRUE(ref.ok()) << launched;
  std::vector<int> pids = CgroupPids(g);
  EXPECT_NE(std::find(pids.begin(), pids.end(), ref->job_pid), pids.end());
  EXPECT_EQ(std::find(pids.begin(), pids.end(), ref->shim_pid), pids.end());
  Touch(root_ + "/go");
  auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
}

TEST_F(LocalEngineTest, AV1CpuGroupIsMadeOnlyForALimitOrForAccounting) {
  size_t e = Make();
  SKIP_WITHOUT_CGROUP(e);
  const CgroupLayout& layout = engine(e).cgroup_layout();
  if (layout.version != CgroupVersion::kV1 || layout.cpu_base.empty()) {
    GTEST_SKIP() << "needs the v1 cpu hierarchy";
  }
  // Each attempt waits for its own file, so its spec.json is there to read.
  auto groups = [&](int64_t cpu_millis, const std::string& go) {
    LaunchSpec spec = Shell(WaitLoop(Go(go)));
    spec.resources.memory_bytes = 64 * kMi;
    spec.resources.cpu_millis = cpu_millis;
    EXPECT_TRUE(engine(e).Launch(spec).ok());
    AttemptCgroups g = GroupsOf(e, spec.attempt_id);
    Touch(root_ + "/" + go);
    auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
    EXPECT_TRUE(ended.has_value() && ended->status == AttemptStatus::kSucceeded);
    return g;
  };
  AttemptCgroups g = groups(0, "go-memory-only");  // no CPU limit
  EXPECT_FALSE(g.memory.empty());
  if (layout.cpuacct_base.empty()) {
    EXPECT_FALSE(g.cpu.empty()) << "cpu,cpuacct mounted together: the cpu group counts CPU";
  } else {
    EXPECT_TRUE(g.cpu.empty()) << g.cpu;
    EXPECT_FALSE(g.cpuacct.empty());
  }
  if (layout.cpu_limits) {
    EXPECT_FALSE(groups(500, "go-cpu-limit").cpu.empty());
  }
}

TEST_F(LocalEngineTest, WatchdogKillsAtTheLimitWithoutCgroups) {
  size_t e = Make("none");
  Health h = engine(e).GetHealth();
  EXPECT_TRUE(h.degraded);
  EXPECT_NE(h.message.find("memory limits enforced by a watchdog: no writable cgroup"),
            std::string::npos)
      << h.message;
  // Grows in steps so the sampler sees it pass the limit (a single huge allocation can finish
  // between two samples; that weakness is why the engine reports itself degraded).
  LaunchSpec spec = Spec({"perl", "-e",
                          "$x = ''; for (1..64) { $x .= 'x' x (8*1024*1024); "
                          "select(undef, undef, undef, 0.02) } print length($x)"});
  spec.resources.memory_bytes = 64 * kMi;
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kOomKilled);
  EXPECT_EQ(ended->outcome.exit_code, 137);
  EXPECT_NE(ended->outcome.message.find("watchdog"), std::string::npos) << ended->outcome.message;
  EXPECT_GE(ended->peak_memory_bytes, 64 * kMi);
  EXPECT_LT(ended->peak_memory_bytes, 512 * kMi);
}

TEST_F(LocalEngineTest, HealthIsNotDegradedWithCgroups) {
  size_t e = Make();
  SKIP_WITHOUT_CGROUP(e);
  Health h = engine(e).GetHealth();
  EXPECT_TRUE(h.ready);
  if (engine(e).cgroup_layout().cpu_limits) {
    EXPECT_FALSE(h.degraded) << h.message;
  }
}

TEST_F(LocalEngineTest, ReportsCpuTimeAndPeakMemory) {
  size_t e = Make();
  LaunchSpec spec = Spec({"perl", "-e", "$x = 'y' x (16*1024*1024); $i = 0; $i++ while $i < 2e6"});
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  EXPECT_GT(ended->cpu_micros, 0);
  EXPECT_GE(ended->peak_memory_bytes, 16 * kMi);
}

TEST_F(LocalEngineTest, KilledBySignalIsSignaled) {
  size_t e = Make();
  auto ended = RunToEnd(e, Shell("kill -KILL $$"));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kSignaled);
  EXPECT_EQ(ended->outcome.exit_code, 137);
  EXPECT_NE(ended->outcome.message.find("SIGKILL"), std::string::npos) << ended->outcome.message;
}

TEST_F(LocalEngineTest, LogLinesAreTimestampedAndPartialLinesFlushed) {
  size_t e = Make();
  LaunchSpec spec = Shell("echo out; echo err >&2; printf tail");
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  std::string log = Log(spec);
  std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (stdout|stderr|tugboat) .*)");
  std::istringstream in(log);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    EXPECT_TRUE(std::regex_match(l, line)) << l;
    lines.push_back(l.substr(l.find(' ') + 1));
  }
  ASSERT_GE(lines.size(), 5u) << log;
  EXPECT_EQ(lines.front().rfind("tugboat started process ", 0), 0u) << log;
  EXPECT_NE(std::find(lines.begin(), lines.end(), "stdout out"), lines.end()) << log;
  EXPECT_NE(std::find(lines.begin(), lines.end(), "stderr err"), lines.end()) << log;
  EXPECT_NE(std::find(lines.begin(), lines.end(), "stdout tail"), lines.end()) << log;
  EXPECT_EQ(lines.back(), "tugboat exited with code 0") << log;
}

TEST_F(LocalEngineTest, EnvironmentAndWorkingDirectoryAreHonoured) {
  size_t e = Make();
  std::string wd = root_ + "/wd";
  std::filesystem::create_directories(wd);
  LaunchSpec spec = Shell(R"(echo "foo=$FOO"; echo "home=$HOME"; echo "path=$PATH"; pwd; )"
                          R"(echo "me=$TUG_RUN_ID $TUG_ATTEMPT_ID $TUG_ATTEMPT")");
  spec.env = {{"FOO", "bar baz"}};
  spec.working_dir = wd;
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  std::string log = Log(spec);
  EXPECT_NE(log.find(" stdout foo=bar baz\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" stdout home=\n"), std::string::npos) << log;  // exactly the spec's env
  EXPECT_NE(log.find(std::string(" stdout path=") + kDefaultJobPath + "\n"), std::string::npos)
      << log;
  EXPECT_NE(log.find(" stdout " + wd + "\n"), std::string::npos) << log;
  auto me = fmt::format(" stdout me={} {} {}\n", spec.run_id, spec.attempt_id, spec.attempt_number);
  EXPECT_NE(log.find(me), std::string::npos) << log;
}

TEST_F(LocalEngineTest, SecretEnvReachesTheJobAndAReferenceIsRefused) {
  size_t e = Make();
  const std::string proof = root_ + "/proof";
  LaunchSpec spec = Shell("printf %s \"$PASSWORD\" > " + proof);
  spec.secret_env = {{"PASSWORD", SecretEnv{"s3cret value", "", ""}}};
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  std::ifstream in(proof);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), "s3cret value");

  LaunchSpec ref = Shell("true");
  ref.secret_env = {{"DB", SecretEnv{"", "db-creds", "password"}}};
  auto refused = engine(e).Launch(ref);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("local engine cannot read"), std::string::npos);
}

TEST_F(LocalEngineTest, ArgvRunsWithoutAShell) {
  size_t e = Make();
  LaunchSpec spec = Spec({"printf", "%s|", "a b", "$HOME", "c"});
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  EXPECT_NE(Log(spec).find(" stdout a b|$HOME|c|\n"), std::string::npos) << Log(spec);
}

TEST_F(LocalEngineTest, MissingWorkingDirectoryIsInvalidArgumentAndLeavesNothing) {
  size_t e = Make();
  LaunchSpec spec = Shell("true");
  spec.working_dir = root_ + "/does-not-exist";
  for (int i = 0; i < 2; ++i) {
    auto ref = engine(e).Launch(spec);
    ASSERT_FALSE(ref.ok());
    EXPECT_EQ(ref.error().code(), Code::kInvalidArgument);
    EXPECT_NE(ref.error().message().find("does-not-exist"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(engine(e).AttemptDir(spec.attempt_id)));
  }
  EXPECT_EQ(rec(e).Count(spec.attempt_id, Update::Kind::kStarted), 0);
}

TEST_F(LocalEngineTest, UnknownCommandIsInvalidArgument) {
  size_t e = Make();
  for (std::vector<std::string> argv : std::vector<std::vector<std::string>>{
           {"no-such-command-for-tugboat"}, {"/no/such/binary"}}) {
    LaunchSpec spec = Spec(argv);
    auto ref = engine(e).Launch(spec);
    ASSERT_FALSE(ref.ok()) << argv[0];
    EXPECT_EQ(ref.error().code(), Code::kInvalidArgument) << ref.error().ToString();
    EXPECT_NE(ref.error().message().find(argv[0]), std::string::npos);
  }
  std::string script = root_ + "/not-exec.sh";
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  auto ref = engine(e).Launch(Spec({script}));
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.error().code(), Code::kInvalidArgument);
  // Executable but not a program: only execve in the shim can tell, and its error still comes
  // back from Launch (through the handshake), leaving no state behind.
  std::string garbage = root_ + "/garbage";
  std::ofstream(garbage) << "this is not a program\n";
  std::filesystem::permissions(garbage, std::filesystem::perms::owner_all);
  LaunchSpec spec = Spec({garbage});
  ref = engine(e).Launch(spec);
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.error().code(), Code::kInvalidArgument) << ref.error().ToString();
  EXPECT_NE(ref.error().message().find("cannot execute"), std::string::npos)
      << ref.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(engine(e).AttemptDir(spec.attempt_id)));
}

TEST_F(LocalEngineTest, StopEscalatesToSigkillAfterTheGracePeriod) {
  size_t e = Make("auto", 300);
  std::string ready = root_ + "/ready";
  LaunchSpec spec = Shell("trap '' TERM; touch '" + ready + "'; " + WaitLoop(Go("never")));
  ASSERT_TRUE(engine(e).Launch(spec).ok());
  ASSERT_TRUE(WaitForPath(root_, "ready", kWait));
  ASSERT_TRUE(engine(e).Stop(spec.attempt_id).ok());
  auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kStopped);
  EXPECT_EQ(ended->outcome.reason, reason::kStopped);
  EXPECT_NE(ended->outcome.message.find("SIGKILL"), std::string::npos) << ended->outcome.message;
  EXPECT_EQ(ended->outcome.exit_code, 137);
}

TEST_F(LocalEngineTest, LeftoverProcessesAreKilledWhenTheJobExits) {
  size_t e = Make();
  std::string pidfile = root_ + "/leftover.pid";
  // setsid takes the sleeper out of the job's process group; it is still killed (cgroup, or
  // as an orphan re-parented to the shim).
  LaunchSpec spec = Shell("setsid sleep 300 & echo $! > '" + pidfile + "'; exit 0");
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  int pid = 0;
  std::ifstream(pidfile) >> pid;
  ASSERT_GT(pid, 0);
  auto st = ReadProcStat(pid);
  EXPECT_TRUE(!st.ok() || st->state == 'Z' || st->comm != "sleep")
      << "leftover process " << pid << " is still running";
}

TEST_F(LocalEngineTest, CleanupRemovesStateAndCgroupsButKeepsLogs) {
  size_t e = Make();
  LaunchSpec running = Shell(WaitLoop(Go("go")));
  ASSERT_TRUE(engine(e).Launch(running).ok());
  Status busy = engine(e).Cleanup(running.attempt_id);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code(), Code::kFailedPrecondition);
  Touch(root_ + "/go");
  ASSERT_TRUE(rec(e).WaitFor(running.attempt_id, Update::Kind::kEnded, kWait).has_value());

  AttemptCgroups groups = GroupsOf(e, running.attempt_id);
  Status cleaned = engine(e).Cleanup(running.attempt_id);
  ASSERT_TRUE(cleaned.ok()) << cleaned.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(engine(e).AttemptDir(running.attempt_id)));
  for (const std::string& dir : groups.Dirs()) EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  EXPECT_FALSE(Log(running).empty());
  EXPECT_TRUE(engine(e).Cleanup(running.attempt_id).ok());  // idempotent
}

TEST_F(LocalEngineTest, KilledShimIsReportedLostAndCannotBeAdopted) {
  size_t e = Make();
  LaunchSpec spec = Shell(WaitLoop(Go("go")));
  auto ref_text = engine(e).Launch(spec);
  ASSERT_TRUE(ref_text.ok());
  auto ref = ParseRef(*ref_text);
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(::kill(ref->shim_pid, SIGKILL), 0);
  auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kLost);
  EXPECT_EQ(ended->outcome.reason, reason::kLost);
  ::kill(-ref->job_pid, SIGKILL);  // the orphaned job: this test started it, this test ends it
  SignalCgroup(GroupsOf(e, spec.attempt_id), SIGKILL);

  size_t b = Make();
  Status adopted = engine(b).Adopt(spec.attempt_id, *ref_text);
  ASSERT_FALSE(adopted.ok());
  EXPECT_EQ(adopted.error().code(), Code::kNotFound);
  EXPECT_NE(adopted.error().message().find("gone and left no exit status"), std::string::npos);
}

TEST_F(LocalEngineTest, CleanupKillsWhatADeadShimLeftInTheGroups) {
  size_t e = Make();
  SKIP_WITHOUT_CGROUP(e);
  LaunchSpec spec = Shell(WaitLoop(Go("go")));
  auto ref_text = engine(e).Launch(spec);
  ASSERT_TRUE(ref_text.ok());
  auto ref = ParseRef(*ref_text);
  ASSERT_TRUE(ref.ok());
  AttemptCgroups groups = GroupsOf(e, spec.attempt_id);
  ASSERT_EQ(::kill(ref->shim_pid, SIGKILL), 0);
  ASSERT_TRUE(rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait).has_value());
  // The orphaned job is still in the attempt's groups: Cleanup finds the groups busy, kills it
  // and removes them.
  Status cleaned = engine(e).Cleanup(spec.attempt_id);
  ASSERT_TRUE(cleaned.ok()) << cleaned.error().ToString();
  for (const std::string& dir : groups.Dirs()) EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  auto st = ReadProcStat(ref->job_pid);
  EXPECT_TRUE(!st.ok() || st->state == 'Z') << "job " << ref->job_pid << " survived Cleanup";
}

TEST_F(LocalEngineTest, SinkMayCallBackIntoTheEngine) {
  size_t e = Make();
  LocalEngine* raw = &engine(e);
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  // Would deadlock if the engine called the sink while holding its mutex.
  raw->SetSink([&](const Update& u) {
    (void)raw->Active();
    (void)raw->GetHealth();
    std::lock_guard lock(mu);
    calls += u.kind == Update::Kind::kEnded ? 1 : 0;
    cv.notify_all();
  });
  ASSERT_TRUE(raw->Launch(Shell("true")).ok());
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, kWait, [&] { return calls == 1; }));
}

// Starts "<this binary> __test_server ..." (a server that launches one attempt and hangs),
// kills it with SIGKILL and adopts its attempt from this process.
TEST_F(LocalEngineTest, AttemptSurvivesSigkillOfTheServerAndIsAdopted) {
  std::string go = Go("go");
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<std::string> args = {"/proc/self/exe", "__test_server", root_ + "/state",
                                   root_ + "/logs", go};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t server = 0;
  ASSERT_EQ(::posix_spawn(&server, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string text;
  int64_t until = NowMs() + kWait.count();
  while (std::count(text.begin(), text.end(), '\n') < 3 && NowMs() < until) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(until - NowMs())) <= 0) continue;
    char buf[1024];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  ::kill(server, SIGKILL);
  int status = 0;
  ::waitpid(server, &status, 0);
  std::vector<std::string> lines = SplitWords(text);
  ASSERT_EQ(lines.size(), 3u) << "test server said: " << text;
  LaunchSpec spec;
  spec.run_id = lines[0];
  spec.attempt_id = lines[1];
  attempts_.push_back(spec.attempt_id);

  size_t e = Make();
  Status adopted = engine(e).Adopt(spec.attempt_id, lines[2]);
  ASSERT_TRUE(adopted.ok()) << adopted.error().ToString();
  ASSERT_TRUE(rec(e).WaitFor(spec.attempt_id, Update::Kind::kStarted, kWait).has_value());
  Touch(go);
  auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  EXPECT_NE(Log(spec).find(" stdout outlived the server\n"), std::string::npos) << Log(spec);
}

// "__test_server STATE_DIR LOG_ROOT GO_FILE": launches one attempt, prints run id, attempt id
// and ref (one per line), then waits to be killed.
int TestServerMain(int argc, char** argv) {
  if (argc != 5) return 2;
  logs::FsLogStore logs(argv[3]);
  LocalEngineOptions o;
  o.state_dir = argv[2];
  o.shim_command = TestShimCommand();
  auto engine = LocalEngine::Create(o, logs, SystemClock::Instance());
  if (!engine.ok()) {
    std::cerr << engine.error().ToString() << "\n";
    return 1;
  }
  LaunchSpec spec;
  spec.run_id = NewId(SystemClock::Instance());
  spec.attempt_id = AttemptId(spec.run_id, 1);
  spec.argv = {"/bin/sh", "-c", WaitLoop(argv[4]) + "; echo outlived the server"};
  auto ref = (*engine)->Launch(spec);
  if (!ref.ok()) {
    std::cerr << ref.error().ToString() << "\n";
    return 1;
  }
  std::cout << spec.run_id << "\n" << spec.attempt_id << "\n" << *ref << "\n" << std::flush;
  for (;;) ::pause();
}

}  // namespace
}  // namespace tug::engine::local

namespace tug::engine::conformance {

INSTANTIATE_TEST_SUITE_P(
    LocalEngine, EngineConformanceTest,
    ::testing::Values(
        Param{"CgroupAuto", [](const Env& env) { return local::MakeLocal(env, "auto"); },
              local::WaitEndedUnwatched, nullptr, "main", ""},
        Param{"Watchdog", [](const Env& env) { return local::MakeLocal(env, "none"); },
              local::WaitEndedUnwatched, nullptr, "main", ""},
        // The shim's own code under ASan/UBSan (tug-shim is built without them), launcher too.
        Param{"CheckedShim", [](const Env& env) { return local::MakeLocal(env, "auto", true); },
              local::WaitEndedUnwatched, nullptr, "main", ""},
        // Shims exec'd per launch (engine.shim_launcher: false, and the fallback when the
        // launcher is gone).
        Param{"ExecPerLaunch",
              [](const Env& env) { return local::MakeLocal(env, "auto", false, false); },
              local::WaitEndedUnwatched, nullptr, "main", ""}),
    ParamName);

}  // namespace tug::engine::conformance

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "__shim") {
    return tug::engine::local::RunShim(argc, argv);
  }
  if (argc >= 2 && std::string_view(argv[1]) == "__test_server") {
    return tug::engine::local::TestServerMain(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
