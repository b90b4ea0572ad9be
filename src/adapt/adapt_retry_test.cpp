#include "adapt/adapt.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapt/adapt_test_util.h"
#include "core/quantity.h"

namespace tug::adapt {
namespace {

using testing::Attempts;
using testing::AttemptSpec;
using testing::Container;
using testing::ExecutorAndPlacementRows;
using testing::kGi;
using testing::kMi;
using testing::Oom;
using testing::OomRows;
using testing::PolicyRows;
using testing::Row;
using testing::WithDiag;

/// The table, section by section (each section's rows are in their own file).
std::vector<Row> Rows() {
  std::vector<Row> rows;
  for (std::vector<Row> (*part)() : {OomRows, ExecutorAndPlacementRows, PolicyRows}) {
    std::vector<Row> more = part();
    rows.insert(rows.end(), more.begin(), more.end());
  }
  return rows;
}

class PlanRetryTable : public ::testing::TestWithParam<Row> {};

TEST_P(PlanRetryTable, Decides) {
  const Row& row = GetParam();
  std::vector<Attempt> attempts = Attempts(row.spec, row.attempts);
  Decision d = PlanRetry(row.spec, attempts, row.climate, row.platform);
  SCOPED_TRACE(d.sentence);
  EXPECT_EQ(d.retry, row.retry);
  EXPECT_EQ(d.rule, row.rule);
  if (!row.failure_class.empty()) {
    EXPECT_EQ(d.failure_class, row.failure_class);
  }
  if (!row.budget.empty()) {
    EXPECT_EQ(d.budget, row.budget);
  }
  if (row.expect_resources) {
    Resources want = attempts.back().resources;
    row.expect_resources(want);
    EXPECT_EQ(d.resources, want);
  }
  if (!row.retry) {
    EXPECT_EQ(d.resources, attempts.back().resources);
    EXPECT_EQ(d.placement, attempts.back().placement);
    EXPECT_EQ(d.delay, 0);
    EXPECT_TRUE(d.sentence.starts_with("not retried: "));
  } else {
    std::string head = "attempt " + std::to_string(attempts.back().number + 1);
    EXPECT_TRUE(d.sentence.starts_with(head)) << head;
  }
  if (row.placement) {
    EXPECT_EQ(d.placement, *row.placement);
  }
  if (row.max_delay > 0) {
    EXPECT_GE(d.delay, row.min_delay);
    EXPECT_LT(d.delay, row.max_delay);
  } else {
    EXPECT_EQ(d.delay, 0);
  }
  for (const std::string& p : row.phrases) {
    EXPECT_NE(d.sentence.find(p), std::string::npos) << "missing phrase: " << p;
  }
  if (!row.sentence.empty()) {
    EXPECT_EQ(d.sentence, row.sentence);
  }
  EXPECT_EQ(d.sentence.find('\n'), std::string::npos);
  // Pure: the same inputs give the same decision.
  EXPECT_EQ(d, PlanRetry(row.spec, attempts, row.climate, row.platform));
}

INSTANTIATE_TEST_SUITE_P(Rules, PlanRetryTable, ::testing::ValuesIn(Rows()),
                         [](const auto& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------- focused checks

TEST(PlanRetry, CountsAndChanges) {
  Definition d = Container(64 * kMi);
  auto attempts = Attempts(d, {{.status = AttemptStatus::kLost}, Oom(64 * kMi)});
  Decision dec = PlanRetry(d, attempts, {}, {});
  EXPECT_EQ(dec.user_failures, 1);
  EXPECT_EQ(dec.infra_failures, 1);
  ASSERT_EQ(dec.changes.size(), 1u);
  EXPECT_EQ(dec.changes[0], (Change{"memory", "64Mi", "96Mi"}));
}

TEST(PlanRetry, PlacementChangeIsListed) {
  Definition d = Container(64 * kMi);
  auto attempts = Attempts(d, {WithDiag("node_loss", "preempted")});
  Decision dec = PlanRetry(d, attempts, {}, {});
  ASSERT_EQ(dec.changes.size(), 1u);
  EXPECT_EQ(dec.changes[0], (Change{"capacity", "spot", "on-demand"}));
}

TEST(PlanRetry, LongRootCauseIsTrimmed) {
  Definition d = Container(64 * kMi);
  std::string text = "ValueError: " + std::string(400, 'x') + "\nsecond line";
  Decision dec = PlanRetry(d, Attempts(d, {WithDiag("user_code_error", text, false)}), {}, {});
  EXPECT_LT(dec.sentence.size(), 260u);
  EXPECT_NE(dec.sentence.find("x...)"), std::string::npos) << dec.sentence;
}

TEST(PlanRetry, EmptyAndSucceeded) {
  Definition d = Container(64 * kMi);
  EXPECT_FALSE(PlanRetry(d, {}, {}, {}).retry);
  auto attempts = Attempts(d, {{}});
  attempts.back().status = AttemptStatus::kSucceeded;
  Decision dec = PlanRetry(d, attempts, {}, {});
  EXPECT_FALSE(dec.retry);
  EXPECT_EQ(dec.rule, "stop.not_failed");
}

// ---------------------------------------------------------------- back-off

Micros BaseMicros(int64_t seconds) { return seconds * kMicrosPerSecond; }

TEST(Backoff, ExponentialCappedAndJittered) {
  Definition d = Container(64 * kMi);
  d.retry.max_attempts = 10;
  d.retry.backoff = {.initial_seconds = 10, .max_seconds = 25, .multiplier = 2};
  std::vector<AttemptSpec> specs;
  const int64_t bases[] = {10, 20, 25, 25};
  for (int k = 1; k <= 4; ++k) {
    specs.push_back(WithDiag("transient_dependency", "503 Slow Down"));
    Decision dec = PlanRetry(d, Attempts(d, specs), {}, {});
    ASSERT_TRUE(dec.retry) << dec.sentence;
    Micros base = BaseMicros(bases[k - 1]);
    EXPECT_GE(dec.delay, base / 2) << k;
    EXPECT_LT(dec.delay, base) << k;
    EXPECT_NE(dec.sentence.find("back-off " + std::to_string(k) + " of 9"), std::string::npos)
        << dec.sentence;
  }
}

TEST(Backoff, JitterIsDeterministicPerAttemptId) {
  Definition d = Container(64 * kMi);
  auto attempts = Attempts(d, {WithDiag("transient_dependency", "503")});
  Micros first = PlanRetry(d, attempts, {}, {}).delay;
  EXPECT_EQ(first, PlanRetry(d, attempts, {}, {}).delay);
  // Over many ids: always within [base/2, base), and actually spread out.
  Micros lo = BaseMicros(60), hi = 0;
  for (int i = 0; i < 500; ++i) {
    attempts.back().id = "run" + std::to_string(i) + "-1";
    Micros delay = PlanRetry(d, attempts, {}, {}).delay;
    EXPECT_GE(delay, BaseMicros(30));
    EXPECT_LT(delay, BaseMicros(60));
    lo = std::min(lo, delay);
    hi = std::max(hi, delay);
  }
  EXPECT_LT(lo, BaseMicros(33));
  EXPECT_GT(hi, BaseMicros(57));
}

TEST(Backoff, SentenceShowsTheWait) {
  Definition d = Container(64 * kMi);
  d.retry.backoff = {.initial_seconds = 180, .max_seconds = 1800, .multiplier = 4};
  Decision dec =
      PlanRetry(d, Attempts(d, {WithDiag("transient_dependency", "503 Slow Down")}), {}, {});
  int64_t secs = (dec.delay + kMicrosPerSecond / 2) / kMicrosPerSecond;
  EXPECT_EQ(dec.sentence, "attempt 2 in " + FormatDuration(secs) +
                              " with the same resources after a transient error (503 Slow Down); "
                              "back-off 1 of 2");
}

// ---------------------------------------------------------------- JSON

TEST(DecisionJson, Fields) {
  Definition d = Container(64 * kMi);
  Decision dec = PlanRetry(d, Attempts(d, {Oom(64 * kMi)}), {}, {});
  boost::json::object o = ToJson(dec).as_object();
  EXPECT_EQ(o.at("retry").as_bool(), true);
  EXPECT_EQ(o.at("delay_seconds").to_number<double>(), 0.0);
  EXPECT_EQ(o.at("rule").as_string(), "oom.container.grow");
  EXPECT_EQ(o.at("class").as_string(), "batch_container_oom");
  EXPECT_EQ(o.at("budget").as_string(), "user");
  EXPECT_EQ(o.at("user_failures").as_int64(), 1);
  EXPECT_EQ(o.at("infra_failures").as_int64(), 0);
  EXPECT_EQ(o.at("placement").at("capacity").as_string(), "spot");
  EXPECT_TRUE(o.at("resources").is_object());
  const auto& changes = o.at("changes").as_array();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].at("field").as_string(), "memory");
  EXPECT_EQ(changes[0].at("from").as_string(), "64Mi");
  EXPECT_EQ(changes[0].at("to").as_string(), "96Mi");
  EXPECT_EQ(o.at("sentence").as_string(), dec.sentence);
  EXPECT_TRUE(o.at("recommended_memory").is_null());

  Decision with_delay;
  with_delay.delay = 42'500'000;
  with_delay.recommended_memory_bytes = 2 * kGi;
  boost::json::object w = ToJson(with_delay).as_object();
  EXPECT_DOUBLE_EQ(w.at("delay_seconds").to_number<double>(), 42.5);
  EXPECT_EQ(w.at("recommended_memory").as_string(), "2Gi");
}

}  // namespace
}  // namespace tug::adapt
