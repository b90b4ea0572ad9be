// The spark engine's end rules on components as last seen (DecideSparkEnd), as a table.
#include <gtest/gtest.h>

// Rows leave trailing fields (reason, evidence) at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "engine/spark/spark_engine.h"

namespace tug::engine::spark {
namespace {

using kubernetes::ComponentView;
constexpr Micros kS = kMicrosPerSecond;

ComponentView Running() {
  ComponentView c;
  c.status.state = "running";
  return c;
}

ComponentView Ended(AttemptStatus s, std::optional<int> exit, std::string reason, Micros at) {
  ComponentView c;
  c.ended = true;
  c.end_status = s;
  c.end_outcome = Outcome{exit, std::move(reason), ""};
  c.ended_at = at;
  c.observed_at = at;
  return c;
}

ComponentView Ok(Micros at) { return Ended(AttemptStatus::kSucceeded, 0, "Completed", at); }
ComponentView Fail(std::optional<int> exit, std::string reason, Micros at) {
  return Ended(AttemptStatus::kFailed, exit, std::move(reason), at);
}

struct Row {
  const char* name;
  std::map<std::string, ComponentView> comps;
  Micros now;
  bool stop = false;
  bool ends;
  AttemptStatus status = AttemptStatus::kFailed;
  std::string reason;
  std::vector<std::string> evidence;  // executors marked as evidence
};

TEST(DecideSparkEnd, Table) {
  const SparkTiming t;  // 30 s controller grace, 20 s for the driver to appear
  std::vector<Row> rows = {
      {"submitting", {{"controller", Running()}}, 100 * kS, false, false},
      {"driver running",
       {{"controller", Running()}, {"driver", Running()}},
       100 * kS,
       false,
       false},
      {"driver and controller succeeded",
       {{"controller", Ok(101 * kS)}, {"driver", Ok(100 * kS)}},
       101 * kS,
       false,
       true,
       AttemptStatus::kSucceeded,
       "Completed"},
      {"driver failed, spark-submit still says 0: the driver decides",
       {{"controller", Ok(101 * kS)}, {"driver", Fail(1, "Error", 100 * kS)}},
       101 * kS,
       false,
       true,
       AttemptStatus::kFailed,
       "Error"},
      {"driver done, controller not yet: wait",
       {{"controller", Running()}, {"driver", Ok(100 * kS)}},
       110 * kS,
       false,
       false},
      {"driver done, controller gone quiet past the grace",
       {{"controller", Running()}, {"driver", Ok(100 * kS)}},
       131 * kS,
       false,
       true,
       AttemptStatus::kSucceeded,
       "Completed"},
      {"submission failed before any driver",
       {{"controller", Fail(1, "Error", 100 * kS)}},
       100 * kS,
       false,
       true,
       AttemptStatus::kFailed,
       "Error"},
      {"spark-submit 0 without a driver: wait for the watch",
       {{"controller", Ok(100 * kS)}},
       110 * kS,
       false,
       false},
      {"spark-submit 0 and still no driver",
       {{"controller", Ok(100 * kS)}},
       121 * kS,
       false,
       true,
       AttemptStatus::kFailed,
       "Error"},
      {"spark-submit killed by the deadline while the driver runs",
       {{"controller", Fail(std::nullopt, "DeadlineExceeded", 100 * kS)}, {"driver", Running()}},
       100 * kS,
       false,
       true,
       AttemptStatus::kFailed,
       "DeadlineExceeded"},
      {"spark-submit lost with its node: the driver runs on",
       {{"controller", Fail(std::nullopt, "NodeLost", 100 * kS)}, {"driver", Running()}},
       100 * kS,
       false,
       false},
      {"driver lost with its node",
       {{"controller", Ok(101 * kS)}, {"driver", Fail(std::nullopt, "NodeLost", 100 * kS)}},
       101 * kS,
       false,
       true,
       AttemptStatus::kFailed,
       "NodeLost"},
      {"executor OOMKilled mid-job is evidence; torn-down executors are not",
       {{"controller", Ok(101 * kS)},
        {"driver", Fail(1, "Error", 100 * kS)},
        {"executor-1", Fail(137, "OOMKilled", 90 * kS)},
        {"executor-2", Fail(143, "Error", 100 * kS + 1)},
        {"executor-5", Fail(137, "OOMKilled", 102 * kS)},
        {"executor-3", Fail(std::nullopt, "Deleted", 95 * kS)},
        {"executor-4", Fail(std::nullopt, "NodeLost", 95 * kS)}},
       101 * kS,
       false,
       true,
       AttemptStatus::kFailed,
       "Error",
       {"executor-1", "executor-4"}},
      {"stop: waits for spark-submit and the driver",
       {{"controller", Fail(143, "Stopped", 100 * kS)}, {"driver", Running()}},
       100 * kS,
       true,
       false},
      {"stop: both gone",
       {{"controller", Fail(143, "Stopped", 100 * kS)},
        {"driver", Fail(143, "Stopped", 101 * kS)},
        {"executor-1", Fail(137, "OOMKilled", 99 * kS)}},
       101 * kS,
       true,
       true,
       AttemptStatus::kStopped,
       "Stopped"},
  };
  for (auto& row : rows) {
    SCOPED_TRACE(row.name);
    auto end = DecideSparkEnd(row.comps, row.stop, row.now, t);
    ASSERT_EQ(end.has_value(), row.ends);
    if (end) {
      EXPECT_EQ(end->status, row.status);
      EXPECT_EQ(end->outcome.reason, row.reason);
    }
    std::vector<std::string> evidence;
    for (const auto& [name, c] : row.comps) {
      if (c.status.evidence) evidence.push_back(name);
    }
    EXPECT_EQ(evidence, row.evidence);
  }
}

}  // namespace
}  // namespace tug::engine::spark
