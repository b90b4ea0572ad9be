#include "control/deferred_diagnoser.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace tug::control {
namespace {

using std::chrono::milliseconds;

// A make that counts its calls and fails (a real catalog costs seconds under ASan; what is
// tested here is when and how often it is called).
struct CountingMake {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  Result<diagnose::Diagnoser> operator()() const {
    ++*calls;
    return InvalidArgument("test catalog");
  }
};

// A process that is always busy: a second of CPU more at every look.
std::function<std::chrono::microseconds()> Busy() {
  auto t = std::make_shared<std::atomic<int64_t>>(0);
  return [t] { return std::chrono::microseconds(t->fetch_add(1'000'000) + 1'000'000); };
}

DeferredDiagnoserOptions Options(const CountingMake& make,
                                 std::function<std::chrono::microseconds()> cpu) {
  DeferredDiagnoserOptions o;
  o.make = make;
  o.process_cpu = std::move(cpu);
  o.quiet_window = milliseconds(20);
  o.poll = milliseconds(5);
  return o;
}

TEST(DeferredDiagnoser, ABusyProcessCompilesOnlyWhenFirstNeeded) {
  CountingMake make;
  DeferredDiagnoser d(Options(make, Busy()));
  // Many quiet windows go by; the process is never quiet, so nothing is compiled.
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(*make.calls, 0);
  EXPECT_FALSE(d.ready());
  EXPECT_EQ(d.Get(), nullptr);  // the make failed: no diagnoser, failures go undiagnosed
  EXPECT_TRUE(d.ready());
  EXPECT_EQ(d.Get(), nullptr);
  EXPECT_EQ(*make.calls, 1);
}

TEST(DeferredDiagnoser, AQuietProcessCompilesWithoutBeingAsked) {
  CountingMake make;
  DeferredDiagnoser d(Options(make, [] { return std::chrono::microseconds(42); }));
  while (!d.ready()) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(*make.calls, 1);
  EXPECT_EQ(d.Get(), nullptr);
  EXPECT_EQ(*make.calls, 1);
}

TEST(DeferredDiagnoser, NeverNeededNeverCompiled) {
  CountingMake make;
  { DeferredDiagnoser d(Options(make, Busy())); }
  EXPECT_EQ(*make.calls, 0);
}

TEST(DeferredDiagnoser, ConcurrentFirstCallsCompileOnce) {
  CountingMake make;
  DeferredDiagnoser d(Options(make, Busy()));
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { EXPECT_EQ(d.Get(), nullptr); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(*make.calls, 1);
}

// Without CAP_SYS_NICE the kernel will not take a thread out of SCHED_IDLE: the caller then
// compiles itself instead of waiting on a compile a busy machine may starve.
TEST(DeferredDiagnoser, WhenTheLiftIsRefusedTheCallerCompilesItself) {
  std::mutex mu;
  std::condition_variable cv;
  bool background_started = false;
  bool release_background = false;
  auto calls = std::make_shared<std::atomic<int>>(0);
  DeferredDiagnoserOptions o;
  o.process_cpu = [] { return std::chrono::microseconds(42); };  // quiet at once
  o.quiet_window = milliseconds(1);
  o.poll = milliseconds(1);
  std::atomic<int> lifts{0};
  o.can_leave_sched_idle = [] { return true; };  // said so, yet the kernel refuses below
  o.set_sched_idle = [&](bool idle, pid_t) {
    if (!idle) ++lifts;
    return idle;  // going idle works, coming back is refused
  };
  o.make = [&, calls]() -> Result<diagnose::Diagnoser> {
    if (++*calls == 1) {  // the background compile: held until the test lets it go
      std::unique_lock lock(mu);
      background_started = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release_background; });
    }
    return InvalidArgument("test catalog");
  };
  {
    DeferredDiagnoser d(std::move(o));
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return background_started; });
    }
    EXPECT_EQ(d.Get(), nullptr);  // returns while the background compile is still held
    EXPECT_EQ(*calls, 2);
    EXPECT_EQ(lifts, 1);
    {
      std::lock_guard lock(mu);
      release_background = true;
    }
    cv.notify_all();
  }  // the destructor waits for the background compile, whose result is dropped
  EXPECT_EQ(*calls, 2);
}

// Where the process could not leave SCHED_IDLE, the quiet-time compile never enters it.
TEST(DeferredDiagnoser, WithoutTheRightToLeaveIdleTheBackgroundCompileStaysNormal) {
  CountingMake make;
  DeferredDiagnoserOptions o = Options(make, [] { return std::chrono::microseconds(42); });
  std::atomic<int> idles{0};
  o.can_leave_sched_idle = [] { return false; };
  o.set_sched_idle = [&](bool idle, pid_t) {
    if (idle) ++idles;
    return true;
  };
  DeferredDiagnoser d(std::move(o));
  while (!d.ready()) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(*make.calls, 1);
  EXPECT_EQ(idles, 0);
}

// The shutdown waits for a background compile at full speed, not at SCHED_IDLE's.
TEST(DeferredDiagnoser, ShutdownLiftsABackgroundCompileBeforeWaitingForIt) {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  bool release = false;
  std::atomic<int> lifts{0};
  DeferredDiagnoserOptions o;
  o.process_cpu = [] { return std::chrono::microseconds(42); };
  o.quiet_window = milliseconds(1);
  o.poll = milliseconds(1);
  o.can_leave_sched_idle = [] { return true; };
  o.set_sched_idle = [&](bool idle, pid_t) {
    if (!idle) ++lifts;
    return true;
  };
  o.make = [&]() -> Result<diagnose::Diagnoser> {
    std::unique_lock lock(mu);
    started = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return InvalidArgument("test catalog");
  };
  auto d = std::make_unique<DeferredDiagnoser>(std::move(o));
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started; });
  }
  std::thread stopper([&] { d.reset(); });
  while (lifts == 0) std::this_thread::sleep_for(milliseconds(1));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  EXPECT_EQ(lifts, 1);
}

}  // namespace
}  // namespace tug::control
