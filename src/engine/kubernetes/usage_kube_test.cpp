// kUsage from the metrics API, against a real kube-apiserver (scripts/kube-testenv) with the
// node simulator as kubelets (tests/kube_sim.h). metrics-server cannot run here, so the test
// serves metrics.k8s.io/v1beta1 itself: a CustomResourceDefinition of kind PodMetrics (plural
// pods) in that group, whose objects the test writes the way metrics-server would answer. The
// engine cannot tell the difference: it discovers the group version and lists
// /apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=... as in a real cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "engine/kubernetes/kubernetes_engine.h"
#include "engine/kubernetes/usage.h"
#include "engine/spark/spark_engine.h"
#include "kube_sim.h"
#include "logs/fs_log_store.h"
#include "test_util.h"

namespace tug::engine::kubernetes {
namespace {
namespace json = boost::json;
using std::chrono::seconds;
using testing::WaitFor;

constexpr char kNamespace[] = "default";
constexpr int64_t kMi = int64_t{1024} * 1024;

// One API server and simulated cluster for the binary.
class UsageWorld : public ::testing::Environment {
 public:
  void SetUp() override {
    env_ = std::make_unique<testing::KubeTestEnv>();
    if (auto st = env_->Start(); !st.ok()) {
      skip_reason_ = st.error().message();
      return;
    }
    auto cfg = kube::LoadKubeconfig(env_->kubeconfig());
    ASSERT_TRUE(cfg.ok()) << cfg.error().ToString();
    auto client = kube::Client::Create(*cfg);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_ = std::move(*client);
    sim_ = std::make_unique<testing::NodeSimulator>(*client_, kNamespace, env_->dir());
    ASSERT_TRUE(sim_->Start().ok());
    ASSERT_TRUE(sim_->AddNode({"spot-1", "spot", 16000, 64LL << 30}).ok());
    ASSERT_TRUE(sim_->AddNode({"ondemand-1", "on-demand", 16000, 64LL << 30}).ok());
  }
  void TearDown() override {
    if (sim_) sim_->Stop();
    sim_.reset();
    client_.reset();
    env_.reset();
  }
  static inline UsageWorld* instance = nullptr;
  std::unique_ptr<testing::KubeTestEnv> env_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<testing::NodeSimulator> sim_;
  std::string skip_reason_;
};

// Every update of one engine, in the order the sink saw them.
class UpdateLog {
 public:
  UpdateSink Sink() {
    return [this](const Update& u) {
      std::lock_guard lock(mu_);
      updates_.push_back(u);
      cv_.notify_all();
    };
  }
  /// The first update of the attempt, after the first `skip` of them, that `match` accepts.
  std::optional<Update> WaitFor(const std::string& attempt_id,
                                const std::function<bool(const Update&)>& match,
                                seconds timeout = seconds(30)) {
    std::unique_lock lock(mu_);
    std::optional<Update> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const Update& u : updates_) {
        if (u.attempt_id == attempt_id && match(u)) {
          found = u;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::optional<Update> WaitKind(const std::string& attempt_id, Update::Kind kind) {
    return WaitFor(attempt_id, [&](const Update& u) { return u.kind == kind; });
  }
  std::vector<Update> All() {
    std::lock_guard lock(mu_);
    return updates_;
  }
  std::vector<Update> Of(const std::string& attempt_id) {
    std::vector<Update> out;
    for (Update& u : All()) {
      if (u.attempt_id == attempt_id) out.push_back(std::move(u));
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Update> updates_;
};

int CountUsage(const std::vector<Update>& updates) {
  return static_cast<int>(std::count_if(updates.begin(), updates.end(), [](const Update& u) {
    return u.kind == Update::Kind::kUsage;
  }));
}

std::string PodMetricsPath(const std::string& name = "") {
  std::string base = std::string(kMetricsApiPath) + "/namespaces/" + kNamespace + "/pods";
  return name.empty() ? base : base + "/" + name;
}

class KubeUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = UsageWorld::instance;
    if (!world_->skip_reason_.empty()) {
      if (testing::RequireKube()) FAIL() << world_->skip_reason_;
      GTEST_SKIP() << world_->skip_reason_;
    }
    logs_ = std::make_unique<logs::FsLogStore>(dir_.path() + "/logs");
  }
  void TearDown() override {
    if (engine_) {
      for (const std::string& id : engine_->Active()) {
        (void)engine_->Stop(id);
        log_.WaitKind(id, Update::Kind::kEnded);
      }
      engine_->Shutdown();
    }
    for (const std::string& name : metrics_) (void)client().Delete(PodMetricsPath(name), 0);
  }

  kube::Client& client() { return *world_->client_; }

  KubernetesEngineOptions Options() {
    KubernetesEngineOptions o;
    o.cluster = "sim";
    o.pod.namespace_ = kNamespace;
    o.usage_interval = 200'000;
    o.metrics_recheck = kMicrosPerSecond;
    return o;
  }
  void Use(std::unique_ptr<KubernetesEngine> engine) {
    engine_ = std::move(engine);
    engine_->SetSink(log_.Sink());
    engine_->Start();
  }

  // Serves metrics.k8s.io/v1beta1 pods from a CRD (idempotent), and waits until discovery
  // lists it.
  void ServeMetricsApi() {
    json::value crd = json::parse(R"({
      "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
      "metadata": {"name": "pods.metrics.k8s.io",
                   "annotations": {"api-approved.kubernetes.io": "unapproved, testing only"}},
      "spec": {"group": "metrics.k8s.io", "scope": "Namespaced",
               "names": {"plural": "pods", "singular": "podmetrics", "kind": "PodMetrics",
                         "listKind": "PodMetricsList"},
               "versions": [{"name": "v1beta1", "served": true, "storage": true,
                             "schema": {"openAPIV3Schema": {"type": "object",
                                        "x-kubernetes-preserve-unknown-fields": true}}}]}})");
    auto made = client().Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
    if (!made.ok()) {
      ASSERT_EQ(made.error().code(), Code::kAlreadyExists)
          << "the API server refused the PodMetrics CRD: " << made.error().ToString();
    }
    ASSERT_TRUE(WaitFor(
        [&] {
          auto d = client().Get(kMetricsApiPath);
          return d.ok() && ServesPodMetrics(*d) && client().List(PodMetricsPath()).ok();
        },
        seconds(30)))
        << "the PodMetrics CRD was not served within 30 s";
  }

  // What metrics-server would answer for the pod: one container's usage, measured at `at`.
  void PutMetrics(const std::string& pod, Micros at, const std::string& cpu,
                  const std::string& memory, const std::string& container = "main") {
    json::object body{
        {"apiVersion", "metrics.k8s.io/v1beta1"},
        {"kind", "PodMetrics"},
        {"metadata", json::object{{"name", pod},
                                  {"namespace", kNamespace},
                                  {"labels", json::object{{kLabelManaged, "true"}}}}},
        {"timestamp", FormatTimestamp(at)},
        {"window", "15.01s"},
        {"containers",
         json::array{json::object{{"name", container},
                                  {"usage", json::object{{"cpu", cpu}, {"memory", memory}}}}}}};
    auto r = client().Post(PodMetricsPath(), body);
    if (!r.ok() && r.error().code() == Code::kAlreadyExists) {
      r = client().Patch(PodMetricsPath(pod), body);
    }
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    metrics_.insert(pod);
  }

  LaunchSpec Container(const std::string& run_id) {
    LaunchSpec spec;
    spec.run_id = run_id;
    spec.attempt_id = run_id + "-1";
    spec.definition = "usage";
    spec.image = "busybox:1.36";
    spec.argv = {"/bin/sleep", "3600"};
    spec.env = {{"TUG_SIM", "hang"}};
    spec.resources.memory_bytes = 64 * kMi;
    spec.resources.cpu_millis = 250;
    return spec;
  }

  // Waits until the engine has listed the metrics `n` more times.
  bool WaitPolls(int n) {
    int64_t until = engine_->metrics_polls() + n;
    return WaitFor([&] { return engine_->metrics_polls() >= until; }, seconds(30));
  }

  UsageWorld* world_ = nullptr;
  testing::TempDir dir_;
  std::unique_ptr<logs::FsLogStore> logs_;
  std::unique_ptr<KubernetesEngine> engine_;
  UpdateLog log_;
  std::set<std::string> metrics_;
};

// Runs first: the API server has no metrics API until the test serves it.
TEST_F(KubeUsageTest, UsageFollowsTheMetricsApiOnceItAppears) {
  Use(std::make_unique<KubernetesEngine>(Options(), client(), *logs_, SystemClock::Instance()));
  LaunchSpec a = Container("usage-a");
  ASSERT_TRUE(engine_->Launch(a).ok());
  ASSERT_TRUE(log_.WaitKind(a.attempt_id, Update::Kind::kStarted)) << "pod never ran";
  auto absent = client().Get(kMetricsApiPath);
  ASSERT_FALSE(absent.ok() && ServesPodMetrics(*absent)) << "the metrics API is already served";
  EXPECT_EQ(engine_->metrics_polls(), 0);

  // The API appears; the engine finds it at its next look (metrics_recheck 1 s).
  ServeMetricsApi();
  const Micros t1 = (SystemClock::Instance().Now() / kMicrosPerSecond - 5) * kMicrosPerSecond;
  PutMetrics(PodName(a.attempt_id), t1, "123456789n", "20480Ki");
  PutMetrics("tug-someone-else-1", t1, "1", "1Gi");  // our label, but no attempt of ours
  auto first = log_.WaitKind(a.attempt_id, Update::Kind::kUsage);
  ASSERT_TRUE(first) << "no kUsage within 30 s of the metrics API appearing";
  EXPECT_EQ(first->at, t1);
  EXPECT_GT(first->started_at, 0);
  ASSERT_EQ(first->usage.size(), 1u);
  EXPECT_EQ(first->usage[0], (UsageReading{"main", 20 * kMi, 123, 64 * kMi, 0}));

  // A sample is sent once: more lists of the same sample send nothing.
  ASSERT_TRUE(WaitPolls(3));
  EXPECT_EQ(CountUsage(log_.Of(a.attempt_id)), 1);

  // A newer sample is sent.
  PutMetrics(PodName(a.attempt_id), t1 + 15 * kMicrosPerSecond, "1500m", "48Mi");
  auto second = log_.WaitFor(a.attempt_id, [](const Update& u) {
    return u.kind == Update::Kind::kUsage && u.usage[0].cpu_millis == 1500;
  });
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at, t1 + 15 * kMicrosPerSecond);
  EXPECT_EQ(second->usage[0], (UsageReading{"main", 48 * kMi, 1500, 64 * kMi, 0}));

