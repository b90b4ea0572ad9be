// LocalEngine::Launch under concurrency: different attempts launch in parallel; one attempt is
// started once however many callers (threads, engines over one state directory, a launcher that
// died mid-launch) try. Every job appends its attempt id to a file, so a second start shows up
// whatever the engine reports.
#include <signal.h>
#include <sys/file.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "engine/local/local_engine_test_fixture.h"
#include "engine/local/shim_spawn.h"

namespace tug::engine::local {
namespace {

using namespace local_test;  // NOLINT(google-build-using-namespace): the fixture's helpers

class LocalLaunchTest : public LocalEngineTest {
 protected:
  // A job that records its start in root_/starts.log, then waits for `go` (if given).
  LaunchSpec Recorded(const std::string& go = "") {
    std::string cmd = "echo \"$TUG_ATTEMPT_ID\" >> '" + root_ + "/starts.log'";
    if (!go.empty()) cmd += "; " + WaitLoop(go);
    return Shell(cmd);
  }
  // The process that forked the running shim of `ref` (its launcher), from /proc.
  int ShimParent(const std::string& ref) {
    auto parsed = ParseRef(ref);
    EXPECT_TRUE(parsed.ok());
    if (!parsed.ok()) return 0;
    auto stat = ReadProcStat(parsed->shim_pid);
    EXPECT_TRUE(stat.ok()) << "shim " << parsed->shim_pid << " is not running";
    return stat.ok() ? stat->ppid : 0;
  }
  static std::string Cmdline(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(text.begin(), text.end(), '\0', ' ');
    return text;
  }
  std::map<std::string, int> Starts() {
    std::map<std::string, int> out;
    std::ifstream in(root_ + "/starts.log");
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) ++out[line];
    }
    return out;
  }
};

TEST_F(LocalLaunchTest, DifferentAttemptsLaunchInParallelAndEachStartsOnce) {
  size_t e = Make("none");
  constexpr int kAttempts = 64;
  std::vector<LaunchSpec> specs;
  for (int i = 0; i < kAttempts; ++i) specs.push_back(Recorded());
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kAttempts; i = next++) {
        if (!engine(e).Launch(specs[static_cast<size_t>(i)]).ok()) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  for (const LaunchSpec& spec : specs) {
    auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
    ASSERT_TRUE(ended.has_value()) << spec.attempt_id;
    EXPECT_EQ(ended->status, AttemptStatus::kSucceeded) << ended->message;
  }
  std::map<std::string, int> starts = Starts();
  EXPECT_EQ(starts.size(), static_cast<size_t>(kAttempts));
  for (const auto& [id, n] : starts) EXPECT_EQ(n, 1) << id;
}

TEST_F(LocalLaunchTest, OneAttemptLaunchedByManyThreadsAndTwoEnginesStartsOnce) {
  // Two engines over one state directory stand for two server processes on one host.
  size_t a = Make("none");
  size_t b = Make("none");
  std::string go = Go("go");
  LaunchSpec spec = Recorded(go);
  std::vector<std::thread> threads;
  std::vector<std::string> refs(8);
  std::atomic<int> failed{0};
  for (size_t t = 0; t < refs.size(); ++t) {
    threads.emplace_back([&, t] {
      auto ref = engine(t % 2 == 0 ? a : b).Launch(spec);
      if (ref.ok()) {
        refs[t] = *ref;
      } else {
        ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failed.load(), 0);
  auto ref = ParseRef(refs[0]);
  ASSERT_TRUE(ref.ok()) << refs[0];
  for (const std::string& r : refs) {
    auto other = ParseRef(r);
    ASSERT_TRUE(other.ok()) << r;
    EXPECT_EQ(other->shim_pid, ref->shim_pid) << "two shims for one attempt";
  }
  Touch(go);
  for (size_t e : {a, b}) {
    auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  }
  EXPECT_EQ(Starts()[spec.attempt_id], 1);
}

TEST_F(LocalLaunchTest, ALaunchThatDiedBeforeItsShimStartedIsStartedOver) {
  size_t e = Make("none");
  LaunchSpec spec = Recorded();
  // What a launcher killed after mkdir and spec.json leaves: a directory nobody locks, no
  // shim.pid. Nothing ran, so the next Launch starts the job.
  std::string dir = engine(e).AttemptDir(spec.attempt_id);
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  std::ofstream(dir + "/spec.json") << "{\"argv\": [\"half written";
  auto ended = RunToEnd(e, spec);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded) << ended->message;
  EXPECT_EQ(Starts()[spec.attempt_id], 1);
}

TEST_F(LocalLaunchTest, AShimWhoseLauncherDiedIsReportedNotStartedAgain) {
  // The launcher spawned the shim (handing it the directory's lock) and died before the
  // handshake: the shim goes on alone. A later Launch must find it, not start a second job.
  size_t e = Make("none");
  std::string go = Go("go");
  LaunchSpec spec = Recorded(go);
  // Launch once to learn what the engine writes, then replay the launcher's part by hand.
  size_t prep = Make("none");
  ASSERT_TRUE(engine(prep).Launch(spec).ok());
  ASSERT_TRUE(rec(prep).WaitFor(spec.attempt_id, Update::Kind::kStarted, kWait).has_value());
  std::string dir = engine(e).AttemptDir(spec.attempt_id);
  auto spec_text = ReadFile(dir + "/" + kSpecFile);
  ASSERT_TRUE(spec_text.ok());
  Touch(go);
  ASSERT_TRUE(rec(prep).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait).has_value());
  ASSERT_TRUE(engine(prep).Cleanup(spec.attempt_id).ok());
  std::filesystem::remove(go);
  std::filesystem::remove(root_ + "/starts.log");

  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir + "/" + kWorkDir).c_str(), 0755), 0);
  std::ofstream(dir + "/" + kSpecFile) << *spec_text;
  UniqueFd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
  // The launcher's half: spawn with the lock, then "die" (never read the handshake) and drop
  // its copy of the lock. SpawnShim waits for the handshake, so run it where it can be left.
  std::thread launcher([&] {
    auto spawned = SpawnShim(TestShimCommand(), dir, lock.get(), 30'000);
    EXPECT_TRUE(spawned.ok()) << spawned.error().ToString();
  });
  // While the shim holds the lock, a new Launch waits for shim.pid and reports that shim.
  auto ref = engine(e).Launch(spec);
  launcher.join();
  lock.Reset();
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  Touch(go);
  auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded) << ended->message;
  EXPECT_EQ(Starts()[spec.attempt_id], 1);
}

