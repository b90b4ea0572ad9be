#include "adapt/adapt_internal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "core/quantity.h"

namespace tug::adapt::internal {

// ---------------------------------------------------------------- sizes

int64_t MemoryCap(const AdaptPolicy& policy, const Platform& platform) {
  int64_t cap = platform.limits.max_memory_bytes;
  if (policy.max_memory_bytes > 0) cap = std::min(cap, policy.max_memory_bytes);
  return std::max<int64_t>(cap, 0);
}

std::string MemoryCapSource(const AdaptPolicy& policy, const Platform& platform) {
  return policy.max_memory_bytes > 0 && policy.max_memory_bytes <= platform.limits.max_memory_bytes
             ? "adapt.max_memory"
             : "the platform limit";
}

int ExecutorCap(const AdaptPolicy& policy, const Platform& platform) {
  int cap = platform.limits.max_executors;
  if (policy.max_executors > 0) cap = std::min(cap, policy.max_executors);
  return std::max(cap, 0);
}

/// x rounded up to a whole MiB, saturating instead of overflowing.
int64_t CeilMiB(double x) {
  if (!(x > 0)) return 0;
  constexpr int64_t kMaxMibs = std::numeric_limits<int64_t>::max() / kMiB;
  double mibs = std::ceil(x / static_cast<double>(kMiB));
  if (mibs >= static_cast<double>(kMaxMibs)) return kMaxMibs * kMiB;
  return static_cast<int64_t>(mibs) * kMiB;
}

Growth Grow(int64_t base, int64_t current, double factor, int64_t limit) {
  Growth g;
  g.value = current;
  int64_t want = CeilMiB(static_cast<double>(base) * factor);
  if (want > limit) {
    // Whole MiB below the limit: Spark and Kubernetes sizes stay readable ("7447Mi").
    want = limit >= kMiB ? limit / kMiB * kMiB : limit;
    g.capped = true;
  }
  if (want > current) {
    g.value = want;
    g.grew = true;
  }
  return g;
}

int64_t Heap(const SparkRole& r) { return r.memory_bytes > 0 ? r.memory_bytes : kSparkDefaultHeap; }

/// The largest heap for which heap + overhead (explicit, or Spark's default that grows with
/// the heap) stays within `cap`.
int64_t MaxHeap(const SparkRole& role, int64_t cap) {
  if (role.memory_overhead_bytes > 0) return cap - role.memory_overhead_bytes;
  int64_t flat = cap - kSparkMinOverhead;
  if (flat / 10 <= kSparkMinOverhead) return flat;
  // Default overhead is heap/10 here: largest h with h + h/10 <= cap.
  // Written as h > cap - h/10 so nothing overflows near the int64 limit.
  int64_t h = cap - cap / 11;
  while (h > 0 && h > cap - h / 10) --h;
  while (h < cap && h + 1 <= cap - (h + 1) / 10) ++h;
  return h;
}

int GrowCount(int base, int current, double factor, int cap, bool& capped) {
  double want = std::ceil(static_cast<double>(std::max(base, 1)) * factor);
  int out = want >= static_cast<double>(cap) ? cap : static_cast<int>(want);
  capped = want > static_cast<double>(cap);
  return std::max(out, current);
}

// ---------------------------------------------------------------- placement

PlacementChoice ChooseCapacity(const AdaptPolicy& policy, int64_t gpu, bool after_node_loss,
                               const Climate& climate, const Platform& platform) {
  if (policy.critical) return {std::string(kOnDemand), "the definition is critical"};
  if (policy.capacity == kOnDemand) return {std::string(kOnDemand), "adapt.capacity is on-demand"};
  if (after_node_loss) return {std::string(kOnDemand), "a node was lost earlier in this run"};
  // Spot GPUs are scarce and reclaimed often, and a GPU job loses the most work to a
  // reclaim: on-demand unless the definition asks for spot.
  if (policy.capacity == "auto" && gpu > 0) {
    return {std::string(kOnDemand),
            "GPU runs default to on-demand (adapt.capacity: spot to override)"};
  }
  if (policy.capacity == "auto" && climate.samples > 0 &&
      climate.spot_interruption_rate > platform.climate_threshold) {
    return {std::string(kOnDemand), fmt::format("the recent spot interruption rate {} is above {}",
                                                Percent(climate.spot_interruption_rate),
                                                Percent(platform.climate_threshold))};
  }
  return {std::string(kSpot), ""};
}

Placement MakePlacement(const Definition& spec, const PlacementChoice& c) {
  Placement p;
  if (spec.kind == "spark") {
    p.capacity = std::string(kOnDemand);  // drivers are never put on spot
    p.executor_capacity = c.capacity;
  } else {
    p.capacity = c.capacity;
  }
  return p;
}

// ---------------------------------------------------------------- right-sizing

std::optional<Estimate> EstimateWithCount(const std::vector<HistorySample>& history,
                                          const AdaptPolicy& policy, const Platform& platform,
                                          Micros now) {
  std::vector<HistorySample> use;
  for (const HistorySample& s : history) {
    if (s.peak_memory_bytes > 0 && s.ended_at >= now - platform.max_age) use.push_back(s);
  }
  std::stable_sort(use.begin(), use.end(), [](const HistorySample& a, const HistorySample& b) {
    return a.ended_at > b.ended_at;
  });
  if (platform.max_samples >= 0 && use.size() > static_cast<size_t>(platform.max_samples)) {
    use.resize(static_cast<size_t>(platform.max_samples));
  }
  if (use.empty() || static_cast<int>(use.size()) < platform.min_samples) return std::nullopt;
  // Weighted p95: recent peaks weigh more, so the estimate follows a job that got smaller.
  std::vector<std::pair<int64_t, double>> weighted;
  double total = 0;
  for (const HistorySample& s : use) {
    double age = static_cast<double>(std::max<Micros>(now - s.ended_at, 0));
    double w =
        platform.half_life > 0 ? std::exp2(-age / static_cast<double>(platform.half_life)) : 1.0;
    weighted.emplace_back(s.peak_memory_bytes, w);
    total += w;
  }
  std::stable_sort(weighted.begin(), weighted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  int64_t p95 = weighted.back().first;
  double cumulative = 0;
  for (const auto& [peak, w] : weighted) {
    cumulative += w;
    if (cumulative >= 0.95 * total) {
      p95 = peak;
      break;
    }
  }
  int64_t est = CeilMiB(static_cast<double>(p95) * std::max(platform.headroom, 1.0));
  est = std::max(est, platform.rightsize_floor_bytes);
  est = std::min(est, MemoryCap(policy, platform));
  if (est <= 0) return std::nullopt;
  return Estimate{est, static_cast<int>(use.size())};
}

std::string MemoryText(int64_t bytes) {
  return bytes > 0 ? FormatMemory(bytes) : std::string("no limit");
}

std::string PlacementText(const Definition& spec, const Placement& p, const PlacementChoice& c) {
  std::string why = c.why.empty() ? "" : " (" + c.why + ")";
  if (spec.kind == "spark") {
    return fmt::format("driver on on-demand, executors on {} capacity{}", p.executor_capacity, why);
  }
  return fmt::format("on {} capacity{}", p.capacity, why);
}

std::string SparkSizeText(const SparkResources& s) {
  std::string execs;
  if (s.dynamic_allocation) {
    execs = fmt::format("{} to {} executors", s.min_executors,
                        s.max_executors > 0 ? s.max_executors : std::max(s.instances, 1));
  } else if (s.instances > 0) {
    execs = fmt::format("{} executors", s.instances);
  } else {
    execs = "the default executors";
  }
  return fmt::format("driver memory {}, {} with memory {}", FormatMemory(Heap(s.driver)), execs,
                     FormatMemory(Heap(s.executor)));
}

}  // namespace tug::adapt::internal