  // After its end an attempt gets no more usage, though its pod's metrics linger; a second
  // attempt still running shows the engine went on sampling.
  LaunchSpec b = Container("usage-b");
  ASSERT_TRUE(engine_->Launch(b).ok());
  ASSERT_TRUE(log_.WaitKind(b.attempt_id, Update::Kind::kStarted));
  ASSERT_TRUE(engine_->Stop(a.attempt_id).ok());
  ASSERT_TRUE(log_.WaitKind(a.attempt_id, Update::Kind::kEnded));
  const Micros t3 = t1 + 30 * kMicrosPerSecond;
  PutMetrics(PodName(a.attempt_id), t3, "2", "50Mi");
  PutMetrics(PodName(b.attempt_id), t3, "10m", "8Mi");
  auto of_b = log_.WaitFor(
      b.attempt_id, [&](const Update& u) { return u.kind == Update::Kind::kUsage && u.at == t3; });
  ASSERT_TRUE(of_b) << "the running attempt got no usage";
  EXPECT_EQ(of_b->usage[0], (UsageReading{"main", 8 * kMi, 10, 64 * kMi, 0}));
  std::vector<Update> of_a = log_.Of(a.attempt_id);
  auto ended = std::find_if(of_a.begin(), of_a.end(),
                            [](const Update& u) { return u.kind == Update::Kind::kEnded; });
  ASSERT_NE(ended, of_a.end());
  // (Kubernetes events of the pod may still come after the end; usage may not.)
  EXPECT_EQ(CountUsage({ended, of_a.end()}), 0) << "kUsage after kEnded";
  EXPECT_EQ(CountUsage(of_a), 2);
  for (const Update& u : log_.All()) {
    EXPECT_TRUE(u.attempt_id == a.attempt_id || u.attempt_id == b.attempt_id) << u.attempt_id;
  }
}

// The spark engine is a KubernetesEngine: Spark's driver and executor pods are components of
// the attempt, and each gets its reading.
TEST_F(KubeUsageTest, SparkDriverAndExecutorsAreComponents) {
  ServeMetricsApi();
  spark::SparkSettings settings;
  settings.images = {{"3.5", "apache/spark:3.5.1"}};
  Use(std::make_unique<spark::SparkEngine>(Options(), settings, client(), *logs_,
                                           SystemClock::Instance()));
  LaunchSpec spec;
  spec.run_id = "usage-spark";
  spec.attempt_id = "usage-spark-1";
  spec.definition = "pi";
  spec.kind = "spark";
  spec.spark.version = "3.5";
  spec.spark.main = "local:///opt/spark/examples/src/main/python/pi.py";
  // spark-submit (no script) submits at once; the driver runs until stopped; executors without
  // a script run until their driver deletes them.
  spec.spark.conf = {{"spark.kubernetes.driverEnv.TUG_SIM", "hang"}};
  spec.resources.spark.driver = {1000, 512 * kMi, 0};
  spec.resources.spark.executor = {1000, 1024 * kMi, 0};
  spec.resources.spark.instances = 2;
  spec.placement = {"on-demand", "spot"};
  ASSERT_TRUE(engine_->Launch(spec).ok());
  const std::string& id = spec.attempt_id;
  std::map<std::string, std::string> pods;  // component → pod
  ASSERT_TRUE(WaitFor(
      [&] {
        pods.clear();
        int running = 0;
        for (const ComponentStatus& c : engine_->Components(id)) {
          pods[c.name] = c.pod;
          running += c.state == "running" ? 1 : 0;
        }
        return running == 4;
      },
      seconds(60)))
      << "controller, driver and two executors did not all run";
  ASSERT_EQ(pods.count("executor-1") + pods.count("executor-2") + pods.count("driver"), 3u);

  const Micros t = (SystemClock::Instance().Now() / kMicrosPerSecond - 2) * kMicrosPerSecond;
  std::map<std::string, std::pair<int64_t, int64_t>> want = {// component → cpu, memory
                                                             {"controller", {20, 150 * kMi}},
                                                             {"driver", {700, 400 * kMi}},
                                                             {"executor-1", {980, 900 * kMi}},
                                                             {"executor-2", {1, 512 * kMi}}};
  for (const auto& [component, usage] : want) {
    PutMetrics(pods.at(component), t, fmt::format("{}m", usage.first),
               fmt::format("{}Mi", usage.second / kMi), "spark-kubernetes-" + component);
  }
  // Components with a new sample since the last update are in the next one: collect them.
  std::map<std::string, UsageReading> seen;
  auto all_seen = [&] {
    seen.clear();
    for (const Update& u : log_.Of(id)) {
      if (u.kind != Update::Kind::kUsage) continue;
      EXPECT_EQ(u.at, t);
      EXPECT_GT(u.started_at, 0);
      for (const UsageReading& r : u.usage) {
        EXPECT_EQ(seen.count(r.component), 0u) << r.component << " sent twice";
        seen[r.component] = r;
      }
    }
    return seen.size() == want.size();
  };
  ASSERT_TRUE(WaitFor(all_seen, seconds(30))) << "readings of " << seen.size() << " components";
  for (const auto& [component, r] : seen) {
    ASSERT_EQ(want.count(component), 1u) << component;
    EXPECT_EQ(r.cpu_millis, want[component].first) << component;
    EXPECT_EQ(r.memory_bytes, want[component].second) << component;
    // Limits as the pods carry them (Spark's sizes plus overhead; the controller's from the
    // spark settings).
    auto pod = client().Get(std::string("/api/v1/namespaces/") + kNamespace + "/pods/" +
                            pods.at(component));
    ASSERT_TRUE(pod.ok()) << pod.error().ToString();
    EXPECT_EQ(r.memory_limit_bytes, LimitsOf(*pod).memory_bytes) << component;
    EXPECT_GT(r.memory_limit_bytes, 0) << component;
    EXPECT_EQ(r.cpu_limit_millis, LimitsOf(*pod).cpu_millis) << component;
  }
  EXPECT_EQ(seen["controller"].memory_limit_bytes, settings.controller_memory_bytes);
}

// usage.source: prometheus. The samples come from the injected source (in the server,
// metrics::ReadNamespaceUsage over the Prometheus HTTP API; here a stand-in), the metrics API is
// never asked (it may be served by now: the tests above made it), and a failing source is tried
// again every interval without sending anything.
TEST_F(KubeUsageTest, UsageFromAnInjectedSourceInsteadOfTheMetricsApi) {
  std::mutex mu;
  std::vector<PodMetricsSample> answer;
  bool failing = true;
  int calls = 0;
  KubernetesEngineOptions o = Options();
  o.usage_source = [&](const std::string& ns) -> Result<std::vector<PodMetricsSample>> {
    std::lock_guard lock(mu);
    EXPECT_EQ(ns, kNamespace);
    ++calls;
    if (failing) return Unavailable("prometheus: cannot reach prometheus at http://127.0.0.1:9");
    return answer;
  };
  Use(std::make_unique<KubernetesEngine>(o, client(), *logs_, SystemClock::Instance()));
  LaunchSpec a = Container("usage-src");
  ASSERT_TRUE(engine_->Launch(a).ok());
  ASSERT_TRUE(log_.WaitKind(a.attempt_id, Update::Kind::kStarted)) << "pod never ran";
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return calls >= 3;
      },
      seconds(30)))
      << "the source was not asked again after failing";
  EXPECT_EQ(CountUsage(log_.Of(a.attempt_id)), 0);
  EXPECT_EQ(engine_->metrics_polls(), 0);

  const Micros t = (SystemClock::Instance().Now() / kMicrosPerSecond - 1) * kMicrosPerSecond;
  {
    std::lock_guard lock(mu);
    failing = false;
    answer = {{PodName(a.attempt_id), t, 30 * kMi, 250}, {"tug-not-ours-1", t, kMi, 1}};
  }
  auto u = log_.WaitKind(a.attempt_id, Update::Kind::kUsage);
  ASSERT_TRUE(u) << "no kUsage from the source within 30 s";
  EXPECT_EQ(u->at, t);
  ASSERT_EQ(u->usage.size(), 1u);
  EXPECT_EQ(u->usage[0], (UsageReading{"main", 30 * kMi, 250, 64 * kMi, 0}));
  EXPECT_GT(engine_->metrics_polls(), 0);
  for (const Update& x : log_.All()) EXPECT_EQ(x.attempt_id, a.attempt_id);
}

}  // namespace
}  // namespace tug::engine::kubernetes

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  tug::engine::kubernetes::UsageWorld::instance = new tug::engine::kubernetes::UsageWorld();
  ::testing::AddGlobalTestEnvironment(tug::engine::kubernetes::UsageWorld::instance);
  return RUN_ALL_TESTS();
}
