#pragma once
/// The cluster model: node types with prices, nodes (provisioning → ready → removed), and the
/// scheduler's two steps as kube-scheduler does them with the NodeResourcesFit plugin (the
/// answer is that of a scan of every ready node; NodeIndex finds it without the scan):
///  - filter: the node is ready, its capacity type matches the pod's (karpenter.sh/
///    capacity-type affinity) and its free allocatable cpu and memory hold the request; GPU
///    nodes (types with GPUs) hold only pods that ask for GPUs, and those only where enough
///    GPUs are free (the GPU node group's NoSchedule taint, which GPU pods tolerate, and the
///    device plugin's nvidia.com/gpu); with `SetGpuNodesShared(true)` (no taint) pods without
///    GPUs may bind there too;
///  - score: MostAllocated (bin-packing: (used + request) / allocatable) or LeastAllocated
///    (spreading: free after the request / allocatable), per resource as an integer 0-100
///    (kube's integer maths), cpu and memory weighted equally; the highest score wins and ties
///    go to the lowest node id (kube breaks ties at random; a fixed rule keeps runs
///    reproducible). GPUs are not scored (kube's default NodeResourcesFit weights are cpu and
///    memory).
/// It also keeps the books the report needs: node time and cost by capacity type, allocatable
/// × ready time, and requested × bound time, for GPUs and GPU nodes too.
///
/// Lifecycle: owned by one simulation. Threading: not thread-safe. No errors: callers check
/// Fits() before Bind(); Bind/Release on a removed node is a programming error (asserted).
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "sim/node_index.h"

namespace tug::sim {

enum class Capacity : uint8_t { kOnDemand, kSpot };
/// What a pod accepts: a required capacity type, or either.
enum class Affinity : uint8_t { kAny, kOnDemand, kSpot };
enum class Scoring : uint8_t { kMostAllocated, kLeastAllocated };

std::string_view ToString(Capacity c);
std::string_view ToString(Scoring s);
[[nodiscard]] Result<Scoring> ParseScoring(std::string_view s);
inline bool Accepts(Affinity a, Capacity c) {
  return a == Affinity::kAny || (a == Affinity::kSpot) == (c == Capacity::kSpot);
}

/// An instance type as the scheduler sees it (allocatable, after system and kube reservations)
/// and its hourly prices.
struct NodeType {
  std::string name;
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  double on_demand_price = 0;  // $ per hour
  double spot_price = 0;       // $ per hour
  int64_t gpus = 0;            // nvidia.com/gpu; 0: no GPUs
  double Price(Capacity c) const { return c == Capacity::kSpot ? spot_price : on_demand_price; }
};

/// AWS m5.4xlarge / r5.4xlarge / r5.8xlarge, then the GPU types g5.xlarge / g5.2xlarge /
/// g5.12xlarge / p3.8xlarge (us-east-1 on-demand list prices, from src/cost's books);
/// allocatable is capacity minus ~0.25 cpu and ~10 % memory for the kubelet, system and
/// daemonsets; spot is `spot_fraction` of on-demand.
std::vector<NodeType> DefaultNodeTypes(double spot_fraction = 0.35);

struct Node {
  int id = 0;
  int type = 0;
  Capacity capacity = Capacity::kOnDemand;
  Micros launched_at = 0;  // billed from here (the instance runs while it boots)
  Micros ready_at = 0;     // pods can bind from here
  Micros removed_at = -1;
  bool ready = false;
  bool removed = false;
  int64_t used_cpu = 0;
  int64_t used_mem = 0;
  int64_t used_gpu = 0;
  std::vector<int> pods;  // bound pod ids (the simulation's numbering)
  /// Autoscaler: when a scan first saw it empty (-1: it was not, at the last scan).
  Micros unneeded_since = -1;
};

class Cluster {
 public:
  explicit Cluster(std::vector<NodeType> types) : types_(std::move(types)), index_(types_) {}

  const std::vector<NodeType>& types() const { return types_; }
  const NodeType& type(const Node& n) const { return types_[n.type]; }
  const std::vector<Node>& nodes() const { return nodes_; }
  Node& node(int id) { return nodes_[id]; }
  const Node& node(int id) const { return nodes_[id]; }

