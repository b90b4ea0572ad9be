// Policies: parsing, adapt's decisions inside the simulation, determinism, the report.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "sim/generator.h"
#include "sim/planner.h"
#include "sim/policy.h"
#include "sim/report.h"
#include "sim/simulation.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr Micros kSec = kMicrosPerSecond;

SimConfig Calm() {
  SimConfig c = DefaultSimConfig();
  c.climate = SpotClimate{};
  c.steady_state = false;  // one copy on an empty cluster: exact times
  return c;
}

TraceJob Spark(const std::string& id, int64_t heap_gib, int instances, double secs) {
  TraceJob j;
  j.id = id;
  j.name = id;
  j.kind = "spark";
  j.driver = {1000, 2 * kGiB, 0};
  j.executor = {4000, heap_gib * kGiB, 0};
  j.instances = instances;
  j.driver_peak = {kGiB, 200 << 20};
  j.executor_peak = {heap_gib * kGiB / 2, 200 << 20};
  j.duration_s = secs;
  return j;
}

TEST(Policies, ParseNamesLettersAndChanges) {
  auto p = ParsePolicies("a, b,c");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].name, "static");
  EXPECT_FALSE((*p)[0].autoscale);
  EXPECT_EQ((*p)[1].scoring, Scoring::kLeastAllocated);
  EXPECT_EQ((*p)[1].unneeded_time, 600 * kSec);
  EXPECT_TRUE((*p)[2].adapt);
  EXPECT_EQ((*p)[2].scoring, Scoring::kMostAllocated);
  EXPECT_EQ((*p)[2].unneeded_time, 300 * kSec);
  auto mix = ParsePolicies("autoscaled+scoring=most+unneeded=5m,tugboat+capacity=on-demand");
  ASSERT_TRUE(mix.ok()) << mix.error().ToString();
  EXPECT_EQ((*mix)[0].name, "autoscaled+scoring=most+unneeded=5m");
  EXPECT_EQ((*mix)[0].scoring, Scoring::kMostAllocated);
  EXPECT_EQ((*mix)[1].capacity, "on-demand");
  for (const char* bad : {"d", "static+colour=red", "tugboat+scoring", "b+capacity=auto",
                          "static,static", "", "c+unneeded=soon"}) {
    EXPECT_FALSE(ParsePolicies(bad).ok()) << bad;
  }
}

TEST(Planner, DiagnosisHasTheShapeAdaptReads) {
  TraceJob j = Spark("s", 8, 2, 100);
  auto v = boost::json::parse(DiagnosisJson(FailureKind::kExecutorContainerOom, 3, j));
  EXPECT_EQ(v.at("class").as_string(), "executor_container_oom");
  EXPECT_EQ(v.at("component").as_string(), "executor-3");
  EXPECT_TRUE(v.at("retryable").as_bool());
  EXPECT_EQ(v.at("root_cause").at("component").as_string(), "driver");
  auto u = boost::json::parse(DiagnosisJson(FailureKind::kUserError, 0, j));
  EXPECT_FALSE(u.at("retryable").as_bool());
}

TEST(Adapt, ContainerMemoryGrowsAfterAnOom) {
  TraceJob j;
  j.id = "c1";
  j.name = "c1";
  j.kind = "container";
  j.container = {1000, 4 * kGiB, 0};
  j.container_peak_bytes = 5 * kGiB;
  j.duration_s = 600;
  Trace t;
  t.jobs = {j};
  Policy c = TugboatPolicy();
  c.capacity = "on-demand";
  auto r = Simulate(t, c, Calm());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->succeeded, 1);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->rules["oom.container.grow"], 1);  // 4Gi → 6Gi, from adapt itself
  // The plain platform retries the same size until it runs out of attempts.
  auto a = Simulate(t, AutoscaledPolicy(), Calm());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->failed_by["oom"], 1);
  EXPECT_EQ(a->attempts, 3);
}

