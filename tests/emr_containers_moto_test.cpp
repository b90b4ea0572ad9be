// The emr-containers client and the emr-on-eks StartJobRun body against a real moto server's
// emr-containers (a separate process; signatures verified once the IAM user is set up).
// moto's job runs stay RUNNING until cancelled, so the lifecycle covered here is
// start -> running -> cancel -> cancelled; the other states are covered by the table test.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "aws/emr_containers.h"
#include "engine/emr/job_run.h"
#include "moto_fixture.h"

namespace tug {
namespace {

class EmrMotoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    moto_ = new testing::MotoServer();
    std::string error;
    if (!moto_->Start(&error)) {
      setup_error_ = new std::string(error);
      return;
    }
    auto creds = moto_->CreateUser("tug-emr", R"(["emr-containers:*"])");
    if (!creds.ok()) {
      setup_error_ = new std::string(creds.error().ToString() + "\n" + moto_->Log());
      return;
    }
    creds_ = new aws::Credentials(*creds);
    aws::EmrContainersClient emr(moto_->Client("emr-containers", *creds_));
    auto vc = emr.CreateVirtualCluster("tug-vc", "eks-prod", "spark-jobs");
    if (!vc.ok()) {
      setup_error_ = new std::string(vc.error().ToString() + "\n" + moto_->Log());
      return;
    }
    vc_ = new std::string(*vc);
  }
  static void TearDownTestSuite() {
    delete moto_;
    delete creds_;
    delete setup_error_;
    delete vc_;
    moto_ = nullptr;
    creds_ = nullptr;
    setup_error_ = nullptr;
    vc_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    emr_ = std::make_unique<aws::EmrContainersClient>(moto_->Client("emr-containers", *creds_));
  }

  engine::emr::EmrSettings Settings() const {
    engine::emr::EmrSettings s;
    s.virtual_cluster_id = *vc_;
    s.execution_role_arn = "arn:aws:iam::123456789012:role/tug-jobs";
    s.release_labels = {{"3.5", "emr-7.1.0-latest"}};
    s.log_uri = "s3://tug-emr-logs/jobs";
    return s;
  }
  static engine::LaunchSpec Spec(const std::string& definition) {
    engine::LaunchSpec spec;
    spec.run_id = "01hf7yat0009ca7jvkrtmknftn";
    spec.attempt_id = spec.run_id + "-1";
    spec.definition = definition;
    spec.kind = "spark";
    spec.spark.version = "3.5";
    spec.spark.main = "s3://code/etl.py";
    spec.resources.spark.executor = {1000, int64_t{2} << 30, 0};
    spec.resources.spark.instances = 2;
    spec.placement.executor_capacity = "spot";
    return spec;
  }

  static testing::MotoServer* moto_;
  static aws::Credentials* creds_;
  static std::string* setup_error_;
  static std::string* vc_;
  std::unique_ptr<aws::EmrContainersClient> emr_;
};

testing::MotoServer* EmrMotoTest::moto_ = nullptr;
aws::Credentials* EmrMotoTest::creds_ = nullptr;
std::string* EmrMotoTest::setup_error_ = nullptr;
std::string* EmrMotoTest::vc_ = nullptr;

TEST_F(EmrMotoTest, StartDescribeListCancel) {
  auto body = engine::emr::StartJobRunBody(Spec("nightly-etl"), Settings());
  ASSERT_TRUE(body.ok()) << body.error().ToString();
  auto started = emr_->StartJobRun(*vc_, *body);
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  EXPECT_FALSE(started->id.empty());
  EXPECT_EQ(started->name, "nightly-etl-1");

  auto described = emr_->DescribeJobRun(*vc_, started->id);
  ASSERT_TRUE(described.ok()) << described.error().ToString();
  EXPECT_EQ(described->release_label, "emr-7.1.0-latest");
  EXPECT_EQ(described->tags["tugboat.attempt"], "01hf7yat0009ca7jvkrtmknftn-1");
  auto phase =
      engine::emr::PhaseOf(described->state, described->failure_reason, described->state_details);
  ASSERT_TRUE(phase.ok()) << described->state;
  EXPECT_TRUE(phase->started);
  EXPECT_FALSE(phase->ended);

  // Re-attach after a restart: the runs of the cluster by name, matched on the attempt tag.
  auto listed = emr_->ListJobRuns(*vc_, "nightly-etl-1");
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, started->id);

  ASSERT_TRUE(emr_->CancelJobRun(*vc_, started->id).ok());
  auto cancelled = emr_->DescribeJobRun(*vc_, started->id);
  ASSERT_TRUE(cancelled.ok());
  auto end =
      engine::emr::PhaseOf(cancelled->state, cancelled->failure_reason, cancelled->state_details);
  ASSERT_TRUE(end.ok()) << cancelled->state;
  EXPECT_TRUE(end->ended);
  EXPECT_EQ(end->status, AttemptStatus::kStopped);
  // Cancelling twice is refused with ValidationException (400).
  Status again = emr_->CancelJobRun(*vc_, started->id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Code::kInvalidArgument);
  EXPECT_NE(again.error().detail().find("ValidationException"), std::string::npos)
      << again.error().ToString();
  auto running = emr_->ListJobRuns(*vc_, "nightly-etl-1", {"RUNNING", "PENDING", "SUBMITTED"});
  ASSERT_TRUE(running.ok());
  EXPECT_TRUE(running->empty());
}

TEST_F(EmrMotoTest, ErrorShapes) {
  engine::emr::EmrSettings gone = Settings();
  gone.virtual_cluster_id = "doesnotexist0000000000000";
  auto body = engine::emr::StartJobRunBody(Spec("errors"), gone);
  ASSERT_TRUE(body.ok());
  auto no_cluster = emr_->StartJobRun(gone.virtual_cluster_id, *body);
  ASSERT_FALSE(no_cluster.ok());
  EXPECT_EQ(no_cluster.error().code(), Code::kNotFound) << no_cluster.error().ToString();
  EXPECT_NE(no_cluster.error().detail().find("ResourceNotFoundException"), std::string::npos);
  auto bad = emr_->DescribeJobRun(*vc_, "not-a-job-id");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument) << bad.error().ToString();
  auto missing = emr_->DescribeJobRun(*vc_, "0000000000000000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound) << missing.error().ToString();
}

TEST_F(EmrMotoTest, ForgedSignaturesAreRejected) {
  aws::Credentials forged = *creds_;
  forged.secret_access_key = "forged";
  aws::EmrContainersClient bad(moto_->Client("emr-containers", forged));
  auto listed = bad.ListJobRuns(*vc_);
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code(), Code::kPermissionDenied) << listed.error().ToString();
  EXPECT_EQ(listed.error().ToString().find("forged"), std::string::npos);
}

}  // namespace
}  // namespace tug
