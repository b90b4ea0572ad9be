// Pricing: dominant share × hourly price × time, for containers, Spark and flat rates.
#include "cost/pricing.h"

#include <vector>

#include <gtest/gtest.h>

namespace tug::cost {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr Micros kHour = Micros{3600} * kMicrosPerSecond;

PriceBook Book() {
  PriceBook b;
  b.types = {{"small", 4000, 16 * kGiB, 1.0, 0.25}, {"big", 16000, 64 * kGiB, 4.0, 1.0}};
  b.default_type = "small";
  return b;
}

Attempt Container(int64_t cpu_millis, int64_t mem, Micros started, Micros ended,
                  AttemptStatus status = AttemptStatus::kSucceeded) {
  Attempt a;
  a.id = "r-1";
  a.number = 1;
  a.status = status;
  a.engine = "kubernetes";  // a pod on a cluster node (the local engine is never spot)
  a.resources.cpu_millis = cpu_millis;
  a.resources.memory_bytes = mem;
  a.started_at = started;
  a.ended_at = ended;
  return a;
}

TEST(Pricing, ShareIsTheDominantOfCpuAndMemory) {
  NodePrice n{"small", 4000, 16 * kGiB, 1.0, 0.25};
  EXPECT_DOUBLE_EQ(ShareOfNode(1000, 1 * kGiB, n), 0.25);  // cpu dominates
  EXPECT_DOUBLE_EQ(ShareOfNode(1000, 8 * kGiB, n), 0.5);   // memory dominates
  EXPECT_DOUBLE_EQ(ShareOfNode(8000, 1 * kGiB, n), 2.0);   // bigger than the node
  EXPECT_DOUBLE_EQ(ShareOfNode(-5, -5, n), 0.0);
  EXPECT_DOUBLE_EQ(PodCost(1000, 8 * kGiB, n, false, 3600), 0.5);
  EXPECT_DOUBLE_EQ(PodCost(1000, 8 * kGiB, n, true, 3600), 0.125);
  EXPECT_DOUBLE_EQ(PodCost(1000, 8 * kGiB, n, true, 0), 0.0);
}

// On a GPU node the GPUs are a third dimension of the share: a 1-GPU pod on a 4-GPU node holds
// a quarter of it however little cpu and memory it asks for.
TEST(Pricing, GpuShareCountsOnGpuNodesOnly) {
  NodePrice gpu{"g", 48000, 192 * kGiB, 8.0, 2.0, 4};
  struct Case {
    int64_t cpu, mem, gpus;
    double share;
  };
  for (const Case& c : std::vector<Case>{{1000, 1 * kGiB, 1, 0.25},
                                         {1000, 1 * kGiB, 4, 1.0},
                                         {24000, 1 * kGiB, 1, 0.5},  // cpu dominates
                                         {1000, 1 * kGiB, 0, 1000.0 / 48000}}) {
    EXPECT_DOUBLE_EQ(ShareOfNode(c.cpu, c.mem, c.gpus, gpu), c.share) << c.gpus;
  }
  EXPECT_DOUBLE_EQ(PodCost(1000, kGiB, 2, gpu, false, 3600), 4.0);
  EXPECT_DOUBLE_EQ(PodCost(1000, kGiB, 2, gpu, true, 1800), 0.5);
  // A node without GPUs: the GPU term does not apply (the two-resource share).
  NodePrice cpu_node{"small", 4000, 16 * kGiB, 1.0, 0.25};
  EXPECT_DOUBLE_EQ(ShareOfNode(1000, kGiB, 1, cpu_node), ShareOfNode(1000, kGiB, cpu_node));
  // The default GPU types: whole GPUs, allocatable below capacity, prices ordered with size.
  std::vector<NodePrice> types = DefaultGpuPrices(0.5);
  ASSERT_EQ(types.size(), 4u);
  for (const NodePrice& t : types) {
    EXPECT_GT(t.gpus, 0) << t.type;
    EXPECT_DOUBLE_EQ(t.spot_hourly, t.on_demand_hourly * 0.5) << t.type;
  }
  EXPECT_EQ(types[0].type, "g5.xlarge");
  EXPECT_EQ(types[0].cpu_millis, 3750);
}

TEST(Pricing, GpuAttemptsArePricedOnAGpuNodeOrAtTheGpuRate) {
  PriceBook b = Book();  // no GPU types: the built-in GPU list applies
  Attempt a = Container(1000, 4 * kGiB, kHour, 3 * kHour);
  a.resources.gpu = 1;
  AttemptCost c = PriceAttempt(b, a, "container", 10 * kHour);
  // The whole of a g5.xlarge (its one GPU) for 2 h at $1.006/h.
  EXPECT_DOUBLE_EQ(c.usd, 2 * 1.006);
  EXPECT_EQ(c.basis,
            "requested 1 cpu / 4Gi / 1 GPU on g5.xlarge on-demand ($1.006/h, share 1); 2.00 h");
  a.resources.gpu = 2;  // the cheapest built-in type with 2 or more: half a g5.12xlarge (4 GPUs)
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", 10 * kHour).usd, 0.5 * 5.672 * 2);
  // A configured type with enough GPUs wins over the built-in list when it is cheaper.
  b.types.push_back({"gpu8", 96000, 768 * kGiB, 16.0, 4.0, 8});
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", 10 * kHour).usd, 0.25 * 16.0 * 2);
  // Spark: GPUs per executor, none for the driver.
  Attempt sp = Container(0, 0, kHour, 2 * kHour);
  sp.resources.gpu = 1;
  sp.resources.spark.driver = {1000, 3 * kGiB, kGiB};        // 4Gi on small: share 0.25
  sp.resources.spark.executor = {2000, 6 * kGiB, 2 * kGiB};  // 1 of gpu8's 8 GPUs: 0.125
  sp.resources.spark.instances = 2;
  AttemptCost s = PriceAttempt(b, sp, "spark", 3 * kHour);
  EXPECT_DOUBLE_EQ(s.usd, 0.25 * 1.0 + 2 * 0.125 * 16.0);
  EXPECT_NE(s.basis.find("2 executors × 2 cpu / 8Gi / 1 GPU on gpu8"), std::string::npos)
      << s.basis;
  // Flat rates: gpu_hourly per GPU, and a basis that says when GPUs are not priced.
  PriceBook flat;
  flat.cpu_hourly = 0.04;
  flat.gib_hourly = 0.005;
  Attempt f = Container(1000, 2 * kGiB, kHour, 2 * kHour);
  f.resources.gpu = 2;
  AttemptCost unpriced = PriceAttempt(flat, f, "container", 3 * kHour);
  EXPECT_DOUBLE_EQ(unpriced.usd, 0.04 + 2 * 0.005);
  EXPECT_NE(unpriced.basis.find("GPUs not priced"), std::string::npos) << unpriced.basis;
  flat.gpu_hourly = 0.5;
  EXPECT_DOUBLE_EQ(PriceAttempt(flat, f, "container", 3 * kHour).usd, 0.04 + 2 * 0.005 + 2 * 0.5);
}

TEST(Pricing, ContainerOnTheDefaultTypeOnDemandAndSpot) {
  PriceBook b = Book();
  Attempt a = Container(2000, 4 * kGiB, kHour, 3 * kHour);  // half a small node, 2 h
  AttemptCost c = PriceAttempt(b, a, "container", 10 * kHour);
  EXPECT_DOUBLE_EQ(c.usd, 1.0);
  EXPECT_DOUBLE_EQ(c.seconds, 7200);
  EXPECT_FALSE(c.running);
  EXPECT_EQ(c.basis, "requested 2 cpu / 4Gi on small on-demand ($1/h, share 0.5); 2.00 h");
  a.placement.capacity = "spot";
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", 10 * kHour).usd, 0.25);
  b.default_type = "big";
  a.placement.capacity = "on-demand";
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", 10 * kHour).usd, 1.0);  // 1/8 of $4 × 2 h
}

TEST(Pricing, RunningAttemptIsPricedToNowAndUnstartedIsFree) {
  PriceBook b = Book();
  Attempt a = Container(4000, kGiB, kHour, 0, AttemptStatus::kRunning);
  AttemptCost c = PriceAttempt(b, a, "container", kHour + 30 * 60 * kMicrosPerSecond);
  EXPECT_TRUE(c.running);
  EXPECT_DOUBLE_EQ(c.usd, 0.5);
  EXPECT_NE(c.basis.find("so far"), std::string::npos) << c.basis;
  Attempt q = Container(4000, kGiB, 0, 0, AttemptStatus::kQueued);  // started_at 0: not yet
  EXPECT_DOUBLE_EQ(PriceAttempt(b, q, "container", kHour).usd, 0.0);
}

TEST(Pricing, ContainerWithoutRequestsHoldsTheEngineDefault) {
  PriceBook b = Book();
  Attempt a = Container(0, 0, kHour, 2 * kHour);
  // 100m of 4 cpu = 0.025 > 64Mi of 16Gi.
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", 3 * kHour).usd, 0.025);
}

TEST(Pricing, SparkIsDriverPlusExecutorsWithOverheadEachOnItsCapacity) {
  PriceBook b = Book();
  Attempt a = Container(0, 0, kHour, 2 * kHour);
  a.resources.spark.driver = {1000, 3 * kGiB, kGiB};        // pod 4Gi: share 0.25
  a.resources.spark.executor = {2000, 6 * kGiB, 2 * kGiB};  // pod 8Gi: share 0.5
  a.resources.spark.instances = 4;
  a.placement.capacity = "on-demand";
  a.placement.executor_capacity = "spot";
  AttemptCost c = PriceAttempt(b, a, "spark", 3 * kHour);
  // driver 0.25 × $1 + 4 × 0.5 × $0.25 = 0.25 + 0.5.
  EXPECT_DOUBLE_EQ(c.usd, 0.75);
  EXPECT_NE(c.basis.find("driver 1 cpu / 4Gi on small on-demand"), std::string::npos) << c.basis;
  EXPECT_NE(c.basis.find("4 executors × 2 cpu / 8Gi on small spot"), std::string::npos) << c.basis;
  // Spark's default overhead (max(384Mi, 10 %)) counts when none is set.
  a.resources.spark.driver = {500, 3 * kGiB, 0};  // memory dominates
  a.resources.spark.instances = 0;
  EXPECT_NEAR(PriceAttempt(b, a, "spark", 3 * kHour).usd,
              (3.0 * kGiB + 384.0 * (1 << 20)) / (16.0 * kGiB), 1e-12);
}

TEST(Pricing, FlatRates) {
  PriceBook b;
  b.cpu_hourly = 0.04;
  b.gib_hourly = 0.005;
  b.spot_fraction = 0.5;
  ASSERT_TRUE(Validate(b).ok());
  Attempt a = Container(2000, 4 * kGiB, kHour, 2 * kHour);
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd, 2 * 0.04 + 4 * 0.005);
  a.placement.capacity = "spot";
  AttemptCost c = PriceAttempt(b, a, "container", kHour);
  EXPECT_DOUBLE_EQ(c.usd, (2 * 0.04 + 4 * 0.005) * 0.5);
  EXPECT_NE(c.basis.find("spot at"), std::string::npos) << c.basis;
}

