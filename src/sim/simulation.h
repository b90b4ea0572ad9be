#pragma once
/// The fleet simulation: replays a trace through a cluster model (cluster.h, autoscaler.h) and
/// a policy (policy.h), with adapt deciding sizes and retries when the policy says so
/// (planner.h). A discrete-event simulation on simulated time (int64 microseconds from the
/// trace start): a priority queue of events ordered by (time, insertion order), no wall clock,
/// no threads, one seeded random stream for spot interruptions, so the same trace, policy,
/// config and seed always give the same result, bit for bit.
///
/// The model, in short (docs/fleet.md "Model" has the whole of it):
///  - a Spark attempt is a driver pod; once the driver is bound it asks for its executors,
///    which bind as they fit. Work progresses at speed(n)/speed(n0) of nominal with n executors
///    running (Amdahl, serial fraction 0.1), so a partly placed job runs slower, and a job
///    given more executors than requested runs faster; a container job is one pod.
///  - OOM: a role whose true peak (heap, or non-heap) exceeds its limit fails the attempt when
///    the work reaches the job's peak_at fraction.
///  - spot: each spot node is reclaimed at the climate's Poisson rate; its pods die. A lost
///    driver or container fails the attempt (node_loss); a lost executor costs its share of the
///    work done and is replaced, and more than executor_loss_tolerance losses fail the attempt.
///  - scheduling delay of an attempt: from when it is due (submit, or after its back-off) to
///    when its work can progress (driver and one executor bound, or the container bound). Pod
///    delay: from pod creation to bind.
///
/// Threading: Simulate is reentrant (all state is local); call it from several threads for
/// several policies if you like. Errors: InvalidArgument when the static cluster cannot be
/// sized (no node type holds the largest pod) or a policy names an unknown node type.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "sim/cluster.h"
#include "sim/policy.h"
#include "sim/trace.h"

namespace tug::sim {

/// Nearest-rank percentiles of a set of seconds.
struct Distribution {
  int64_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
  static Distribution Of(std::vector<double> values);
};

/// The cluster at one scan.
struct Sample {
  Micros at = 0;
  int on_demand = 0;     // ready on-demand nodes
  int spot = 0;          // ready spot nodes
  int provisioning = 0;  // launched, not ready
  int pending_pods = 0;
  int running_attempts = 0;
};

/// Waits of one team's attempts (the trace's `queue`): due (submit, or after a retry's back-off)
/// to the attempt's work starting (`wait`: admission plus pods), and to its admission by the
/// team queues (`queued`; empty without queues).
struct TeamResult {
  int64_t runs = 0;
  Distribution wait;
  Distribution queued;
};

struct PolicyResult {
  Policy policy;
  // Jobs (runs) and attempts.
  int64_t jobs = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t unfinished = 0;                     // still running at the drain limit
  std::map<std::string, int64_t> failed_by;   // terminal failures by group (FailureGroup)
  std::map<std::string, int64_t> ok_by_kind;  // succeeded runs: "spark" / "container"
  std::map<std::string, int64_t> failed_by_kind;
  std::map<std::string, int64_t> ok_by_class;  // by the trace's class: scheduled / adhoc / ...
  std::map<std::string, int64_t> failed_by_class;
  int64_t attempts = 0;
  std::map<std::string, int64_t> attempt_failures;  // by taxonomy class
  std::map<std::string, int64_t> rules;             // planner rules applied (adapt's ids)
  // Cluster.
  Cluster::Books books;
  int peak_nodes = 0;
  int static_nodes = 0;
  std::string static_type;
  double wasted_node_hours = 0;  // resource share of node time held by failed attempts
  double wasted_cost = 0;
  double mem_peak_gib_seconds = 0;  // true peak (capped at the limit) × bound time
  int64_t spot_interruptions = 0;
  int64_t pods_lost = 0;  // pods that died with their node
  int64_t placements = 0;
  int64_t events = 0;
  Distribution attempt_delay;  // seconds
  Distribution pod_delay;      // seconds
  /// By team, when the trace names queues; empty otherwise.
  std::map<std::string, TeamResult> teams;
  // GPUs: runs that ask for them (containers with gpu, Spark runs with GPU executors); the
  // books hold GPU node time, cost and GPU-seconds. All zero on a day without GPUs.
  int64_t gpu_jobs = 0;
  int64_t gpu_succeeded = 0;
  Distribution gpu_attempt_delay;  // attempt delay of their attempts, seconds
  int static_gpu_nodes = 0;
  std::string static_gpu_type;
  Micros end = 0;  // when the simulation stopped
  std::vector<Sample> series;

  double cost() const { return books.cost_on_demand + books.cost_spot; }
  double node_hours() const { return books.node_hours_on_demand + books.node_hours_spot; }
  /// Requested GPU-seconds / allocatable GPU-seconds of ready GPU nodes (0 without any).
  double gpu_utilisation() const {
    return books.alloc_gpu_seconds > 0 ? books.used_gpu_seconds / books.alloc_gpu_seconds : 0;
  }
  int64_t terminal_oom() const {
    auto it = failed_by.find("oom");
    return it == failed_by.end() ? 0 : it->second;
  }
};

[[nodiscard]] Result<PolicyResult> Simulate(const Trace& trace, const Policy& policy,
                                            const SimConfig& config);

/// The static cluster a policy gets for a trace: node type index and count (a type without
/// GPUs, for the pods without GPUs), and a GPU node pool for the GPU pods (a container with
/// GPUs, a Spark run's executors) when the trace has any: the cheapest GPU type that holds the
/// largest GPU pod, enough nodes for the nominal schedule's GPU, cpu and memory peaks of those
/// pods × the headroom (`gpu_type` -1 and no GPU nodes without GPU pods).
struct StaticSize {
  int type = 0;
  int nodes = 0;
  double peak_cpu = 0;  // cores requested at the busiest moment of the nominal schedule
  double peak_mem_gib = 0;
  int gpu_type = -1;
  int gpu_nodes = 0;
  int64_t peak_gpu = 0;  // GPUs requested at the busiest moment
};
[[nodiscard]] Result<StaticSize> SizeStaticCluster(const Trace& trace, const Policy& policy,
                                                   const std::vector<NodeType>& types);

/// Pod sizes of a Spark role / a container as the scheduler sees them (memory = heap +
/// overhead for Spark).
int64_t PodMemory(const Resources& r, bool spark, bool driver);
int64_t PodCpu(const Resources& r, bool spark, bool driver);

}  // namespace tug::sim
