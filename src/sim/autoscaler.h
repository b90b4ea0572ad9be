#pragma once
/// The autoscaler model, after Kubernetes Cluster Autoscaler (and Karpenter's consolidation of
/// empty nodes). One Scan every `scan_interval`:
///  - scale-up: pending pods the scheduler could not place are first fitted (first-fit, in
///    queue order) onto nodes already provisioning; the rest are bin-packed (first-fit
///    decreasing) onto new nodes of each allowed type, and the type with the least waste wins
///    (CA's least-waste expander; ties: cheaper, then the first type). This repeats until every
///    pod that fits some type is covered or max_nodes is reached. New nodes are billed at once
///    and become ready after `provisioning_delay`.
///  - scale-down: a node is unneeded when a scan finds it empty; Spark and batch pods are bare
///    pods, which CA never evicts, so only empty nodes go. A node that every scan has found
///    empty for `unneeded_time` is removed at that scan.
///  - spare (off by default): keep at least this many empty nodes (ready or on their way) per
///    capacity type, as the cluster-overprovisioner's low-priority pause pods do; the oldest
///    empty nodes are the ones kept, new spare nodes are of the first allowed type without GPUs.
///  - GPUs: a pod that asks for GPUs scales up only types with at least that many GPUs, and a
///    pod that asks for none only types without GPUs (the GPU node group is for GPU pods). GPU
///    pods are packed after the others, and the cheapest packing wins (CA's price expander, as
///    GPU node groups are usually set up: least waste alone picks a p3.8xlarge's spare memory
///    over a g5.12xlarge at twice the price), then the least waste, which counts GPUs too.
///
/// Lifecycle: stateless apart from Node::unneeded_since, which Scan updates on the cluster.
/// Threading: not thread-safe (the simulation's thread). No errors.
#include <vector>

#include "core/clock.h"
#include "sim/cluster.h"

namespace tug::sim {

struct AutoscalerConfig {
  Micros scan_interval = 60 * kMicrosPerSecond;
  Micros unneeded_time = Micros{5} * 60 * kMicrosPerSecond;
  Micros provisioning_delay = 180 * kMicrosPerSecond;
  int max_nodes = 2000;
  int spare_on_demand = 0;
  int spare_spot = 0;
  /// Node types it may launch (indices into Cluster::types()); empty: all.
  std::vector<int> node_types;
};

/// A pod as the autoscaler sees it.
struct PendingPod {
  int64_t cpu = 0;
  int64_t mem = 0;
  Affinity affinity = Affinity::kAny;
  int64_t gpu = 0;
};

struct ScaleUp {
  int type = 0;
  Capacity capacity = Capacity::kOnDemand;
  int count = 0;
  bool operator==(const ScaleUp&) const = default;
};

struct ScanPlan {
  std::vector<ScaleUp> add;
  std::vector<int> remove;  // node ids
};

/// One scan at `now`. Pods with Affinity::kAny go to `any_capacity` nodes.
ScanPlan Scan(Cluster& cluster, const std::vector<PendingPod>& pending,
              const AutoscalerConfig& config, Capacity any_capacity, Micros now);

/// The first allowed type an empty node of which holds the pod, or -1 (for a pod without GPUs,
/// a type without GPUs).
int FirstTypeThatFits(const Cluster& cluster, const AutoscalerConfig& config, int64_t cpu,
                      int64_t mem, int64_t gpu = 0);

/// Whether a new node of type `t` is for the pod: GPU types for GPU pods with enough GPUs,
/// the others for pods without GPUs.
inline bool TypeServes(const NodeType& t, int64_t gpu) {
  return gpu > 0 ? t.gpus >= gpu : t.gpus == 0;
}

}  // namespace tug::sim