TEST(Pricing, RunTotalsAndRetriesApart) {
  PriceBook b = Book();
  tug::Run r;
  r.spec.kind = "container";
  r.attempts.push_back(Container(2000, kGiB, kHour, 2 * kHour, AttemptStatus::kFailed));    // $0.5
  r.attempts.push_back(Container(2000, kGiB, 2 * kHour, 3 * kHour, AttemptStatus::kLost));  // $0.5
  r.attempts.push_back(Container(4000, kGiB, 3 * kHour, 4 * kHour));                        // $1
  r.attempts[1].id = "r-2";
  r.attempts[2].id = "r-3";
  RunCost c = PriceRun(b, r, 4 * kHour);
  EXPECT_DOUBLE_EQ(c.usd, 2.0);
  EXPECT_DOUBLE_EQ(c.failed_usd, 1.0);
  ASSERT_EQ(c.attempts.size(), 3u);
  EXPECT_TRUE(c.attempts[0].failed);
  EXPECT_TRUE(c.attempts[1].failed);
  EXPECT_FALSE(c.attempts[2].failed);
  EXPECT_EQ(c.attempts[2].attempt_id, "r-3");
}

TEST(Pricing, ValidateNamesTheBadField) {
  EXPECT_TRUE(Validate(DefaultPriceBook()).ok());
  EXPECT_TRUE(Validate(PriceBook{}).ok());
  EXPECT_TRUE(PriceBook{}.empty());
  PriceBook b = Book();
  b.default_type = "huge";
  EXPECT_NE(Validate(b).error().message().find("cost.default_type 'huge'"), std::string::npos);
  b = Book();
  b.types[1].type = "small";
  EXPECT_NE(Validate(b).error().message().find("listed twice"), std::string::npos);
  b = Book();
  b.types[0].memory_bytes = 0;
  EXPECT_NE(Validate(b).error().message().find("cost.node_types[0]"), std::string::npos);
  b = Book();
  b.types[0].spot_hourly = -1;
  EXPECT_NE(Validate(b).error().message().find("prices must be"), std::string::npos);
  b = Book();
  b.spot_fraction = 0;
  EXPECT_NE(Validate(b).error().message().find("cost.spot_fraction"), std::string::npos);
}