TEST_F(LocalLaunchTest, ALockedDirectoryWithoutAShimTimesOutAsUnavailable) {
  LocalEngineOptions o = Options("none");
  o.handshake_timeout_ms = 200;
  auto made = LocalEngine::Create(o, *logs_, SystemClock::Instance());
  ASSERT_TRUE(made.ok());
  LaunchSpec spec = Recorded();
  std::string dir = (*made)->AttemptDir(spec.attempt_id);
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  UniqueFd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
  auto ref = (*made)->Launch(spec);
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.error().code(), Code::kUnavailable) << ref.error().ToString();
  EXPECT_TRUE(Starts().empty());
}

TEST_F(LocalLaunchTest, AnUnfinishedLaunchFromBeforeABootIsLostNotStartedAgain) {
  // A machine crash may lose the records of a launch whose job did run (without sync_files,
  // shim.pid is not fsynced). A directory older than this boot with no records is therefore
  // reported LOST (the planner retries it as a new attempt), never started again.
  size_t e = Make("none");
  LaunchSpec spec = Recorded();
  std::string dir = engine(e).AttemptDir(spec.attempt_id);
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  // A directory's ctime cannot be set back, so the machine "boots" after it was made instead.
  LocalEngineOptions o = Options("none");
  o.boot_time = ::time(nullptr) + 5;
  auto later = LocalEngine::Create(o, *logs_, SystemClock::Instance());
  ASSERT_TRUE(later.ok()) << later.error().ToString();
  Recorder recorder;
  (*later)->SetSink(recorder.Sink());
  auto ref = (*later)->Launch(spec);
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  auto ended = recorder.WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kLost) << ended->message;
  EXPECT_TRUE(Starts().empty());
}

TEST_F(LocalLaunchTest, ShimsAreForkedByTheLauncherAndOutliveIt) {
  size_t e = Make("none");
  std::string go = Go("go-outlive");
  LaunchSpec spec = Recorded(go);
  auto ref = engine(e).Launch(spec);
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  int launcher = ShimParent(*ref);
  ASSERT_GT(launcher, 0);
  EXPECT_NE(launcher, ::getpid());
  EXPECT_NE(Cmdline(launcher).find("--launcher"), std::string::npos) << Cmdline(launcher);
  // A second launch goes through the same launcher.
  LaunchSpec other = Recorded(go);
  auto other_ref = engine(e).Launch(other);
  ASSERT_TRUE(other_ref.ok()) << other_ref.error().ToString();
  EXPECT_EQ(ShimParent(*other_ref), launcher);

  // The engine shuts down: the launcher exits, its shims and their jobs go on, and the next
  // engine learns how they ended.
  engine(e).Shutdown();
  bool launcher_gone = false;
  for (int i = 0; i < 1000 && !launcher_gone; ++i) {
    launcher_gone = ::kill(launcher, 0) != 0;
    if (!launcher_gone) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(launcher_gone);
  auto shim = ParseRef(*ref);
  ASSERT_TRUE(shim.ok());
  EXPECT_EQ(::kill(shim->shim_pid, 0), 0) << "the shim died with its launcher";
  size_t next = Make("none");
  ASSERT_TRUE(engine(next).Adopt(spec.attempt_id, *ref).ok());
  ASSERT_TRUE(engine(next).Adopt(other.attempt_id, *other_ref).ok());
  Touch(go);
  for (const LaunchSpec* s : {&spec, &other}) {
    auto ended = rec(next).WaitFor(s->attempt_id, Update::Kind::kEnded, kWait);
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->status, AttemptStatus::kSucceeded) << ended->message;
  }
  EXPECT_EQ(Starts()[spec.attempt_id], 1);
  EXPECT_EQ(Starts()[other.attempt_id], 1);
}

