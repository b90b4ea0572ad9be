// SizeStaticCluster: the static policy's cluster, sized for the trace's nominal schedule (split
// from fleet_sim.cpp).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "sim/planner.h"
#include "sim/simulation.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

// What one node pool must hold: the peak of the nominal schedule and its largest pod.
struct Pool {
  struct Step {
    Micros t;
    int64_t cpu;
    int64_t mem;
    int64_t gpu;
  };
  std::vector<Step> steps;
  int64_t big_cpu = 0, big_mem = 0, big_gpu = 0;
  int64_t peak_cpu = 0, peak_mem = 0, peak_gpu = 0;

  void Add(Micros from, Micros to, int64_t cpu, int64_t mem, int64_t gpu, int count) {
    big_cpu = std::max(big_cpu, cpu);
    big_mem = std::max(big_mem, mem);
    big_gpu = std::max(big_gpu, gpu);
    if (count <= 0) return;
    steps.push_back({from, cpu * count, mem * count, gpu * count});
    steps.push_back({to, -cpu * count, -mem * count, -gpu * count});
  }
  bool empty() const { return big_cpu == 0 && big_mem == 0 && big_gpu == 0; }
  void Peaks() {
    std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
      return a.t != b.t ? a.t < b.t : a.cpu < b.cpu;  // ends before starts at the same time
    });
    int64_t cpu = 0, mem = 0, gpu = 0;
    for (const Step& s : steps) {
      cpu += s.cpu;
      mem += s.mem;
      gpu += s.gpu;
      peak_cpu = std::max(peak_cpu, cpu);
      peak_mem = std::max(peak_mem, mem);
      peak_gpu = std::max(peak_gpu, gpu);
    }
  }
  bool HeldBy(const NodeType& t) const {
    return big_cpu <= t.cpu_millis && big_mem <= t.memory_bytes && big_gpu <= t.gpus;
  }
  double Need(const NodeType& t) const {
    double need = std::max(static_cast<double>(peak_cpu) / static_cast<double>(t.cpu_millis),
                           static_cast<double>(peak_mem) / static_cast<double>(t.memory_bytes));
    if (t.gpus > 0) {
      need = std::max(need, static_cast<double>(peak_gpu) / static_cast<double>(t.gpus));
    }
    return need;
  }
};

}  // namespace

Result<StaticSize> SizeStaticCluster(const Trace& trace, const Policy& policy,
                                     const std::vector<NodeType>& types) {
  // The nominal schedule: every job at its requested size from submit for its duration. Pods
  // with GPUs go to the GPU pool (the GPU node group), the others to the main one.
  Pool main, gpu;
  for (const TraceJob& j : trace.jobs) {
    Resources r = Planner::Requested(j);
    Micros end = j.submit + static_cast<Micros>(j.duration_s * kMicrosPerSecond);
    const bool spark = j.spark();
    const int64_t main_gpu = spark ? 0 : r.gpu;
    (main_gpu > 0 ? gpu : main)
        .Add(j.submit, end, PodCpu(r, spark, true), PodMemory(r, spark, true), main_gpu, 1);
    if (spark) {
      (r.gpu > 0 ? gpu : main)
          .Add(j.submit, end, PodCpu(r, true, false), PodMemory(r, true, false), r.gpu,
               j.instances);
    }
  }
  main.Peaks();
  gpu.Peaks();
  StaticSize best;
  best.type = -1;
  best.peak_cpu = static_cast<double>(main.peak_cpu + gpu.peak_cpu) / 1000.0;
  best.peak_mem_gib = static_cast<double>(main.peak_mem + gpu.peak_mem) / kGiB;
  best.peak_gpu = gpu.peak_gpu;
  double best_cost = 0;
  for (size_t i = 0; i < types.size(); ++i) {
    const NodeType& t = types[i];
    if (t.gpus > 0) continue;  // the GPU pool is sized below
    if (!policy.static_type.empty() && t.name != policy.static_type) continue;
    if (!main.HeldBy(t)) continue;
    int n = std::max(1, static_cast<int>(std::ceil(main.Need(t) * policy.static_headroom)));
    if (policy.static_nodes > 0) n = policy.static_nodes;
    double cost = n * t.on_demand_price;
    if (best.type < 0 || cost < best_cost) {
      best.type = static_cast<int>(i);
      best.nodes = n;
      best_cost = cost;
    }
  }
  if (best.type < 0) {
    return InvalidArgument(
        policy.static_type.empty()
            ? "no node type holds the trace's largest pod; add a bigger node type"
            : fmt::format("node type '{}' is not known, has GPUs or cannot hold the trace's "
                          "largest pod",
                          policy.static_type));
  }
  if (gpu.empty()) return best;
  double best_gpu_cost = 0;
  for (size_t i = 0; i < types.size(); ++i) {
    const NodeType& t = types[i];
    if (t.gpus <= 0 || !gpu.HeldBy(t)) continue;
    int n = std::max(1, static_cast<int>(std::ceil(gpu.Need(t) * policy.static_headroom)));
    double cost = n * t.on_demand_price;
    if (best.gpu_type < 0 || cost < best_gpu_cost) {
      best.gpu_type = static_cast<int>(i);
      best.gpu_nodes = n;
      best_gpu_cost = cost;
    }
  }
  if (best.gpu_type < 0) {
    return InvalidArgument(fmt::format(
        "no GPU node type holds the trace's largest GPU pod ({} GPUs, {} cpu, {:.1f} GiB); add "
        "a bigger GPU node type",
        gpu.big_gpu, static_cast<double>(gpu.big_cpu) / 1000.0,
        static_cast<double>(gpu.big_mem) / kGiB));
  }
  return best;
}

}  // namespace tug::sim
