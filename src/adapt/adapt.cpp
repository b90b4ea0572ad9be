#include "adapt/adapt.h"

#include <utility>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapt/adapt_internal.h"
#include "core/json.h"
#include "core/quantity.h"

namespace tug::adapt {

using internal::ChooseCapacity;
using internal::Counts;
using internal::EstimateWithCount;
using internal::MakePlacement;
using internal::MemoryText;
using internal::PlacementChoice;
using internal::PlacementText;
using internal::RetryPlanner;
using internal::SparkSizeText;

// ---------------------------------------------------------------- public

Decision PlanRetry(const Definition& spec, const std::vector<Attempt>& attempts,
                   const Climate& climate, const Platform& platform) {
  if (attempts.empty()) {
    Decision d;
    d.resources = spec.resources;
    d.rule = "stop.no_attempts";
    d.sentence = "not retried: the run has no attempts to plan from";
    return d;
  }
  const Attempt& last = attempts.back();
  if (!Counts(last)) {
    Decision d;
    d.resources = last.resources;
    d.placement = last.placement;
    d.rule = "stop.not_failed";
    d.sentence = fmt::format("not retried: attempt {} ended {}, not failed", last.number,
                             ToString(last.status));
    return d;
  }
  return RetryPlanner(spec, attempts, climate, platform).Plan();
}

std::optional<int64_t> EstimateMemory(const std::vector<HistorySample>& history,
                                      const AdaptPolicy& policy, const Platform& platform,
                                      Micros now) {
  auto e = EstimateWithCount(history, policy, platform, now);
  if (!e) return std::nullopt;
  return e->bytes;
}

Decision PlanFirst(const Definition& spec, const RunOverrides& overrides,
                   const std::vector<HistorySample>& history, const Climate& climate,
                   const Platform& platform, Micros now) {
  Decision d;
  d.retry = false;
  d.resources = spec.resources;
  PlacementChoice choice = ChooseCapacity(spec.adapt, spec.resources.gpu, false, climate, platform);
  d.placement = MakePlacement(spec, choice);
  std::string where = PlacementText(spec, d.placement, choice);
  bool spark = spec.kind == "spark";
  std::string size = spark ? SparkSizeText(spec.resources.spark)
                           : "memory " + MemoryText(spec.resources.memory_bytes);
  d.rule = "first.as_requested";
  d.sentence = fmt::format("attempt 1 as requested: {}{}{}", size, spark ? "; " : " ", where);
  // Right-sizing Spark needs per-executor peaks, which are not measured yet.
  if (spark || spec.adapt.rightsizing == "off") return d;
  auto est = EstimateWithCount(history, spec.adapt, platform, now);
  if (!est) return d;
  d.recommended_memory_bytes = est->bytes;
  std::string basis = fmt::format("p95 of {} recent successful runs' peaks × {}", est->samples,
                                  fmt::format("{:g}", platform.headroom));
  int64_t requested = spec.resources.memory_bytes;
  if (spec.adapt.rightsizing == "recommend") {
    d.rule = "rightsize.recommend";
    d.sentence = fmt::format(
        "recommendation: memory {} ({}); requested {} — set adapt.rightsizing: apply to use it",
        FormatMemory(est->bytes), basis, MemoryText(requested));
    return d;
  }
  if (overrides.resources.memory_bytes > 0) {
    d.rule = "rightsize.override";
    d.sentence = fmt::format(
        "attempt 1 as requested: memory {} set at submission wins over the right-sized {} ({}) "
        "{}",
        FormatMemory(requested), FormatMemory(est->bytes), basis, where);
    return d;
  }
  if (est->bytes == requested) {
    d.sentence = fmt::format("attempt 1 as requested: memory {} (the {} agrees) {}",
                             FormatMemory(requested), basis, where);
    return d;
  }
  d.rule = "rightsize.apply";
  d.resources.memory_bytes = est->bytes;
  d.changes.push_back(
      {"memory", requested > 0 ? FormatMemory(requested) : "unlimited", FormatMemory(est->bytes)});
  d.sentence = fmt::format("attempt 1: memory {} → {} right-sized from the {} {}",
                           requested > 0 ? FormatMemory(requested) : "unlimited",
                           FormatMemory(est->bytes), basis, where);
  return d;
}

boost::json::value ToJson(const Decision& d) {
  boost::json::array changes;
  for (const Change& c : d.changes) {
    changes.push_back(boost::json::object{{"field", c.field}, {"from", c.from}, {"to", c.to}});
  }
  boost::json::object o;
  o["retry"] = d.retry;
  o["delay_seconds"] = static_cast<double>(d.delay) / static_cast<double>(kMicrosPerSecond);
  o["resources"] = tug::ToJson(d.resources);
  o["placement"] = boost::json::object{{"capacity", d.placement.capacity},
                                       {"executor_capacity", d.placement.executor_capacity}};
  o["rule"] = d.rule;
  o["class"] = d.failure_class;
  o["budget"] = d.budget;
  o["user_failures"] = d.user_failures;
  o["infra_failures"] = d.infra_failures;
  o["changes"] = std::move(changes);
  o["sentence"] = d.sentence;
  if (d.recommended_memory_bytes) {
    o["recommended_memory"] = FormatMemory(*d.recommended_memory_bytes);
  } else {
    o["recommended_memory"] = nullptr;
  }
  return o;
}

}  // namespace tug::adapt
