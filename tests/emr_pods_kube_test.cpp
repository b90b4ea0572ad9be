// The emr-on-eks engine watching its job runs' pods on the EKS cluster (emr.cluster), against
// the real test kube-apiserver with the node simulator (scripts/kube-testenv, tests/kube_sim.h)
// and the fake emr-containers service (tests/fake_emr_containers.py) writing logs to moto's S3.
// The fake runs the job (its driver is a local process); the test plays EMR's part on the
// cluster by creating the job run's pods with the labels EMR on EKS puts on them, which the
// simulator then runs (logs served through the API server's pods/log, statuses, OOM kills).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "aws/s3_client.h"
#include "control/attempt_diagnosis.h"
#include "core/ids.h"
#include "core/json.h"
#include "diagnose/diagnoser.h"
#include "engine/emr/emr_on_eks_engine.h"
#include "fake_emr_fixture.h"
#include "kube/client.h"
#include "kube_sim.h"
#include "logs/fs_log_store.h"
#include "moto_fixture.h"
#include "test_util.h"

namespace tug {
namespace {
namespace json = boost::json;
using engine::LaunchSpec;
using engine::Update;
using engine::emr::EmrEngineOptions;
using engine::emr::EmrOnEksEngine;
using engine::emr::EmrPodOptions;
using testing::WaitFor;

constexpr char kBucket[] = "tug-emr-logs";
constexpr char kRole[] = "arn:aws:iam::123456789012:role/tug-emr-jobs";
constexpr char kNamespace[] = "default";

// One API server + simulated cluster, one moto and one fake for the binary.
struct World {
  std::unique_ptr<testing::KubeTestEnv> kube;
  std::unique_ptr<kube::Client> admin;
  std::unique_ptr<testing::NodeSimulator> sim;
  testing::MotoServer moto;
  testing::FakeEmrServer fake;
  aws::Credentials moto_creds;
  std::string vc;
  std::string skip;   // no kube-apiserver here
  std::string error;  // something that should have started did not
};
World* g_world = nullptr;

class WorldEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    g_world = new World();
    World& w = *g_world;
    w.kube = std::make_unique<testing::KubeTestEnv>();
    if (auto st = w.kube->Start(); !st.ok()) {
      (st.error().code() == Code::kFailedPrecondition && !testing::RequireKube() ? w.skip
                                                                                 : w.error) =
          st.error().message();
      return;
    }
    auto cfg = kube::LoadKubeconfig(w.kube->kubeconfig());
    auto client =
        cfg.ok() ? kube::Client::Create(*cfg) : Result<std::unique_ptr<kube::Client>>(cfg.error());
    if (!client.ok()) {
      w.error = client.error().ToString();
      return;
    }
    w.admin = std::move(*client);
    w.sim = std::make_unique<testing::NodeSimulator>(*w.admin, kNamespace, w.kube->dir());
    if (auto st = w.sim->Start(); !st.ok()) {
      w.error = st.error().ToString();
      return;
    }
    if (auto st = w.sim->AddNode({"ip-10-0-0-1", "on-demand"}); !st.ok()) {
      w.error = st.error().ToString();
      return;
    }
    std::string error;
    if (!w.moto.Start(&error)) {
      w.error = error;
      return;
    }
    auto creds = w.moto.CreateUser("tug-emr", R"(["s3:*"])");
    if (!creds.ok()) {
      w.error = creds.error().ToString();
      return;
    }
    w.moto_creds = *creds;
    if (auto st = aws::S3Client(w.moto.Client("s3", w.moto_creds)).CreateBucket(kBucket);
        !st.ok()) {
      w.error = st.error().ToString();
      return;
    }
    testing::FakeEmrOptions fo;
    fo.s3_endpoint = w.moto.endpoint();
    fo.s3_credentials = w.moto_creds;
    if (!w.fake.Start(&error, fo)) {
      w.error = error;
      return;
    }
    auto vc = w.fake.Client()->CreateVirtualCluster("tug-pods", "eks-test", kNamespace);
    if (!vc.ok()) {
      w.error = vc.error().ToString() + "\n" + w.fake.Log();
      return;
    }
    w.vc = *vc;
  }
  void TearDown() override {
    if (g_world != nullptr && g_world->sim) g_world->sim->Stop();
    delete g_world;
    g_world = nullptr;
  }
};
[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new WorldEnv());

