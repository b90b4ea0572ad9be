#pragma once
/// Internals of the retry planner, shared by its .cpp files; only src/adapt includes this (the
/// interface is adapt.h). Pure like the rest of the planner: no I/O, no clock, no randomness.
///
/// Where the definitions are:
///   adapt_text.cpp     text helpers, diagnosis parsing, classification of a failed attempt
///   sizing.cpp         sizes and caps, placement, right-sizing
///   retry_planner.cpp  RetryPlanner: Plan, Stop, Retry, the back-off delay
///   retry_rules.cpp    RetryPlanner: the rules per failure class (NeverRetry .. WithBackoff)
///   adapt.cpp          the public functions of adapt.h
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/json/object.hpp>

#include "adapt/adapt.h"
#include "core/model.h"
#include "core/quantity.h"

namespace tug::adapt::internal {

constexpr int64_t kMiB = int64_t{1} << 20;
// Spark's default spark.driver.memory and spark.executor.memory.
constexpr int64_t kSparkDefaultHeap = int64_t{1} << 30;
// Spark's minimum default overhead (see EffectiveOverhead).
constexpr int64_t kSparkMinOverhead = int64_t{384} << 20;
// Root-cause text shown in a sentence is cut to about this many bytes.
constexpr size_t kTextMax = 160;
// executor_lost_ambiguous: one retry with +25 % overhead (failure-taxonomy.md).
constexpr double kAmbiguousOverheadFactor = 1.25;

// ---------------------------------------------------------------- text helpers (adapt_text.cpp)

std::string_view TrimView(std::string_view s);
std::string Shorten(std::string_view text, size_t max = kTextMax);
std::string NormalizeLine(std::string_view text);
bool ContainsNoCase(std::string_view hay, std::string_view needle);
std::string Paren(std::string_view text);
std::string HumanMemory(int64_t bytes);
std::string Percent(double rate);
std::string Ordinal(int n);
std::string FormatDelay(Micros delay);

// ---------------------------------------------------------------- diagnosis (adapt_text.cpp)

struct Diagnosis {
  bool present = false;
  std::string cls;
  std::optional<bool> retryable;
  std::string component;
  std::string text;
  std::string remediation;
};

std::string StringAt(const boost::json::object& o, std::string_view key);
Diagnosis ParseDiagnosis(const std::string& text);

// ---------------------------------------------------------------- classification (adapt_text.cpp)

/// The failure classes a diagnosis may name (src/diagnose's catalog), in a fixed order.
std::span<const std::string_view> DiagnosedClasses();
/// A diagnosed class, or one the controller assigns itself ("lost", "launch_failed").
bool IsKnownClass(std::string_view c);
bool IsMemoryGrowthClass(std::string_view c);
bool IsTransientClass(std::string_view c);
bool ImagePullRetryable(std::string_view text);

struct Failure {
  std::string cls;  // taxonomy label, "lost", "launch_failed" or "unknown"
  Diagnosis diag;
  bool infra = false;
  std::string text;  // root-cause text (or the outcome message for launch failures)
};

bool OutcomeOomKilled(const Attempt& a);
Failure Classify(const Definition& spec, const Attempt& a);
bool Counts(const Attempt& a);

// ---------------------------------------------------------------- sizes (sizing.cpp)

int64_t MemoryCap(const AdaptPolicy& policy, const Platform& platform);
std::string MemoryCapSource(const AdaptPolicy& policy, const Platform& platform);
int ExecutorCap(const AdaptPolicy& policy, const Platform& platform);
int64_t CeilMiB(double x);

/// Growth of one value: base × factor rounded up to a MiB, never above `limit`; grew is false
/// when the result would not exceed `current`.
struct Growth {
  int64_t value = 0;
  bool grew = false;
  bool capped = false;
};

Growth Grow(int64_t base, int64_t current, double factor, int64_t limit);
int64_t Heap(const SparkRole& r);
int64_t MaxHeap(const SparkRole& role, int64_t cap);
int GrowCount(int base, int current, double factor, int cap, bool& capped);

// ---------------------------------------------------------------- placement (sizing.cpp)

struct PlacementChoice {
  std::string capacity;  // for containers / Spark executors
  std::string why;       // why on-demand ("" when spot)
};

/// `gpu`: the run's GPUs per container; GPU runs with capacity auto go on-demand.
PlacementChoice ChooseCapacity(const AdaptPolicy& policy, int64_t gpu, bool after_node_loss,
                               const Climate& climate, const Platform& platform);
Placement MakePlacement(const Definition& spec, const PlacementChoice& c);

// ---------------------------------------------------------------- right-sizing (sizing.cpp)

struct Estimate {
  int64_t bytes = 0;
  int samples = 0;
};

std::optional<Estimate> EstimateWithCount(const std::vector<HistorySample>& history,
                                          const AdaptPolicy& policy, const Platform& platform,
                                          Micros now);
std::string MemoryText(int64_t bytes);
std::string PlacementText(const Definition& spec, const Placement& p, const PlacementChoice& c);
std::string SparkSizeText(const SparkResources& s);

// ---------------------------------------------------------------- the retry plan

/// Plans one retry of a run whose last attempt counts as a failure (PlanRetry checks that).
/// Plan and the helpers it shares are in retry_planner.cpp, the rules per class in
/// retry_rules.cpp.
class RetryPlanner {
 public:
  RetryPlanner(const Definition& spec, const std::vector<Attempt>& attempts, const Climate& climate,
               const Platform& platform)
      : spec_(spec),
        attempts_(attempts),
        climate_(climate),
        platform_(platform),
        last_(attempts.back()),
        spark_(spec.kind == "spark"),
        mem_cap_(MemoryCap(spec.adapt, platform)),
        exec_cap_(ExecutorCap(spec.adapt, platform)) {}

