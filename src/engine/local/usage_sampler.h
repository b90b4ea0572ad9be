#pragma once
/// Resource-usage sampling of the local engine's running attempts (kUsage updates): memory in
/// use, CPU in millicores over the last interval, and the attempt's limits.
///
/// Sources, per attempt (its spec.json says which applies):
/// - cgroup v2: memory.current minus memory.stat inactive_file (the working set, as the kubelet
///   reports it), cpu.stat usage_usec.
/// - cgroup v1: memory.usage_in_bytes minus memory.stat total_inactive_file, cpuacct.usage (ns)
///   of the cpuacct group (or of the cpu group when cpu and cpuacct are mounted together).
/// - no cgroup (watchdog mode): one /proc scan for all such attempts; the resident memory and
///   the CPU time (utime+stime+cutime+cstime) of the live processes in the job's process group.
///   A process that left the group (setsid) is not seen, and CPU of processes that exited and
///   were reaped outside the group is lost (an interval where the sum went down reports 0).
///
/// CPU: the counter's increase since the attempt's previous sample over the monotonic time
/// between the two. An attempt's first sample (just started, or adopted) reports its average
/// since the job started: the counter over (clock now - started_at); 0 when that is not known.
///
/// Limits: memory from the spec (kernel or watchdog enforced); cpu from the spec only when the
/// attempt has cgroups and this host enforces cpu quotas (else 0: not limited).
///
/// Threading: UsageSampler is not thread-safe; the engine's monitor thread owns it. The free
/// functions are pure or read files only.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "engine/engine.h"
#include "engine/local/cgroup.h"
#include "engine/local/state_files.h"

namespace tug::engine::local {

/// Millicores used over an interval: `cpu_micros` of CPU time during `wall_micros` of elapsed
/// time, rounded to nearest. 0 when the interval is not positive or the counter went backwards.
int64_t Millicores(int64_t cpu_micros, int64_t wall_micros);

/// The number a single-value cgroup file holds ("123456\n": memory.current,
/// memory.usage_in_bytes, cpuacct.usage). kInvalidArgument for anything else, "max" included.
[[nodiscard]] Result<int64_t> ParseCgroupNumber(std::string_view text);

/// Memory in use from a usage counter and the memory.stat text: usage minus inactive file pages
/// (`inactive_file` on v2, `total_inactive_file` on v1; the plain usage when memory.stat lacks
/// it), never below 0.
int64_t WorkingSet(int64_t usage_bytes, std::string_view memory_stat, CgroupVersion version);

/// An attempt's counters now; a field is absent when its file is missing or unreadable.
struct UsageCounters {
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> cpu_micros;  // cumulative
};
UsageCounters ReadCgroupCounters(const AttemptCgroups& groups);

/// Monotonic microseconds (steady clock): when samples are due and how long a CPU interval
/// was. The injected Clock is wall time, which may jump.
Micros MonotonicMicros();

/// When samples are due: every `interval` of monotonic time while anything runs, the first one
/// an interval after something started running; nothing is scheduled while nothing runs.
class UsageTicker {
 public:
  /// interval <= 0: never due.
  explicit UsageTicker(Micros interval) : interval_(interval) {}
  /// Called every turn of the monitor loop; true when a sample is due at `mono_now`.
  bool Due(bool running, Micros mono_now);
  /// The poll(2) timeout until the next sample (rounded up), -1 when none is scheduled.
  int TimeoutMs(Micros mono_now) const;

 private:
  const Micros interval_;
  Micros next_ = 0;  // 0: not scheduled
};

/// An attempt the engine watches.
struct UsageTarget {
  std::string attempt_id;
  std::string dir;        // its state directory (spec.json, status.json)
  int job_pid = 0;        // the job's process group (watchdog mode); 0 when not known
  Micros started_at = 0;  // when the job started (wall clock); 0 when not known
};

class UsageSampler {
 public:
  /// `clock` stamps the updates; `cpu_limits`: this host enforces cpu quotas in cgroups.
  UsageSampler(const Clock& clock, bool cpu_limits) : clock_(clock), cpu_limits_(cpu_limits) {}

  /// One kUsage update per target that is still running (no status.json yet) and whose usage
  /// could be read; `mono_now` is a monotonic time in microseconds (the CPU interval's length).
  /// Attempts not among `targets` are forgotten.
  std::vector<Update> Sample(const std::vector<UsageTarget>& targets, Micros mono_now);

 private:
  struct Known {
    bool spec_read = false;
    ShimSpec spec;  // cgroups and limits (read once: spec.json does not change)
    std::optional<int64_t> last_cpu_micros;
    Micros last_mono = 0;
  };

  const Clock& clock_;
  const bool cpu_limits_;
  std::map<std::string, Known> known_;  // by attempt id
};

}  // namespace tug::engine::local