// Every update, and waits on them.
class Updates {
 public:
  engine::UpdateSink Sink() {
    return [this](const Update& u) {
      std::lock_guard lock(mu_);
      all_.push_back(u);
    };
  }
  std::vector<Update> All() {
    std::lock_guard lock(mu_);
    return all_;
  }
  int Events(const std::string& part) {
    int n = 0;
    for (const Update& u : All()) {
      n += u.kind == Update::Kind::kEvent && u.message.find(part) != std::string::npos ? 1 : 0;
    }
    return n;
  }
  std::optional<Update> Find(Update::Kind kind) {
    for (const Update& u : All()) {
      if (u.kind == kind) return u;
    }
    return std::nullopt;
  }
  std::string Timeline() {
    std::string out;
    for (const Update& u : All()) {
      if (u.kind == Update::Kind::kEvent) out += "  " + u.message + "\n";
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Update> all_;
};

class EmrPodsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_world, nullptr);
    if (!g_world->skip.empty()) GTEST_SKIP() << g_world->skip;
    ASSERT_TRUE(g_world->error.empty()) << g_world->error;
    logs_ = std::make_unique<logs::FsLogStore>(dir_.path() + "/logs");
  }
  void TearDown() override {
    if (engine_) engine_->Shutdown();
    if (HasFailure()) std::cerr << "timeline:\n" << updates_.Timeline();
  }

  // An engine on the fake whose pods are watched with `client`.
  void StartEngine(kube::Client& client) {
    EmrEngineOptions o;
    o.settings.virtual_cluster_id = g_world->vc;
    o.settings.execution_role_arn = kRole;
    o.settings.release_labels = {{"3.5", "emr-7.1.0-latest"}};
    o.settings.log_uri = std::string("s3://") + kBucket + "/pods/";
    o.poll = {50'000, 200'000, 200'000, 1'000'000};
    o.log_import_wait = 200'000;
    EmrPodOptions po;
    po.namespace_ = kNamespace;
    po.cluster = "eks";
    o.pods = po;
    engine_ = std::make_unique<EmrOnEksEngine>(
        o, g_world->fake.Client(),
        std::make_unique<aws::S3Client>(g_world->moto.Client("s3", g_world->moto_creds)), *logs_,
        SystemClock::Instance(), &client);
    engine_->SetSink(updates_.Sink());
  }
  // A Spark job whose driver (a process the fake runs) waits for the test's go-ahead, then
  // prints `last` and exits with `code`.
  LaunchSpec Spec(const std::string& last, int code) {
    LaunchSpec spec;
    spec.run_id = NewId(SystemClock::Instance());
    spec.attempt_id = AttemptId(spec.run_id, 1);
    spec.definition = "emr-pods";
    spec.kind = "spark";
    spec.spark.version = "3.5";
    spec.spark.main = "local:///bin/sh";
    go_ = dir_.path() + "/go-" + spec.attempt_id;
    spec.spark.args = {"-c", "echo driver process waits; while [ ! -e " + go_ +
                                 " ]; do sleep 0.05; done; echo '" + last + "' >&2; exit " +
                                 std::to_string(code)};
    return spec;
  }
  std::string JobRunOf(const std::string& ref) {
    auto decoded = engine::emr::DecodeRef(ref);
    EXPECT_TRUE(decoded.ok());
    return decoded.ok() ? decoded->job_run_id : "";
  }
  void Go() { std::ofstream(go_) << "go\n"; }
  std::string Log(const LaunchSpec& spec, const std::string& component) {
    auto chunk = logs_->Read(spec.run_id, spec.attempt_id, component, 0, 1 << 20);
    return chunk.ok() ? chunk->data : "";
  }

  // A pod of the job run as EMR on EKS labels it; the simulator runs its first container by
  // `script` (TUG_SIM).
  void CreatePod(const std::string& job, const std::string& name, json::object labels,
                 const std::string& container, const std::string& script,
                 const std::string& memory = "") {
    labels[engine::emr::kLabelJobId] = job;
    labels[engine::emr::kLabelVirtualCluster] = g_world->vc;
    labels["emr-containers.amazonaws.com/resource.type"] = "job.run";
    json::object c{{"name", container},
                   {"image", "public.ecr.aws/emr-on-eks/spark/emr-7.1.0:latest"},
                   {"env", json::array{json::object{{"name", "TUG_SIM"}, {"value", script}}}}};
    if (!memory.empty()) {
      c["resources"] = json::object{{"limits", json::object{{"memory", memory}}},
                                    {"requests", json::object{{"memory", memory}}}};
    }
    json::object pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", json::object{{"name", name}, {"namespace", kNamespace}, {"labels", labels}}},
        {"spec", json::object{{"restartPolicy", "Never"}, {"containers", json::array{c}}}}};
    auto made =
        g_world->admin->Post(std::string("/api/v1/namespaces/") + kNamespace + "/pods", pod);
    ASSERT_TRUE(made.ok()) << made.error().ToString();
  }
  // A Kubernetes Warning event about a pod, as the kubelet posts one.
  void PostWarning(const std::string& pod, const std::string& name, const std::string& reason,
                   const std::string& message) {
    std::string now = FormatTimestamp(SystemClock::Instance().Now());
    now = now.substr(0, 19) + "Z";
    json::object ev{
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", json::object{{"name", name}, {"namespace", kNamespace}}},
        {"involvedObject", json::object{{"kind", "Pod"}, {"name", pod}, {"namespace", kNamespace}}},
        {"type", "Warning"},
        {"reason", reason},
        {"message", message},
        {"source", json::object{{"component", "kubelet"}}},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"count", 1}};
    auto made =
        g_world->admin->Post(std::string("/api/v1/namespaces/") + kNamespace + "/events", ev);
    ASSERT_TRUE(made.ok()) << made.error().ToString();
  }

  testing::TempDir dir_;
  std::unique_ptr<logs::FsLogStore> logs_;
  Updates updates_;
  std::unique_ptr<EmrOnEksEngine> engine_;
  std::string go_;
};

