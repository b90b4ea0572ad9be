// Issue 26: the planner counts GPUs — GPU runs go on-demand unless the definition asks for spot,
// keep their GPUs across retries, and the never-fits check (Validate against the limits) refuses
// more GPUs than a container may have.
#include <gtest/gtest.h>

#include "adapt/adapt.h"
#include "adapt/adapt_test_util.h"

namespace tug::adapt::testing {
namespace {

Definition GpuContainer(int64_t gpu) {
  Definition d = Container(4 * kGi);
  d.resources.gpu = gpu;
  return d;
}

TEST(AdaptGpuTest, GpuRunsGoOnDemandByDefault) {
  const Decision d = PlanFirst(GpuContainer(2), {}, {}, {}, Platform{}, kNow);
  EXPECT_EQ(d.resources.gpu, 2);
  EXPECT_EQ(d.placement.capacity, "on-demand");
  EXPECT_NE(d.sentence.find("GPU runs default to on-demand"), std::string::npos) << d.sentence;

  const Decision cpu = PlanFirst(GpuContainer(0), {}, {}, {}, Platform{}, kNow);
  EXPECT_EQ(cpu.placement.capacity, "spot");
}

TEST(AdaptGpuTest, SpotWhenTheDefinitionAsksForIt) {
  Definition d = GpuContainer(1);
  d.adapt.capacity = "spot";
  EXPECT_EQ(PlanFirst(d, {}, {}, {}, Platform{}, kNow).placement.capacity, "spot");
}

TEST(AdaptGpuTest, RetriesKeepGpusAndOnDemand) {
  const Definition d = GpuContainer(4);
  std::vector<Attempt> attempts = Attempts(d, {Oom(4 * kGi)});
  attempts[0].placement = {"on-demand", ""};
  const Decision next = PlanRetry(d, attempts, {}, Platform{});
  ASSERT_TRUE(next.retry) << next.sentence;
  EXPECT_EQ(next.resources.gpu, 4);
  EXPECT_GT(next.resources.memory_bytes, 4 * kGi);
  EXPECT_EQ(next.placement.capacity, "on-demand");
}

TEST(AdaptGpuTest, NeverFitsCountsGpus) {
  Limits limits;
  limits.max_gpu = 8;
  Definition d = GpuContainer(8);
  EXPECT_TRUE(Validate(d, limits).ok());
  d.resources.gpu = 9;
  Status too_many = Validate(d, limits);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(too_many.error().message().find("resources.gpu 9 exceeds the most allowed (8)"),
            std::string::npos)
      << too_many.error().message();
  d.resources.gpu = -1;
  EXPECT_EQ(Validate(d, limits).error().code(), Code::kInvalidArgument);
  Definition spark = Spark();
  spark.resources.gpu = 1;
  Status no_spark = Validate(spark, limits);
  ASSERT_FALSE(no_spark.ok());
  EXPECT_NE(no_spark.error().message().find("resources.gpu is for container jobs"),
            std::string::npos);
}

}  // namespace
}  // namespace tug::adapt::testing
