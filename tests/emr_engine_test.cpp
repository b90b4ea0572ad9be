// The emr-on-eks engine against two emr-containers backends, each a separate process:
//  - moto_server (moto 5): its job runs start RUNNING and stay there until CancelJobRun, it
//    ignores clientToken and runs nothing. The engine conformance suite runs against it with
//    `never_runs_jobs` (the tests needing a job's own behaviour are skipped, saying why), and the
//    re-attach tests use it because a relaunch there WOULD start a second job run if the engine
//    did not find the first one itself.
//  - the fake (tests/fake_emr_containers.py, built from AWS's published service model): the
//    full state machine, clientToken, jobs that run (local:///bin/sh drivers) and logs uploaded
//    to moto's S3 where EMR's log agent puts them. The whole conformance suite runs against it,
//    and the failure reasons moto never produces are tested here.
// Every request to both is SigV4-verified.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <boost/json.hpp>

#include "aws/s3_client.h"
#include "core/ids.h"
#include "engine/emr/emr_on_eks_engine.h"
#include "engine/engine_conformance.h"
#include "fake_emr_fixture.h"
#include "moto_fixture.h"

namespace tug {
namespace {

using engine::LaunchSpec;
using engine::Update;
using engine::emr::EmrEngineOptions;
using engine::emr::EmrOnEksEngine;
using engine::testing_util::Recorder;

constexpr char kBucket[] = "tug-emr-logs";
constexpr char kRole[] = "arn:aws:iam::123456789012:role/tug-emr-jobs";

// Both backends for the whole binary (started once; each ctest entry is its own process).
struct Backends {
  testing::MotoServer moto;
  testing::FakeEmrServer fake;
  aws::Credentials moto_creds;
  std::string fake_vc;
  std::string fake_down_vc;  // marked unavailable: CLUSTER_UNAVAILABLE
  std::string moto_vc;
  std::string error;
};

Backends* g_backends = nullptr;

class BackendsEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    g_backends = new Backends();
    Backends& b = *g_backends;
    std::string error;
    if (!b.moto.Start(&error)) {
      b.error = error;
      return;
    }
    auto creds = b.moto.CreateUser("tug-emr", R"(["s3:*", "emr-containers:*"])");
    if (!creds.ok()) {
      b.error = creds.error().ToString() + "\n" + b.moto.Log();
      return;
    }
    b.moto_creds = *creds;
    aws::S3Client s3(b.moto.Client("s3", b.moto_creds));
    if (auto st = s3.CreateBucket(kBucket); !st.ok()) {
      b.error = st.error().ToString();
      return;
    }
    aws::EmrContainersClient moto_emr(b.moto.Client("emr-containers", b.moto_creds));
    auto mvc = moto_emr.CreateVirtualCluster("tug-moto", "eks-test", "spark-moto");
    if (!mvc.ok()) {
      b.error = mvc.error().ToString() + "\n" + b.moto.Log();
      return;
    }
    b.moto_vc = *mvc;
    testing::FakeEmrOptions fo;
    fo.s3_endpoint = b.moto.endpoint();
    fo.s3_credentials = b.moto_creds;
    if (!b.fake.Start(&error, fo)) {
      b.error = error;
      return;
    }
    auto fake = b.fake.Client();
    auto vc = fake->CreateVirtualCluster("tug-fake", "eks-test", "spark-jobs");
    auto down = fake->CreateVirtualCluster("tug-fake-down", "eks-test", "spark-down");
    if (!vc.ok() || !down.ok()) {
      b.error = (vc.ok() ? down.error() : vc.error()).ToString() + "\n" + b.fake.Log();
      return;
    }
    b.fake_vc = *vc;
    b.fake_down_vc = *down;
    if (auto st = b.fake.MarkUnavailable(b.fake_down_vc); !st.ok()) b.error = st.error().ToString();
  }
  void TearDown() override {
    delete g_backends;
    g_backends = nullptr;
  }
};

[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new BackendsEnv());

Status BackendsReady() {
  if (g_backends == nullptr || !g_backends->error.empty()) {
    return Internal("backends did not start: " +
                    (g_backends == nullptr ? std::string("none") : g_backends->error));
  }
  return OkStatus();
}

std::unique_ptr<aws::S3Client> MotoS3() {
  return std::make_unique<aws::S3Client>(g_backends->moto.Client("s3", g_backends->moto_creds));
}
std::unique_ptr<aws::EmrContainersClient> MotoEmr() {
  return std::make_unique<aws::EmrContainersClient>(
      g_backends->moto.Client("emr-containers", g_backends->moto_creds));
}