// A job run whose driver pod is OOM-killed: pod notes and a Warning event (once) on the
// timeline, the pods' logs live before the job ends, the OOM kill as the attempt's reason and
// the diagnosis' cause, and no line twice once EMR's S3 copy came.
TEST_F(EmrPodsTest, PodEventsLiveLogsAndTheDriversOomKill) {
  StartEngine(*g_world->admin);
  LaunchSpec spec = Spec("ERROR SparkContext: the driver is gone", 1);
  auto ref = engine_->Launch(spec);
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  const std::string job = JobRunOf(*ref);
  ASSERT_TRUE(WaitFor([&] { return updates_.Find(Update::Kind::kStarted).has_value(); }));

  const std::string driver = "spark-" + job + "-driver";
  CreatePod(job, job + "-runner", {{engine::emr::kLabelEmrComponent, "job.submitter"}},
            "job-runner", "log=spark-submit is watching the driver;hang");
  CreatePod(job, driver,
            {{"spark-role", "driver"},
             {"spark-app-selector", "spark-" + job},
             {engine::emr::kLabelEmrComponent, "driver"}},
            "spark-kubernetes-driver", "log=live line from the driver pod;run=1.5;oom_below=1Gi",
            "64Mi");
  CreatePod(job, "spark-" + job + "-exec-1", {{"spark-role", "executor"}, {"spark-exec-id", "1"}},
            "spark-kubernetes-executor", "log=executor one is here;hang");
  // The same warning twice (two Event objects): one timeline entry.
  const std::string mount = "MountVolume.SetUp failed for volume \"spark-conf\": not found";
  PostWarning(driver, driver + ".warn1", "FailedMount", mount);
  PostWarning(driver, driver + ".warn2", "FailedMount", mount);

  // Live logs while EMR still says RUNNING (the driver process waits for Go()).
  ASSERT_TRUE(WaitFor([&] {
    return Log(spec, "live-driver").find("live line from the driver pod") != std::string::npos &&
           Log(spec, "live-executor-1").find("executor one is here") != std::string::npos &&
           Log(spec, "live-controller").find("spark-submit is watching") != std::string::npos;
  })) << "live-driver: "
      << Log(spec, "live-driver");
  EXPECT_FALSE(updates_.Find(Update::Kind::kEnded).has_value());
  ASSERT_TRUE(WaitFor([&] {
    return updates_.Events("EMR driver pod " + driver + " ended: OOMKilled (exit code 137)") == 1 &&
           updates_.Events("k8s Warning FailedMount (driver): " + mount) == 1 &&
           updates_.Events("EMR job runner pod " + job + "-runner running on node ip-10-0-0-1") ==
               1;
  })) << updates_.Timeline();

  Go();
  ASSERT_TRUE(WaitFor([&] { return updates_.Find(Update::Kind::kEnded).has_value(); }));
  Update end = *updates_.Find(Update::Kind::kEnded);
  EXPECT_EQ(end.status, AttemptStatus::kFailed);
  EXPECT_EQ(end.outcome.reason, "OOMKilled") << end.outcome.message;
  EXPECT_EQ(end.outcome.exit_code, 137);
  std::map<std::string, ComponentStatus> comps;
  for (const auto& c : end.components) comps[c.name] = c;
  ASSERT_EQ(comps.count("driver"), 1u);
  EXPECT_EQ(comps["driver"].pod, driver);
  EXPECT_EQ(comps["driver"].reason, "OOMKilled");
  EXPECT_EQ(comps["controller"].pod, job + "-runner");
  EXPECT_EQ(comps["executor-1"].state, "running");
  EXPECT_EQ(updates_.Events("k8s Warning FailedMount"), 1);

  // EMR's copy replaced the live driver and job runner logs; the executor's live log is all
  // there is (the fake uploads no executor), so it stays, under its own name.
  auto names = logs_->Components(spec.run_id, spec.attempt_id);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"controller", "driver", "emr", "executor-1"}));
  EXPECT_NE(Log(spec, "driver").find("driver process waits"), std::string::npos);
  EXPECT_EQ(Log(spec, "driver").find("live line from the driver pod"), std::string::npos);
  EXPECT_NE(Log(spec, "executor-1").find("executor one is here"), std::string::npos);

  // The diagnosis, as the controller runs it on the recorded attempt.
  auto diagnoser = diagnose::Diagnoser::CreateBuiltin();
  ASSERT_TRUE(diagnoser.ok()) << diagnoser.error().ToString();
  Attempt a;
  a.id = spec.attempt_id;
  a.run_id = spec.run_id;
  a.status = end.status;
  a.outcome = end.outcome;
  a.components = ComponentsJson(end.components);
  std::string text = control::DiagnoseAttempt(*diagnoser, *logs_, a, end.status, end.outcome);
  json::value d = json::parse(text);
  EXPECT_EQ(d.at("class").as_string(), "driver_oom") << text;
}

