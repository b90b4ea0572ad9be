#pragma once
/// Thread helpers: a thread's name (top -H, perf, gdb show it; at most 15 characters are kept)
/// and its scheduling policy.
#include <pthread.h>
#include <sched.h>
#include <sys/types.h>

#include <string>
#include <string_view>

namespace tug {

inline void SetThreadName(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

/// Puts thread `tid` (0: the calling thread) under SCHED_IDLE (`idle`: it runs only when no
/// normal thread wants the CPU) or back under SCHED_OTHER. False when the kernel refused.
inline bool SetSchedIdle(bool idle, pid_t tid = 0) {
  sched_param p{};
  return ::sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &p) == 0;
}

}  // namespace tug