// Polls fast so the suite's 30 s waits are far away.
EmrEngineOptions FastOptions(const std::string& vc, const std::string& log_prefix) {
  EmrEngineOptions o;
  o.settings.virtual_cluster_id = vc;
  o.settings.execution_role_arn = kRole;
  o.settings.release_labels = {{"3.5", "emr-7.1.0-latest"}};
  o.settings.log_uri = std::string("s3://") + kBucket + "/" + log_prefix;
  o.poll = {50'000, 200'000, 200'000, 1'000'000};
  o.log_import_tries = 3;
  o.log_import_wait = 200'000;
  o.start_retry_wait = 100'000;
  return o;
}

std::unique_ptr<EmrOnEksEngine> FakeEngine(const engine::conformance::Env& env,
                                           const std::string& vc = "") {
  auto o = FastOptions(vc.empty() ? g_backends->fake_vc : vc, "fake/");
  return std::make_unique<EmrOnEksEngine>(o, g_backends->fake.Client(), MotoS3(), *env.logs,
                                          *env.clock);
}

std::unique_ptr<EmrOnEksEngine> MotoEngine(const engine::conformance::Env& env) {
  auto o = FastOptions(g_backends->moto_vc, "moto/");
  o.log_import_tries = 1;  // moto writes no logs
  return std::make_unique<EmrOnEksEngine>(o, MotoEmr(), MotoS3(), *env.logs, *env.clock);
}

// The suite's `/bin/sh -c SHELL` as a Spark application whose driver is that shell (the fake
// runs local:// entry points as the driver process; moto runs nothing).
void AsSpark(LaunchSpec& spec) {
  spec.kind = "spark";
  spec.spark.version = "3.5";
  spec.spark.main = "local://" + spec.argv.at(0);
  spec.spark.args.assign(spec.argv.begin() + 1, spec.argv.end());
}

// The job run of an attempt on the fake, once it is terminal.
std::optional<aws::JobRunInfo> WaitTerminal(aws::EmrContainersClient& emr, const std::string& vc,
                                            const std::string& attempt_id,
                                            std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto runs = emr.ListJobRuns(vc);
    if (runs.ok()) {
      for (const auto& r : *runs) {
        auto tag = r.tags.find("tugboat.attempt");
        if (tag == r.tags.end() || tag->second != attempt_id) continue;
        if (r.state == "COMPLETED" || r.state == "FAILED" || r.state == "CANCELLED") return r;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

}  // namespace
}  // namespace tug

namespace tug::engine::conformance {

INSTANTIATE_TEST_SUITE_P(
    EmrOnEks, EngineConformanceTest,
    ::testing::Values(
        Param{"Fake",
              [](const Env& env) -> Result<std::unique_ptr<Engine>> {
                RETURN_IF_ERROR(BackendsReady());
                return std::unique_ptr<Engine>(FakeEngine(env));
              },
              [](const Env&, const std::string& attempt_id, std::chrono::milliseconds timeout) {
                auto emr = g_backends->fake.Client();
                return WaitTerminal(*emr, g_backends->fake_vc, attempt_id, timeout).has_value();
              },
              AsSpark, "driver", ""},
        Param{"Moto",
              [](const Env& env) -> Result<std::unique_ptr<Engine>> {
                RETURN_IF_ERROR(BackendsReady());
                return std::unique_ptr<Engine>(MotoEngine(env));
              },
              nullptr, AsSpark, "driver",
              "moto's emr-containers runs no job: its job runs stay RUNNING until cancelled"}),
    ParamName);

}  // namespace tug::engine::conformance

namespace tug {
namespace {

// Engine tests beyond the suite: one engine per test over a temporary log store.
class EmrEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(BackendsReady().ok()) << BackendsReady().error().ToString();
    std::string tmpl = (std::filesystem::temp_directory_path() / "tug-emr-engine-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    logs_ = std::make_unique<logs::FsLogStore>(root_ + "/logs");
    env_.root = root_;
    env_.logs = logs_.get();
    env_.clock = &SystemClock::Instance();
  }
  void TearDown() override {
    for (size_t i = 0; i < engines_.size(); ++i) {
      if (!engines_[i]) continue;
      for (const std::string& id : engines_[i]->Active()) {
        (void)engines_[i]->Stop(id);
        recorders_[i]->WaitFor(id, Update::Kind::kEnded);
      }
    }
    engines_.clear();
    std::filesystem::remove_all(root_);
  }
  size_t Add(std::unique_ptr<EmrOnEksEngine> e) {
    recorders_.push_back(std::make_unique<Recorder>());
    e->SetSink(recorders_.back()->Sink());
    engines_.push_back(std::move(e));
    return engines_.size() - 1;
  }
  EmrOnEksEngine& engine(size_t i) { return *engines_[i]; }
  Recorder& recorder(size_t i) { return *recorders_[i]; }

  LaunchSpec Spec(const std::string& shell, const std::string& definition = "emr-test") {
    LaunchSpec spec;
    spec.run_id = NewId(SystemClock::Instance());
    spec.attempt_id = AttemptId(spec.run_id, 1);
    spec.definition = definition;
    spec.argv = {"/bin/sh", "-c", shell};
    AsSpark(spec);
    return spec;
  }
  std::string Log(const LaunchSpec& spec, const std::string& component) {
    auto chunk = logs_->Read(spec.run_id, spec.attempt_id, component, 0, 1 << 20);
    return chunk.ok() ? chunk->data : "";
  }
  static int Count(aws::EmrContainersClient& emr, const std::string& vc,
                   const std::string& attempt_id) {
    auto runs = emr.ListJobRuns(vc);
    if (!runs.ok()) return -1;
    int n = 0;
    for (const auto& r : *runs) {
      auto tag = r.tags.find("tugboat.attempt");
      n += tag != r.tags.end() && tag->second == attempt_id ? 1 : 0;
    }
    return n;
  }

  std::string root_;
  engine::conformance::Env env_;
  std::unique_ptr<logs::FsLogStore> logs_;
  std::vector<std::unique_ptr<EmrOnEksEngine>> engines_;
  std::vector<std::unique_ptr<Recorder>> recorders_;
};

// The fake itself, as the service model makes it: validation, error shapes (the name only in
// x-amzn-ErrorType, ResourceNotFoundException with 400), clientToken, signatures.
TEST_F(EmrEngineTest, TheFakeFollowsTheServiceModel) {
  auto emr = g_backends->fake.Client();
  const std::string& vc = g_backends->fake_vc;
  boost::json::object body{
      {"name", "model-check-1"},
      {"clientToken", "model-check-token"},
      {"executionRoleArn", "not-a-role-arn-but-long-enough"},
      {"releaseLabel", "emr-7.1.0-latest"},
      {"jobDriver", {{"sparkSubmitJobDriver", {{"entryPoint", "local:///bin/true"}}}}}};
  auto bad_role = emr->StartJobRun(vc, body);
  ASSERT_FALSE(bad_role.ok());
  EXPECT_EQ(bad_role.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_role.error().detail().find("ValidationException"), std::string::npos);
  EXPECT_NE(bad_role.error().message().find("at 'executionRoleArn' failed to satisfy constraint"),
            std::string::npos)
      << bad_role.error().message();

  body["executionRoleArn"] = kRole;
  body["retries"] = 3;  // not a member of StartJobRunRequest
  auto unknown = emr->StartJobRun(vc, body);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("'retries' is not a member"), std::string::npos)
      << unknown.error().message();
  body.erase("retries");

  auto first = emr->StartJobRun(vc, body);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto again = emr->StartJobRun(vc, body);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(first->id, again->id) << "clientToken makes StartJobRun idempotent";

  auto missing = emr->DescribeJobRun(vc, "0000000zzzzzzzzzzzz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound) << missing.error().ToString();
  EXPECT_EQ(missing.error().detail(), "HTTP 400 ResourceNotFoundException");
  Status cancel = emr->CancelJobRun(vc, "0000000zzzzzzzzzzzz");
  ASSERT_FALSE(cancel.ok());
  EXPECT_EQ(cancel.error().code(), Code::kInvalidArgument) << cancel.error().ToString();

  aws::Credentials forged = g_backends->fake.credentials();
  forged.secret_access_key = "forged";
  auto refused = g_backends->fake.Client(forged)->ListJobRuns(vc);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kPermissionDenied) << refused.error().ToString();
}

// A server died after StartJobRun but before the ref was stored: the controller calls Launch
// again. moto ignores clientToken, so only the engine's own lookup keeps it to one job run.
TEST_F(EmrEngineTest, RelaunchAfterARestartReattachesOnMoto) {
  size_t a = Add(MotoEngine(env_));
  LaunchSpec spec = Spec("sleep 60");
  auto first = engine(a).Launch(spec);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  ASSERT_TRUE(recorder(a).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  engines_[a]->Shutdown();
  engines_[a].reset();

  size_t b = Add(MotoEngine(env_));
  auto again = engine(b).Launch(spec);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(engine(b).starts(), 0);
  auto r1 = engine::emr::DecodeRef(*first);
  auto r2 = engine::emr::DecodeRef(*again);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->job_run_id, r2->job_run_id);
  auto emr = MotoEmr();
  EXPECT_EQ(Count(*emr, g_backends->moto_vc, spec.attempt_id), 1);
  ASSERT_TRUE(recorder(b).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  ASSERT_TRUE(engine(b).Stop(spec.attempt_id).ok());
  auto ended = recorder(b).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kStopped);
}

// The same on the fake, whose job ends while no server watches; the relaunch reports that end.
TEST_F(EmrEngineTest, RelaunchAfterARestartReportsTheEndOnTheFake) {
  size_t a = Add(FakeEngine(env_));
  LaunchSpec spec = Spec("echo from the first launch; exit 5");
  ASSERT_TRUE(engine(a).Launch(spec).ok());
  engines_[a]->Shutdown();
  engines_[a].reset();
  auto emr = g_backends->fake.Client();
  ASSERT_TRUE(WaitTerminal(*emr, g_backends->fake_vc, spec.attempt_id, std::chrono::seconds(30))
                  .has_value());

  size_t b = Add(FakeEngine(env_));
  ASSERT_TRUE(engine(b).Launch(spec).ok());
  EXPECT_EQ(engine(b).starts(), 0);
  auto ended = recorder(b).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.exit_code, 5);
  EXPECT_EQ(Count(*emr, g_backends->fake_vc, spec.attempt_id), 1);
  EXPECT_NE(Log(spec, "driver").find(" stdout from the first launch\n"), std::string::npos);
}

// A ref without a job run id (written before the job run was known) finds it by its tag.
TEST_F(EmrEngineTest, AdoptWithoutAJobRunIdFindsTheRunByItsTag) {
  size_t a = Add(FakeEngine(env_));
  LaunchSpec spec = Spec("echo tagged");
  auto ref = engine(a).Launch(spec);
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(recorder(a).WaitFor(spec.attempt_id, Update::Kind::kEnded).has_value());
  size_t b = Add(FakeEngine(env_));
  engine::emr::EmrRef partial;
  partial.name = engine::emr::JobRunName(spec);
  ASSERT_TRUE(engine(b).Adopt(spec.attempt_id, engine::emr::EncodeRef(partial)).ok());
  auto ended = recorder(b).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  EXPECT_NE(Log(spec, "driver").find(" stdout tagged\n"), std::string::npos);
}

// The deadline is in the ref: a server that adopts the attempt enforces it.
TEST_F(EmrEngineTest, TheDeadlineSurvivesARestart) {
  size_t a = Add(FakeEngine(env_));
  LaunchSpec spec = Spec("sleep 60");
  spec.timeout_seconds = 2;
  auto ref = engine(a).Launch(spec);
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(recorder(a).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  engines_[a]->Shutdown();
  engines_[a].reset();
  size_t b = Add(FakeEngine(env_));
  ASSERT_TRUE(engine(b).Adopt(spec.attempt_id, *ref).ok());
  auto ended = recorder(b).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kDeadlineExceeded);
}

// USER_ERROR: the exit code comes from the job runner's final statuses; the logs are imported
// as controller/driver, and the `emr` log has the line the diagnosis reads.
TEST_F(EmrEngineTest, UserErrorCarriesTheDriversExitCodeAndLogs) {
  size_t e = Add(FakeEngine(env_));
  LaunchSpec spec = Spec("echo Traceback >&2; exit 3");
  ASSERT_TRUE(engine(e).Launch(spec).ok());
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kError);
  EXPECT_EQ(ended->outcome.exit_code, 3);
  EXPECT_NE(ended->outcome.message.find("EMR USER_ERROR"), std::string::npos);
  ASSERT_EQ(ended->components.size(), 2u);
  EXPECT_EQ(ended->components[1].name, "driver");
  EXPECT_EQ(ended->components[1].exit_code, 3);
  EXPECT_NE(Log(spec, "controller").find("exit code: 3"), std::string::npos);
  EXPECT_NE(Log(spec, "driver").find(" stderr Traceback\n"), std::string::npos);
  EXPECT_NE(Log(spec, "emr").find("FAILED (failureReason USER_ERROR)"), std::string::npos)
      << Log(spec, "emr");
}

