#pragma once
/// The diagnosis catalog, compiled when it is first needed or when the process is quiet.
///
/// Compiling the catalog into vectorscan databases takes ~0.3 s of CPU (seconds under ASan).
/// Compiled at start on a thread of its own, it took a core from the first launches of a small
/// machine for as long: submit -> started of the first runs after a start went from ~3 to
/// 8-14 ms on 2 vCPUs, even under SCHED_IDLE (the vCPUs share a core's caches). So nothing is
/// compiled until either
/// - Get() is called (the first failed attempt): it compiles at once at normal priority and
///   Get() waits for it; or
/// - the process has been quiet (it used less than `quiet_cpu_share` of one CPU over the last
///   `quiet_window`), so an idle server still has it ready before its first failure. That
///   compile runs under SCHED_IDLE; a Get() that arrives during it lifts it to the normal
///   policy, or, where the kernel refuses that, compiles too and takes whichever result comes
///   first. Where the process cannot leave SCHED_IDLE at all (no CAP_SYS_NICE, RLIMIT_NICE
///   < 20) the quiet-time compile runs at normal priority instead.
///
/// Thread-safe. The destructor stops a compile that has not started and waits for one that has.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "diagnose/diagnoser.h"

namespace tug::control {

struct DeferredDiagnoserOptions {
  /// Makes the diagnoser (diagnose::Diagnoser::CreateBuiltin in the server).
  std::function<Result<diagnose::Diagnoser>()> make;
  /// CPU time this process has used so far (default: getrusage(RUSAGE_SELF)).
  std::function<std::chrono::microseconds()> process_cpu;
  std::chrono::milliseconds quiet_window{1000};
  double quiet_cpu_share = 0.05;
  /// How often the quiet test is made.
  std::chrono::milliseconds poll{250};
  /// Puts a thread (0: the caller) under SCHED_IDLE or back (default: core SetSchedIdle);
  /// false when the kernel refuses. For tests.
  std::function<bool(bool idle, pid_t tid)> set_sched_idle;
  /// Whether a thread can be taken out of SCHED_IDLE here (default: CAP_SYS_NICE or
  /// RLIMIT_NICE >= 20); where it cannot, the background compile runs at normal priority.
  std::function<bool()> can_leave_sched_idle;
};

class DeferredDiagnoser {
 public:
  explicit DeferredDiagnoser(DeferredDiagnoserOptions options);
  ~DeferredDiagnoser();
  DeferredDiagnoser(const DeferredDiagnoser&) = delete;
  DeferredDiagnoser& operator=(const DeferredDiagnoser&) = delete;

  /// The diagnoser, compiling it first if it is not ready; null if making it failed (the error
  /// is logged once).
  std::shared_ptr<diagnose::Diagnoser> Get();
  /// True once the compile has finished (well or not).
  bool ready() const;

 private:
  void Loop();
  /// options_.make, logged; null when it failed.
  std::shared_ptr<diagnose::Diagnoser> Make(const char* when) const;
  /// Sets the result unless a compile already did.
  void Publish(std::shared_ptr<diagnose::Diagnoser> d);

  const DeferredDiagnoserOptions options_;  // every hook set (defaults filled in)
  std::promise<std::shared_ptr<diagnose::Diagnoser>> promise_;
  std::shared_future<std::shared_ptr<diagnose::Diagnoser>> result_;  // promise_'s
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool needed_ = false;            // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  bool published_ = false;         // guarded by mu_; promise_ set
  pid_t background_tid_ = 0;       // guarded by mu_; the compiling thread, under SCHED_IDLE
  bool lifted_ = false;            // guarded by mu_; background_tid_ taken out of SCHED_IDLE
  bool caller_compiling_ = false;  // guarded by mu_; a Get() compiles itself (lift refused)
  std::thread thread_;
};

}  // namespace tug::control
