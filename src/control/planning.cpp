#include "control/planning.h"

#include <boost/json.hpp>

#include "core/ids.h"
#include "core/log.h"

namespace tug::control {

ClimateSource::ClimateSource(store::Store& store, Micros window, Micros ttl)
    : store_(store), window_(window), ttl_(ttl) {}

adapt::Climate ClimateSource::Get(Micros now) {
  std::lock_guard lock(mu_);
  if (fetched_at_ != 0 && now - fetched_at_ < ttl_) return cached_;
  auto counts = store_.CountSpotOutcomes(now - window_);
  if (!counts.ok()) {
    // Keep the last known climate; a store hiccup must not flip placements.
    log::Warn("reading the spot climate failed", {{"error", counts.error().ToString()}});
    return cached_;
  }
  adapt::Climate c;
  c.samples = static_cast<int>(counts->spot_attempts);
  c.spot_interruption_rate =
      counts->spot_attempts > 0
          ? static_cast<double>(counts->node_losses) / static_cast<double>(counts->spot_attempts)
          : 0.0;
  cached_ = c;
  fetched_at_ = now;
  return c;
}

HistorySource::HistorySource(store::Store& store, Micros ttl, size_t max_keys)
    : store_(store), ttl_(ttl), max_keys_(max_keys) {}

std::vector<adapt::HistorySample> HistorySource::Get(const std::string& definition,
                                                     const std::string& signature,
                                                     const adapt::Platform& platform, Micros now) {
  std::string key = definition + '\n' + signature;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && now - it->second.fetched_at < ttl_) return it->second.samples;
  }
  // Queried outside the lock: concurrent misses of one key may both query, which is harmless.
  auto rows = store_.ListSuccessHistory(definition, signature, now - platform.max_age,
                                        platform.max_samples);
  if (!rows.ok()) {
    log::Warn("reading run history failed; sizing as requested",
              {{"definition", definition}, {"error", rows.error().ToString()}});
    return {};
  }
  Entry e;
  e.fetched_at = now;
  for (const store::HistoryRow& r : *rows) {
    e.samples.push_back({r.ended_at, r.peak_memory_bytes, r.resources});
  }
  std::lock_guard lock(mu_);
  if (cache_.size() >= max_keys_) cache_.clear();
  cache_[key] = e;
  return e.samples;
}

adapt::Decision PlanFirstAttempt(HistorySource& history, ClimateSource& climate,
                                 const adapt::Platform& platform, const std::string& definition,
                                 const Definition& spec, const RunOverrides& overrides,
                                 Micros now) {
  std::vector<adapt::HistorySample> samples;
  if (spec.adapt.rightsizing != "off") {
    samples = history.Get(definition, CommandSignature(spec), platform, now);
  }
  return adapt::PlanFirst(spec, overrides, samples, climate.Get(now), platform, now);
}

void PlanRetryInto(const Run& run, const Attempt& ended, store::AttemptEnd& end,
                   const adapt::Climate& climate, const adapt::Platform& platform,
                   const std::string& engine, Micros now) {
  if (end.status != AttemptStatus::kFailed && end.status != AttemptStatus::kLost) return;
  // The planner sees the attempt as it ends, not as the store still has it.
  std::vector<Attempt> attempts;
  bool found = false;
  for (const Attempt& a : run.attempts) {
    if (a.number > ended.number) break;
    Attempt copy = a;
    if (a.id == ended.id) {
      copy.status = end.status;
      copy.outcome = end.outcome;
      copy.ended_at = end.ended_at;
      copy.peak_memory_bytes = end.peak_memory_bytes;
      copy.cpu_micros = end.cpu_micros;
      copy.diagnosis = end.diagnosis;
      found = true;
    }
    attempts.push_back(std::move(copy));
  }
  if (!found) return;
  adapt::Decision d = adapt::PlanRetry(run.spec, attempts, climate, platform);
  if (run.stop_requested) {
    d.retry = false;
    d.rule = "stop.requested";
    d.sentence = "not retried: the run was asked to stop";
  }
  end.decision = boost::json::serialize(adapt::ToJson(d));
  end.failure_class = d.failure_class;
  tug::Event e;
  e.run_id = run.id;
  e.attempt_id = ended.id;
  e.at = now;
  e.type = "decision";
  e.message = d.sentence;
  end.events.push_back(std::move(e));
  if (!d.retry) return;
  Attempt next;
  next.number = ended.number + 1;
  next.id = AttemptId(run.id, next.number);
  next.run_id = run.id;
  next.status = AttemptStatus::kQueued;
  next.resources = d.resources;
  next.placement = d.placement;
  next.engine = engine;
  next.created_at = now;
  next.due_at = now + d.delay;
  end.next = std::move(next);
}

}  // namespace tug::control
