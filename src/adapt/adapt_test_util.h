#pragma once
/// Builders shared by the retry planner tests (not part of tug_adapt): definitions, attempt
/// chains, diagnosis JSON, and the rows of the PlanRetryTable (adapt_retry_test.cpp), which
/// adapt_oom_test.cpp, adapt_placement_test.cpp and adapt_policy_test.cpp fill in.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "adapt/adapt.h"

// Table rows and attempt specs name only the fields they care about (designated initializers);
// the rest keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace tug::adapt::testing {

inline constexpr int64_t kMi = int64_t{1} << 20;
inline constexpr int64_t kGi = int64_t{1} << 30;
inline constexpr Micros kDay = Micros{24} * 3600 * kMicrosPerSecond;
inline constexpr Micros kNow = 1'800'000'000 * kMicrosPerSecond;

// ---------------------------------------------------------------- builders

inline std::string Diag(const std::string& cls, const std::string& text, bool retryable = true,
                        const std::string& component = "main") {
  boost::json::object o{{"class", cls},
                        {"retryable", retryable},
                        {"root_cause", {{"component", component}, {"line", 12}, {"text", text}}},
                        {"highlights", boost::json::array{}},
                        {"remediation", ""},
                        {"summary", ""}};
  return boost::json::serialize(o);
}

inline Definition Container(int64_t memory) {
  Definition d;
  d.name = "job";
  d.command = "run";
  d.resources.memory_bytes = memory;
  return d;
}

inline Definition Spark() {
  Definition d;
  d.name = "etl";
  d.kind = "spark";
  d.spark.version = "3.5";
  d.spark.main = "local:///app.py";
  SparkResources& s = d.resources.spark;
  s.driver.memory_bytes = 2 * kGi;
  s.executor.memory_bytes = 4 * kGi;
  s.instances = 4;
  return d;
}

inline Placement SpotContainer() { return {"spot", ""}; }
inline Placement SparkSpot() { return {"on-demand", "spot"}; }

struct AttemptSpec {
  std::string diagnosis;
  std::optional<int> exit_code = 1;
  std::string reason = "Error";
  int64_t peak = 0;
  AttemptStatus status = AttemptStatus::kFailed;
  std::optional<Resources> resources;  // default: the definition's
  std::optional<Placement> placement;  // default: spot (executors on spot for Spark)
  std::string message;
};

inline std::vector<Attempt> Attempts(const Definition& spec,
                                     const std::vector<AttemptSpec>& specs) {
  std::vector<Attempt> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    const AttemptSpec& s = specs[i];
    Attempt a;
    a.number = static_cast<int>(i) + 1;
    a.run_id = "01jrun";
    a.id = "01jrun-" + std::to_string(a.number);
    a.status = s.status;
    a.resources = s.resources.value_or(spec.resources);
    a.placement = s.placement.value_or(spec.kind == "spark" ? SparkSpot() : SpotContainer());
    if (s.status != AttemptStatus::kLost) {
      a.outcome = Outcome{s.exit_code, s.reason, s.message};
    }
    a.peak_memory_bytes = s.peak;
    a.diagnosis = s.diagnosis;
    out.push_back(std::move(a));
  }
  return out;
}

inline AttemptSpec Oom(int64_t peak = 0) {
  return {.diagnosis = "", .exit_code = 137, .reason = "OOMKilled", .peak = peak};
}
inline AttemptSpec WithDiag(const std::string& cls, const std::string& text,
                            bool retryable = true) {
  return {.diagnosis = Diag(cls, text, retryable)};
}

inline Resources Mem(int64_t bytes) {
  Resources r;
  r.memory_bytes = bytes;
  return r;
}

// ---------------------------------------------------------------- the table

struct Row {
  std::string name;
  Definition spec;
  std::vector<AttemptSpec> attempts;
  bool retry = false;
  std::string rule;
  std::string failure_class;
  std::string budget;
  std::function<void(Resources&)> expect_resources;  // applied to the last attempt's resources
  std::optional<Placement> placement;
  Micros min_delay = 0;
  Micros max_delay = 0;  // exclusive when > 0; 0: delay must be 0
  std::vector<std::string> phrases;
  std::string sentence;  // exact, when set
  Climate climate;
  Platform platform;
};

inline Definition With(Definition d, const std::function<void(Definition&)>& f) {
  f(d);
  return d;
}

// Rows of the table, by section, in the order the table runs them.

/// container memory, Spark memory (adapt_oom_test.cpp)
std::vector<Row> OomRows();
/// executor progression, node loss and placement (adapt_placement_test.cpp)
std::vector<Row> ExecutorAndPlacementRows();
/// transient / infra back-off, never retried, budgets, determinism (adapt_policy_test.cpp)
std::vector<Row> PolicyRows();

}  // namespace tug::adapt::testing