TEST_F(LocalLaunchTest, AKilledLauncherIsReplacedAndNoLaunchIsLost) {
  size_t e = Make("none");
  std::string go = Go("go-killed");
  LaunchSpec first = Recorded(go);
  auto first_ref = engine(e).Launch(first);
  ASSERT_TRUE(first_ref.ok()) << first_ref.error().ToString();
  int launcher = ShimParent(*first_ref);
  ASSERT_GT(launcher, 0);
  ASSERT_EQ(::kill(launcher, SIGKILL), 0);
  // The next launches find the launcher gone: each starts its job once, whether the engine
  // spawned that shim itself or through a new launcher.
  std::vector<LaunchSpec> later;
  for (int i = 0; i < 3; ++i) {
    later.push_back(Recorded(go));
    auto ref = engine(e).Launch(later.back());
    ASSERT_TRUE(ref.ok()) << ref.error().ToString();
    if (i == 2) {
      int parent = ShimParent(*ref);
      EXPECT_NE(parent, launcher);
      EXPECT_NE(Cmdline(parent).find("--launcher"), std::string::npos) << Cmdline(parent);
    }
  }
  Touch(go);
  later.push_back(first);
  for (const LaunchSpec& spec : later) {
    auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->status, AttemptStatus::kSucceeded) << ended->message;
    EXPECT_EQ(Starts()[spec.attempt_id], 1);
  }
}

TEST_F(LocalLaunchTest, AStuckLauncherIsKilledAndItsLaunchNeverStarts) {
  LocalEngineOptions o = Options("none");
  o.handshake_timeout_ms = 300;
  auto made = LocalEngine::Create(o, *logs_, SystemClock::Instance());
  ASSERT_TRUE(made.ok()) << made.error().ToString();
  Recorder recorder;
  (*made)->SetSink(recorder.Sink());
  std::string go = Go("go-stuck");
  LaunchSpec first = Recorded(go);
  auto first_ref = (*made)->Launch(first);
  ASSERT_TRUE(first_ref.ok()) << first_ref.error().ToString();
  int launcher = ShimParent(*first_ref);
  ASSERT_GT(launcher, 0);
  ASSERT_EQ(::kill(launcher, SIGSTOP), 0);
  // The launcher takes the request but never forks for it: the launch times out, and the
  // launcher is killed with the request, so that job can never start later.
  LaunchSpec stuck = Recorded();
  auto stuck_ref = (*made)->Launch(stuck);
  ASSERT_FALSE(stuck_ref.ok());
  EXPECT_EQ(stuck_ref.error().code(), Code::kUnavailable) << stuck_ref.error().ToString();
  LaunchSpec next = Recorded(go);
  auto next_ref = (*made)->Launch(next);
  ASSERT_TRUE(next_ref.ok()) << next_ref.error().ToString();
  EXPECT_NE(ShimParent(*next_ref), launcher);
  Touch(go);
  for (const LaunchSpec* spec : {&first, &next}) {
    auto ended = recorder.WaitFor(spec->attempt_id, Update::Kind::kEnded, kWait);
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->status, AttemptStatus::kSucceeded) << ended->message;
    EXPECT_EQ(Starts()[spec->attempt_id], 1);
  }
  EXPECT_EQ(Starts().count(stuck.attempt_id), 0u);
}

TEST_F(LocalLaunchTest, SyncFilesStillLaunches) {
  LocalEngineOptions o = Options("auto");
  o.sync_files = true;
  auto made = LocalEngine::Create(o, *logs_, SystemClock::Instance());
  ASSERT_TRUE(made.ok());
  Recorder recorder;
  (*made)->SetSink(recorder.Sink());
  LaunchSpec spec = Recorded();
  ASSERT_TRUE((*made)->Launch(spec).ok());
  auto ended = recorder.WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded) << ended->message;
  EXPECT_EQ(Starts()[spec.attempt_id], 1);
}

}  // namespace
}  // namespace tug::engine::local
