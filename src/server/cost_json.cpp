#include "server/cost_json.h"

#include <boost/json.hpp>

namespace json = boost::json;

namespace tug::server {

void AddRunCost(json::object& o, const Run& run, const CostView& view, Micros now) {
  double total = 0;
  double retries = 0;
  double succeeded = 0;
  bool estimated = false;
  int priced = 0;
  json::value* attempts = o.if_contains("attempts");
  for (size_t i = 0; i < run.attempts.size(); ++i) {
    const Attempt& a = run.attempts[i];
    json::object* aj = attempts != nullptr && attempts->is_array() &&
                               i < attempts->as_array().size() &&
                               attempts->as_array()[i].is_object()
                           ? &attempts->as_array()[i].as_object()
                           : nullptr;
    double usd = 0;
    std::string basis;
    bool estimate = false;
    if (a.cost_usd) {
      usd = *a.cost_usd;
      basis = a.cost_basis;
    } else if (view.recorder != nullptr && !IsTerminal(a.status) && a.started_at > 0) {
      cost::AttemptCost c = view.recorder->Estimate(a, now);
      usd = c.usd;
      basis = std::move(c.basis);
      estimate = true;
    } else {
      continue;  // never started, or ended unpriced
    }
    ++priced;
    const bool retry = a.status == AttemptStatus::kFailed || a.status == AttemptStatus::kLost;
    total += usd;
    if (retry) retries += usd;
    if (a.status == AttemptStatus::kSucceeded) succeeded += usd;
    estimated = estimated || estimate;
    if (aj != nullptr) {
      (*aj)["cost"] =
          json::object{{"usd", usd}, {"basis", basis}, {"retry", retry}, {"estimated", estimate}};
    }
  }
  if (priced == 0 && view.recorder == nullptr) {
    o["cost"] = nullptr;
    return;
  }
  json::object c{{"currency", view.currency}, {"total", total},
                 {"retries", retries},        {"succeeded", succeeded},
                 {"estimated", estimated},    {"attempts_priced", priced}};
  c["basis"] = view.recorder != nullptr ? std::string(cost::ToString(view.recorder->basis()))
                                        : std::string("stored");
  o["cost"] = std::move(c);
}

void AddSummaryCost(json::object& summary, const Run& run, const CostView& view) {
  summary["cost"] = json::object{
      {"currency", view.currency}, {"total", run.cost_usd}, {"retries", run.retries_cost_usd}};
}

}  // namespace tug::server
