#pragma once
/// Loader for Alibaba's public 2017 cluster trace, `batch_task.csv` (no header; columns
/// create_timestamp, modify_timestamp, job_id, task_id, instance_num, status, plan_cpu,
/// plan_mem). Each finished task becomes one job of our trace (docs/fleet.md "Alibaba"):
///  - instance_num > 1: a Spark job, one executor per instance (cut at max_executors), each
///    sized plan_cpu/plan_mem, plus a default driver; instance_num == 1: a container job;
///  - submit = create_timestamp; duration = modify - create (the task's lifetime, which
///    includes its own queueing in Fuxi, so it over-states run time);
///  - status Terminated: succeeds; Failed: a deterministic user error at 90 % of the work;
///    Ready/Waiting/Running/Cancelled and rows with a zero time or duration are skipped and
///    counted (they did not run to an end inside the trace);
///  - the trace has no usage in this table: the true peak is the request × a ratio drawn
///    like the generator's (U(usage_low, usage_high), or 1 + LogNormal excess for an
///    under-sized share), seeded, so memory failures can be studied on the real arrival
///    pattern and sizes.
///
/// Threading: pure, reentrant. Errors: InvalidArgument naming the 1-based line and column
/// ("alibaba line 7: plan_cpu 'x' is not a number").
#include <cstdint>
#include <string_view>

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

struct AlibabaStats {
  int64_t rows = 0;
  int64_t jobs = 0;
  int64_t skipped_status = 0;    // not Terminated/Failed
  int64_t skipped_no_times = 0;  // zero create/modify time or duration
};

[[nodiscard]] Result<Trace> LoadAlibabaBatchTask(std::string_view csv, const AlibabaOptions& opts,
                                                 AlibabaStats* stats = nullptr);

}  // namespace tug::sim
