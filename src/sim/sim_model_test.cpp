// The cluster model: scoring, autoscaler timing, provisioning delay, spot interruptions, OOM.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/autoscaler.h"
#include "sim/cluster.h"
#include "sim/policy.h"
#include "sim/rng.h"
#include "sim/simulation.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr Micros kSec = kMicrosPerSecond;

NodeType Type(const char* name, int64_t cpu, int64_t mem_gib, double price = 1.0) {
  return NodeType{name, cpu * 1000, mem_gib * kGiB, price, price * 0.3};
}

/// A container job of `mem_gib`, running `secs`, peaking at `peak_gib`.
TraceJob Container(const std::string& id, double submit_s, int64_t cpu, int64_t mem_gib,
                   double secs, double peak_gib = 0) {
  TraceJob j;
  j.id = id;
  j.name = id;
  j.kind = "container";
  j.submit = static_cast<Micros>(submit_s * kSec);
  j.container = {cpu * 1000, mem_gib * kGiB, 0};
  j.container_peak_bytes =
      static_cast<int64_t>((peak_gib > 0 ? peak_gib : static_cast<double>(mem_gib) * 0.5) * kGiB);
  j.duration_s = secs;
  return j;
}

SimConfig Calm() {
  SimConfig c = DefaultSimConfig();
  c.climate = SpotClimate{};
  c.steady_state = false;  // one copy on an empty cluster: exact times
  c.node_types = {Type("small", 4, 16)};
  return c;
}

// ---------------------------------------------------------------- scoring

TEST(Scoring, MostAllocatedPacksLeastAllocatedSpreads) {
  Cluster c({Type("t", 8, 32)});
  int a = c.Launch(0, Capacity::kOnDemand, 0, 0);
  int b = c.Launch(0, Capacity::kOnDemand, 0, 0);
  c.MarkReady(a, 0);
  c.MarkReady(b, 0);
  c.Bind(a, 1, 4000, 8 * kGiB, 0);  // a is half full on cpu
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kAny, Scoring::kMostAllocated), a);
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kAny, Scoring::kLeastAllocated), b);
  // kube's integer scores: (5000/8000*100 + 9Gi/32Gi*100) / 2 = (62 + 28) / 2.
  EXPECT_EQ(c.Score(c.node(a), 1000, kGiB, Scoring::kMostAllocated), 45);
  EXPECT_EQ(c.Score(c.node(b), 1000, kGiB, Scoring::kLeastAllocated), (87 + 96) / 2);
}

TEST(Scoring, FilterHonoursFitAndCapacityType) {
  Cluster c({Type("t", 8, 32)});
  int od = c.Launch(0, Capacity::kOnDemand, 0, 0);
  int spot = c.Launch(0, Capacity::kSpot, 0, 0);
  c.MarkReady(od, 0);
  c.MarkReady(spot, 0);
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kSpot, Scoring::kMostAllocated), spot);
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kOnDemand, Scoring::kMostAllocated), od);
  EXPECT_EQ(c.Pick(9000, kGiB, Affinity::kAny, Scoring::kMostAllocated), -1);
  c.Bind(spot, 1, 8000, kGiB, 0);
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kSpot, Scoring::kMostAllocated), -1);
  // Ties go to the lowest node id.
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kAny, Scoring::kLeastAllocated), od);
}

TEST(Scoring, NotReadyOrRemovedNodesAreNotCandidates) {
  Cluster c({Type("t", 8, 32)});
  int n = c.Launch(0, Capacity::kOnDemand, 0, 180 * kSec);
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kAny, Scoring::kMostAllocated), -1);
  c.MarkReady(n, 180 * kSec);
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kAny, Scoring::kMostAllocated), n);
  c.Remove(n, 200 * kSec);
  EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kAny, Scoring::kMostAllocated), -1);
  Cluster::Books b = c.Close(3600 * kSec);
  EXPECT_NEAR(b.node_hours_on_demand, 200.0 / 3600.0, 1e-9);  // billed from launch
  EXPECT_NEAR(b.alloc_cpu_seconds, 8.0 * 20.0, 1e-6);         // allocatable only when ready
}

// ---------------------------------------------------------------- autoscaler

TEST(Autoscaler, ScaleUpPicksLeastWasteAndUsesUpcomingNodes) {
  Cluster c({Type("cpu", 16, 32, 1.0), Type("mem", 16, 128, 1.3)});
  AutoscalerConfig cfg;
  // Memory-heavy pods: 4 cpu / 30Gi pack 4 per "mem" node, 1 per "cpu" node.
  std::vector<PendingPod> pods(8, PendingPod{4000, 30 * kGiB, Affinity::kAny});
  ScanPlan p = Scan(c, pods, cfg, Capacity::kOnDemand, 0);
  ASSERT_EQ(p.add.size(), 1u);
  EXPECT_EQ(p.add[0], (ScaleUp{1, Capacity::kOnDemand, 2}));
  // Once those two are provisioning, the same pods ask for nothing more.
  c.Launch(1, Capacity::kOnDemand, 0, 180 * kSec);
  c.Launch(1, Capacity::kOnDemand, 0, 180 * kSec);
  EXPECT_TRUE(Scan(c, pods, cfg, Capacity::kOnDemand, 60 * kSec).add.empty());
  // Spot pods need spot nodes.
  std::vector<PendingPod> spot(1, PendingPod{1000, kGiB, Affinity::kSpot});
  ScanPlan s = Scan(c, spot, cfg, Capacity::kOnDemand, 60 * kSec);
  ASSERT_EQ(s.add.size(), 1u);
  EXPECT_EQ(s.add[0].capacity, Capacity::kSpot);
}

