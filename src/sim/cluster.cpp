#include "sim/cluster.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

#include "cost/pricing.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

double Hours(Micros d) { return static_cast<double>(d) / 3600.0 / kMicrosPerSecond; }
double Seconds(Micros d) { return static_cast<double>(d) / kMicrosPerSecond; }

}  // namespace

std::string_view ToString(Capacity c) { return c == Capacity::kSpot ? "spot" : "on-demand"; }

std::string_view ToString(Scoring s) {
  return s == Scoring::kMostAllocated ? "MostAllocated" : "LeastAllocated";
}

Result<Scoring> ParseScoring(std::string_view s) {
  if (s == "most" || s == "MostAllocated" || s == "mostallocated") return Scoring::kMostAllocated;
  if (s == "least" || s == "LeastAllocated" || s == "leastallocated") {
    return Scoring::kLeastAllocated;
  }
  return InvalidArgument(fmt::format(
      "scoring '{}' is not known; use MostAllocated (most) or LeastAllocated (least)", s));
}

std::vector<NodeType> DefaultNodeTypes(double spot_fraction) {
  std::vector<NodeType> out;
  std::vector<cost::NodePrice> prices = cost::DefaultPriceBook(spot_fraction).types;
  for (cost::NodePrice& p : cost::DefaultGpuPrices(spot_fraction)) prices.push_back(std::move(p));
  for (const cost::NodePrice& p : prices) {
    out.push_back(
        NodeType{p.type, p.cpu_millis, p.memory_bytes, p.on_demand_hourly, p.spot_hourly, p.gpus});
  }
  return out;
}

int Cluster::Launch(int type, Capacity capacity, Micros now, Micros ready_at) {
  Node n;
  n.id = static_cast<int>(nodes_.size());
  n.type = type;
  n.capacity = capacity;
  n.launched_at = now;
  n.ready_at = ready_at;
  nodes_.push_back(std::move(n));
  ++live_;
  return nodes_.back().id;
}

void Cluster::MarkReady(int id, Micros now) {
  Node& n = nodes_[id];
  if (n.removed || n.ready) return;
  n.ready = true;
  n.ready_at = now;
  ready_.push_back(id);
  if (types_[n.type].gpus > 0) gpu_ready_.push_back(id);
  index_.Add(id, n.type, n.capacity, n.used_cpu, n.used_mem);
}

void Cluster::Remove(int id, Micros now) {
  Node& n = nodes_[id];
  assert(!n.removed && n.pods.empty());
  n.removed = true;
  n.removed_at = now;
  --live_;
  if (n.ready) {
    auto it = std::find(ready_.begin(), ready_.end(), id);
    if (it != ready_.end()) ready_.erase(it);
    if (auto g = std::find(gpu_ready_.begin(), gpu_ready_.end(), id); g != gpu_ready_.end()) {
      gpu_ready_.erase(g);
    }
    index_.Remove(id);
  }
}

int64_t Cluster::Score(const Node& n, int64_t cpu, int64_t mem, Scoring scoring) const {
  const NodeType& t = types_[n.type];
  return (ResourceScore(n.used_cpu + cpu, t.cpu_millis, scoring) +
          ResourceScore(n.used_mem + mem, t.memory_bytes, scoring)) /
         2;
}

int Cluster::PickGpu(int64_t cpu, int64_t mem, int64_t gpu, Affinity affinity,
                     Scoring scoring) const {
  // GPU nodes are few (a GPU fleet is tens of nodes where the cpu fleet is thousands): a scan.
  int best = -1;
  int64_t best_score = -1;
  for (int id : gpu_ready_) {
    const Node& n = nodes_[id];
    if (!Accepts(affinity, n.capacity) || !Fits(n, cpu, mem, gpu)) continue;
    int64_t s = Score(n, cpu, mem, scoring);
    if (s > best_score || (s == best_score && id < best)) {
      best = id;
      best_score = s;
    }
  }
  return best;
}

Micros Cluster::Overlap(Micros from, Micros to) const {
  return std::max<Micros>(0, std::min(to, window_to_) - std::max(from, window_from_));
}

void Cluster::Accrue(Micros now) {
  if (now > accrued_at_) {
    double dt = Seconds(Overlap(accrued_at_, now));
    used_cpu_seconds_ += static_cast<double>(total_used_cpu_) / 1000.0 * dt;
    used_mem_seconds_ += static_cast<double>(total_used_mem_) / kGiB * dt;
    used_gpu_seconds_ += static_cast<double>(total_used_gpu_) * dt;
    accrued_at_ = now;
  }
}

void Cluster::Bind(int node, int pod, int64_t cpu, int64_t mem, Micros now, int64_t gpu) {
  Node& n = nodes_[node];
  assert(n.ready && !n.removed && Fits(n, cpu, mem, gpu));
  Accrue(now);
  n.used_cpu += cpu;
  n.used_mem += mem;
  n.used_gpu += gpu;
  total_used_gpu_ += gpu;
  n.pods.push_back(pod);
  index_.Update(node, n.used_cpu, n.used_mem);
  total_used_cpu_ += cpu;
  total_used_mem_ += mem;
}

void Cluster::Release(int node, int pod, int64_t cpu, int64_t mem, Micros now, int64_t gpu) {
  Node& n = nodes_[node];
  assert(!n.removed);
  Accrue(now);
  n.used_cpu -= cpu;
  n.used_mem -= mem;
  n.used_gpu -= gpu;
  total_used_gpu_ -= gpu;
  auto it = std::find(n.pods.begin(), n.pods.end(), pod);
  assert(it != n.pods.end());
  *it = n.pods.back();
  n.pods.pop_back();
  if (n.ready) index_.Update(node, n.used_cpu, n.used_mem);
  total_used_cpu_ -= cpu;
  total_used_mem_ -= mem;
}

Cluster::Books Cluster::Close(Micros now) const {
  Books b;
  for (const Node& n : nodes_) {
    const NodeType& t = types_[n.type];
    Micros end = n.removed ? n.removed_at : std::max(now, n.launched_at);
    double h = Hours(Overlap(n.launched_at, end));
    if (n.capacity == Capacity::kSpot) {
      b.node_hours_spot += h;
      b.cost_spot += h * t.spot_price;
    } else {
      b.node_hours_on_demand += h;
      b.cost_on_demand += h * t.on_demand_price;
    }
    if (t.gpus > 0) {
      b.node_hours_gpu += h;
      b.cost_gpu += h * t.Price(n.capacity);
    }
    if (n.ready) {
      double s = Seconds(Overlap(n.ready_at, end));
      b.alloc_cpu_seconds += static_cast<double>(t.cpu_millis) / 1000.0 * s;
      b.alloc_mem_seconds += static_cast<double>(t.memory_bytes) / kGiB * s;
      b.alloc_gpu_seconds += static_cast<double>(t.gpus) * s;
    }
  }
  b.used_cpu_seconds = used_cpu_seconds_;
  b.used_mem_seconds = used_mem_seconds_;
  b.used_gpu_seconds = used_gpu_seconds_;
  if (now > accrued_at_) {
    double dt = Seconds(Overlap(accrued_at_, now));
    b.used_cpu_seconds += static_cast<double>(total_used_cpu_) / 1000.0 * dt;
    b.used_mem_seconds += static_cast<double>(total_used_mem_) / kGiB * dt;
    b.used_gpu_seconds += static_cast<double>(total_used_gpu_) * dt;
  }
  return b;
}

}  // namespace tug::sim