  /// A new node, billed from `now`, ready at `ready_at` (MarkReady is the caller's event).
  int Launch(int type, Capacity capacity, Micros now, Micros ready_at);
  void MarkReady(int id, Micros now);
  /// Removes an empty node (scale-down or interruption after its pods were evicted).
  void Remove(int id, Micros now);

  bool Fits(const Node& n, int64_t cpu, int64_t mem, int64_t gpu = 0) const {
    const NodeType& t = types_[n.type];
    return n.used_cpu + cpu <= t.cpu_millis && n.used_mem + mem <= t.memory_bytes &&
           n.used_gpu + gpu <= t.gpus;
  }
  /// Pods without GPUs may use GPU nodes (no taint on the GPU node group). Default: not.
  void SetGpuNodesShared(bool shared) { gpu_nodes_shared_ = shared; }
  bool gpu_nodes_shared() const { return gpu_nodes_shared_; }
  /// kube's NodeResourcesFit score of placing the request on the node, 0-100.
  int64_t Score(const Node& n, int64_t cpu, int64_t mem, Scoring scoring) const;
  /// The node the scheduler picks, or -1 when no ready node passes the filter: the highest
  /// Score among the ready nodes that pass, ties to the lowest id. Without GPUs its cost does
  /// not grow with the number of nodes (node_index.h); a GPU pod's scans the ready GPU nodes.
  int Pick(int64_t cpu, int64_t mem, Affinity affinity, Scoring scoring, int64_t gpu = 0) const {
    if (gpu > 0) return PickGpu(cpu, mem, gpu, affinity, scoring);
    return index_.Pick(cpu, mem, affinity, scoring, gpu_nodes_shared_);
  }
  void Bind(int node, int pod, int64_t cpu, int64_t mem, Micros now, int64_t gpu = 0);
  void Release(int node, int pod, int64_t cpu, int64_t mem, Micros now, int64_t gpu = 0);

  /// Ready, not removed node ids (the scheduler's candidates), in launch order.
  const std::vector<int>& ready_ids() const { return ready_; }
  int live_nodes() const { return live_; }

  /// Only time inside [from, to) goes into the books (default: all time).
  void SetWindow(Micros from, Micros to) {
    window_from_ = from;
    window_to_ = to;
  }
  /// Closes the books at `now` (nodes still up are billed until then), within the window.
  struct Books {
    double node_hours_on_demand = 0;
    double node_hours_spot = 0;
    double cost_on_demand = 0;
    double cost_spot = 0;
    double alloc_cpu_seconds = 0;  // allocatable millicores × ready seconds / 1000
    double alloc_mem_seconds = 0;  // allocatable GiB × ready seconds
    double used_cpu_seconds = 0;   // requested cores × bound seconds
    double used_mem_seconds = 0;   // requested GiB × bound seconds
    double node_hours_gpu = 0;     // of the node hours above, nodes with GPUs
    double cost_gpu = 0;           // of the cost above, nodes with GPUs
    double alloc_gpu_seconds = 0;  // GPUs × ready seconds
    double used_gpu_seconds = 0;   // requested GPUs × bound seconds
  };
  Books Close(Micros now) const;

 private:
  /// Integrates used cpu/mem/GPUs over time (called before every change).
  void Accrue(Micros now);
  int PickGpu(int64_t cpu, int64_t mem, int64_t gpu, Affinity affinity, Scoring scoring) const;
  /// The part of [from, to) inside the window.
  Micros Overlap(Micros from, Micros to) const;

  std::vector<NodeType> types_;
  NodeIndex index_;  // the ready nodes, by allocation
  std::vector<Node> nodes_;
  std::vector<int> ready_;
  std::vector<int> gpu_ready_;  // the ready nodes with GPUs, in launch order
  bool gpu_nodes_shared_ = false;
  int live_ = 0;
  Micros window_from_ = 0;
  Micros window_to_ = std::numeric_limits<Micros>::max();
  Micros accrued_at_ = 0;
  int64_t total_used_cpu_ = 0;
  int64_t total_used_mem_ = 0;
  double used_cpu_seconds_ = 0;
  double used_mem_seconds_ = 0;
  int64_t total_used_gpu_ = 0;
  double used_gpu_seconds_ = 0;
};

}  // namespace tug::sim