TEST(Autoscaler, RemovesOnlyNodesEmptyAtEveryScanForTheUnneededTime) {
  Cluster c({Type("t", 8, 32)});
  AutoscalerConfig cfg;  // 60 s scans, 5 min unneeded
  int n = c.Launch(0, Capacity::kOnDemand, 0, 0);
  c.MarkReady(n, 0);
  for (int minute = 0; minute < 5; ++minute) {
    EXPECT_TRUE(Scan(c, {}, cfg, Capacity::kOnDemand, Micros{minute} * 60 * kSec).remove.empty())
        << minute;
  }
  // A pod seen at a scan resets the clock.
  c.Bind(n, 7, 1000, kGiB, 299 * kSec);
  EXPECT_TRUE(Scan(c, {}, cfg, Capacity::kOnDemand, 300 * kSec).remove.empty());
  c.Release(n, 7, 1000, kGiB, 301 * kSec);
  for (int minute = 6; minute < 11; ++minute) {
    EXPECT_TRUE(Scan(c, {}, cfg, Capacity::kOnDemand, Micros{minute} * 60 * kSec).remove.empty())
        << minute;
  }
  ScanPlan p = Scan(c, {}, cfg, Capacity::kOnDemand, Micros{11} * 60 * kSec);
  EXPECT_EQ(p.remove, std::vector<int>{n});
}

TEST(Autoscaler, EndToEndProvisioningDelayAndCulling) {
  // One 10-minute job on an empty autoscaled cluster: the first scan (t=0... the job comes at
  // t=30 s) sees it at t=60 s, the node is ready at 60 + 180 s, the pod binds then; the node
  // goes at the first scan 5 minutes after the job ended.
  Trace t;
  t.jobs = {Container("j1", 30, 1, 2, 600)};
  Policy p = TugboatPolicy();
  p.capacity = "on-demand";
  SimConfig cfg = Calm();
  auto r = Simulate(t, p, cfg);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->succeeded, 1);
  EXPECT_DOUBLE_EQ(r->attempt_delay.p50, 240 - 30);
  EXPECT_EQ(r->peak_nodes, 1);
  // Ends at 240 + 600 = 840 s; empty at the scans from 840 s; removed at 840 + 300 = 1140 s.
  EXPECT_EQ(r->end, 1140 * kSec);
  EXPECT_NEAR(r->node_hours(), (1140.0 - 60.0) / 3600.0, 1e-9);
}

TEST(Autoscaler, ExecutorsOfAPendingDriverBootWithItsNode) {
  // A Spark job at t=0 on an empty cluster: driver on-demand, executors on spot (tugboat). The
  // scan at t=0 sees the pending driver. Without anticipation the executors are asked for only
  // once the driver runs (t=180, its node ready just before that minute's scan), so their node
  // is ready at 180 + 180 = 360 s; with it their spot node boots beside the driver's and the job
  // starts at 180 s.
  Trace t;
  TraceJob j;
  j.id = j.name = "s1";
  j.kind = "spark";
  j.driver = {1000, 2 * kGiB, 0};
  j.executor = {1000, 4 * kGiB, 0};
  j.instances = 2;
  j.driver_peak = {kGiB / 2, 0};
  j.executor_peak = {kGiB, 0};
  j.duration_s = 600;
  t.jobs = {j};
  SimConfig cfg = Calm();
  Policy with = TugboatPolicy();
  ASSERT_TRUE(with.anticipate_executors);
  auto r = Simulate(t, with, cfg);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->succeeded, 1);
  EXPECT_DOUBLE_EQ(r->attempt_delay.p50, 180);
  Policy without = TugboatPolicy();
  without.anticipate_executors = false;
  r = Simulate(t, without, cfg);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->succeeded, 1);
  EXPECT_DOUBLE_EQ(r->attempt_delay.p50, 360);
  // The setting parses.
  auto parsed = ParsePolicies("c+anticipate=off");
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_FALSE((*parsed)[0].anticipate_executors);
  EXPECT_FALSE(ParsePolicies("c+anticipate=maybe").ok());
}

TEST(Autoscaler, ProvisioningDelayIsAParameter) {
  Trace t;
  t.jobs = {Container("j1", 0, 1, 2, 60)};
  SimConfig cfg = Calm();
  cfg.autoscaler.provisioning_delay = 30 * kSec;
  Policy p = AutoscaledPolicy();
  auto r = Simulate(t, p, cfg);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->attempt_delay.p50, 30);  // scan at 0, ready at 30
}

