#pragma once
/// Traces: the jobs a simulation replays. One format of our own, JSON Lines (one job per line),
/// specified in docs/fleet.md ("Trace format"); the generator (generator.h) and the Alibaba
/// loader (alibaba.h) both produce it, and `tug sim generate` writes it.
///
/// Lifecycle: plain values. Threading: pure functions, reentrant.
/// Errors: ParseTrace returns InvalidArgument naming the 1-based line and the field to fix
/// ("trace line 12: 'duration' must be a positive number of seconds"); ReadFile NotFound /
/// InvalidArgument when the file cannot be read.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace tug::sim {

/// What a job asks for, per Spark role or for a container. overhead_bytes 0: Spark's default
/// (max(384Mi, 10 % of the heap)); containers have no overhead.
struct RoleSize {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int64_t overhead_bytes = 0;
  bool operator==(const RoleSize&) const = default;
};

/// What a role really uses at its peak: JVM heap and everything else in the container
/// (overhead: native, Python, buffers). A container job uses heap only (its whole memory).
struct Peak {
  int64_t heap_bytes = 0;
  int64_t offheap_bytes = 0;
  bool operator==(const Peak&) const = default;
};

/// A failure the job will hit regardless of memory (memory failures follow from the peaks).
struct Injection {
  enum class Kind { kTransient, kUserError, kTimeout };
  Kind kind = Kind::kTransient;
  /// Attempt numbers it fires on; empty: every attempt (a deterministic failure).
  std::vector<int> attempts;
  /// Where in the run it fires, as a fraction of the work (0, 1].
  double at = 0.5;
  /// kTimeout on Spark: fires only while the attempt asks for fewer executors than this
  /// (a broadcast/RPC timeout that more parallelism cures); 0: always.
  int min_executors = 0;
  bool operator==(const Injection&) const = default;
};

std::string_view ToString(Injection::Kind k);

struct TraceJob {
  std::string id;     // unique in the trace; the run id
  std::string user;   // who submitted it
  std::string name;   // the definition: runs of one name share right-sizing history
  std::string kind;   // "spark" | "container"
  std::string klass;  // "scheduled" | "adhoc" | "" (reporting only)
  /// The team queue it is submitted to (policy `queues=on`; the per-team report); "": none.
  std::string queue;
  Micros submit = 0;  // from the start of the trace
  // kind spark
  RoleSize driver;
  RoleSize executor;
  int instances = 0;  // spark.executor.instances
  Peak driver_peak;
  Peak executor_peak;
  // kind container
  RoleSize container;
  int64_t container_peak_bytes = 0;
  /// Seconds the job takes at its requested size with every executor running.
  double duration_s = 0;
  /// Where the memory peak is reached, as a fraction of the work (an OOM fires there).
  double peak_at = 0.6;
  bool critical = false;  // adapt: always on-demand
  /// GPUs (nvidia.com/gpu) per container, or per executor for Spark (the driver gets none).
  int64_t gpu = 0;
  std::vector<Injection> failures;
  bool operator==(const TraceJob&) const = default;

  bool spark() const { return kind == "spark"; }
};

struct Trace {
  std::vector<TraceJob> jobs;  // sorted by submit time, then id
  std::string source;          // "generated seed=1 ...", a file name
};

/// Parses JSON Lines text (blank lines and lines starting with '#' are skipped).
[[nodiscard]] Result<Trace> ParseTrace(std::string_view text);
/// One job as its JSON line (no newline); ParseTrace(ToJsonLine(j)) gives j back.
std::string ToJsonLine(const TraceJob& job);
/// The whole trace, one line per job, with a '#' header comment.
std::string ToJsonLines(const Trace& trace);
/// Checks one job's values (sizes, fractions, peaks); `where` prefixes messages.
[[nodiscard]] Status ValidateJob(const TraceJob& job, std::string_view where);
/// Sorts by (submit, id) and rejects duplicate ids.
[[nodiscard]] Status Normalize(Trace& trace);

/// Reads a whole file (the CLI's input).
[[nodiscard]] Result<std::string> ReadFile(const std::string& path);
[[nodiscard]] Status WriteFile(const std::string& path, std::string_view text);

}  // namespace tug::sim
