#include "engine/emr/job_run.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace tug::engine::emr {
namespace {

EmrSettings Settings() {
  EmrSettings s;
  s.virtual_cluster_id = "vc123";
  s.execution_role_arn = "arn:aws:iam::123456789012:role/tug-jobs";
  s.release_labels = {{"3.5", "emr-7.1.0-latest"}, {"3.3", "emr-6.10.0-latest"}};
  s.log_uri = "s3://tug-emr-logs/jobs";
  return s;
}

LaunchSpec Spark() {
  LaunchSpec spec;
  spec.run_id = "01hf7yat0009ca7jvkrtmknftn";
  spec.attempt_id = "01hf7yat0009ca7jvkrtmknftn-2";
  spec.attempt_number = 2;
  spec.definition = "nightly-etl";
  spec.kind = "spark";
  spec.spark.version = "3.5";
  spec.spark.main = "s3://code/etl.py";
  spec.spark.args = {"--date", "2026-12-06"};
  spec.spark.py_files = {"s3://code/lib.zip"};
  spec.spark.conf = {{"spark.sql.shuffle.partitions", "400"}, {"spark.executor.memory", "1g"}};
  spec.resources.spark.driver = {2000, int64_t{4} << 30, 0};
  spec.resources.spark.executor = {1500, int64_t{8} << 30, int64_t{1} << 30};
  spec.resources.spark.instances = 10;
  spec.placement.capacity = "on-demand";
  spec.placement.executor_capacity = "spot";
  return spec;
}

TEST(EmrJobRun, StartJobRunBodyCarriesThePlannersChoices) {
  auto body = StartJobRunBody(Spark(), Settings());
  ASSERT_TRUE(body.ok()) << body.error().ToString();
  const auto& b = *body;
  EXPECT_EQ(b.at("name").as_string(), "nightly-etl-2");
  EXPECT_EQ(b.at("virtualClusterId").as_string(), "vc123");
  EXPECT_EQ(b.at("clientToken").as_string(), "01hf7yat0009ca7jvkrtmknftn-2");
  EXPECT_EQ(b.at("releaseLabel").as_string(), "emr-7.1.0-latest");
  EXPECT_EQ(b.at("executionRoleArn").as_string(), "arn:aws:iam::123456789012:role/tug-jobs");
  const auto& driver = b.at("jobDriver").at("sparkSubmitJobDriver").as_object();
  EXPECT_EQ(driver.at("entryPoint").as_string(), "s3://code/etl.py");
  EXPECT_EQ(boost::json::serialize(driver.at("entryPointArguments")), R"(["--date","2026-12-06"])");
  EXPECT_EQ(driver.at("sparkSubmitParameters").as_string(), "--py-files s3://code/lib.zip");
  const auto& overrides = b.at("configurationOverrides").as_object();
  const auto& app = overrides.at("applicationConfiguration").as_array().at(0).as_object();
  EXPECT_EQ(app.at("classification").as_string(), "spark-defaults");
  const auto& p = app.at("properties").as_object();
  EXPECT_EQ(p.at("spark.driver.memory").as_string(), "4096m");
  EXPECT_EQ(p.at("spark.driver.cores").as_string(), "2");
  EXPECT_EQ(p.at("spark.executor.memory").as_string(), "8192m");  // the planner wins
  EXPECT_EQ(p.at("spark.executor.memoryOverhead").as_string(), "1024m");
  EXPECT_EQ(p.at("spark.executor.cores").as_string(), "2");  // 1.5 cores rounds up
  EXPECT_EQ(p.at("spark.executor.instances").as_string(), "10");
  EXPECT_EQ(p.at("spark.sql.shuffle.partitions").as_string(), "400");
  EXPECT_EQ(
      p.at("spark.kubernetes.executor.node.selector.eks.amazonaws.com/capacityType").as_string(),
      "SPOT");
  EXPECT_EQ(
      p.at("spark.kubernetes.driver.node.selector.eks.amazonaws.com/capacityType").as_string(),
      "ON_DEMAND");
  EXPECT_EQ(overrides.at("monitoringConfiguration")
                .at("s3MonitoringConfiguration")
                .at("logUri")
                .as_string(),
            "s3://tug-emr-logs/jobs");
  EXPECT_EQ(b.at("tags").at("tugboat.attempt").as_string(), "01hf7yat0009ca7jvkrtmknftn-2");
}

TEST(EmrJobRun, StartJobRunBodyRefusesWhatCannotRun) {
  LaunchSpec container = Spark();
  container.kind = "container";
  EXPECT_EQ(StartJobRunBody(container, Settings()).error().code(), Code::kInvalidArgument);
  LaunchSpec unknown = Spark();
  unknown.spark.version = "2.4";
  auto no_label = StartJobRunBody(unknown, Settings());
  ASSERT_FALSE(no_label.ok());
  EXPECT_EQ(no_label.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(no_label.error().message().find("release_labels"), std::string::npos);
  EmrSettings with_default = Settings();
  with_default.default_release_label = "emr-6.15.0-latest";
  EXPECT_EQ(StartJobRunBody(unknown, with_default)->at("releaseLabel").as_string(),
            "emr-6.15.0-latest");
  LaunchSpec patch = Spark();
  patch.spark.version = "3.5.1";
  EXPECT_EQ(StartJobRunBody(patch, Settings())->at("releaseLabel").as_string(), "emr-7.1.0-latest");
  EmrSettings no_role = Settings();
  no_role.execution_role_arn.clear();
  EXPECT_EQ(StartJobRunBody(Spark(), no_role).error().code(), Code::kFailedPrecondition);
  LaunchSpec gpu = Spark();
  gpu.resources.gpu = 1;  // GPUs are scheduled on the spark engine only
  auto no_gpu = StartJobRunBody(gpu, Settings());
  ASSERT_FALSE(no_gpu.ok());
  EXPECT_EQ(no_gpu.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(no_gpu.error().message().find("spark engine"), std::string::npos);
}

struct PhaseCase {
  const char* state;
  const char* failure_reason;
  bool started;
  bool ended;
  AttemptStatus status;
  std::string_view reason;
};

TEST(EmrJobRun, StatesAndFailureReasonsMapToAttemptEnds) {
  const PhaseCase cases[] = {
      {"PENDING", "", false, false, AttemptStatus::kLaunching, ""},
      {"SUBMITTED", "", false, false, AttemptStatus::kLaunching, ""},
      {"RUNNING", "", true, false, AttemptStatus::kRunning, ""},
      {"CANCEL_PENDING", "", true, false, AttemptStatus::kRunning, ""},
      {"COMPLETED", "", true, true, AttemptStatus::kSucceeded, reason::kCompleted},
      {"CANCELLED", "", false, true, AttemptStatus::kStopped, reason::kStopped},
      {"FAILED", "USER_ERROR", true, true, AttemptStatus::kFailed, reason::kError},
      {"FAILED", "VALIDATION_ERROR", false, true, AttemptStatus::kFailed, reason::kInvalidSpec},
      {"FAILED", "CLUSTER_UNAVAILABLE", false, true, AttemptStatus::kFailed, reason::kLaunchFailed},
      {"FAILED", "INTERNAL_ERROR", false, true, AttemptStatus::kFailed, reason::kError},
      {"FAILED", "SOMETHING_NEW", false, true, AttemptStatus::kFailed, reason::kError},
  };
  for (const auto& c : cases) {
    auto p = PhaseOf(c.state, c.failure_reason, "details");
    ASSERT_TRUE(p.ok()) << c.state;
    EXPECT_EQ(p->started, c.started) << c.state << " " << c.failure_reason;
    EXPECT_EQ(p->ended, c.ended) << c.state << " " << c.failure_reason;
    EXPECT_EQ(p->status, c.status) << c.state << " " << c.failure_reason;
    EXPECT_EQ(p->outcome.reason, c.reason) << c.state << " " << c.failure_reason;
  }
  EXPECT_EQ(PhaseOf("FAILED", "USER_ERROR", "Job failed")->outcome.message,
            "EMR USER_ERROR: Job failed");
  EXPECT_EQ(PhaseOf("FAILED", "USER_ERROR", "x")->outcome.exit_code, 1);
  EXPECT_FALSE(PhaseOf("FAILED", "INTERNAL_ERROR", "x")->outcome.exit_code.has_value());
  EXPECT_EQ(PhaseOf("EXPLODED", "", "").error().code(), Code::kInvalidArgument);
}

TEST(EmrJobRun, EndLinesNameTheFailureReason) {
  EXPECT_EQ(JobRunEndLine("0000000abc", "FAILED", "CLUSTER_UNAVAILABLE", "cluster gone"),
            "job run 0000000abc FAILED (failureReason CLUSTER_UNAVAILABLE): cluster gone");
  EXPECT_EQ(JobRunEndLine("0000000abc", "COMPLETED", "", ""), "job run 0000000abc COMPLETED");
}

TEST(EmrJobRun, NamesFitTheServiceModel) {
  LaunchSpec spec = Spark();
  spec.definition = "team:etl nightly";
  EXPECT_EQ(JobRunName(spec), "team-etl-nightly-2");
  spec.definition = std::string(80, 'a');
  spec.attempt_number = 12;
  std::string name = JobRunName(spec);
  EXPECT_EQ(name.size(), 64u);
  EXPECT_TRUE(name.ends_with("a-12")) << name;
}

TEST(EmrJobRun, EnvironmentAndSecretReferencesBecomeConfs) {
  LaunchSpec spec = Spark();
  spec.env = {{"STAGE", "prod"}};
  spec.secret_env["DB_PASSWORD"] = SecretEnv{"", "db", "password"};
  auto body = StartJobRunBody(spec, Settings());
  ASSERT_TRUE(body.ok()) << body.error().ToString();
  const auto& p = body->at("configurationOverrides")
                      .at("applicationConfiguration")
                      .as_array()
                      .at(0)
                      .at("properties")
                      .as_object();
  EXPECT_EQ(p.at("spark.kubernetes.driverEnv.STAGE").as_string(), "prod");
  EXPECT_EQ(p.at("spark.executorEnv.STAGE").as_string(), "prod");
  EXPECT_EQ(p.at("spark.kubernetes.driver.secretKeyRef.DB_PASSWORD").as_string(), "db:password");
  EXPECT_EQ(p.at("spark.kubernetes.executor.secretKeyRef.DB_PASSWORD").as_string(), "db:password");
}

TEST(EmrJobRun, StartJobRunBodyRefusesWhatTheServiceModelRefuses) {
  LaunchSpec blank = Spark();
  blank.spark.conf["spark.foo"] = " ";
  auto refused = StartJobRunBody(blank, Settings());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.error().message().find("'spark.foo'"), std::string::npos);

  LaunchSpec many = Spark();
  for (int i = 0; i < 100; ++i) many.spark.conf["spark.x" + std::to_string(i)] = "1";
  auto too_many = StartJobRunBody(many, Settings());
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message().find("at most 100"), std::string::npos);

  LaunchSpec inline_secret = Spark();
  inline_secret.secret_env["TOKEN"] = SecretEnv{"hunter2", "", ""};
  auto secret = StartJobRunBody(inline_secret, Settings());
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().message().find("hunter2"), std::string::npos);
  EXPECT_NE(secret.error().message().find("secretKeyRef"), std::string::npos);
}