TEST_F(EmrEngineTest, InternalErrorEndsFailedWithoutAnExitCode) {
  size_t e = Add(FakeEngine(env_));
  LaunchSpec spec = Spec("sleep 60");
  auto ref = engine(e).Launch(spec);
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(recorder(e).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  ASSERT_TRUE(g_backends->fake
                  .FailJobRun(engine::emr::DecodeRef(*ref)->job_run_id, "INTERNAL_ERROR",
                              "fake: the job runner lost its node")
                  .ok());
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kError);
  EXPECT_FALSE(ended->outcome.exit_code.has_value());
  EXPECT_NE(Log(spec, "emr").find("FAILED (failureReason INTERNAL_ERROR): fake: the job runner"),
            std::string::npos)
      << Log(spec, "emr");
}

TEST_F(EmrEngineTest, ClusterUnavailableIsALaunchFailureThatNeverStarted) {
  size_t e = Add(FakeEngine(env_, g_backends->fake_down_vc));
  LaunchSpec spec = Spec("echo never");
  ASSERT_TRUE(engine(e).Launch(spec).ok());
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kLaunchFailed);
  EXPECT_EQ(recorder(e).Count(spec.attempt_id, Update::Kind::kStarted), 0);
  EXPECT_NE(Log(spec, "emr").find("(failureReason CLUSTER_UNAVAILABLE)"), std::string::npos);
}