// ---------------------------------------------------------------- spot

TEST(Spot, ClimateIntegratesThePiecewiseRate) {
  auto c = ParseClimate("00:00=0,12:00=3600");  // 1 per second from noon
  ASSERT_TRUE(c.ok());
  // From 06:00 with Exp draw 2: nothing until noon, then 2 s.
  EXPECT_EQ(c->InterruptionTime(Micros{6} * 3600 * kSec, 2.0), (Micros{12} * 3600 + 2) * kSec);
  EXPECT_DOUBLE_EQ(c->RateAt(Micros{13} * 3600 * kSec), 3600);
  EXPECT_DOUBLE_EQ(c->RateAt(Micros{24 + 1} * 3600 * kSec), 0);  // repeats daily
  auto calm = ParseClimate("00:00=0");
  ASSERT_TRUE(calm.ok());
  EXPECT_EQ(calm->InterruptionTime(0, 1.0), -1);
  EXPECT_FALSE(ParseClimate("25:00=1").ok());
  EXPECT_FALSE(ParseClimate("10:00").ok());
}

TEST(Spot, InterruptionCountFollowsTheRate) {
  // 2000 node lifetimes of 1 h at 0.3 per node-hour: P(interrupted) = 1 - e^-0.3 = 0.2592.
  auto c = ParseClimate("00:00=0.3");
  ASSERT_TRUE(c.ok());
  Rng rng(42);
  int hits = 0;
  for (int i = 0; i < 2000; ++i) {
    Micros at = c->InterruptionTime(0, rng.Exponential(1.0));
    if (at >= 0 && at < 3600 * kSec) ++hits;
  }
  double p = 1 - std::exp(-0.3);
  double sd = std::sqrt(2000 * p * (1 - p));
  EXPECT_NEAR(hits, 2000 * p, 4 * sd);
}

TEST(Spot, InterruptedContainerIsRetriedOnOnDemandByAdapt) {
  Trace t;
  t.jobs = {Container("j1", 0, 1, 2, 3 * 3600)};
  SimConfig cfg = Calm();
  auto storm = ParseClimate("00:00=20");  // a spot node lives ~3 minutes
  ASSERT_TRUE(storm.ok());
  cfg.climate = *storm;
  Policy p = TugboatPolicy();  // capacity auto: spot first
  auto r = Simulate(t, p, cfg);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->succeeded, 1);
  EXPECT_GE(r->spot_interruptions, 1);
  EXPECT_GE(r->pods_lost, 1);
  EXPECT_EQ(r->attempt_failures["node_loss"], 1);
  EXPECT_EQ(r->rules["node_loss.on_demand"], 1);
  EXPECT_GT(r->books.node_hours_on_demand, 2.9);
  // Without adapt the retry stays on spot and keeps losing its node.
  Policy plain = AutoscaledPolicy();
  plain.capacity = "spot";
  auto q = Simulate(t, plain, cfg);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->failed_by["node_loss"], 1);
  EXPECT_EQ(q->attempts, 3);
}

// ---------------------------------------------------------------- OOM

TEST(Oom, PeakAboveLimitFailsAtPeakAt) {
  Trace t;
  TraceJob j = Container("j1", 0, 1, 4, 1000, 5);  // peaks at 5Gi, limit 4Gi
  j.peak_at = 0.5;
  t.jobs = {j};
  SimConfig cfg = Calm();
  Policy plain = StaticPolicy();
  plain.static_nodes = 1;
  auto r = Simulate(t, plain, cfg);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failed_by["oom"], 1);
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(r->attempt_failures["batch_container_oom"], 3);
  // 3 × 500 s up to the OOM + 2 × 60 s between them.
  EXPECT_EQ(r->end, (3 * 500 + 2 * 60) * kSec);
  // The wasted node time is the pod's dominant share (1 cpu of 4) × 1500 s.
  EXPECT_NEAR(r->wasted_node_hours, 0.25 * 1500 / 3600.0, 1e-9);
}

TEST(Oom, AtOrBelowTheLimitSucceeds) {
  Trace t;
  t.jobs = {Container("j1", 0, 1, 4, 100, 4)};
  Policy plain = StaticPolicy();
  plain.static_nodes = 1;
  auto r = Simulate(t, plain, Calm());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->succeeded, 1);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(r->end, 100 * kSec);
}

TEST(Oom, StaticClusterIsSizedForThePeak) {
  Trace t;
  for (int i = 0; i < 6; ++i) t.jobs.push_back(Container("j" + std::to_string(i), 0, 2, 4, 100));
  auto s = SizeStaticCluster(t, StaticPolicy(), {Type("t", 4, 16)});
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->peak_cpu, 12);
  EXPECT_EQ(s->nodes, 4);  // 12 cores / 4 = 3, × 1.1 headroom, rounded up
  EXPECT_FALSE(SizeStaticCluster(t, StaticPolicy(), {Type("tiny", 1, 1)}).ok());
}

}  // namespace
}  // namespace tug::sim
