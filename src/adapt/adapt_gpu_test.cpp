// Issue 26: the planner counts GPUs — GPU runs go on-demand unless the definition asks for spot,
// keep their GPUs across retries, and the never-fits check (Validate against the limits) refuses
// more GPUs than a container (or a Spark executor) may have.
#include <string>
#include <utility>
#include <vector>

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
}

// Spark: resources.gpu is GPUs per executor. Executors go on-demand by default like any GPU
// run (the driver always is), keep their GPUs on retries, and the GPU confs that Tugboat sets
// are refused in a definition's spark.conf with what to set instead.
TEST(AdaptGpuTest, SparkExecutorsGetGpusOnDemand) {
  Limits limits;
  limits.max_gpu = 4;
  Definition spark = Spark();
  spark.resources.gpu = 1;
  ASSERT_TRUE(Validate(spark, limits).ok());
  const Decision d = PlanFirst(spark, {}, {}, {}, Platform{}, kNow);
  EXPECT_EQ(d.resources.gpu, 1);
  EXPECT_EQ(d.placement.capacity, "on-demand");
  EXPECT_EQ(d.placement.executor_capacity, "on-demand");
  const Decision cpu = PlanFirst(Spark(), {}, {}, {}, Platform{}, kNow);
  EXPECT_EQ(cpu.placement.executor_capacity, "spot");

  spark.resources.gpu = 5;
  EXPECT_EQ(Validate(spark, limits).error().code(), Code::kFailedPrecondition);
  spark.resources.gpu = 1;
  for (const auto& [key, hint] : std::vector<std::pair<std::string, std::string>>{
           {"spark.executor.resource.gpu.amount", "set resources.gpu"},
           {"spark.driver.resource.gpu.amount", "drivers get no GPUs"},
           {"spark.kubernetes.executor.podTemplateFile", "cannot be used with resources.gpu"}}) {
    Definition bad = spark;
    bad.spark.conf[key] = "1";
    Status st = Validate(bad, limits);
    ASSERT_FALSE(st.ok()) << key;
    EXPECT_NE(st.error().message().find(hint), std::string::npos) << st.error().message();
  }
  // A definition may pick its own discovery script and task share.
  Definition own = spark;
  own.spark.conf["spark.task.resource.gpu.amount"] = "0.5";
  own.spark.conf["spark.executor.resource.gpu.discoveryScript"] = "/opt/gpus.sh";
  EXPECT_TRUE(Validate(own, limits).ok());
  // Without GPUs a definition's own executor pod template stays allowed.
  Definition tpl = Spark();
  tpl.spark.conf["spark.kubernetes.executor.podTemplateFile"] = "/opt/t.yaml";
  EXPECT_TRUE(Validate(tpl, limits).ok());
}

}  // namespace
}  // namespace tug::adapt::testing
