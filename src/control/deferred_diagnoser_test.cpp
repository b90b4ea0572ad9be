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

// A compile the test holds: Enter() (from the make) blocks until Release(); WaitEntered() waits
// until a compile is inside.
class HeldCompile {
 public:
  void Enter() {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  void WaitEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

// Quiet at once, may leave SCHED_IDLE; `lift_ok` says whether the kernel lets it, and `lifts`
// counts the attempts.
DeferredDiagnoserOptions QuietIdleOptions(bool lift_ok, std::atomic<int>& lifts) {
  DeferredDiagnoserOptions o;
  o.process_cpu = [] { return std::chrono::microseconds(42); };
  o.quiet_window = milliseconds(1);
  o.poll = milliseconds(1);
  o.can_leave_sched_idle = [] { return true; };
  o.set_sched_idle = [&lifts, lift_ok](bool idle, pid_t) {
    if (!idle) ++lifts;
    return idle || lift_ok;
  };
  return o;
}

// Without CAP_SYS_NICE the kernel will not take a thread out of SCHED_IDLE: the caller then
// compiles itself instead of waiting on a compile a busy machine may starve.
TEST(DeferredDiagnoser, WhenTheLiftIsRefusedTheCallerCompilesItself) {
  HeldCompile held;
  auto calls = std::make_shared<std::atomic<int>>(0);
  std::atomic<int> lifts{0};
  // The process may leave SCHED_IDLE, yet the kernel refuses the lift.
  DeferredDiagnoserOptions o = QuietIdleOptions(/*lift_ok=*/false, lifts);
  o.make = [&held, calls]() -> Result<diagnose::Diagnoser> {
    if (++*calls == 1) held.Enter();  // the background compile: held until the test lets go
    return InvalidArgument("test catalog");
  };
  {
    DeferredDiagnoser d(std::move(o));
    held.WaitEntered();
    EXPECT_EQ(d.Get(), nullptr);  // returns while the background compile is still held
    EXPECT_EQ(*calls, 2);
    EXPECT_EQ(lifts, 1);
    held.Release();
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
  HeldCompile held;
  std::atomic<int> lifts{0};
  DeferredDiagnoserOptions o = QuietIdleOptions(/*lift_ok=*/true, lifts);
  o.make = [&held]() -> Result<diagnose::Diagnoser> {
    held.Enter();
    return InvalidArgument("test catalog");
  };
  auto d = std::make_unique<DeferredDiagnoser>(std::move(o));
  held.WaitEntered();
  std::thread stopper([&] { d.reset(); });
  while (lifts == 0) std::this_thread::sleep_for(milliseconds(1));
  held.Release();
  stopper.join();
  EXPECT_EQ(lifts, 1);
}

}  // namespace
}  // namespace tug::control
