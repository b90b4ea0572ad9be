#include "sim/autoscaler.h"

#include <algorithm>
#include <numeric>

namespace tug::sim {
namespace {

struct Bin {
  int64_t cpu = 0;
  int64_t mem = 0;
  int64_t gpu = 0;
};

bool Holds(const NodeType& t, const Bin& b, const PendingPod& pod) {
  return b.cpu + pod.cpu <= t.cpu_millis && b.mem + pod.mem <= t.memory_bytes &&
         b.gpu + pod.gpu <= t.gpus;
}

std::vector<int> AllowedTypes(const Cluster& cluster, const AutoscalerConfig& config) {
  if (!config.node_types.empty()) return config.node_types;
  std::vector<int> all(cluster.types().size());
  std::iota(all.begin(), all.end(), 0);
  return all;
}

/// First-fit decreasing of `pods` (indices into `all`) onto new nodes of type `t`.
struct Packing {
  int nodes = 0;
  double waste = 1;
  double cost = 0;
  std::vector<size_t> packed;  // indices into `all` that found a node
};

Packing Pack(const NodeType& t, const std::vector<PendingPod>& all, const std::vector<size_t>& pods,
             Capacity capacity, int max_new) {
  Packing p;
  std::vector<size_t> order;
  for (size_t i : pods) {
    if (TypeServes(t, all[i].gpu) && Holds(t, Bin{}, all[i])) order.push_back(i);
  }
  auto share = [&t, &all](size_t i) {
    double s = std::max(static_cast<double>(all[i].cpu) / static_cast<double>(t.cpu_millis),
                        static_cast<double>(all[i].mem) / static_cast<double>(t.memory_bytes));
    if (t.gpus > 0) s = std::max(s, static_cast<double>(all[i].gpu) / static_cast<double>(t.gpus));
    return s;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&share](size_t a, size_t b) { return share(a) > share(b); });
  std::vector<Bin> bins;
  int64_t used_cpu = 0;
  int64_t used_mem = 0;
  int64_t used_gpu = 0;
  for (size_t i : order) {
    const PendingPod& pod = all[i];
    bool placed = false;
    for (Bin& b : bins) {
      if (Holds(t, b, pod)) {
        b.cpu += pod.cpu;
        b.mem += pod.mem;
        b.gpu += pod.gpu;
        placed = true;
        break;
      }
    }
    if (!placed) {
      if (static_cast<int>(bins.size()) >= max_new) continue;
      bins.push_back({pod.cpu, pod.mem, pod.gpu});
    }
    used_cpu += pod.cpu;
    used_mem += pod.mem;
    used_gpu += pod.gpu;
    p.packed.push_back(i);
  }
  p.nodes = static_cast<int>(bins.size());
  if (p.nodes > 0) {
    double cpu_total = static_cast<double>(t.cpu_millis) * p.nodes;
    double mem_total = static_cast<double>(t.memory_bytes) * p.nodes;
    if (t.gpus > 0) {
      double gpu_total = static_cast<double>(t.gpus) * p.nodes;
      p.waste = 1.0 - (static_cast<double>(used_cpu) / cpu_total +
                       static_cast<double>(used_mem) / mem_total +
                       static_cast<double>(used_gpu) / gpu_total) /
                          3.0;
    } else {
      p.waste = 1.0 - (static_cast<double>(used_cpu) / cpu_total +
                       static_cast<double>(used_mem) / mem_total) /
                          2.0;
    }
    p.cost = t.Price(capacity) * p.nodes;
  }
  return p;
}

/// Returns how many provisioning nodes without GPUs of this capacity no pending pod is waiting
/// for. `price_first`: the cheapest packing wins, then the least waste (for GPU pods).
int ScaleUpGroup(Cluster& cluster, const std::vector<PendingPod>& all,
                 const std::vector<size_t>& pods, Capacity capacity, const std::vector<int>& types,
                 bool price_first, int& budget, ScanPlan& plan) {
  // Pods that fit on nodes already on their way wait for them, as CA's "upcoming nodes".
  std::vector<Bin> upcoming;
  std::vector<int> upcoming_type;
  for (const Node& n : cluster.nodes()) {
    if (!n.removed && !n.ready && n.capacity == capacity) {
      upcoming.push_back({n.used_cpu, n.used_mem, n.used_gpu});
      upcoming_type.push_back(n.type);
    }
  }
  std::vector<size_t> rest;
  for (size_t i : pods) {
    const PendingPod& pod = all[i];
    bool placed = false;
    for (size_t b = 0; b < upcoming.size() && !placed; ++b) {
      const NodeType& t = cluster.types()[upcoming_type[b]];
      if (TypeServes(t, pod.gpu) && Holds(t, upcoming[b], pod)) {
        upcoming[b].cpu += pod.cpu;
        upcoming[b].mem += pod.mem;
        upcoming[b].gpu += pod.gpu;
        placed = true;
      }
    }
    if (!placed) rest.push_back(i);
  }
  int unused = 0;
  for (size_t b = 0; b < upcoming.size(); ++b) {
    const Bin& u = upcoming[b];
    if (cluster.types()[upcoming_type[b]].gpus == 0 && u.cpu == 0 && u.mem == 0) ++unused;
  }
  while (!rest.empty() && budget > 0) {
    int best_type = -1;
    Packing best;
    for (int t : types) {
      Packing p = Pack(cluster.types()[t], all, rest, capacity, budget);
      if (p.nodes == 0) continue;
      bool better = best_type < 0 ||
                    (price_first ? p.cost < best.cost - 1e-12 ||
                                       (p.cost <= best.cost + 1e-12 && p.waste < best.waste)
                                 : p.waste < best.waste - 1e-12 ||
                                       (p.waste <= best.waste + 1e-12 && p.cost < best.cost));
      if (better) {
        best_type = t;
        best = std::move(p);
      }
    }
    if (best_type < 0) break;  // nothing left fits any type
    plan.add.push_back({best_type, capacity, best.nodes});
    budget -= best.nodes;
    std::vector<bool> done(all.size(), false);
    for (size_t i : best.packed) done[i] = true;
    std::vector<size_t> next;
    for (size_t i : rest) {
      if (!done[i]) next.push_back(i);
    }
    rest = std::move(next);
  }
  return unused;
}

}  // namespace

