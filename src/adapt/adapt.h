#pragma once
/// The retry planner: decides how the next attempt of a run differs from the last one, and says
/// why in one sentence. Pure and deterministic: no I/O, no clock, no randomness (the back-off
/// jitter is derived from the attempt id), so the same inputs always give the same decision and
/// the fleet simulator (src/sim) can replay it. Depends on core only.
///
/// Rules (DESIGN.md §6, failure-taxonomy.md "remediation on retry"):
///  - batch container OOM: memory × memory_factor applied to max(requested, measured peak),
///    capped by adapt.max_memory and the platform; at the cap the run stops, saying so.
///  - Spark: executor heap OOM → spark.executor.memory; executor container OOM →
///    memoryOverhead; driver OOM → spark.driver.memory (+ overhead if its container was
///    killed); maxResultSize → maxResultSize ×2 and driver memory, once; array-size OOM → stop.
///  - executor progression: after executor loss, node loss, fetch failures or timeouts,
///    executor instances (and maxExecutors) × executor_factor up to a cap.
///  - placement: drivers always on-demand; node loss moves the next attempt to on-demand;
///    critical definitions always on-demand; a bad spot climate moves executors to on-demand.
///  - transient errors: same resources, exponential back-off with jitter.
///  - user code, data, config, image-not-found: no retry.
///  - the same class and root-cause line twice in a row on the same resources → stop.
///  - budgets: retry.max_attempts counts failures of the job; retry.max_infra_retries counts
///    infrastructure failures (node loss, LOST, scheduling, launch), which do not use the first.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/clock.h"
#include "core/model.h"

namespace tug::adapt {

/// Platform-wide inputs: limits from server config and planner constants.
struct Platform {
  Limits limits;  // max memory per container, max cpu, max executors
  /// Spot interruption rate above which executors (and containers with capacity auto) go to
  /// on-demand.
  double climate_threshold = 0.2;
  // Right-sizing from history.
  double headroom = 1.25;  // estimate = weighted p95 of peaks × headroom
  int64_t rightsize_floor_bytes = int64_t{64} << 20;
  int min_samples = 3;   // fewer successful attempts: no estimate
  int max_samples = 50;  // newest N only
  Micros half_life = Micros{7} * 24 * 3600 * kMicrosPerSecond;  // sample weight halves every week
  Micros max_age = Micros{30} * 24 * 3600 * kMicrosPerSecond;   // older samples are ignored
};

/// Recent spot interruptions (computed by the server from the store over a window).
struct Climate {
  double spot_interruption_rate = 0;  // node losses / attempts that ran on spot, in the window
  int samples = 0;                    // attempts that ran on spot in the window
};

/// A successful attempt of the same definition and command signature.
struct HistorySample {
  Micros ended_at = 0;
  int64_t peak_memory_bytes = 0;
  Resources resources;
};

/// One resource change, for people and for the UI: {"executor memoryOverhead", "1Gi", "1.5Gi"}.
struct Change {
  std::string field;
  std::string from;
  std::string to;
  bool operator==(const Change&) const = default;
};

struct Decision {
  bool retry = false;
  Micros delay = 0;     // wait this long before the next attempt (back-off)
  Resources resources;  // the next attempt's (PlanFirst: the first attempt's)
  Placement placement;
  std::string rule;           // stable id, e.g. "oom.container.grow", "transient.backoff"
  std::string failure_class;  // the class acted on ("" for PlanFirst)
  std::string budget;         // "user" | "infra" | "" : which budget the failure used
  int user_failures = 0;      // failures charged to retry.max_attempts so far (this one included)
  int infra_failures = 0;     // failures charged to retry.max_infra_retries so far
  std::vector<Change> changes;
  std::string sentence;  // one sentence for people
  /// PlanFirst with rightsizing recommend|apply and enough history: the estimate.
  std::optional<int64_t> recommended_memory_bytes;
  bool operator==(const Decision&) const = default;
};

/// {"retry", "delay_seconds", "resources", "placement", "rule", "class", "budget",
///  "user_failures", "infra_failures", "changes": [{field, from, to}], "sentence",
///  "recommended_memory"}
boost::json::value ToJson(const Decision& d);

/// The first attempt: the definition's resources (overrides applied), right-sized from history
/// when adapt.rightsizing is apply and the user gave no memory override, and the placement.
/// `spec` is the definition with overrides applied; `overrides` says what the user set.
Decision PlanFirst(const Definition& spec, const RunOverrides& overrides,
                   const std::vector<HistorySample>& history, const Climate& climate,
                   const Platform& platform, Micros now);

/// After an attempt ended FAILED or LOST: `attempts` are the run's attempts in order, the last
/// one just ended (with outcome, peak memory, diagnosis JSON and placement filled in).
Decision PlanRetry(const Definition& spec, const std::vector<Attempt>& attempts,
                   const Climate& climate, const Platform& platform);

/// The right-sizing estimate alone (nullopt: too little history).
std::optional<int64_t> EstimateMemory(const std::vector<HistorySample>& history,
                                      const AdaptPolicy& policy, const Platform& platform,
                                      Micros now);

}  // namespace tug::adapt
