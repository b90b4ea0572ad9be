#pragma once
/// Prices attempts as they end (src/cost) for the controller's end path, and counts what runs
/// cost on /metrics.
///
/// The price goes into the store with the end (AttemptEnd::cost_usd), so a later change of the
/// price book does not rewrite what history cost. Counters: tug_run_cost_usd_total and
/// tug_run_retries_cost_usd_total, by definition and owner. Their label sets are capped at
/// `max_series` pairs: ends of further (definition, owner) pairs are counted under
/// definition="_other", owner="_other", so a server with many definitions or owners cannot grow
/// /metrics without bound (the store keeps every run's cost; /metrics is for dashboards).
///
/// Threading: Price and Count may be called from any thread (update workers, the housekeeper).
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/model.h"
#include "cost/pricing.h"
#include "metrics/registry.h"
#include "store/store.h"

namespace tug::control {

class CostRecorder {
 public:
  /// `book` must be valid (cost::Validate) and not empty. `store` is read for usage samples
  /// with the "used" basis.
  CostRecorder(cost::PriceBook book, cost::ShareBasis basis, store::Store& store,
               metrics::Registry& registry, int max_series = 1000);

  /// Sets end.cost_usd and end.cost_basis for `attempt` ending as `end` (ended at end.ended_at,
  /// or `now` when that is unset). The used basis reads the attempt's usage from the store; when
  /// that fails or has no samples the attempt is priced on its requests and the basis says so.
  void Price(const Attempt& attempt, store::AttemptEnd& end, Micros now) const;

  /// What an attempt that has not ended cost so far, at today's prices (an estimate: the stored
  /// price is set when it ends).
  cost::AttemptCost Estimate(const Attempt& attempt, Micros now) const;

  /// Adds a stored end's cost to the counters of its run's definition and owner.
  void Count(const Run& run, const store::AttemptEnd& end);

  const cost::PriceBook& book() const { return book_; }
  cost::ShareBasis basis() const { return basis_; }

 private:
  /// `a` priced up to its end (or `now`) on the basis.
  cost::AttemptCost PriceOf(const Attempt& a, Micros now) const;

  cost::PriceBook book_;
  cost::ShareBasis basis_;
  store::Store& store_;
  metrics::Family<metrics::Counter>& total_;
  metrics::Family<metrics::Counter>& retries_;
  const size_t max_series_;
  std::mutex mu_;
  std::set<std::pair<std::string, std::string>> series_;  // guarded by mu_
};

}  // namespace tug::control