TEST(EmrJobRun, DriverExitComesFromTheJobRunnersFinalStatuses) {
  // Spark 3 (KubernetesUtils.containersDescription): lower-case keys, a termination reason.
  const std::string spark3 =
      "23/12/06 10:00:01 INFO LoggingPodStatusWatcherImpl: State changed, new state:\n"
      "\t pod name: etl-driver\n"
      "\t phase: Running\n"
      "23/12/06 10:05:00 INFO LoggingPodStatusWatcherImpl: Container final statuses:\n"
      "\n"
      "\n"
      "\t\t container name: spark-kubernetes-driver\n"
      "\t\t container image: 755674844232.dkr.ecr.us-east-1.amazonaws.com/spark/emr-7.1.0\n"
      "\t\t container state: terminated\n"
      "\t\t container started at: 2023-12-06T10:00:30Z\n"
      "\t\t container finished at: 2023-12-06T10:04:59Z\n"
      "\t\t exit code: 137\n"
      "\t\t termination reason: OOMKilled\n"
      "23/12/06 10:05:00 INFO LoggingPodStatusWatcherImpl: Application etl finished\n";
  auto d = DriverExitFromJobRunnerLog(spark3);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->exit_code, 137);
  EXPECT_EQ(d->reason, "OOMKilled");
  // Spark 2: capitalised keys, no termination reason; a sidecar's status is not the driver's.
  const std::string spark2 =
      "INFO LoggingPodStatusWatcherImpl: Container final statuses:\n"
      "\n"
      "\t Container name: fluentd\n"
      "\t Exit code: 0\n"
      "\n"
      "\t Container name: spark-kubernetes-driver\n"
      "\t Container state: Terminated\n"
      "\t Exit code: 3\n";
  d = DriverExitFromJobRunnerLog(spark2);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->exit_code, 3);
  EXPECT_EQ(d->reason, "");
  EXPECT_FALSE(DriverExitFromJobRunnerLog("exit code: 3\nno final statuses here\n").has_value());
  EXPECT_FALSE(DriverExitFromJobRunnerLog("").has_value());
}

