#pragma once
/// Policies to compare on one trace and seed, and the cluster settings they share.
///
/// Presets (docs/fleet.md "Policies"):
///  - (a) `static`: a static on-demand cluster sized for the trace's peak (the EMR-on-EC2-like
///    baseline), LeastAllocated, no autoscaler, no adaptation;
///  - (b) `autoscaled`: Cluster Autoscaler with its defaults (scan 60 s, scale-down after 10
///    min unneeded), LeastAllocated (kube-scheduler's default), on-demand, no adaptation;
///  - (c) `tugboat`: MostAllocated, culling after 5 min unneeded, and Tugboat's real adapt
///    planner: memory growth after OOMs, executor progression, spot for executors and
///    on-demand after node loss or in a bad climate, right-sizing of container jobs.
/// Any field can be changed on a preset with `+key=value` ("autoscaled+scoring=most",
/// "tugboat+capacity=on-demand", "static+adapt=on").
///
/// Without adapt a failed run is retried the way a plain platform (Flotilla, an Airflow
/// task's `retries`) does it: the same resources and placement, after `plain_retry_delay`,
/// until `max_attempts` attempts have run, whatever the failure.
///
/// Threading: values. Errors: ParsePolicies returns InvalidArgument naming the bad part.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "queue/queue.h"
#include "sim/autoscaler.h"
#include "sim/cluster.h"

