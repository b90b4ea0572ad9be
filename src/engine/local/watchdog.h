#pragma once
/// Memory watchdog for hosts without a writable cgroup: the shim samples the resident memory of
/// every process in the job's process group (about every 50 ms) and kills the group when the sum
/// reaches the limit. Weaker than a cgroup (a fast allocation can overshoot between samples, a
/// process that leaves the group escapes), which is why the engine reports itself degraded.
/// Used by the shim only (single-threaded).
#include <sys/types.h>

#include <cstdint>
#include <string_view>

namespace tug::engine::local {

inline constexpr int64_t kWatchdogIntervalMs = 50;

/// Sum of the RSS in bytes of the live processes whose process group is `pgid` (a /proc scan).
int64_t SampleGroupRss(pid_t pgid);

class Watchdog {
 public:
  /// limit_bytes 0: sample for the peak only, never kill.
  explicit Watchdog(int64_t limit_bytes) : limit_bytes_(limit_bytes) {}

  /// Samples `pgid`; true when the limit is reached (the caller kills the group).
  bool Check(pid_t pgid);

  int64_t peak_bytes() const { return peak_bytes_; }
  int64_t last_bytes() const { return last_bytes_; }
  int64_t limit_bytes() const { return limit_bytes_; }

 private:
  int64_t limit_bytes_;
  int64_t peak_bytes_ = 0;
  int64_t last_bytes_ = 0;
};

}  // namespace tug::engine::local