TEST(Pricing, EachEngineOnItsNodeTypeOrFlatRates) {
  PriceBook b = Book();
  b.engines["spark"] = {"big", 0, 0};
  b.engines["local"] = {"", 0.04, 0.005};
  ASSERT_TRUE(Validate(b).ok());
  Attempt a = Container(2000, 4 * kGiB, kHour, 2 * kHour);
  a.engine = "kubernetes";  // no entry: the default type, half a small node
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd, 0.5);
  a.engine = "spark:prod";  // the kind's entry: 1/8 of a big node at $4
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd, 0.5);
  b.engines["spark:prod"] = {"", 1.0, 0};  // the instance's entry wins: 2 cpu at $1
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd, 2.0);
  b.engines.erase("spark:prod");
  a.engine = "spark";
  EXPECT_NE(PriceAttempt(b, a, "container", kHour).basis.find("on big"), std::string::npos);
  a.engine = "local";
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd, 2 * 0.04 + 4 * 0.005);
  // The local engine records the planner's placement, but the server's host has no spot.
  a.placement.capacity = "spot";
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd, 2 * 0.04 + 4 * 0.005);
  b.engines["kubernetes"] = {"", 0.04, 0.005};  // flat rates elsewhere: spot at the fraction
  a.engine = "kubernetes:prod";
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd,
                   (2 * 0.04 + 4 * 0.005) * b.spot_fraction);
}