TEST(EmrJobRun, PollingBacksOff) {
  EXPECT_EQ(NextPollDelay("PENDING", 0, 0), 5 * kMicrosPerSecond);
  EXPECT_EQ(NextPollDelay("PENDING", 1, 0), 10 * kMicrosPerSecond);
  EXPECT_EQ(NextPollDelay("PENDING", 10, 0), 60 * kMicrosPerSecond);
  EXPECT_EQ(NextPollDelay("RUNNING", 10, 0), 30 * kMicrosPerSecond);
  EXPECT_EQ(NextPollDelay("RUNNING", 10, 1), 5 * kMicrosPerSecond);
  EXPECT_EQ(NextPollDelay("RUNNING", 0, 30), 300 * kMicrosPerSecond);
  EXPECT_EQ(SparkMemoryMiB((int64_t{1} << 20) + 1), "2m");
  PollTiming fast{10'000, 40'000, 80'000, 160'000};
  EXPECT_EQ(NextPollDelay("SUBMITTED", 0, 0, fast), 10'000);
  EXPECT_EQ(NextPollDelay("RUNNING", 5, 0, fast), 40'000);
  EXPECT_EQ(NextPollDelay("SUBMITTED", 5, 0, fast), 80'000);
  EXPECT_EQ(NextPollDelay("RUNNING", 0, 9, fast), 160'000);
}

}  // namespace
}  // namespace tug::engine::emr
