#include "control/deferred_diagnoser.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/thread_name.h"

namespace tug::control {
namespace {

std::chrono::microseconds SelfCpu() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto us = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return us(u.ru_utime) + us(u.ru_stime);
}

// Whether this process may take a thread out of SCHED_IDLE again: CAP_SYS_NICE, or an
// RLIMIT_NICE that allows nice 0 (20 - 0). Without it a SCHED_IDLE thread stays there.
bool CanLeaveSchedIdle() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NICE, &r) == 0 && (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= 20)) {
    return true;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_SYS_NICE / 32].effective & (1U << (CAP_SYS_NICE % 32))) != 0;
}

// The options with the real process, scheduler and capabilities where a test left them unset.
DeferredDiagnoserOptions WithDefaults(DeferredDiagnoserOptions o) {
  if (!o.process_cpu) o.process_cpu = SelfCpu;
  if (!o.set_sched_idle)
    o.set_sched_idle = [](bool idle, pid_t tid) { return SetSchedIdle(idle, tid); };
  if (!o.can_leave_sched_idle) o.can_leave_sched_idle = CanLeaveSchedIdle;
  return o;
}

}  // namespace

DeferredDiagnoser::DeferredDiagnoser(DeferredDiagnoserOptions options)
    : options_(WithDefaults(std::move(options))), result_(promise_.get_future().share()) {
  thread_ = std::thread([this] {
    SetThreadName("tug-catalog");
    Loop();
  });
}

DeferredDiagnoser::~DeferredDiagnoser() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    // A background compile still running is waited for: at full speed, so a busy machine does
    // not hold the server's shutdown.
    if (background_tid_ != 0 && !lifted_) lifted_ = options_.set_sched_idle(false, background_tid_);
  }
  cv_.notify_all();
  thread_.join();
}

bool DeferredDiagnoser::ready() const {
  return result_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

std::shared_ptr<diagnose::Diagnoser> DeferredDiagnoser::Get() {
  bool compile_here = false;
  if (!ready()) {
    std::lock_guard lock(mu_);
    needed_ = true;
    // A background compile already under way: let it have a whole CPU from now on. Without
    // CAP_SYS_NICE (or RLIMIT_NICE >= 20) the kernel refuses to take a thread out of
    // SCHED_IDLE; a busy machine could then starve it, so the first caller compiles too, at
    // its own priority, and whichever finishes first is kept.
    if (background_tid_ != 0 && !lifted_) {
      if (options_.set_sched_idle(false, background_tid_)) {
        lifted_ = true;
      } else if (!caller_compiling_) {
        caller_compiling_ = true;
        compile_here = true;
      }
    }
  }
  cv_.notify_all();
  if (compile_here) Publish(Make("first needed"));
  return result_.get();
}

std::shared_ptr<diagnose::Diagnoser> DeferredDiagnoser::Make(const char* when) const {
  const auto start = std::chrono::steady_clock::now();
  auto made = options_.make();
  if (!made.ok()) {
    log::Error("loading the diagnosis catalog failed; failures will not be diagnosed",
               {{"error", made.error().ToString()}});
    return nullptr;
  }
  log::Info("diagnosis catalog compiled",
            {{"when", when},
             {"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - start)
                                       .count())}});
  return std::make_shared<diagnose::Diagnoser>(std::move(*made));
}

void DeferredDiagnoser::Publish(std::shared_ptr<diagnose::Diagnoser> d) {
  std::lock_guard lock(mu_);
  if (published_) return;
  published_ = true;
  promise_.set_value(std::move(d));
}

void DeferredDiagnoser::Loop() {
  const auto& cpu = options_.process_cpu;
  using Clock = std::chrono::steady_clock;
  // The process's CPU time at the start of the current quiet window.
  auto window_start = Clock::now();
  auto window_cpu = cpu();
  bool background = false;
  {
    std::unique_lock lock(mu_);
    while (!stop_ && !needed_) {
      cv_.wait_for(lock, options_.poll);
      if (stop_ || needed_) break;
      const auto now = Clock::now();
      const auto elapsed = now - window_start;
      if (elapsed < options_.quiet_window) continue;
      const auto used = cpu() - window_cpu;
      const double share =
          std::chrono::duration<double>(used) / std::chrono::duration<double>(elapsed);
      if (share < options_.quiet_cpu_share) {
        background = true;
        // Idle only where the thread can be lifted again (else a busy machine could starve
        // a compile that a diagnosis or the shutdown then waits for). Under the lock, so a
        // Get() from now on finds the thread to lift.
        if (options_.can_leave_sched_idle() && options_.set_sched_idle(true, 0))
          background_tid_ = ::gettid();
        break;
      }
      window_start = now;
      window_cpu = cpu();
    }
    if (stop_ && !needed_ && !background) {
      published_ = true;
      promise_.set_value(nullptr);  // never needed: nothing to compile
      return;
    }
  }
  Publish(Make(background ? "server quiet" : "first needed"));
}

}  // namespace tug::control