TEST(Pricing, ServerDefaultPricesTheLocalEngineAtFlatRates) {
  PriceBook b = ServerDefaultPriceBook();
  ASSERT_TRUE(Validate(b).ok());
  Attempt a = Container(1000, kGiB, kHour, 2 * kHour);
  a.engine = "local";
  EXPECT_DOUBLE_EQ(PriceAttempt(b, a, "container", kHour).usd, kLocalCpuHourly + kLocalGibHourly);
  a.engine = "kubernetes";  // m5.4xlarge: cpu dominates, 1 of 15.75 allocatable cores
  EXPECT_NEAR(PriceAttempt(b, a, "container", kHour).usd, 0.768 / 15.75, 1e-12);
}

TEST(Pricing, EngineEntriesAreValidated) {
  PriceBook b = Book();
  b.engines["spark"] = {"huge", 0, 0};
  EXPECT_NE(Validate(b).error().message().find("cost.engines.spark.node_type 'huge'"),
            std::string::npos);
  b.engines["spark"] = {"big", 0.1, 0};
  EXPECT_NE(Validate(b).error().message().find("keep one of them"), std::string::npos);
  b.engines["spark"] = {"", 0, 0};
  EXPECT_NE(Validate(b).error().message().find("cost.engines.spark has no prices"),
            std::string::npos);
  b.engines["spark"] = {"", -1, 1};
  EXPECT_NE(Validate(b).error().message().find("must be finite numbers >= 0"), std::string::npos);
}

TEST(Pricing, UsedBasisPricesTheSamplesInsideTheRunningTime) {
  PriceBook b = Book();  // small: 4 cpu / 16Gi at $1/h on-demand, $0.25 spot
  Attempt a = Container(4000, 16 * kGiB, kHour, 2 * kHour);  // requests a whole node
  a.resources.spark.driver = {1000, kGiB, 0};
  a.placement.capacity = "on-demand";
  a.placement.executor_capacity = "spot";
  const Micros half = 30 * 60 * kMicrosPerSecond;
  std::vector<UsageSlice> usage = {
      {"driver", kHour, half, 1000, kGiB},              // 1/4 node × $1 × 0.5 h
      {"executor-1", kHour + half, 2 * half, 2000, 0},  // 1/2 × $0.25, clipped to 0.5 h
      {"driver", 0, kHour, 4000, kGiB},                 // before the start: not priced
  };
  AttemptCost c = PriceAttemptUsed(b, a, "spark", usage, 3 * kHour);
  EXPECT_DOUBLE_EQ(c.usd, 0.25 * 0.5 + 0.5 * 0.25 * 0.5);
  EXPECT_NE(c.basis.find("used cpu (mean) / memory (peak) of 2 components"), std::string::npos)
      << c.basis;
  // Without samples it is the request, and says so.
  AttemptCost r = PriceAttemptUsed(b, a, "container", {}, 3 * kHour);
  EXPECT_DOUBLE_EQ(r.usd, PriceAttempt(b, a, "container", 3 * kHour).usd);
  EXPECT_TRUE(r.basis.starts_with("no usage samples, priced as requested")) << r.basis;
}

TEST(Pricing, BasisNamesAndMoneyForPeople) {
  EXPECT_EQ(*ParseShareBasis("used"), ShareBasis::kUsed);
  EXPECT_EQ(*ParseShareBasis("requested"), ShareBasis::kRequested);
  EXPECT_NE(ParseShareBasis("peak").error().message().find("use requested or used"),
            std::string::npos);
  EXPECT_EQ(ToString(ShareBasis::kUsed), "used");
  EXPECT_EQ(FormatUsd(0), "$0");
  EXPECT_EQ(FormatUsd(12.345), "$12.35");
  EXPECT_EQ(FormatUsd(0.0042), "$0.0042");
  EXPECT_EQ(FormatUsd(0.0000012345), "$0.0000012");
  Attempt a;
  EXPECT_EQ(KindOf(a), "container");
  a.resources.spark.instances = 2;
  EXPECT_EQ(KindOf(a), "spark");
}

}  // namespace
}  // namespace tug::cost
