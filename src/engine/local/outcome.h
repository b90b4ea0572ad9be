#pragma once
/// How an attempt ended, decided from facts the shim collected: the wait status of the job's
/// main process, the cgroup's OOM-kill counter, whether the watchdog or a stop/deadline killed
/// it. Pure (no I/O); the shim calls it once, tests call it with tables.
#include <cstdint>
#include <optional>
#include <string>

#include "core/model.h"

namespace tug::engine::local {

struct JobEnd {
  std::optional<int> wait_status;  // as from waitpid; nullopt if the job was never reaped
  int64_t oom_kills = 0;           // cgroup memory.oom_control / memory.events "oom_kill"
  bool watchdog_killed = false;
  int64_t watchdog_resident_bytes = 0;  // the sample that reached the limit
  int64_t watchdog_interval_ms = 0;
  std::string stop_reason;  // "", reason::kStopped or reason::kDeadlineExceeded
  std::string stop_why;     // "stopped on request", "deadline of 10s exceeded"
  bool escalated = false;   // SIGKILL followed SIGTERM after the grace period
  int64_t stop_grace_ms = 0;
  int64_t memory_limit_bytes = 0;
};

/// Precedence: kernel OOM kill, watchdog kill, stop/deadline, then the exit itself
/// (Completed, Error, Signaled). OOM kills report exit code 137 whatever the wrapper returned.
Outcome DecideOutcome(const JobEnd& end);

}  // namespace tug::engine::local
