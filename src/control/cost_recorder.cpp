#include "control/cost_recorder.h"

#include <algorithm>

#include "core/log.h"

namespace tug::control {

CostRecorder::CostRecorder(cost::PriceBook book, cost::ShareBasis basis, store::Store& store,
                           metrics::Registry& registry, int max_series)
    : book_(std::move(book)),
      basis_(basis),
      store_(store),
      total_(registry.AddCounter("tug_run_cost_usd_total",
                                 "What ended attempts cost, in the price book's currency, by the "
                                 "run's definition and owner (capped label sets: _other)")),
      retries_(registry.AddCounter("tug_run_retries_cost_usd_total",
                                   "Of tug_run_cost_usd_total, what failed and lost attempts "
                                   "cost (retries), by definition and owner")),
      max_series_(static_cast<size_t>(std::max(max_series, 1))) {}

cost::AttemptCost CostRecorder::PriceOf(const Attempt& a, Micros now) const {
  const std::string kind = cost::KindOf(a);
  if (basis_ != cost::ShareBasis::kUsed) return cost::PriceAttempt(book_, a, kind, now);
  std::vector<cost::UsageSlice> usage;
  if (auto points = store_.ListUsage(a.run_id); points.ok()) {
    for (const store::UsagePoint& p : *points) {
      if (p.attempt_id != a.id) continue;
      usage.push_back({p.component, p.at, p.width, p.cpu_millis, p.memory_bytes});
    }
  } else {
    log::Warn("pricing by use: usage unreadable, priced as requested",
              {{"attempt", a.id}, {"error", points.error().ToString()}});
  }
  return cost::PriceAttemptUsed(book_, a, kind, usage, now);
}

void CostRecorder::Price(const Attempt& attempt, store::AttemptEnd& end, Micros now) const {
  // The end's time is fixed here, so the store records the time the price was made for.
  if (end.ended_at == 0) end.ended_at = now;
  Attempt ended = attempt;
  ended.status = end.status;
  ended.ended_at = end.ended_at;
  cost::AttemptCost c = PriceOf(ended, ended.ended_at);
  end.cost_usd = c.usd;
  end.cost_basis = std::move(c.basis);
}

cost::AttemptCost CostRecorder::Estimate(const Attempt& attempt, Micros now) const {
  return PriceOf(attempt, now);
}

void CostRecorder::Count(const Run& run, const store::AttemptEnd& end) {
  if (!end.cost_usd) return;
  std::pair<std::string, std::string> key{run.definition, run.owner};
  {
    std::lock_guard lock(mu_);
    if (series_.count(key) == 0) {
      if (series_.size() >= max_series_) {
        key = {"_other", "_other"};
      } else {
        series_.insert(key);
      }
    }
  }
  const metrics::Labels labels{{"definition", key.first}, {"owner", key.second}};
  total_.With(labels).Inc(*end.cost_usd);
  if (end.status == AttemptStatus::kFailed || end.status == AttemptStatus::kLost) {
    retries_.With(labels).Inc(*end.cost_usd);
  }
}

}  // namespace tug::control
