#pragma once
/// Memory watchdog for hosts without a writable cgroup: the shim samples the resident memory of
/// every process of the job (about every 50 ms) and kills the job when the sum reaches the limit.
/// The job's processes are the shim's descendants (it is a child subreaper, so orphans stay in
/// its tree), walked through /proc/<pid>/task/<tid>/children: a sample costs in proportion to the
/// job's processes, not to every process on the host (a /proc scan per shim every 50 ms is
/// quadratic in the number of running attempts). Kernels without the children files fall back
/// to a /proc scan for the job's process group. Weaker than a cgroup (a fast allocation can
/// overshoot between samples), which is why the engine reports itself degraded.
/// Used by the shim only (single-threaded).
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace tug::engine::local {

inline constexpr int64_t kWatchdogIntervalMs = 50;

/// Sum of the RSS in bytes of the live processes whose process group is `pgid` (a /proc scan).
int64_t SampleGroupRss(pid_t pgid);
/// Sum of the RSS in bytes of the live descendants of `root` (not `root` itself); nullopt when
/// this kernel has no /proc/<pid>/task/<tid>/children files.
std::optional<int64_t> SampleDescendantsRss(pid_t root);

class Watchdog {
 public:
  /// limit_bytes 0: sample for the peak only, never kill.
  explicit Watchdog(int64_t limit_bytes) : limit_bytes_(limit_bytes) {}

  /// Samples the descendants of `root` (the shim), or the process group `pgid` where the kernel
  /// cannot list children; true when the limit is reached (the caller kills the job).
  bool Check(pid_t root, pid_t pgid);

  int64_t peak_bytes() const { return peak_bytes_; }
  int64_t last_bytes() const { return last_bytes_; }
  int64_t limit_bytes() const { return limit_bytes_; }

 private:
  int64_t limit_bytes_;
  int64_t peak_bytes_ = 0;
  int64_t last_bytes_ = 0;
};

}  // namespace tug::engine::local
