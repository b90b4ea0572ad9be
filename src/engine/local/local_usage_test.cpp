// Usage sampling of the local engine (usage_sampler.h): the pure parts with tables, the sampler
// over fake cgroup files, and kUsage updates from real jobs in cgroup and watchdog mode. Linked
// into local_engine_test, whose main() also serves as the shim.
#include "engine/local/usage_sampler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/ids.h"
#include "engine/local/local_engine.h"
#include "engine/local/proc.h"
#include "logs/fs_log_store.h"

namespace tug::engine::local {
namespace {

constexpr int64_t kMi = int64_t{1024} * 1024;

std::string MakeTempDir(const char* prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / prefix).string() + "-XXXXXX";
  return ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// ---- Pure parts --------------------------------------------------------------------------

TEST(UsageMathTest, MillicoresIsCpuTimeOverWallTime) {
  struct Case {
    int64_t cpu_micros, wall_micros, want;
  };
  for (const Case& c : std::vector<Case>{
           {500'000, 1'000'000, 500},     // half a core
           {2'000'000, 1'000'000, 2000},  // two cores busy
           {1, 3, 333},                   // rounded to nearest
           {2, 3, 667},
           {0, 1'000'000, 0},
           {-5'000, 1'000'000, 0},  // the counter went backwards (processes left the group)
           {1'000, 0, 0},           // no time passed
           {1'000, -1, 0},
       }) {
    EXPECT_EQ(Millicores(c.cpu_micros, c.wall_micros), c.want)
        << c.cpu_micros << " / " << c.wall_micros;
  }
}

TEST(UsageMathTest, ParsesSingleValueCgroupFiles) {
  EXPECT_EQ(*ParseCgroupNumber("104857600\n"), 104857600);
  EXPECT_EQ(*ParseCgroupNumber("0"), 0);
  EXPECT_EQ(*ParseCgroupNumber("9223372036854771712\n"), 9223372036854771712);  // v1 "no limit"
  for (const char* bad : {"", "\n", "max\n", "12 34\n", "-1\n", "1.5\n", "99999999999999999999"}) {
    auto v = ParseCgroupNumber(bad);
    EXPECT_FALSE(v.ok()) << "'" << bad << "' parsed as " << *v;
    if (!v.ok()) {
      EXPECT_EQ(v.error().code(), Code::kInvalidArgument);
    }
  }
}

TEST(UsageMathTest, WorkingSetLeavesOutInactiveFilePages) {
  // Excerpts of real memory.stat files.
  const std::string v2 =
      "anon 52756480\nfile 47185920\nkernel_stack 16384\nactive_anon 0\ninactive_anon "
      "52756480\nactive_file 4096\ninactive_file 47181824\nunevictable 0\n";
  const std::string v1 =
      "cache 47185920\nrss 52756480\ninactive_file 1000\nhierarchical_memory_limit "
      "268435456\ntotal_cache 47185920\ntotal_rss 52756480\ntotal_inactive_file 47181824\n";
  EXPECT_EQ(WorkingSet(100'000'000, v2, CgroupVersion::kV2), 100'000'000 - 47181824);
  // v1 counts the hierarchy: total_inactive_file, not the group's own inactive_file.
  EXPECT_EQ(WorkingSet(100'000'000, v1, CgroupVersion::kV1), 100'000'000 - 47181824);
  EXPECT_EQ(WorkingSet(100'000'000, "anon 5\n", CgroupVersion::kV2), 100'000'000);
  EXPECT_EQ(WorkingSet(100'000'000, "", CgroupVersion::kV1), 100'000'000);
  EXPECT_EQ(WorkingSet(1'000, v2, CgroupVersion::kV2), 0);  // never negative
}

TEST(UsageMathTest, ProcStatCarriesCpuTimes) {
  // Fields 14-17: utime stime cutime cstime.
  std::string text =
      "77 (perl) R 1 77 77 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 "
      "5000 12345678 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto st = ParseProcStat(text);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(st->utime_ticks, 250u);
  EXPECT_EQ(st->stime_ticks, 50u);
  EXPECT_EQ(st->cutime_ticks, 7);
  EXPECT_EQ(st->cstime_ticks, 3);
  EXPECT_EQ(st->start_ticks, 5000u);
  EXPECT_EQ(st->rss_pages, 2048);
}

TEST(UsageMathTest, OwnProcessGroupIsSampledFromProc) {
  // Burn a little CPU so the sum cannot be zero.
  volatile uint64_t x = 0;
  for (uint64_t i = 0; i < 50'000'000; ++i) x = x + i;
  auto groups = SampleProcessGroups({::getpgrp(), 999'999'999});
  ASSERT_EQ(groups.count(::getpgrp()), 1u);
  EXPECT_EQ(groups.count(999'999'999), 0u);
  const GroupUsage& g = groups.at(::getpgrp());
  EXPECT_GE(g.processes, 1);
  EXPECT_GE(g.rss_bytes, 1 * kMi);
  EXPECT_GT(g.cpu_micros, 0);
}

TEST(UsageTickerTest, SamplesOnlyWhileSomethingRuns) {
  UsageTicker t(200'000);
  EXPECT_FALSE(t.Due(false, 1'000'000));
  EXPECT_EQ(t.TimeoutMs(1'000'000), -1);  // nothing runs: poll waits for ever
  EXPECT_FALSE(t.Due(true, 1'000'000));   // something started: first sample an interval later
  EXPECT_EQ(t.TimeoutMs(1'000'000), 200);
  EXPECT_EQ(t.TimeoutMs(1'150'001), 50);  // rounded up, never early
  EXPECT_FALSE(t.Due(true, 1'199'999));
  EXPECT_TRUE(t.Due(true, 1'200'000));
  EXPECT_FALSE(t.Due(true, 1'200'000));  // once per tick
  EXPECT_EQ(t.TimeoutMs(1'300'000), 100);
  EXPECT_TRUE(t.Due(true, 1'450'000));  // a late turn still samples, on the old cadence
  EXPECT_EQ(t.TimeoutMs(1'450'000), 150);
  EXPECT_TRUE(t.Due(true, 3'000'000));  // far behind: one sample, not a burst
  EXPECT_FALSE(t.Due(true, 3'000'001));
  EXPECT_EQ(t.TimeoutMs(3'000'000), 200);
  EXPECT_FALSE(t.Due(false, 3'500'000));  // everything ended: unscheduled
  EXPECT_EQ(t.TimeoutMs(3'500'000), -1);
  EXPECT_FALSE(t.Due(true, 4'000'000));
  EXPECT_TRUE(t.Due(true, 4'200'000));

  UsageTicker off(0);
  EXPECT_FALSE(off.Due(true, 1));
  EXPECT_FALSE(off.Due(true, 1'000'000'000));
  EXPECT_EQ(off.TimeoutMs(1), -1);
}

// ---- The sampler over fake cgroup files --------------------------------------------------

class UsageSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("tug-usage");
    ASSERT_FALSE(root_.empty());
    dir_ = root_ + "/attempt";
    cg_ = root_ + "/cgroup";
    std::filesystem::create_directories(dir_);
    std::filesystem::create_directories(cg_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void WriteSpec(CgroupVersion version, int64_t memory, int64_t cpu) {
    ShimSpec spec;
    spec.attempt_id = "r1-1";
    spec.argv = {"/bin/true"};
    spec.log_path = root_ + "/main.log";
    spec.memory_bytes = memory;
    spec.cpu_millis = cpu;
    spec.cgroups.version = version;
    if (version == CgroupVersion::kV2) spec.cgroups.unified = cg_;
    if (version == CgroupVersion::kV1) spec.cgroups.memory = spec.cgroups.cpuacct = cg_;
    WriteText(dir_ + "/" + kSpecFile, SerializeSpec(spec));
  }
  UsageTarget Target(Micros started_at, int job_pid = 0) {
    return UsageTarget{"r1-1", dir_, job_pid, started_at};
  }

  std::string root_, dir_, cg_;
  ManualClock clock_;
};

TEST_F(UsageSamplerTest, CgroupV2ReadingsAndCpuOverTheInterval) {
  WriteSpec(CgroupVersion::kV2, 256 * kMi, 500);
  WriteText(cg_ + "/memory.current", "104857600\n");
  WriteText(cg_ + "/memory.stat", "anon 100\ninactive_file 4857600\n");
  WriteText(cg_ + "/cpu.stat", "usage_usec 1000000\nuser_usec 900000\nsystem_usec 100000\n");
  UsageSampler sampler(clock_, /*cpu_limits=*/true);
  const Micros started = clock_.Now() - 4 * kMicrosPerSecond;

  // First sample: the average since the job started (1 s of CPU in 4 s).
  std::vector<Update> got = sampler.Sample({Target(started)}, 50'000'000);
  ASSERT_EQ(got.size(), 1u);
  const Update& u = got[0];
  EXPECT_EQ(u.kind, Update::Kind::kUsage);
  EXPECT_EQ(u.attempt_id, "r1-1");
  EXPECT_EQ(u.at, clock_.Now());
  EXPECT_EQ(u.started_at, started);
  ASSERT_EQ(u.usage.size(), 1u);
  EXPECT_EQ(u.usage[0], (UsageReading{"main", 100'000'000, 250, 256 * kMi, 500}));

  // Then the counter's increase over the monotonic interval: 0.75 s of CPU in 0.5 s.
  WriteText(cg_ + "/cpu.stat", "usage_usec 1750000\n");
  WriteText(cg_ + "/memory.current", "157286400\n");
  clock_.Advance(kMicrosPerSecond);  // wall time does not matter for the interval
  got = sampler.Sample({Target(started)}, 50'500'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].usage[0].cpu_millis, 1500);
  EXPECT_EQ(got[0].usage[0].memory_bytes, 157286400 - 4857600);

  // A counter that went backwards reads as idle, and the next interval starts from it.
  WriteText(cg_ + "/cpu.stat", "usage_usec 10\n");
  got = sampler.Sample({Target(started)}, 51'000'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].usage[0].cpu_millis, 0);
  WriteText(cg_ + "/cpu.stat", "usage_usec 100010\n");
  got = sampler.Sample({Target(started)}, 51'100'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].usage[0].cpu_millis, 1000);

  // Forgotten when not among the targets: the next first sample averages since the start.
  EXPECT_TRUE(sampler.Sample({}, 52'000'000).empty());
  got = sampler.Sample({Target(clock_.Now() - 2 * kMicrosPerSecond)}, 52'100'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].usage[0].cpu_millis, 50);  // 0.1 s in 2 s

  // Once the shim has written its status the attempt is over: no more readings.
  WriteText(dir_ + "/" + kStatusFile, "{}");
  EXPECT_TRUE(sampler.Sample({Target(started)}, 52'200'000).empty());
}

TEST_F(UsageSamplerTest, CgroupV1ReadingsAndNoCpuLimitWhereNotEnforced) {
  WriteSpec(CgroupVersion::kV1, 64 * kMi, 250);
  WriteText(cg_ + "/memory.usage_in_bytes", "34603008\n");  // 32Mi + 1Mi of inactive file
  WriteText(cg_ + "/memory.stat", "inactive_file 5\ntotal_inactive_file 1048576\n");
  WriteText(cg_ + "/cpuacct.usage", "3000000000\n");  // nanoseconds
  UsageSampler sampler(clock_, /*cpu_limits=*/false);
  std::vector<Update> got =
      sampler.Sample({Target(clock_.Now() - 10 * kMicrosPerSecond)}, 1'000'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].usage[0], (UsageReading{"main", 32 * kMi, 300, 64 * kMi, 0}));
}

TEST_F(UsageSamplerTest, MissingFilesAndUnknownStartAreHandled) {
  // No spec.json yet: nothing to say.
  UsageSampler sampler(clock_, true);
  EXPECT_TRUE(sampler.Sample({Target(0)}, 1'000'000).empty());
  // A spec whose cgroup files are gone (removed under us): no reading rather than zeros.
  WriteSpec(CgroupVersion::kV2, 0, 0);
  EXPECT_TRUE(sampler.Sample({Target(0)}, 2'000'000).empty());
  // Memory only; start unknown: cpu 0 on the first sample, then the interval's.
  WriteText(cg_ + "/memory.current", "4096\n");
  WriteText(cg_ + "/cpu.stat", "usage_usec 500\n");
  std::vector<Update> got = sampler.Sample({Target(0)}, 3'000'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].usage[0], (UsageReading{"main", 4096, 0, 0, 0}));
  EXPECT_EQ(got[0].started_at, 0);
  WriteText(cg_ + "/cpu.stat", "usage_usec 100500\n");
  got = sampler.Sample({Target(0)}, 3'200'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].usage[0].cpu_millis, 500);
}

TEST_F(UsageSamplerTest, WithoutCgroupsTheProcessGroupIsSampled) {
  WriteSpec(CgroupVersion::kNone, 128 * kMi, 1000);
  UsageSampler sampler(clock_, /*cpu_limits=*/true);
  std::vector<Update> got = sampler.Sample({Target(clock_.Now() - 1, ::getpgrp())}, 1'000'000);
  ASSERT_EQ(got.size(), 1u);
  const UsageReading& r = got[0].usage[0];
  EXPECT_GE(r.memory_bytes, 1 * kMi);  // this test process at least
  EXPECT_EQ(r.memory_limit_bytes, 128 * kMi);
  EXPECT_EQ(r.cpu_limit_millis, 0);  // the watchdog does not limit cpu
  // A group with no live process: no reading.
  EXPECT_TRUE(sampler.Sample({Target(0, 999'999'999)}, 2'000'000).empty());
}

// ---- kUsage from real jobs ---------------------------------------------------------------

// Every update of one engine, in the order the sink saw them.
class UpdateLog {
 public:
  UpdateSink Sink() {
    return [this](const Update& u) {
      std::lock_guard lock(mu_);
      updates_.push_back(u);
      cv_.notify_all();
    };
  }
  bool WaitUntil(const std::function<bool(const std::vector<Update>&)>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done(updates_); });
  }
  std::vector<Update> Of(const std::string& attempt_id) {
    std::lock_guard lock(mu_);
    std::vector<Update> out;
    for (const Update& u : updates_) {
      if (u.attempt_id == attempt_id) out.push_back(u);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Update> updates_;
};

int CountKind(const std::vector<Update>& updates, const std::string& id, Update::Kind kind) {
  return static_cast<int>(std::count_if(updates.begin(), updates.end(), [&](const Update& u) {
    return u.attempt_id == id && u.kind == kind;
  }));
}

class LocalUsageTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("tug-local-usage");
    ASSERT_FALSE(root_.empty());
    logs_ = std::make_unique<logs::FsLogStore>(root_ + "/logs");
    LocalEngineOptions o;
    o.state_dir = root_ + "/state";
    o.shim_command = {"/proc/self/exe", "__shim"};
    o.cgroup_mode = GetParam();
    o.stop_grace_ms = 1000;
    o.usage_interval_ms = 200;
    auto made = LocalEngine::Create(o, *logs_, SystemClock::Instance());
    ASSERT_TRUE(made.ok()) << made.error().ToString();
    engine_ = std::move(*made);
    engine_->SetSink(log_.Sink());
  }
  void TearDown() override {
    std::ofstream(root_ + "/go").flush();
    if (engine_) {
      for (const std::string& id : engine_->Active()) {
        (void)engine_->Stop(id);
        log_.WaitUntil([&](const auto& all) { return CountKind(all, id, Update::Kind::kEnded); });
      }
      for (const std::string& id : attempts_) {
        Status st = engine_->Cleanup(id);
        EXPECT_TRUE(st.ok()) << st.error().ToString();
      }
      engine_.reset();
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  LaunchSpec Spec(std::vector<std::string> argv) {
    LaunchSpec spec;
    spec.run_id = NewId(SystemClock::Instance());
    spec.attempt_id = AttemptId(spec.run_id, 1);
    spec.definition = "usage";
    spec.argv = std::move(argv);
    attempts_.push_back(spec.attempt_id);
    return spec;
  }

  std::string root_;
  std::unique_ptr<logs::FsLogStore> logs_;
  std::unique_ptr<LocalEngine> engine_;
  UpdateLog log_;
  std::vector<std::string> attempts_;
};

TEST_P(LocalUsageTest, GrowingJobIsSampledUntilItEnds) {
  const bool cgroups = engine_->cgroup_layout().version != CgroupVersion::kNone;
  if (GetParam() == "auto" && !cgroups) {
    GTEST_SKIP() << "no writable cgroup here: " << engine_->cgroup_layout().note;
  }
  // Grows by 16Mi every half second for about 3 s.
  LaunchSpec grow = Spec({"perl", "-e",
                          "$|=1; for (1..6) { $x .= 'x' x (16*1024*1024); "
                          "select(undef,undef,undef,0.5) }"});
  grow.resources.memory_bytes = 256 * kMi;
  grow.resources.cpu_millis = 1500;
  // Busy until told to stop (at most a minute): its CPU must show.
  LaunchSpec busy = Spec({"perl", "-e", "1 until -e $ARGV[0] || time - $^T > 60", root_ + "/go"});
  ASSERT_TRUE(engine_->Launch(busy).ok());
  ASSERT_TRUE(engine_->Launch(grow).ok());
  const std::string& g = grow.attempt_id;
  ASSERT_TRUE(log_.WaitUntil([&](const auto& all) {
    return CountKind(all, g, Update::Kind::kEnded);
  })) << "the growing job did not end within 30 s";
  // The busy job is sampled on after the first one ended: two more of its readings prove the
  // ticks went on, and none of them was the ended attempt's.
  const int busy_before =
      CountKind(log_.Of(busy.attempt_id), busy.attempt_id, Update::Kind::kUsage);
  ASSERT_TRUE(log_.WaitUntil([&](const auto& all) {
    return CountKind(all, busy.attempt_id, Update::Kind::kUsage) >= busy_before + 2;
  }));

  std::vector<Update> mine = log_.Of(g);
  ASSERT_FALSE(mine.empty());
  EXPECT_EQ(mine.front().kind, Update::Kind::kStarted);
  EXPECT_EQ(mine.back().kind, Update::Kind::kEnded) << "a kUsage came after kEnded";
  EXPECT_EQ(mine.back().status, AttemptStatus::kSucceeded) << mine.back().message;
  std::vector<UsageReading> readings;
  for (const Update& u : mine) {
    if (u.kind != Update::Kind::kUsage) continue;
    EXPECT_GT(u.started_at, 0);
    EXPECT_GE(u.at, u.started_at);
    ASSERT_EQ(u.usage.size(), 1u);
    readings.push_back(u.usage[0]);
  }
  ASSERT_GE(readings.size(), 3u);
  int64_t most = 0;
  for (const UsageReading& r : readings) {
    EXPECT_EQ(r.component, "main");
    EXPECT_EQ(r.memory_limit_bytes, 256 * kMi);
    EXPECT_EQ(r.cpu_limit_millis, cgroups && engine_->cgroup_layout().cpu_limits ? 1500 : 0);
    EXPECT_GE(r.cpu_millis, 0);
    most = std::max(most, r.memory_bytes);
  }
  // It grew: past 16Mi, well beyond where it started, towards its 96Mi.
  EXPECT_GT(most, 16 * kMi);
  EXPECT_GE(most, 48 * kMi);
  EXPECT_GT(most, readings.front().memory_bytes + 16 * kMi);

  int64_t busiest = 0;
  for (const Update& u : log_.Of(busy.attempt_id)) {
    if (u.kind == Update::Kind::kUsage) busiest = std::max(busiest, u.usage[0].cpu_millis);
  }
  EXPECT_GE(busiest, 100) << "a spinning job should use a tenth of a core at least";
}

std::string ModeName(const ::testing::TestParamInfo<std::string>& mode) {
  return mode.param == "auto" ? "Cgroup" : "Watchdog";
}

INSTANTIATE_TEST_SUITE_P(Modes, LocalUsageTest, ::testing::Values("auto", "none"), ModeName);

}  // namespace
}  // namespace tug::engine::local