TEST_F(EmrEngineTest, ValidationErrorIsAnInvalidSpec) {
  size_t e = Add(FakeEngine(env_));
  LaunchSpec spec = Spec("true");
  spec.spark.main = "s3://code/not-fetched-by-the-fake.py";
  ASSERT_TRUE(engine(e).Launch(spec).ok());
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kInvalidSpec);
  EXPECT_NE(Log(spec, "emr").find("(failureReason VALIDATION_ERROR)"), std::string::npos);
}

// What EMR refuses before a job run exists comes back from Launch, never retried.
TEST_F(EmrEngineTest, LaunchErrorsNameTheSetting) {
  auto o = FastOptions("doesnotexist0000000000000", "fake/");
  size_t e = Add(std::make_unique<EmrOnEksEngine>(o, g_backends->fake.Client(), MotoS3(), *logs_,
                                                  SystemClock::Instance()));
  auto missing = engine(e).Launch(Spec("true"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kFailedPrecondition) << missing.error().ToString();
  EXPECT_NE(missing.error().message().find("emr.virtual_cluster_id"), std::string::npos);

  auto bad_label = FastOptions(g_backends->fake_vc, "fake/");
  bad_label.settings.release_labels = {{"3.5", "emr-seven"}};
  size_t f = Add(std::make_unique<EmrOnEksEngine>(bad_label, g_backends->fake.Client(), MotoS3(),
                                                  *logs_, SystemClock::Instance()));
  auto refused = engine(f).Launch(Spec("true"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kFailedPrecondition) << refused.error().ToString();
}

// EMR out of reach while a server adopts: the attempt is followed (not lost), the engine says
// it is degraded, and nothing is launched.
TEST_F(EmrEngineTest, AnUnreachableEmrAtAdoptKeepsTheAttempt) {
  aws::AwsClientOptions co;
  co.service = "emr-containers";
  co.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  co.credentials = std::make_shared<aws::StaticCredentialsProvider>(g_backends->fake.credentials());
  co.timeout = std::chrono::milliseconds(2000);
  auto client = aws::AwsClient::Create(co);
  ASSERT_TRUE(client.ok());
  auto o = FastOptions(g_backends->fake_vc, "fake/");
  size_t e = Add(std::make_unique<EmrOnEksEngine>(
      o, std::make_unique<aws::EmrContainersClient>(std::move(*client)), MotoS3(), *logs_,
      SystemClock::Instance()));
  engine::emr::EmrRef ref;
  ref.virtual_cluster_id = g_backends->fake_vc;
  ref.job_run_id = "0000000aaaaaaaaaaaa";
  ref.run_id = "01hf7yat0009ca7jvkrtmknftn";
  const std::string attempt = ref.run_id + "-1";
  ASSERT_TRUE(engine(e).Adopt(attempt, engine::emr::EncodeRef(ref)).ok());
  auto active = engine(e).Active();
  EXPECT_EQ(active, std::vector<std::string>{attempt});
  EXPECT_TRUE(engine(e).GetHealth().degraded);
  EXPECT_EQ(engine(e).starts(), 0);
  engines_[e]->Shutdown();
  engines_.clear();
}

}  // namespace
}  // namespace tug
