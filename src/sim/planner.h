#pragma once
/// The bridge between simulated runs and the planner production runs. With adapt on, every
/// first attempt comes from adapt::PlanFirst and every retry from adapt::PlanRetry, fed the
/// real core types: the job's Definition (resources from the trace, retry and adapt policy from
/// the sim policy), the run's Attempts with their outcome, measured peak, placement and a
/// diagnosis JSON of the shape src/diagnose writes ({"class", "retryable", "root_cause":
/// {"component", "line", "text"}, "component"}), the spot climate, and history samples of the
/// same job's successful simulated runs for right-sizing. Nothing of adapt's decision is
/// re-implemented here. With adapt off, retries are the plain platform's (policy.h).
///
/// Lifecycle: one per simulation; keeps the right-sizing history. Threading: not thread-safe.
#include <map>
#include <string>
#include <vector>

#include "adapt/adapt.h"
#include "core/model.h"
#include "sim/policy.h"
#include "sim/trace.h"

namespace tug::sim {

/// Why a simulated attempt ended.
enum class FailureKind : uint8_t {
  kNone,
  kDriverHeapOom,         // driver JVM heap (java.lang.OutOfMemoryError)
  kDriverContainerOom,    // driver pod OOMKilled (non-heap over memoryOverhead)
  kExecutorHeapOom,       // executor JVM heap, exit 52
  kExecutorContainerOom,  // executor pod OOMKilled, exit 137
  kContainerOom,          // batch container OOMKilled
  kUserError,
  kTransient,
  kTimeout,
  kNodeLoss,       // spot interruption: driver/container lost, or too many executors
  kUnschedulable,  // a pod fits no node type
};

/// The taxonomy class (failure-taxonomy.md) the simulated diagnoser reports.
std::string_view FailureClass(FailureKind k);
/// Grouping for the report: "oom", "user_error", "transient", "timeout", "node_loss",
/// "unschedulable".
std::string_view FailureGroup(FailureKind k);
bool IsOom(FailureKind k);

/// What the simulation knows when an attempt ends.
struct AttemptEnd {
  FailureKind failure = FailureKind::kNone;  // kNone: succeeded
  int executor = 0;                          // which executor failed (for messages)
  int64_t peak_memory_bytes = 0;             // measured: min(true peak, limit)
  Micros started_at = 0;
  Micros ended_at = 0;
  bool ran_on_spot = false;
};

/// The next attempt (or none).
struct Plan {
  bool run = false;
  Micros delay = 0;
  Resources resources;
  Placement placement;
  std::string rule;  // adapt's rule id, or "plain.*"
};

class Planner {
 public:
  Planner(const Policy& policy, const SimConfig& config);

  /// The job as a definition (cached per job index by the caller).
  Definition MakeDefinition(const TraceJob& job) const;
  static Resources Requested(const TraceJob& job);

  Plan First(const Definition& spec, const TraceJob& job, const adapt::Climate& climate,
             Micros now);
  /// Records the ended attempt on `attempts` (the run's, in order) and plans the next.
  Plan Next(const Definition& spec, const TraceJob& job, std::vector<Attempt>& attempts,
            const Plan& current, const AttemptEnd& end, const adapt::Climate& climate);
  /// A successful run of the job: a right-sizing sample.
  void Succeeded(const TraceJob& job, const Resources& resources, const AttemptEnd& end);

  const adapt::Platform& platform() const { return platform_; }

 private:
  const Policy& policy_;
  adapt::Platform platform_;
  std::map<std::string, std::vector<adapt::HistorySample>> history_;
};

/// The diagnosis JSON the simulated diagnoser writes for a failure (exposed for tests).
std::string DiagnosisJson(FailureKind k, int executor, const TraceJob& job);
/// The outcome a failure ends with (exit code, reason, message).
Outcome OutcomeFor(FailureKind k, int executor);

}  // namespace tug::sim