int FirstTypeThatFits(const Cluster& cluster, const AutoscalerConfig& config, int64_t cpu,
                      int64_t mem, int64_t gpu) {
  for (int t : AllowedTypes(cluster, config)) {
    const NodeType& nt = cluster.types()[t];
    if (TypeServes(nt, gpu) && cpu <= nt.cpu_millis && mem <= nt.memory_bytes) return t;
  }
  return -1;
}

ScanPlan Scan(Cluster& cluster, const std::vector<PendingPod>& pending,
              const AutoscalerConfig& config, Capacity any_capacity, Micros now) {
  ScanPlan plan;
  auto spare = [&config](Capacity c) {
    return c == Capacity::kSpot ? config.spare_spot : config.spare_on_demand;
  };
  // Scale-down first: what is empty now has been checked against the pods pending now.
  int kept[2] = {0, 0};  // empty ready nodes kept as spare, by capacity
  for (const Node& cn : cluster.nodes()) {
    if (cn.removed || !cn.ready) continue;
    Node& n = cluster.node(cn.id);
    if (!n.pods.empty()) {
      n.unneeded_since = -1;
      continue;
    }
    int& k = kept[n.capacity == Capacity::kSpot];
    if (k < spare(n.capacity)) {
      ++k;  // the oldest empty nodes stay as the spare
      n.unneeded_since = -1;
      continue;
    }
    if (n.unneeded_since < 0) {
      n.unneeded_since = now;
    } else if (now - n.unneeded_since >= config.unneeded_time) {
      plan.remove.push_back(n.id);
    }
  }
  int budget = config.max_nodes - cluster.live_nodes() + static_cast<int>(plan.remove.size());
  std::vector<int> types = AllowedTypes(cluster, config);
  for (Capacity c : {Capacity::kOnDemand, Capacity::kSpot}) {
    std::vector<size_t> group;
    std::vector<size_t> gpu_group;
    for (size_t i = 0; i < pending.size(); ++i) {
      Affinity a = pending[i].affinity;
      Capacity want = a == Affinity::kAny
                          ? any_capacity
                          : (a == Affinity::kSpot ? Capacity::kSpot : Capacity::kOnDemand);
      if (want == c) (pending[i].gpu > 0 ? gpu_group : group).push_back(i);
    }
    int unused = ScaleUpGroup(cluster, pending, group, c, types, false, budget, plan);
    if (!gpu_group.empty()) {
      ScaleUpGroup(cluster, pending, gpu_group, c, types, true, budget, plan);
    }
    // Top the spare up: empty ready nodes kept above, plus nodes on their way that no
    // pending pod needs.
    int missing = std::min(spare(c) - kept[c == Capacity::kSpot] - unused, budget);
    auto spare_type = std::find_if(types.begin(), types.end(),
                                   [&cluster](int t) { return cluster.types()[t].gpus == 0; });
    if (missing > 0 && spare_type != types.end()) {
      plan.add.push_back({*spare_type, c, missing});
      budget -= missing;
    }
  }
  return plan;
}

}  // namespace tug::sim