namespace tug::sim {

struct Policy {
  std::string name;   // preset name, or the spec as written
  std::string label;  // for tables: "(a) static"
  bool autoscale = true;
  Scoring scoring = Scoring::kLeastAllocated;
  Micros unneeded_time = Micros{10} * 60 * kMicrosPerSecond;
  /// Call adapt::PlanFirst / adapt::PlanRetry.
  bool adapt = false;
  /// adapt.rightsizing: "apply" when on (containers; adapt does not right-size Spark), "off".
  bool rightsizing = false;
  /// With adapt: adapt.capacity (auto | spot | on-demand; drivers always on-demand).
  /// Without: where every pod goes (on-demand | spot).
  std::string capacity = "on-demand";
  /// Static cluster: nodes (0: sized for the trace's peak) and type ("": the cheapest that
  /// holds the peak and the largest pod).
  int static_nodes = 0;
  std::string static_type;
  double static_headroom = 1.1;  // × the peak of requested cpu/memory
  int max_attempts = 3;          // plain retries; adapt reads retry.max_attempts too
  /// Overprovisioning: empty nodes kept ready per capacity type (autoscaler.h), 0: none.
  int spare_on_demand = 0;
  int spare_spot = 0;
  Micros plain_retry_delay = 60 * kMicrosPerSecond;
  /// Scale up for a Spark run's executors while its driver is still pending, as gang
  /// scheduling's placeholder pods do (YuniKorn task groups, Volcano minMember): the planner
  /// knows the executor count at submission, so their nodes boot alongside the driver's instead
  /// of after it (two node boots in a row otherwise).
  bool anticipate_executors = false;
  /// Admission through team queues (src/queue, the dispatcher's own Scheduler): kOff sends an
  /// attempt to the cluster when it is due; kTeams enqueues it in its run's queue (the trace's
  /// `queue`, "" → default) under SimConfig::queues' quotas, in weighted fair-share order;
  /// kFifo puts every attempt in one FIFO queue limited to the teams' quotas added up (a cap
  /// without fairness, to tell the two apart).
  enum class Queues : uint8_t { kOff, kTeams, kFifo };
  Queues queues = Queues::kOff;
  /// GPU nodes (node types with GPUs) are tainted for pods that ask for no GPU (`gpu_nodes=
  /// tainted`, the default, as GPU node groups usually are), or open to every pod (`shared`: cpu
  /// jobs may then fill a GPU node's cpu and memory and keep a GPU job waiting). Either way the
  /// autoscaler launches GPU nodes only for GPU pods.
  bool gpu_nodes_shared = false;
};

std::string_view ToString(Policy::Queues q);

Policy StaticPolicy();
Policy AutoscaledPolicy();
Policy TugboatPolicy();

/// "a,b,c", "static,autoscaled,tugboat", "tugboat+scoring=least", ...
[[nodiscard]] Result<std::vector<Policy>> ParsePolicies(std::string_view spec);

/// Spot interruption rate (per node-hour) over the day: piecewise constant, repeating daily.
struct SpotClimate {
  struct Step {
    Micros from = 0;  // offset in the day
    double rate_per_hour = 0;
  };
  std::vector<Step> steps;  // sorted by `from`; the first starts at 0
  /// The rate at a time (any day).
  double RateAt(Micros t) const;
  /// When a node alive from `from` is interrupted, given an Exp(1) draw `e` (integrates the
  /// piecewise rate); -1 when the rate is 0 from there on.
  Micros InterruptionTime(Micros from, double e) const;
};

/// "00:00=0.005,13:00=0.08,16:00=0.005" (HH:MM=rate per node-hour).
[[nodiscard]] Result<SpotClimate> ParseClimate(std::string_view spec);
std::string ToString(const SpotClimate& c);
/// A calm day with a three-hour afternoon storm, to exercise the climate path.
inline constexpr std::string_view kDefaultClimate = "00:00=0.005,13:00=0.08,16:00=0.005";

/// What the simulation holds per queue at one moment (SimConfig::on_queue).
struct QueueBooks {
  struct Usage {
    queue::Vec admitted;  // footprints of the admitted attempts that have not ended
    int64_t running = 0;  // those attempts
    queue::Vec bound;     // cpu, memory and GPUs of their pods bound to nodes
    int64_t queued = 0;   // attempts waiting for admission
  };
  Micros now = 0;
  const std::vector<queue::QueueSpec>* specs = nullptr;  // as the Scheduler was created
  const std::vector<Usage>* usage = nullptr;             // parallel to *specs
};

/// "a:weight=2,cpu=400,memory=1600Gi,running=100,cohort=all" → a queue (docs/fleet.md "Team
/// queues" lists the keys). InvalidArgument naming the bad part.
[[nodiscard]] Result<queue::QueueSpec> ParseQueueSpec(std::string_view spec);

/// What every policy in one comparison shares.
struct SimConfig {
  std::vector<NodeType> node_types = DefaultNodeTypes();
  SpotClimate climate;  // kDefaultClimate in DefaultSimConfig
  AutoscalerConfig autoscaler;
  uint64_t seed = 1;
  /// Amdahl serial fraction of a Spark job: speed(n) = 1 / (s + (1 - s) / n).
  double serial_fraction = 0.1;
  /// Executors a Spark attempt survives losing (each costs its share of the work done and is
  /// replaced); one more fails the attempt with node_loss. The driver's loss always does.
  int executor_loss_tolerance = 2;
  /// The climate adapt sees: node-loss failures / attempts on spot that ended in this window.
  Micros climate_window = 3600 * kMicrosPerSecond;
  /// After the last submit, give up on what still runs after this long.
  Micros drain_limit = Micros{3} * 86400 * kMicrosPerSecond;
  /// Steady state: replay the trace three times back to back, each copy P later (P = the
  /// larger of `day` and the trace's span rounded up to an hour), and measure only the middle
  /// copy's runs and the window [P, 2P). The day then starts with yesterday's spill-over and
  /// right-sizing history, and a static cluster is billed for exactly one period. Off: one
  /// copy on an empty cluster, measured until everything ended (tests use this).
  bool steady_state = true;
  Micros day = 86400 * kMicrosPerSecond;
  /// Team queues for policies with `queues=on|fifo` (ParseQueueSpec, `tug sim --queue`).
  std::vector<queue::QueueSpec> queues;
  /// The denominator of fair shares (queue::Scheduler::Create); zero fields: the sum of the
  /// queues' finite quotas.
  queue::Vec queue_capacity;
  /// Tests only: called after every admission and every end of an admitted attempt, with the
  /// simulation's own books per queue (not the Scheduler's).
  std::function<void(const QueueBooks&)> on_queue;
  /// Tests only: called after every Cluster::Pick of the scheduler with the cluster as it was,
  /// the pod's request and the node picked (-1: none). Empty in every other use.
  std::function<void(const Cluster&, int64_t cpu, int64_t mem, Affinity, Scoring, int node)>
      on_pick;
};

SimConfig DefaultSimConfig();

}  // namespace tug::sim
