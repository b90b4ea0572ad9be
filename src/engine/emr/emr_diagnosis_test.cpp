// From an EMR job run's end to the diagnosis and the retry decision: the outcome PhaseOf gives,
// the `emr` log line and controller component the engine writes (as EmrOnEksEngine::Finish
// does), the real catalog through control::DiagnoseAttempt, then adapt::PlanRetry.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "adapt/adapt.h"
#include "control/attempt_diagnosis.h"
#include "core/json.h"
#include "diagnose/diagnoser.h"
#include "engine/emr/job_run.h"
#include "logs/fs_log_store.h"

namespace tug::engine::emr {
namespace {

class EmrDiagnosisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto d = diagnose::Diagnoser::CreateBuiltin();
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    diagnoser_ = new diagnose::Diagnoser(std::move(*d));
  }
  static void TearDownTestSuite() {
    delete diagnoser_;
    diagnoser_ = nullptr;
  }
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tug-emr-diag-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    logs_ = std::make_unique<logs::FsLogStore>(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Write(const Attempt& a, const std::string& component, const std::string& stream,
             const std::string& text) {
    auto path = logs_->PathFor(a.run_id, a.id, component);
    ASSERT_TRUE(path.ok());
    std::ofstream out(*path, std::ios::app);
    out << "2026-12-07T10:00:00Z " << stream << " " << text << "\n";
  }

  struct Result {
    std::string cls;
    bool retryable = false;
    std::string root_component;
    std::string root_text;
    adapt::Decision decision;
  };
  // One failed job run: its outcome, logs and components as the engine leaves them.
  Result Diagnose(const std::string& failure_reason, const std::string& details,
                  const std::string& driver_log = "") {
    Attempt a;
    // A run of its own per call: the logs of one case must not reach the next.
    a.run_id = "01hf7yat0009ca7jvkrtmknft" + std::to_string(runs_++);
    a.id = a.run_id + "-1";
    a.number = 1;
    auto phase = PhaseOf("FAILED", failure_reason, details);
    EXPECT_TRUE(phase.ok());
    Write(a, "emr", "tugboat", "EMR job run 0000000abc is FAILED (" + failure_reason + ")");
    Write(a, "emr", "tugboat", JobRunEndLine("0000000abc", "FAILED", failure_reason, details));
    if (!driver_log.empty()) Write(a, "driver", "stderr", driver_log);
    ComponentStatus controller;
    controller.name = "controller";
    controller.state = "failed";
    controller.reason = phase->outcome.reason;
    a.components = ComponentsJson({controller});
    a.status = phase->status;
    a.outcome = phase->outcome;
    std::string text =
        control::DiagnoseAttempt(*diagnoser_, *logs_, a, phase->status, phase->outcome);
    Result r;
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    EXPECT_FALSE(ec) << text;
    if (ec) return r;
    const auto& o = v.as_object();
    r.cls = std::string(o.at("class").as_string());
    r.retryable = o.at("retryable").as_bool();
    r.root_component = std::string(o.at("root_cause").at("component").as_string());
    r.root_text = std::string(o.at("root_cause").at("text").as_string());
    a.diagnosis = text;
    Definition spec;
    spec.name = "etl";
    spec.kind = "spark";
    spec.retry.max_attempts = 3;
    spec.retry.max_infra_retries = 3;
    r.decision = adapt::PlanRetry(spec, {a}, {}, adapt::Platform{});
    return r;
  }

  static diagnose::Diagnoser* diagnoser_;
  int runs_ = 0;
  std::string root_;
  std::unique_ptr<logs::FsLogStore> logs_;
};

diagnose::Diagnoser* EmrDiagnosisTest::diagnoser_ = nullptr;

TEST_F(EmrDiagnosisTest, ValidationErrorIsAConfigErrorNotRetried) {
  Result r = Diagnose("VALIDATION_ERROR", "the release label is not valid for this cluster");
  EXPECT_EQ(r.cls, "config_error");
  EXPECT_FALSE(r.retryable);
  EXPECT_EQ(r.root_component, "emr");
  EXPECT_NE(r.root_text.find("the release label is not valid"), std::string::npos);
  EXPECT_FALSE(r.decision.retry) << r.decision.sentence;
}

TEST_F(EmrDiagnosisTest, ClusterUnavailableIsRetriedOnTheInfrastructureBudget) {
  Result r = Diagnose("CLUSTER_UNAVAILABLE", "the EKS cluster did not answer");
  EXPECT_EQ(r.cls, "transient_dependency");
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.root_component, "emr");
  EXPECT_TRUE(r.decision.retry) << r.decision.sentence;
  EXPECT_EQ(r.decision.budget, "infra");
}

TEST_F(EmrDiagnosisTest, InternalErrorIsRetriedWithBackoff) {
  Result r = Diagnose("INTERNAL_ERROR", "");
  EXPECT_EQ(r.cls, "transient_dependency");
  EXPECT_TRUE(r.retryable);
  EXPECT_TRUE(r.decision.retry) << r.decision.sentence;
  EXPECT_EQ(r.decision.rule, "transient.backoff");
  EXPECT_GT(r.decision.delay, 0);
}

TEST_F(EmrDiagnosisTest, UserErrorDefersToTheDriversLog) {
  // The driver's own log says what happened: it wins over EMR's generic verdict.
  Result oom = Diagnose("USER_ERROR", "job failed", "java.lang.OutOfMemoryError: Java heap space");
  EXPECT_EQ(oom.cls, "driver_oom");
  EXPECT_EQ(oom.root_component, "driver");
  // Nothing known in the driver's log: EMR's verdict, the application's own failure.
  Result plain = Diagnose("USER_ERROR", "job failed", "starting the job");
  EXPECT_EQ(plain.cls, "user_code_error");
  EXPECT_FALSE(plain.retryable);
  EXPECT_FALSE(plain.decision.retry) << plain.decision.sentence;
}

}  // namespace
}  // namespace tug::engine::emr
