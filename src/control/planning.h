#pragma once
/// Glue between the store and the pure planner (src/adapt): the spot climate read from the
/// store (cached), the history a first plan needs, and the store-side shape of a retry.
///
/// Threading: ClimateSource is thread-safe; the functions are stateless.
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "adapt/adapt.h"
#include "core/clock.h"
#include "store/store.h"

namespace tug::control {

/// The spot interruption rate over the last `window`, read from the store at most once per
/// `ttl` (submissions and attempt ends ask often; the answer changes slowly).
class ClimateSource {
 public:
  explicit ClimateSource(store::Store& store, Micros window = 3600 * kMicrosPerSecond,
                         Micros ttl = 30 * kMicrosPerSecond);
  adapt::Climate Get(Micros now);

 private:
  store::Store& store_;
  const Micros window_;
  const Micros ttl_;
  std::mutex mu_;
  Micros fetched_at_ = 0;  // guarded by mu_
  adapt::Climate cached_;  // guarded by mu_
};

/// Recent successful attempts per (definition, command signature), read from the store at most
/// once per `ttl` per key: a burst of submissions of one definition costs one query, and an
/// estimate that is a few seconds stale changes nothing. Bounded: the cache is emptied when it
/// holds `max_keys` entries.
class HistorySource {
 public:
  explicit HistorySource(store::Store& store, Micros ttl = 10 * kMicrosPerSecond,
                         size_t max_keys = 4096);
  /// A store error yields an empty history (the run is sized as requested), logged.
  std::vector<adapt::HistorySample> Get(const std::string& definition, const std::string& signature,
                                        const adapt::Platform& platform, Micros now);

 private:
  struct Entry {
    Micros fetched_at = 0;
    std::vector<adapt::HistorySample> samples;
  };
  store::Store& store_;
  const Micros ttl_;
  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;  // guarded by mu_
};

/// PlanFirst for a new run of `spec` (overrides applied), with the definition's recent
/// successful attempts of the same command signature as history.
adapt::Decision PlanFirstAttempt(HistorySource& history, ClimateSource& climate,
                                 const adapt::Platform& platform, const std::string& definition,
                                 const Definition& spec, const RunOverrides& overrides, Micros now);

/// Fills `end` from PlanRetry for the attempt `ended` of `run` (run.attempts as stored, the
/// ended one still active there): decision, failure class, the "decision" event and, when the
/// planner retries, the next attempt (due after the back-off) on `engine`.
void PlanRetryInto(const Run& run, const Attempt& ended, store::AttemptEnd& end,
                   const adapt::Climate& climate, const adapt::Platform& platform,
                   const std::string& engine, Micros now);

}  // namespace tug::control
