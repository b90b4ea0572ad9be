#include "core/model.h"

#include <gtest/gtest.h>

namespace tug {
namespace {

constexpr AttemptStatus kAll[] = {AttemptStatus::kQueued,  AttemptStatus::kLaunching,
                                  AttemptStatus::kRunning, AttemptStatus::kSucceeded,
                                  AttemptStatus::kFailed,  AttemptStatus::kStopped,
                                  AttemptStatus::kLost};

TEST(StateMachineTest, AttemptTransitionsTable) {
  using S = AttemptStatus;
  struct Case {
    S from;
    S to;
    bool ok;
  };
  const Case cases[] = {
      {S::kQueued, S::kLaunching, true},  {S::kQueued, S::kStopped, true},
      {S::kQueued, S::kRunning, false},   {S::kQueued, S::kSucceeded, false},
      {S::kLaunching, S::kRunning, true}, {S::kLaunching, S::kFailed, true},
      {S::kLaunching, S::kLost, true},    {S::kLaunching, S::kQueued, false},
      {S::kRunning, S::kSucceeded, true}, {S::kRunning, S::kStopped, true},
      {S::kRunning, S::kQueued, false},   {S::kRunning, S::kLaunching, false},
      {S::kSucceeded, S::kFailed, false}, {S::kFailed, S::kRunning, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CanTransition(c.from, c.to), c.ok) << ToString(c.from) << "->" << ToString(c.to);
  }
  for (S s : kAll) {
    EXPECT_FALSE(CanTransition(s, s)) << "self move " << ToString(s);
    if (IsTerminal(s)) {
      for (S t : kAll) EXPECT_FALSE(CanTransition(s, t)) << "terminal " << ToString(s);
    }
  }
}

TEST(StateMachineTest, RunTransitions) {
  using R = RunStatus;
  EXPECT_TRUE(CanTransition(R::kQueued, R::kRunning));
  EXPECT_TRUE(CanTransition(R::kQueued, R::kStopped));
  EXPECT_TRUE(CanTransition(R::kRunning, R::kSucceeded));
  EXPECT_FALSE(CanTransition(R::kSucceeded, R::kRunning));
  EXPECT_FALSE(CanTransition(R::kStopped, R::kQueued));
  // A failed attempt with a planned retry: RUNNING -> RETRYING -> RUNNING (next attempt).
  EXPECT_TRUE(CanTransition(R::kRunning, R::kRetrying));
  EXPECT_TRUE(CanTransition(R::kRetrying, R::kRunning));
  EXPECT_TRUE(CanTransition(R::kRetrying, R::kStopped));
  EXPECT_FALSE(CanTransition(R::kRunning, R::kQueued));
  EXPECT_FALSE(CanTransition(R::kFailed, R::kRetrying));
  EXPECT_EQ(*ParseRunStatus("retrying"), R::kRetrying);
  EXPECT_EQ(RunStatusForFinalAttempt(AttemptStatus::kSucceeded), R::kSucceeded);
  EXPECT_EQ(RunStatusForFinalAttempt(AttemptStatus::kLost), R::kLost);
  EXPECT_EQ(*ParseRunStatus("running"), R::kRunning);
  EXPECT_FALSE(ParseRunStatus("DONE").ok());
}

TEST(ValidateTest, MessagesSayWhatToFix) {
  Limits limits;
  Definition d;
  d.name = "hello";
  d.command = "echo hi";
  EXPECT_TRUE(Validate(d, limits).ok());
  d.resources.memory_bytes = limits.max_memory_bytes * 2;
  auto st = Validate(d, limits);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(st.error().message().find("lower it"), std::string::npos);
  d.resources.memory_bytes = 0;
  d.name = "Bad Name";
  EXPECT_EQ(Validate(d, limits).error().code(), Code::kInvalidArgument);
  d.name = "ok";
  d.command.clear();
  EXPECT_NE(Validate(d, limits).error().message().find("no command"), std::string::npos);
  d.command = "x";
  d.working_dir = "relative";
  EXPECT_FALSE(Validate(d, limits).ok());
}

TEST(ValidateTest, RetryAndAdaptValuesAre422NamingTheField) {
  auto check = [](auto mutate, const char* field) {
    Definition d;
    d.name = "job";
    d.command = "true";
    mutate(d);
    Status st = Validate(d, Limits{});
    ASSERT_FALSE(st.ok()) << field;
    EXPECT_EQ(st.error().code(), Code::kFailedPrecondition) << st.error().message();
    EXPECT_NE(st.error().message().find(field), std::string::npos) << st.error().message();
  };
  check([](Definition& d) { d.retry.max_attempts = 0; }, "retry.max_attempts");
  check([](Definition& d) { d.retry.max_infra_retries = -1; }, "retry.max_infra_retries");
  check([](Definition& d) { d.retry.backoff.max_seconds = 1; }, "retry.backoff.max");
  check([](Definition& d) { d.retry.backoff.multiplier = 0.5; }, "retry.backoff.multiplier");
  check([](Definition& d) { d.adapt.memory_factor = 1; }, "adapt.memory_factor");
  check([](Definition& d) { d.adapt.executor_factor = 9; }, "adapt.executor_factor");
  check([](Definition& d) { d.adapt.rightsizing = "sometimes"; }, "adapt.rightsizing");
  check([](Definition& d) { d.adapt.capacity = "cheap"; }, "adapt.capacity");
  check([](Definition& d) { d.adapt.max_memory_bytes = 1LL << 50; }, "adapt.max_memory");
  check(
      [](Definition& d) {
        d.resources.memory_bytes = 2LL << 30;
        d.adapt.max_memory_bytes = 1LL << 30;
      },
      "adapt.max_memory");
}

TEST(ValidateTest, KubernetesFieldsAre422NamingTheField) {
  auto check = [](auto mutate, const char* field) {
    Definition d;
    d.name = "job";
    d.command = "true";
    d.image = "busybox";
    mutate(d);
    Status st = Validate(d, Limits{});
    ASSERT_FALSE(st.ok()) << field;
    EXPECT_EQ(st.error().code(), Code::kFailedPrecondition) << st.error().message();
    EXPECT_NE(st.error().message().find(field), std::string::npos) << st.error().message();
  };
  check([](Definition& d) { d.engine = "mesos"; }, "engine 'mesos'");
  check(
      [](Definition& d) {
        d.engine = "local";
        d.cluster = "prod";
      },
      "cluster 'prod' needs engine: kubernetes");
  check(
      [](Definition& d) {
        d.engine = "kubernetes";
        d.image.clear();
      },
      "image");
  check([](Definition& d) { d.kubernetes.image_pull_policy = "Sometimes"; },
        "kubernetes.image_pull_policy");
  check(
      [](Definition& d) {
        d.kubernetes.tolerations = {{"k", "Near", "", ""}};
      },
      "kubernetes.tolerations operator");
  check(
      [](Definition& d) {
        d.kubernetes.tolerations = {{"k", "Exists", "v", ""}};
      },
      "operator Exists takes no value");
  check(
      [](Definition& d) {
        d.kubernetes.tolerations = {{"k", "Equal", "v", "Often"}};
      },
      "kubernetes.tolerations effect");
  check([](Definition& d) { d.kubernetes.image_pull_secrets = {""}; },
        "kubernetes.image_pull_secrets");
  Definition ok;
  ok.name = "job";
  ok.command = "true";
  ok.image = "busybox";
  ok.engine = "kubernetes";
  ok.cluster = "prod";
  ok.kubernetes.tolerations = {{"", "Exists", "", ""},
                               {"dedicated", "Equal", "spark", "NoSchedule"}};
  EXPECT_TRUE(Validate(ok, Limits{}).ok());
}

TEST(ValidateTest, SparkRequestsThatCanNeverFitAreRefused) {
  Definition d;
  d.name = "pi";
  d.kind = "spark";
  d.spark.version = "3.5";
  d.spark.main = "local:///opt/spark/examples/src/main/python/pi.py";
  d.resources.spark.driver.memory_bytes = 2LL << 30;
  d.resources.spark.executor.memory_bytes = 4LL << 30;
  d.resources.spark.instances = 3;
  Limits limits;
  limits.max_memory_bytes = 8LL << 30;
  limits.max_executors = 10;
  EXPECT_TRUE(Validate(d, limits).ok());
  Definition big = d;
  big.resources.spark.executor.memory_bytes = 8LL << 30;  // + 819Mi default overhead > 8Gi
  Status st = Validate(big, limits);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(st.error().message().find("spark.executor memory + memoryOverhead"), std::string::npos)
      << st.error().message();
  Definition many = d;
  many.resources.spark.instances = 11;
  EXPECT_FALSE(Validate(many, limits).ok());
  Definition no_main = d;
  no_main.spark.main.clear();
  EXPECT_FALSE(Validate(no_main, limits).ok());
  Definition container_with_spark = d;
  container_with_spark.kind = "container";
  container_with_spark.command = "true";
  EXPECT_FALSE(Validate(container_with_spark, limits).ok());
  EXPECT_EQ(EffectiveOverhead(d.resources.spark.driver), 384LL << 20);
  EXPECT_EQ(EffectiveOverhead(d.resources.spark.executor), (4LL << 30) / 10);
}

TEST(ValidateTest, OverridesApply) {
  Definition d;
  d.env = {{"A", "1"}, {"B", "2"}};
  d.resources = {};
  d.resources.memory_bytes = 64 << 20;
  d.resources.cpu_millis = 500;
  RunOverrides o;
  o.env = {{"B", "3"}};
  o.resources.memory_bytes = 128 << 20;
  Definition out = ApplyOverrides(d, o);
  EXPECT_EQ(out.env.at("A"), "1");
  EXPECT_EQ(out.env.at("B"), "3");
  EXPECT_EQ(out.resources.memory_bytes, 128 << 20);
  EXPECT_EQ(out.resources.cpu_millis, 500);
}

}  // namespace
}  // namespace tug
