#pragma once
/// Cost in the API's run JSON (docs/api.md#cost): what a run and each of its attempts cost, the
/// retries apart, in the server's currency.
#include <string>

#include <boost/json/object.hpp>

#include "control/cost_recorder.h"
#include "core/clock.h"
#include "core/model.h"

namespace tug::server {

struct CostView {
  /// The server's pricing; nullptr when pricing is off (stored costs are still shown).
  const control::CostRecorder* recorder = nullptr;
  std::string currency = "USD";
};

/// Completes the "cost" of a run's JSON (ToJson(run)) and of its attempts:
///   cost: {currency, total, retries, succeeded, basis, estimated, attempts_priced}
///   attempts[i].cost: {usd, basis, retry, estimated}
/// total = the stored costs of ended attempts plus, for attempts still running, an estimate at
/// today's prices up to `now` (estimated: true); retries = what failed and lost attempts cost;
/// succeeded = the successful attempt's. With pricing off and nothing stored, cost is null.
void AddRunCost(boost::json::object& run_json, const Run& run, const CostView& view, Micros now);

/// Completes a listed run's summary cost: {currency, total, retries} as stored.
void AddSummaryCost(boost::json::object& summary, const Run& run, const CostView& view);

}  // namespace tug::server
