#pragma once
/// Loader for Alibaba's public 2017 cluster trace, `batch_task.csv` (cluster-trace-v2017,
/// schema.csv: 8 columns, task create time, task end time, job id, task id, number of
/// instances, status, cpus requested per instance, normalised memory requested per instance;
/// trace_201708.md names them create_timestamp, modify_timestamp, job_id, task_id,
/// instance_num, status, plan_cpu, plan_mem). Each finished task becomes one job of our trace
/// (docs/fleet.md "Alibaba"):
///  - instance_num > 1: a Spark job, one executor per instance (cut at max_executors), each
///    sized plan_cpu/plan_mem, plus a default driver; instance_num == 1: a container job;
///  - submit = create_timestamp; duration = modify - create (the task's lifetime, which
///    includes its own queueing in Fuxi, so it over-states run time);
///  - status Terminated: succeeds; Failed: a deterministic user error at 90 % of the work;
///  - the trace has no usage in this table: the true peak is the request × a ratio drawn
///    like the generator's (U(usage_low, usage_high), or 1 + LogNormal excess for an
///    under-sized share), seeded, so memory failures can be studied on the real arrival
///    pattern and sizes.
///
/// What is skipped and counted (AlibabaStats, DescribeLoad), not failed on:
///  - a header row: the first non-blank line when its first field is not a number;
///  - blank lines, CR before LF (CRLF files), a UTF-8 byte order mark;
///  - rows of tasks that did not run to an end inside the trace (status Ready, Waiting,
///    Running, Cancelled, or empty), whatever their other fields hold: the published file has
///    ~9,000 Waiting rows with empty plan_cpu and plan_mem;
///  - Terminated/Failed rows without times (create or modify empty or <= 0, or no duration) or
///    without requests (instance_num, plan_cpu or plan_mem empty or 0).
/// A row of a task that would be replayed still fails the load when it is malformed: a
/// field that is neither empty nor a number, a negative or fractional value, a missing id;
/// so do a row without 8 columns and a status outside the schema's six.
///
/// Threading: pure, reentrant. Errors: InvalidArgument naming the 1-based line and column
/// ("alibaba line 7: plan_cpu 'x' is not a number").
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "sim/generator.h"
#include "sim/trace.h"

namespace tug::sim {

struct AlibabaOptions {
  /// plan_cpu units per core: the trace counts 100 per core.
  double cpu_units_per_core = 100;
  /// Memory of plan_mem = 1.0 (normalised to the largest machine); 2017 machines: an
  /// assumption, the trace does not say.
  int64_t normalized_memory_bytes = int64_t{64} << 30;
  int max_executors = 200;
  /// The Spark driver added to multi-instance tasks.
  int64_t driver_cpu_millis = 1000;
  int64_t driver_memory_bytes = int64_t{2} << 30;
  /// Usage model (seed, usage_low/high, undersized_share, excess_*) from these.
  GeneratorParams usage;
  /// Stop after this many jobs (0: all).
  int64_t max_jobs = 0;
};

/// The statuses of tasks that are not replayed, in the order DescribeLoad lists them. The
/// last one is an empty status field.
inline constexpr std::array<std::string_view, 5> kAlibabaUnfinished = {"Ready", "Waiting",
                                                                       "Running", "Cancelled", ""};

struct AlibabaStats {
  int64_t rows = 0;  // data rows read (not the header, not blank lines)
  int64_t jobs = 0;
  int64_t header_rows = 0;  // 0 or 1
  /// Rows not replayed because of their status, by kAlibabaUnfinished index; `without_requests`
  /// of them have an empty or non-numeric plan_cpu or plan_mem.
  std::array<int64_t, kAlibabaUnfinished.size()> unfinished{};
  std::array<int64_t, kAlibabaUnfinished.size()> unfinished_without_requests{};
  /// Terminated/Failed rows without times: create or modify empty or <= 0, or modify <= create.
  int64_t no_times = 0;
  /// Terminated/Failed rows without requests: instance_num, plan_cpu or plan_mem empty or 0.
  int64_t no_requests = 0;

  /// Every skipped row, the header included.
  int64_t skipped() const;
};

[[nodiscard]] Result<Trace> LoadAlibabaBatchTask(std::string_view csv, const AlibabaOptions& opts,
                                                 AlibabaStats* stats = nullptr);

/// What a load did, for a person: "loaded 67,937 jobs from 80,553 rows of 'batch_task.csv'",
/// then one line per kind of skipped row that occurred, in a fixed order, e.g. "skipped 9,017
/// Waiting rows without requests".
std::vector<std::string> DescribeLoad(const AlibabaStats& stats, std::string_view source);

}  // namespace tug::sim