TEST(Adapt, SparkHeapOverheadAndExecutorsGrowWhereTheyFailed) {
  Trace t;
  TraceJob heap = Spark("heap", 8, 2, 600);
  heap.executor_peak.heap_bytes = 10 * kGiB;  // > 8Gi: JVM heap OOM; 12Gi fixes it
  TraceJob over = Spark("over", 8, 2, 600);
  over.executor_peak.offheap_bytes = kGiB;  // > 819Mi default overhead; ×1.5 fixes it
  TraceJob slow = Spark("slow", 8, 4, 600);
  slow.failures.push_back({Injection::Kind::kTimeout, {}, 0.8, 5});  // 4 → 6 executors fixes it
  TraceJob twice = Spark("twice", 8, 2, 600);
  twice.executor_peak.heap_bytes = 15 * kGiB;  // 8 → 12 → 18Gi: two growths
  t.jobs = {heap, over, slow, twice};
  Policy c = TugboatPolicy();
  c.capacity = "on-demand";
  auto r = Simulate(t, c, Calm());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->succeeded, 4);
  EXPECT_EQ(r->rules["oom.executor.heap"], 3);
  EXPECT_EQ(r->rules["oom.executor.overhead"], 1);
  EXPECT_EQ(r->rules["executors.grow"], 1);
  EXPECT_EQ(r->attempt_failures["executor_oom"], 3);
  EXPECT_EQ(r->attempt_failures["executor_container_oom"], 1);
  EXPECT_EQ(r->attempt_failures["timeout"], 1);
}

TEST(Adapt, UserErrorsAreNotRetriedTransientOnesBackOff) {
  Trace t;
  TraceJob bug = Spark("bug", 4, 1, 600);
  bug.failures.push_back({Injection::Kind::kUserError, {}, 0.1, 0});
  TraceJob flaky = Spark("flaky", 4, 1, 600);
  flaky.failures.push_back({Injection::Kind::kTransient, {1}, 0.5, 0});
  t.jobs = {bug, flaky};
  Policy c = TugboatPolicy();
  c.capacity = "on-demand";
  auto r = Simulate(t, c, Calm());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failed_by["user_error"], 1);
  EXPECT_EQ(r->succeeded, 1);
  EXPECT_EQ(r->rules["no_retry.user_code_error"], 1);
  EXPECT_EQ(r->rules["transient.backoff"], 1);
  EXPECT_EQ(r->attempts, 3);
  auto a = Simulate(t, AutoscaledPolicy(), Calm());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->attempts, 5);  // the user error three times, the transient one twice
}

TEST(Adapt, RightSizingShrinksRecurringContainersFromTheirHistory) {
  Trace t;
  for (int i = 0; i < 8; ++i) {
    TraceJob j;
    j.id = "r" + std::to_string(i);
    j.name = "hourly";
    j.kind = "container";
    j.container = {1000, 16 * kGiB, 0};
    j.container_peak_bytes = 2 * kGiB;
    j.duration_s = 300;
    j.submit = Micros{i} * 3600 * kSec;
    t.jobs.push_back(j);
  }
  Policy c = TugboatPolicy();
  c.capacity = "on-demand";
  auto r = Simulate(t, c, Calm());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->succeeded, 8);
  EXPECT_EQ(r->rules["first.as_requested"], 3);  // min_samples = 3
  EXPECT_EQ(r->rules["rightsize.apply"], 5);     // 2Gi × 1.25 = 2.5Gi instead of 16Gi
}

TEST(Report, SameSeedSameReportBitForBit) {
  GeneratorParams g;
  g.spark_jobs = 150;
  g.container_jobs = 30;
  g.users = 20;
  auto trace = Generate(g);
  ASSERT_TRUE(trace.ok());
  auto policies = ParsePolicies("a,b,c");
  ASSERT_TRUE(policies.ok());
  SimConfig cfg = DefaultSimConfig();
  auto one = Compare(*trace, *policies, cfg);
  auto two = Compare(*trace, *policies, cfg);
  ASSERT_TRUE(one.ok() && two.ok());
  std::string a = boost::json::serialize(ToJson(*one, true));
  EXPECT_EQ(a, boost::json::serialize(ToJson(*two, true)));
  EXPECT_EQ(ChartSvg(*one, "nodes"), ChartSvg(*two, "nodes"));
  cfg.seed = 99;
  auto other = Compare(*trace, *policies, cfg);
  ASSERT_TRUE(other.ok());
  // The seed drives spot interruptions, which only the spot policy sees.
  EXPECT_NE(a, boost::json::serialize(ToJson(*other, true)));
  std::string md = Markdown(*one);
  EXPECT_NE(md.find("| metric | (a) static | (b) autoscaled | (c) tugboat | tugboat vs static |"),
            std::string::npos)
      << md;
  EXPECT_NE(TextTable(*one).find("scheduling delay p50 / p99"), std::string::npos);
  EXPECT_NE(ChartSvg(*one, "pending").find("<polyline"), std::string::npos);
}

}  // namespace
}  // namespace tug::sim
