#include "control/deferred_diagnoser.h"

#include <sys/resource.h>
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

}  // namespace

DeferredDiagnoser::DeferredDiagnoser(DeferredDiagnoserOptions options)
    : options_(std::move(options)), result_(promise_.get_future().share()) {
  thread_ = std::thread([this] {
    SetThreadName("tug-catalog");
    Loop();
  });
}

DeferredDiagnoser::~DeferredDiagnoser() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool DeferredDiagnoser::ready() const {
  return result_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

std::shared_ptr<diagnose::Diagnoser> DeferredDiagnoser::Get() {
  if (!ready()) {
    std::lock_guard lock(mu_);
    needed_ = true;
    // A background compile already under way: let it have a whole CPU from now on.
    if (compiling_tid_ != 0) (void)SetSchedIdle(false, compiling_tid_);
  }
  cv_.notify_all();
  return result_.get();
}

void DeferredDiagnoser::Loop() {
  auto cpu = options_.process_cpu ? options_.process_cpu : SelfCpu;
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
        compiling_tid_ = ::gettid();
        // Under the lock, so a Get() from now on finds the thread to lift.
        (void)SetSchedIdle(true);
        break;
      }
      window_start = now;
      window_cpu = cpu();
    }
    if (stop_ && !needed_ && !background) {
      promise_.set_value(nullptr);  // never needed: nothing to compile
      return;
    }
  }
  const auto compile_start = Clock::now();
  auto made = options_.make();
  std::shared_ptr<diagnose::Diagnoser> d;
  if (made.ok()) {
    d = std::make_shared<diagnose::Diagnoser>(std::move(*made));
    log::Info("diagnosis catalog compiled",
              {{"when", background ? "server quiet" : "first needed"},
               {"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         Clock::now() - compile_start)
                                         .count())}});
  } else {
    log::Error("loading the diagnosis catalog failed; failures will not be diagnosed",
               {{"error", made.error().ToString()}});
  }
  {
    std::lock_guard lock(mu_);
    compiling_tid_ = 0;
  }
  if (background) (void)SetSchedIdle(false);
  promise_.set_value(std::move(d));
}

}  // namespace tug::control