// The cluster refuses us (RBAC: a service account with no role): the job run goes on through
// EMR and succeeds; the refusal is one note on its timeline however often the watch retries.
TEST_F(EmrPodsTest, AForbiddenClusterNeverFailsTheJobRun) {
  const std::string sa = std::string("/api/v1/namespaces/") + kNamespace + "/serviceaccounts";
  auto made =
      g_world->admin->Post(sa, json::object{{"apiVersion", "v1"},
                                            {"kind", "ServiceAccount"},
                                            {"metadata", json::object{{"name", "tug-no-rights"}}}});
  ASSERT_TRUE(made.ok() || made.error().code() == Code::kAlreadyExists) << made.error().ToString();
  auto token = g_world->admin->Post(
      sa + "/tug-no-rights/token",
      json::object{
          {"apiVersion", "authentication.k8s.io/v1"},
          {"kind", "TokenRequest"},
          {"spec",
           json::object{{"audiences", json::array{"https://kubernetes.default.svc.cluster.local"}},
                        {"expirationSeconds", 3600}}}});
  ASSERT_TRUE(token.ok()) << token.error().ToString();
  kube::ClusterConfig cfg = g_world->admin->config();
  cfg.token = std::string(token->at("status").at("token").as_string());
  auto client = kube::Client::Create(cfg);
  ASSERT_TRUE(client.ok());
  ASSERT_EQ(
      (*client)->Get(std::string("/api/v1/namespaces/") + kNamespace + "/pods").error().code(),
      Code::kPermissionDenied);

  StartEngine(**client);
  LaunchSpec spec = Spec("done", 0);
  ASSERT_TRUE(engine_->Launch(spec).ok());
  ASSERT_TRUE(WaitFor([&] {
    return engine_->pod_watcher()->kube_errors() >= 3 &&
           updates_.Events("pod watching on cluster eks (namespace default) failed") == 1;
  })) << updates_.Timeline();
  Go();
  ASSERT_TRUE(WaitFor([&] { return updates_.Find(Update::Kind::kEnded).has_value(); }));
  EXPECT_EQ(updates_.Find(Update::Kind::kEnded)->status, AttemptStatus::kSucceeded);
  EXPECT_EQ(updates_.Events("pod watching on cluster eks"), 1);
  EXPECT_NE(updates_.Timeline().find("forbidden"), std::string::npos) << updates_.Timeline();
}

// Nothing listens where the cluster should be: the same, one note, the job run unharmed.
TEST_F(EmrPodsTest, AnUnreachableClusterNeverFailsTheJobRun) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);  // bound, never listened: connections are refused
  kube::ClusterConfig cfg = g_world->admin->config();
  cfg.server = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto client = kube::Client::Create(cfg);
  ASSERT_TRUE(client.ok());

  StartEngine(**client);
  LaunchSpec spec = Spec("done", 0);
  ASSERT_TRUE(engine_->Launch(spec).ok());
  ASSERT_TRUE(WaitFor([&] {
    return engine_->pod_watcher()->kube_errors() >= 2 &&
           updates_.Events("pod watching on cluster eks (namespace default) failed") == 1;
  })) << updates_.Timeline();
  Go();
  ASSERT_TRUE(WaitFor([&] { return updates_.Find(Update::Kind::kEnded).has_value(); }));
  EXPECT_EQ(updates_.Find(Update::Kind::kEnded)->status, AttemptStatus::kSucceeded);
  EXPECT_EQ(updates_.Events("pod watching on cluster eks"), 1);
}

}  // namespace
}  // namespace tug