  Decision Plan();

 private:
  Decision Stop(std::string rule, std::string sentence);
  Decision Retry(std::string rule, std::string head, std::string tail);
  bool EarlierHad(std::string_view cls) const;

  Decision NeverRetry();
  Decision ContainerMemory();
  Decision ExecutorHeap();
  Decision ExecutorOverhead(std::string_view rule, double factor, const std::string& why);
  Decision Driver();
  Decision MaxResultSize();
  Decision ExecutorLost();
  Decision NodeLoss();
  Decision ExecutorsOrBackoff();
  Decision PythonWorker();
  Decision WithBackoff(std::string rule, const std::string& after);
  Decision AtCap(std::string_view what);

  /// Executor progression on `next_`: returns the phrase ("executors 4 → 6") or "".
  std::string GrowExecutors();
  void AddChange(std::string field, std::string from, std::string to) {
    phrases_.push_back(fmt::format("{} {} → {}", field, from, to));
    changes_.push_back({std::move(field), std::move(from), std::move(to)});
  }
  /// Changes carry FormatMemory text (exact, parseable); the sentence the human form.
  void AddMemoryChange(std::string field, int64_t from, int64_t to) {
    phrases_.push_back(fmt::format("{} {} → {}", field, HumanMemory(from), HumanMemory(to)));
    changes_.push_back({std::move(field), FormatMemory(from), FormatMemory(to)});
  }
  /// "a → b" for the sentence, from the changes so far, joined with " and ".
  std::string ChangesText() const;
  Micros BackoffDelay() const;
  std::string ExitText() const;

  const Definition& spec_;
  const std::vector<Attempt>& attempts_;
  const Climate& climate_;
  const Platform& platform_;
  const Attempt& last_;
  bool spark_;
  int64_t mem_cap_;
  int exec_cap_;

  Failure failure_;
  Resources next_;
  int user_failures_ = 0;
  int infra_failures_ = 0;
  std::vector<Change> changes_;
  std::vector<std::string> phrases_;  // one per change, for the sentence
};

}  // namespace tug::adapt::internal
