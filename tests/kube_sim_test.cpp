// The node simulator against a real kube-apiserver (scripts/kube-testenv): nodes register, pods
// are scheduled and "run" following their TUG_SIM scripts, logs come back through the API
// server's pods/log proxy, deletion and API server restarts behave as with a real kubelet.
// Skipped when kube-apiserver is not built (fails instead with TUG_REQUIRE_KUBE=1).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "kube/client.h"
#include "kube_sim.h"
#include "test_util.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kNamespace[] = "default";
constexpr char kCapacityLabel[] = "karpenter.sh/capacity-type";

// One API server and one simulated cluster (a spot and an on-demand node) per test binary.
class SimWorld : public ::testing::Environment {
 public:
  void SetUp() override {
    env = std::make_unique<KubeTestEnv>();
    Status st = env->Start();
    if (!st.ok()) {
      (st.error().code() == Code::kFailedPrecondition ? skip_reason : failure) =
          st.error().ToString();
      return;
    }
    auto cfg = kube::LoadKubeconfig(env->kubeconfig());
    if (!cfg.ok()) {
      failure = cfg.error().ToString();
      return;
    }
    auto c = kube::Client::Create(*cfg);
    if (!c.ok()) {
      failure = c.error().ToString();
      return;
    }
    client = std::move(*c);
    sim = std::make_unique<NodeSimulator>(*client, kNamespace, env->dir(), kCapacityLabel);
    st = sim->Start();
    if (st.ok()) st = sim->AddNode({"spot-1", "spot"});
    if (st.ok()) st = sim->AddNode({"ondemand-1", "on-demand"});
    if (!st.ok()) failure = st.error().ToString();
  }
  void TearDown() override {
    if (sim) sim->Stop();
    sim.reset();
    client.reset();
    env.reset();
  }

  static SimWorld* instance;
  std::unique_ptr<KubeTestEnv> env;
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<NodeSimulator> sim;
  std::string skip_reason;
  std::string failure;
};
SimWorld* SimWorld::instance = nullptr;

const json::value* Find(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) {
    const json::object* o = cur->if_object();
    if (o == nullptr || o->if_contains(k) == nullptr) return nullptr;
    cur = o->if_contains(k);
  }
  return cur;
}

// A field as text ("" when absent); non-strings serialized.
std::string Text(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* f = Find(v, path);
  if (f == nullptr) return "";
  return f->is_string() ? std::string(f->get_string()) : json::serialize(*f);
}

// containerStatuses[0], or null.
json::value Container(const json::value& pod) {
  const json::value* cs = Find(pod, {"status", "containerStatuses"});
  if (cs == nullptr || !cs->is_array() || cs->get_array().empty()) return nullptr;
  return cs->get_array()[0];
}

json::value ConditionOf(const json::value& pod, std::string_view type) {
  const json::value* cs = Find(pod, {"status", "conditions"});
  if (cs == nullptr || !cs->is_array()) return nullptr;
  for (const json::value& c : cs->get_array()) {
    if (Text(c, {"type"}) == type) return c;
  }
  return nullptr;
}

struct PodOptions {
  std::string name = {};
  std::string sim = {};       // TUG_SIM; empty: not set
  std::string capacity = {};  // required node affinity on the capacity label
  std::string memory = {};    // limit = request
  std::string host = {};      // nodeSelector kubernetes.io/hostname
  int64_t grace = -1;         // terminationGracePeriodSeconds
};

json::object Manifest(const PodOptions& o) {
  json::object container{
      {"name", "main"}, {"image", "busybox:1.36"}, {"command", json::array{"/bin/true"}}};
  if (!o.sim.empty()) {
    container["env"] = json::array{json::object{{"name", "TUG_SIM"}, {"value", o.sim}}};
  }
  if (!o.memory.empty()) {
    container["resources"] = json::object{{"limits", json::object{{"memory", o.memory}}},
                                          {"requests", json::object{{"memory", o.memory}}}};
  }
  json::object spec{{"restartPolicy", "Never"}, {"containers", json::array{container}}};
  if (!o.capacity.empty()) {
    json::object expr{
        {"key", kCapacityLabel}, {"operator", "In"}, {"values", json::array{o.capacity}}};
    json::object term{{"matchExpressions", json::array{expr}}};
    spec["affinity"] = json::object{
        {"nodeAffinity", json::object{{"requiredDuringSchedulingIgnoredDuringExecution",
                                       json::object{{"nodeSelectorTerms", json::array{term}}}}}}};
  }
  if (!o.host.empty()) spec["nodeSelector"] = json::object{{"kubernetes.io/hostname", o.host}};
  if (o.grace >= 0) spec["terminationGracePeriodSeconds"] = o.grace;
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", json::object{{"name", o.name}}},
                      {"spec", std::move(spec)}};
}

class KubeSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = SimWorld::instance;
    if (!world_->failure.empty()) FAIL() << world_->failure;
    if (!world_->skip_reason.empty()) {
      if (RequireKube()) FAIL() << world_->skip_reason;
      GTEST_SKIP() << world_->skip_reason;
    }
  }

  kube::Client& client() { return *world_->client; }
  NodeSimulator& sim() { return *world_->sim; }
  static std::string PodPath(const std::string& name) {
    return std::string("/api/v1/namespaces/") + kNamespace + "/pods/" + name;
  }

  void Create(const PodOptions& o) {
    auto r = client().Post(std::string("/api/v1/namespaces/") + kNamespace + "/pods", Manifest(o));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }

  // Polls the pod until pred holds; *last gets the last version seen.
  bool WaitPod(const std::string& name, const std::function<bool(const json::value&)>& pred,
               json::value* last = nullptr, std::chrono::milliseconds timeout = 60s) {
    json::value seen;
    bool ok = WaitFor(
        [&] {
          auto r = client().Get(PodPath(name));
          if (!r.ok()) return false;
          seen = *r;
          return pred(seen);
        },
        timeout);
    if (last != nullptr) *last = seen;
    return ok;
  }
  bool WaitPhase(const std::string& name, const std::string& phase, json::value* last = nullptr) {
    return WaitPod(
        name,
        [&](const json::value& p) {
          return Text(p, {"status", "phase"}) == phase;
        },
        last);
  }
  bool WaitGone(const std::string& name, std::chrono::milliseconds timeout) {
    return WaitFor(
        [&] {
          auto r = client().Get(PodPath(name));
          return !r.ok() && r.error().code() == Code::kNotFound;
        },
        timeout);
  }

  // The pod's events: reason → messages.
  std::multimap<std::string, std::string> Events(const std::string& pod) {
    std::multimap<std::string, std::string> out;
    auto r = client().List(std::string("/api/v1/namespaces/") + kNamespace + "/events",
                           {{"fieldSelector", "involvedObject.name=" + pod}});
    if (!r.ok()) return out;
    for (const json::value& e : r->items) out.emplace(Text(e, {"reason"}), Text(e, {"message"}));
    return out;
  }

  SimWorld* world_ = nullptr;
};

TEST(SimScriptTest, ParsesEveryDirective) {
  auto s = ParseSimScript(
      "run=1.5; exit=3;log=hello world;log=a=b:c;log_every=0.2;log_count=4;oom_below=150Mi");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_DOUBLE_EQ(s->run_seconds, 1.5);
  EXPECT_EQ(s->exit_code, 3);
  EXPECT_EQ(s->logs, (std::vector<std::string>{"hello world", "a=b:c"}));
  EXPECT_DOUBLE_EQ(s->log_every_seconds, 0.2);
  EXPECT_EQ(s->log_count, 4);
  EXPECT_EQ(s->oom_below_bytes, 150LL << 20);
  EXPECT_FALSE(s->hang);

  auto w = ParseSimScript("waiting=ErrImagePull:manifest unknown: not found");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->waiting.has_value());
  EXPECT_EQ(w->waiting->first, "ErrImagePull");
  EXPECT_EQ(w->waiting->second, "manifest unknown: not found");
  EXPECT_TRUE(ParseSimScript("hang")->hang);
  EXPECT_EQ(*ParseSimScript("oom_below=1G")->oom_below_bytes, 1'000'000'000);
}

TEST(SimScriptTest, DefaultsAndErrors) {
  auto d = ParseSimScript("");
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(d->run_seconds, 0.3);
  EXPECT_EQ(d->exit_code, 0);
  // Ticks get the time they need unless run= says otherwise.
  EXPECT_DOUBLE_EQ(ParseSimScript("log_every=0.5;log_count=4")->run_seconds, 2.0);
  EXPECT_DOUBLE_EQ(ParseSimScript("log_every=0.5;log_count=4;run=1")->run_seconds, 1.0);
  for (const char* bad : {"run=abc", "exit=300", "sleep=1", "oom_below=lots", "log_count=3",
                          "waiting=:msg", "hang=1", "log_every=0"}) {
    auto r = ParseSimScript(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find("TUG_SIM"), std::string::npos) << r.error().message();
  }
}

TEST_F(KubeSimTest, NodesAreRegisteredAndReady) {
  for (auto [name, capacity] :
       {std::pair{"spot-1", "spot"}, std::pair{"ondemand-1", "on-demand"}}) {
    auto n = client().Get(std::string("/api/v1/nodes/") + name);
    ASSERT_TRUE(n.ok()) << n.error().ToString();
    EXPECT_EQ(Text(*n, {"metadata", "labels", kCapacityLabel}), capacity);
    EXPECT_EQ(Text(*n, {"metadata", "labels", "kubernetes.io/hostname"}), name);
    EXPECT_EQ(Text(ConditionOf(*n, "Ready"), {"status"}), "True");
    EXPECT_EQ(Text(*n, {"status", "daemonEndpoints", "kubeletEndpoint", "Port"}),
              std::to_string(sim().kubelet_port()));
    EXPECT_EQ(Text(*n, {"status", "allocatable", "pods"}), "110");
    EXPECT_EQ(Text(*n, {"status", "capacity", "memory"}), "16Gi");
    std::string addresses = Text(*n, {"status", "addresses"});
    EXPECT_NE(addresses.find(R"({"type":"InternalIP","address":"127.0.0.1"})"), std::string::npos)
        << addresses;
  }
}

TEST_F(KubeSimTest, SpotPodRunsToSuccessWithLogsThroughTheApiServer) {
  const std::string name = "spot-hello";
  Create({.name = name,
          .sim = "log=hello;log=second line;log_every=0.3;log_count=4;run=2.5",
          .capacity = "spot"});
  json::value pod;
  ASSERT_TRUE(WaitPhase(name, "Running", &pod)) << json::serialize(pod);
  EXPECT_EQ(sim().NodeOf(name), "spot-1");
  EXPECT_EQ(Text(pod, {"spec", "nodeName"}), "spot-1");
  EXPECT_EQ(Text(pod, {"status", "podIP"}), "127.0.0.1");
  EXPECT_EQ(Text(Container(pod), {"ready"}), "true");
  EXPECT_NE(Text(Container(pod), {"state", "running", "startedAt"}), "");

  // Follow with timestamps while it runs: the stream ends when the container does.
  std::string followed;
  Status st = client().Stream(PodPath(name) + "/log?container=main&follow=true&timestamps=true",
                              [&](std::string_view data) {
                                followed.append(data);
                                return true;
                              });
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  std::vector<std::string> lines;
  for (size_t at = 0; at < followed.size();) {
    size_t nl = followed.find('\n', at);
    if (nl == std::string::npos) nl = followed.size();
    lines.push_back(followed.substr(at, nl - at));
    at = nl + 1;
  }
  const std::vector<std::string> want = {"hello",  "second line", "tick 0",
                                         "tick 1", "tick 2",      "tick 3"};
  ASSERT_EQ(lines.size(), want.size()) << followed;
  const std::regex stamped(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (.*)$)");
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, stamped)) << lines[i];
    EXPECT_EQ(m[1].str(), want[i]);
  }

  ASSERT_TRUE(WaitPhase(name, "Succeeded", &pod)) << json::serialize(pod);
  json::value c = Container(pod);
  EXPECT_EQ(Text(c, {"state", "terminated", "exitCode"}), "0");
  EXPECT_EQ(Text(c, {"state", "terminated", "reason"}), "Completed");
  EXPECT_EQ(Text(ConditionOf(pod, "Ready"), {"reason"}), "PodCompleted");

  auto plain = client().GetText(PodPath(name) + "/log?container=main");
  ASSERT_TRUE(plain.ok()) << plain.error().ToString();
  EXPECT_EQ(*plain, "hello\nsecond line\ntick 0\ntick 1\ntick 2\ntick 3\n");
  // sinceTime (seconds) keeps lines at or after it.
  std::string first_second = lines[0].substr(0, 19) + "Z";
  auto since = client().GetText(PodPath(name) + "/log?sinceTime=" + kube::Escape(first_second));
  ASSERT_TRUE(since.ok()) << since.error().ToString();
  EXPECT_EQ(*since, *plain);
  auto future = client().GetText(PodPath(name) + "/log?sinceTime=2999-01-01T00:00:00Z");
  ASSERT_TRUE(future.ok()) << future.error().ToString();
  EXPECT_EQ(*future, "");

  std::multimap<std::string, std::string> events;
  ASSERT_TRUE(WaitFor([&] {
    events = Events(name);
    return events.contains("Started");
  }));
  ASSERT_TRUE(events.contains("Scheduled"));
  EXPECT_EQ(events.find("Scheduled")->second, "Successfully assigned default/spot-hello to spot-1");
  EXPECT_TRUE(events.contains("Pulled"));
  EXPECT_TRUE(events.contains("Created"));
  EXPECT_EQ(sim().Bindings(name), 1);
  EXPECT_GE(sim().PodsCreatedSeen(), 1);
}

TEST_F(KubeSimTest, NodeSelectorPinsTheNode) {
  Create({.name = "pinned", .sim = "exit=4", .host = "ondemand-1"});
  json::value pod;
  ASSERT_TRUE(WaitPhase("pinned", "Failed", &pod)) << json::serialize(pod);
  EXPECT_EQ(Text(pod, {"spec", "nodeName"}), "ondemand-1");
  EXPECT_EQ(Text(Container(pod), {"state", "terminated", "exitCode"}), "4");
  EXPECT_EQ(Text(Container(pod), {"state", "terminated", "reason"}), "Error");
}

TEST_F(KubeSimTest, MemoryBelowTheScriptsNeedIsOomKilled) {
  Create({.name = "oom-small", .sim = "oom_below=100Mi;log=start;run=0.2", .memory = "64Mi"});
  Create({.name = "oom-big", .sim = "oom_below=100Mi;log=start;run=0.2", .memory = "128Mi"});
  json::value pod;
  ASSERT_TRUE(WaitPhase("oom-small", "Failed", &pod)) << json::serialize(pod);
  json::value c = Container(pod);
  EXPECT_EQ(Text(c, {"state", "terminated", "exitCode"}), "137");
  EXPECT_EQ(Text(c, {"state", "terminated", "reason"}), "OOMKilled");
  auto log = client().GetText(PodPath("oom-small") + "/log");
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(*log, "start\nallocating...\n");
  ASSERT_TRUE(WaitPhase("oom-big", "Succeeded", &pod)) << json::serialize(pod);
}

TEST_F(KubeSimTest, UnschedulablePodIsReportedOnceAndBoundWhenANodeFits) {
  const std::string name = "gpu-pod";
  Create({.name = name, .sim = "run=0.2", .capacity = "gpu"});
  json::value pod;
  ASSERT_TRUE(WaitPod(
      name,
      [](const json::value& p) {
        return Text(ConditionOf(p, "PodScheduled"), {"reason"}) == "Unschedulable";
      },
      &pod))
      << json::serialize(pod);
  auto nodes = client().List("/api/v1/nodes");
  ASSERT_TRUE(nodes.ok());
  size_t n = nodes->items.size();
  json::value cond = ConditionOf(pod, "PodScheduled");
  EXPECT_EQ(Text(cond, {"status"}), "False");
  EXPECT_EQ(Text(cond, {"message"}), "0/" + std::to_string(n) +
                                         " nodes are available: " + std::to_string(n) +
                                         " node(s) didn't match Pod's node affinity/selector.");
  EXPECT_EQ(sim().NodeOf(name), "");
  ASSERT_TRUE(WaitFor([&] { return Events(name).contains("FailedScheduling"); }));

  ASSERT_TRUE(sim().AddNode({"gpu-1", "gpu"}).ok());
  ASSERT_TRUE(WaitPhase(name, "Succeeded", &pod)) << json::serialize(pod);
  EXPECT_EQ(sim().NodeOf(name), "gpu-1");
  EXPECT_EQ(sim().Bindings(name), 1);
  EXPECT_EQ(Events(name).count("FailedScheduling"), 1u);
  ASSERT_TRUE(sim().RemoveNode("gpu-1").ok());
}

TEST_F(KubeSimTest, GracefulDeleteTerminatesWith143ThenThePodIsGone) {
  const std::string name = "hanger";
  Create({.name = name, .sim = "log=waiting forever;hang", .grace = 30});
  ASSERT_TRUE(WaitPhase(name, "Running"));

  // Watch the pod: the 143 status is only visible between the kill and the final delete.
  std::mutex mu;
  std::vector<kube::WatchEvent> seen;
  kube::Informer::Handlers handlers;
  handlers.on_event = [&](const kube::WatchEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(e);
  };
  kube::Informer informer(client(), std::string("/api/v1/namespaces/") + kNamespace + "/pods",
                          {{"fieldSelector", "metadata.name=" + name}}, handlers);
  informer.Start();
  ASSERT_TRUE(WaitFor([&] { return informer.watches() >= 1; }));

  auto start = std::chrono::steady_clock::now();
  auto del = client().Delete(PodPath(name), 30);
  ASSERT_TRUE(del.ok()) << del.error().ToString();
  ASSERT_TRUE(WaitGone(name, 20s)) << "the simulated kubelet did not finish the deletion";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return !seen.empty() && seen.back().type == "DELETED";
  }));
  informer.Stop();
  bool saw_143 = false;
  for (const auto& e : seen) {
    json::value c = Container(e.object);
    if (Text(e.object, {"status", "phase"}) == "Failed" &&
        Text(c, {"state", "terminated", "exitCode"}) == "143" &&
        Text(c, {"state", "terminated", "reason"}) == "Error") {
      saw_143 = true;
    }
  }
  EXPECT_TRUE(saw_143);
  EXPECT_TRUE(Events(name).contains("Killing"));
}

TEST_F(KubeSimTest, DeleteWithGraceZeroJustRemovesThePod) {
  Create({.name = "short-lived", .sim = "hang"});
  ASSERT_TRUE(WaitPhase("short-lived", "Running"));
  auto del = client().Delete(PodPath("short-lived"), 0);
  ASSERT_TRUE(del.ok()) << del.error().ToString();
  EXPECT_TRUE(WaitGone("short-lived", 10s));
}

TEST_F(KubeSimTest, ImagePullErrorKeepsTheContainerWaiting) {
  const std::string name = "bad-image";
  Create({.name = name, .sim = "waiting=ErrImagePull:manifest unknown"});
  json::value pod;
  ASSERT_TRUE(WaitPod(
      name,
      [](const json::value& p) {
        return Text(Container(p), {"state", "waiting", "reason"}) == "ErrImagePull";
      },
      &pod))
      << json::serialize(pod);
  EXPECT_EQ(Text(pod, {"status", "phase"}), "Pending");
  EXPECT_EQ(Text(Container(pod), {"state", "waiting", "message"}), "manifest unknown");
  EXPECT_EQ(Text(Container(pod), {"ready"}), "false");
  auto log = client().GetText(PodPath(name) + "/log");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message().find("waiting to start: ErrImagePull"), std::string::npos)
      << log.error().ToString();
  std::multimap<std::string, std::string> events;
  ASSERT_TRUE(WaitFor([&] {
    events = Events(name);
    return events.count("Failed") >= 2;
  }));
  bool mentioned = false;
  for (auto [it, end] = events.equal_range("Failed"); it != end; ++it) {
    mentioned = mentioned || it->second.find("manifest unknown") != std::string::npos;
  }
  EXPECT_TRUE(mentioned);
  auto del = client().Delete(PodPath(name));
  ASSERT_TRUE(del.ok()) << del.error().ToString();
  EXPECT_TRUE(WaitGone(name, 20s));
}

TEST_F(KubeSimTest, ApiServerRestartMidRunLosesNothing) {
  const std::string name = "through-restart";
  Create({.name = name, .sim = "log=before;run=4;exit=3"});
  ASSERT_TRUE(WaitPhase(name, "Running"));
  ASSERT_TRUE(world_->env->StopApiserver().ok());
  Status started = world_->env->StartApiserver();
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  json::value pod;
  ASSERT_TRUE(WaitPhase(name, "Failed", &pod)) << json::serialize(pod);
  EXPECT_EQ(Text(Container(pod), {"state", "terminated", "exitCode"}), "3");
  EXPECT_EQ(sim().Bindings(name), 1);
  auto log = client().GetText(PodPath(name) + "/log");
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  EXPECT_EQ(*log, "before\n");
  // Scheduling still works after the restart.
  Create({.name = "after-restart"});
  ASSERT_TRUE(WaitPhase("after-restart", "Succeeded"));
}

TEST_F(KubeSimTest, RemovedNodeStopsSimulatingItsPods) {
  ASSERT_TRUE(sim().AddNode({"doomed-1", "doomed"}).ok());
  const std::string name = "on-doomed";
  Create({.name = name, .sim = "hang", .capacity = "doomed", .grace = 30});
  ASSERT_TRUE(WaitPhase(name, "Running"));
  EXPECT_EQ(sim().NodeOf(name), "doomed-1");
  ASSERT_TRUE(sim().RemoveNode("doomed-1").ok());
  auto node = client().Get("/api/v1/nodes/doomed-1");
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.error().code(), Code::kNotFound);
  // Nobody finishes the deletion on a dead node: the pod stays, terminating, still Running.
  ASSERT_TRUE(client().Delete(PodPath(name), 30).ok());
  EXPECT_FALSE(WaitGone(name, 2s));
  auto pod = client().Get(PodPath(name));
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(Text(*pod, {"status", "phase"}), "Running");
  Status again = sim().RemoveNode("doomed-1");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Code::kNotFound);
  ASSERT_TRUE(client().Delete(PodPath(name), 0).ok());
  EXPECT_TRUE(WaitGone(name, 10s));
}

// ---- Spark: the simulator plays spark-submit, the driver and its executors ----

TEST(SparkSubmitArgsTest, SplitsConfsAtTheFirstEqualsAndKeepsTheApplicationsArguments) {
  auto a = ParseSparkSubmit({"/opt/spark/bin/spark-submit",
                             "--master",
                             "k8s://https://kubernetes.default.svc:443",
                             "--deploy-mode",
                             "cluster",
                             "--name",
                             "pi",
                             "--class",
                             "org.example.Main",
                             "--conf",
                             "spark.kubernetes.namespace=default",
                             "--conf",
                             "spark.kubernetes.driverEnv.TUG_SIM=log=a=b;run=1",
                             "--conf=spark.executor.instances=3",
                             "--conf",
                             "spark.executor.memory=1g",
                             "--executor-memory",
                             "2g",
                             "--py-files",
                             "a.py,b.py",
                             "--jars",
                             "x.jar",
                             "--files",
                             "f.txt",
                             "--properties-file",
                             "/etc/spark.conf",
                             "--verbose",
                             "local:///opt/spark/examples/src/main/python/pi.py",
                             "1000",
                             "--not-an-option"});
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->master, "k8s://https://kubernetes.default.svc:443");
  EXPECT_EQ(a->deploy_mode, "cluster");
  EXPECT_EQ(a->name, "pi");
  EXPECT_EQ(a->main_class, "org.example.Main");
  EXPECT_EQ(a->main_resource, "local:///opt/spark/examples/src/main/python/pi.py");
  EXPECT_EQ(a->app_args, (std::vector<std::string>{"1000", "--not-an-option"}));
  EXPECT_EQ(a->conf.at("spark.kubernetes.namespace"), "default");
  EXPECT_EQ(a->conf.at("spark.kubernetes.driverEnv.TUG_SIM"), "log=a=b;run=1");
  EXPECT_EQ(a->conf.at("spark.executor.instances"), "3");
  // An option that stands for a conf wins over --conf, as in spark-submit.
  EXPECT_EQ(a->conf.at("spark.executor.memory"), "2g");
  EXPECT_EQ(a->conf.at("spark.app.name"), "pi");
  EXPECT_EQ(a->conf.at("spark.submit.pyFiles"), "a.py,b.py");
  EXPECT_EQ(a->options.at("--properties-file"), "/etc/spark.conf");

  // Behind a wrapper, and with the name only as a conf.
  auto wrapped = ParseSparkSubmit({"/opt/entrypoint.sh", "/opt/spark/bin/spark-submit", "--conf",
                                   "spark.app.name=etl", "a.jar"});
  ASSERT_TRUE(wrapped.ok()) << wrapped.error().ToString();
  EXPECT_EQ(wrapped->name, "etl");
  EXPECT_EQ(wrapped->main_resource, "a.jar");
  EXPECT_TRUE(wrapped->app_args.empty());
}

TEST(SparkSubmitArgsTest, ErrorsNameTheBadArgument) {
  auto bad_conf = ParseSparkSubmit({"spark-submit", "--conf", "spark.executor.cores", "a.jar"});
  ASSERT_FALSE(bad_conf.ok());
  EXPECT_EQ(bad_conf.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_conf.error().message().find("--conf 'spark.executor.cores' is not KEY=VALUE"),
            std::string::npos)
      << bad_conf.error().message();
  auto empty_key = ParseSparkSubmit({"spark-submit", "--conf", "=1", "a.jar"});
  ASSERT_FALSE(empty_key.ok());
  EXPECT_NE(empty_key.error().message().find("'=1'"), std::string::npos);
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{{},
                                             {"spark-submit", "--bogus", "x", "a.jar"},
                                             {"spark-submit", "--name"},
                                             {"spark-submit", "--name", "pi"},
                                             {"spark-submit", "--verbose=yes", "a.jar"}}) {
    auto r = ParseSparkSubmit(argv);
    ASSERT_FALSE(r.ok()) << argv.size();
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find("spark-submit"), std::string::npos) << r.error().message();
  }
}

TEST(SparkSubmitArgsTest, SparkMemoryStrings) {
  EXPECT_EQ(*ParseSparkMemoryMiB("512m"), 512);
  EXPECT_EQ(*ParseSparkMemoryMiB("2g"), 2048);
  EXPECT_EQ(*ParseSparkMemoryMiB("2G"), 2048);
  EXPECT_EQ(*ParseSparkMemoryMiB("2gb"), 2048);
  EXPECT_EQ(*ParseSparkMemoryMiB("2048k"), 2);
  EXPECT_EQ(*ParseSparkMemoryMiB("1t"), 1 << 20);
  EXPECT_EQ(*ParseSparkMemoryMiB("1024"), 1024);
  EXPECT_EQ(*ParseSparkMemoryMiB("1048576b"), 1);
  for (const char* bad : {"", "1.5g", "lots", "2Gi", "-1g", "9999999999999999999g"}) {
    EXPECT_FALSE(ParseSparkMemoryMiB(bad).ok()) << bad;
  }
}

// Every version of every pod the namespace's watch delivers, in order.
class PodRecorder {
 public:
  explicit PodRecorder(kube::Client& client)
      : informer_(client, std::string("/api/v1/namespaces/") + kNamespace + "/pods", {},
                  Handlers()) {}
  ~PodRecorder() { informer_.Stop(); }
  PodRecorder(const PodRecorder&) = delete;
  PodRecorder& operator=(const PodRecorder&) = delete;

  bool Start() {
    informer_.Start();
    return WaitFor([&] { return informer_.watches() >= 1; });
  }
  // The pod's versions ("DELETED" marks the last one).
  std::vector<kube::WatchEvent> Of(const std::string& name) const {
    std::lock_guard lock(mu_);
    std::vector<kube::WatchEvent> out;
    for (const auto& e : events_) {
      if (Text(e.object, {"metadata", "name"}) == name) out.push_back(e);
    }
    return out;
  }
  // Position of the first event of `name` that satisfies pred; -1 if none.
  int IndexOf(const std::string& name,
              const std::function<bool(const kube::WatchEvent&)>& pred) const {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < events_.size(); ++i) {
      if (Text(events_[i].object, {"metadata", "name"}) == name && pred(events_[i])) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

 private:
  kube::Informer::Handlers Handlers() {
    kube::Informer::Handlers h;
    h.on_event = [this](const kube::WatchEvent& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
    };
    return h;
  }

  mutable std::mutex mu_;
  std::vector<kube::WatchEvent> events_;
  kube::Informer informer_;
};

bool TerminatedWith(const json::value& pod, const std::string& code, const std::string& reason) {
  json::value c = Container(pod);
  return Text(c, {"state", "terminated", "exitCode"}) == code &&
         Text(c, {"state", "terminated", "reason"}) == reason;
}

// env name → value of the first container.
std::map<std::string, std::string> EnvOf(const json::value& pod) {
  std::map<std::string, std::string> out;
  const json::value* env = Find(pod, {"spec", "containers"});
  if (env == nullptr || !env->is_array() || env->get_array().empty()) return out;
  const json::value* list = Find(env->get_array()[0], {"env"});
  if (list == nullptr || !list->is_array()) return out;
  for (const json::value& e : list->get_array()) out[Text(e, {"name"})] = Text(e, {"value"});
  return out;
}

json::value FirstContainer(const json::value& pod) {
  const json::value* cs = Find(pod, {"spec", "containers"});
  if (cs == nullptr || !cs->is_array() || cs->get_array().empty()) return nullptr;
  return cs->get_array()[0];
}

std::vector<std::string> SubmitArgv(const std::string& name,
                                    const std::vector<std::string>& confs) {
  std::vector<std::string> argv = {"/opt/spark/bin/spark-submit",
                                   "--master",
                                   "k8s://https://kubernetes.default.svc:443",
                                   "--deploy-mode",
                                   "cluster",
                                   "--name",
                                   name,
                                   "--conf",
                                   "spark.kubernetes.namespace=default",
                                   "--conf",
                                   "spark.kubernetes.container.image=spark:3.5.0"};
  for (const auto& c : confs) {
    argv.emplace_back("--conf");
    argv.push_back(c);
  }
  argv.emplace_back("local:///opt/spark/examples/src/main/python/pi.py");
  argv.emplace_back("1000");
  return argv;
}

class SparkSimTest : public KubeSimTest {
 protected:
  // A controller pod running `argv`, with its own TUG_SIM (none when empty).
  void CreateController(const std::string& name, const std::vector<std::string>& argv,
                        const std::string& script = "") {
    json::array command;
    for (const auto& a : argv) command.push_back(json::value(a));
    json::object container{
        {"name", "spark-submit"}, {"image", "spark:3.5.0"}, {"command", command}};
    if (!script.empty()) {
      container["env"] = json::array{json::object{{"name", "TUG_SIM"}, {"value", script}}};
    }
    json::object pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         json::object{{"name", name},
                      {"labels", json::object{{"tugboat.io/component", "controller"}}}}},
        {"spec", json::object{{"restartPolicy", "Never"}, {"containers", json::array{container}}}}};
    auto r = client().Post(std::string("/api/v1/namespaces/") + kNamespace + "/pods", pod);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    controller_uid_ = Text(*r, {"metadata", "uid"});
  }
  std::string Log(const std::string& pod) {
    auto r = client().GetText(PodPath(pod) + "/log");
    return r.ok() ? *r : "<" + r.error().ToString() + ">";
  }
  static bool Contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
  bool Missing(const std::string& pod) {
    auto r = client().Get(PodPath(pod));
    return !r.ok() && r.error().code() == Code::kNotFound;
  }

  std::string controller_uid_;
};

TEST_F(SparkSimTest, SubmitCreatesTheDriverAndExecutorsAndCleansUp) {
  PodRecorder recorder(client());
  ASSERT_TRUE(recorder.Start());
  CreateController(
      "pi-ok-submit",
      SubmitArgv(
          "Pi Job!",
          {"spark.kubernetes.driver.pod.name=pi-ok-driver",
           "spark.kubernetes.executor.podNamePrefix=pi-ok",
           "spark.kubernetes.executor.container.image=spark-exec:3.5.0",
           "spark.executor.instances=2", "spark.driver.memory=1g", "spark.executor.memory=2g",
           "spark.executor.cores=1", "spark.kubernetes.driver.label.team=data",
           "spark.kubernetes.executor.label.team=data",
           "spark.kubernetes.driver.annotation.tugboat.io/run=run-1",
           "spark.kubernetes.executor.annotation.tugboat.io/run=run-1",
           "spark.kubernetes.node.selector.kubernetes.io/os=linux",
           std::string("spark.kubernetes.driver.node.selector.") + kCapacityLabel + "=on-demand",
           std::string("spark.kubernetes.executor.node.selector.") + kCapacityLabel + "=spot",
           "spark.kubernetes.authenticate.driver.serviceAccountName=spark",
           "spark.kubernetes.driverEnv.TUG_SIM=log=Pi is roughly 3.14;run=3",
           "spark.kubernetes.driverEnv.MODE=test", "spark.executorEnv.MODE=test"}));
  std::string app_id = "spark-" + std::regex_replace(controller_uid_, std::regex("-"), "");

  // The executors' logs while they run (they are deleted with the driver).
  for (const char* exec : {"pi-ok-exec-1", "pi-ok-exec-2"}) {
    json::value pod;
    ASSERT_TRUE(WaitPhase(exec, "Running", &pod)) << json::serialize(pod);
    std::string id = std::string(exec).substr(std::string(exec).size() - 1);
    EXPECT_TRUE(
        Contains(Log(exec), "INFO Executor: Starting executor ID " + id + " on host 127.0.0.1"))
        << Log(exec);
  }

  json::value controller;
  ASSERT_TRUE(WaitPhase("pi-ok-submit", "Succeeded", &controller)) << json::serialize(controller);
  EXPECT_TRUE(TerminatedWith(controller, "0", "Completed"));

  // The driver: everything spark-submit derives from the confs.
  auto driver = client().Get(PodPath("pi-ok-driver"));
  ASSERT_TRUE(driver.ok()) << driver.error().ToString();
  EXPECT_EQ(Text(*driver, {"status", "phase"}), "Succeeded");
  EXPECT_TRUE(TerminatedWith(*driver, "0", "Completed"));
  EXPECT_EQ(Text(*driver, {"metadata", "labels", "spark-role"}), "driver");
  EXPECT_EQ(Text(*driver, {"metadata", "labels", "spark-app-selector"}), app_id);
  EXPECT_EQ(Text(*driver, {"metadata", "labels", "spark-app-name"}), "pi-job");
  EXPECT_EQ(Text(*driver, {"metadata", "labels", "spark-version"}), "3.5.0");
  EXPECT_EQ(Text(*driver, {"metadata", "labels", "team"}), "data");
  EXPECT_EQ(Text(*driver, {"metadata", "annotations", "tugboat.io/run"}), "run-1");
  EXPECT_EQ(Text(*driver, {"spec", "nodeSelector", kCapacityLabel}), "on-demand");
  EXPECT_EQ(Text(*driver, {"spec", "nodeSelector", "kubernetes.io/os"}), "linux");
  EXPECT_EQ(Text(*driver, {"spec", "nodeName"}), "ondemand-1");
  EXPECT_EQ(Text(*driver, {"spec", "serviceAccountName"}), "spark");
  EXPECT_EQ(Text(*driver, {"spec", "restartPolicy"}), "Never");
  json::value dc = FirstContainer(*driver);
  EXPECT_EQ(Text(dc, {"name"}), "spark-kubernetes-driver");
  EXPECT_EQ(Text(dc, {"image"}), "spark:3.5.0");
  EXPECT_EQ(Text(dc, {"resources", "limits", "memory"}), "1408Mi");  // 1g + 384Mi
  EXPECT_EQ(Text(dc, {"resources", "requests", "memory"}), "1408Mi");
  EXPECT_EQ(Text(dc, {"resources", "requests", "cpu"}), "1");
  std::map<std::string, std::string> denv = EnvOf(*driver);
  EXPECT_EQ(denv["MODE"], "test");
  EXPECT_EQ(denv["SPARK_APPLICATION_ID"], app_id);
  EXPECT_EQ(denv["TUG_SIM"], "log=Pi is roughly 3.14;run=3");

  // The executors, as they were created, then killed (143) and gone.
  for (int n = 1; n <= 2; ++n) {
    std::string name = "pi-ok-exec-" + std::to_string(n);
    ASSERT_TRUE(WaitGone(name, 30s)) << name;
    ASSERT_TRUE(WaitFor([&] {
      auto seen = recorder.Of(name);
      return !seen.empty() && seen.back().type == "DELETED";
    }));
    std::vector<kube::WatchEvent> seen = recorder.Of(name);
    const json::value& created = seen.front().object;
    EXPECT_EQ(Text(created, {"metadata", "labels", "spark-role"}), "executor");
    EXPECT_EQ(Text(created, {"metadata", "labels", "spark-exec-id"}), std::to_string(n));
    EXPECT_EQ(Text(created, {"metadata", "labels", "spark-app-selector"}), app_id);
    EXPECT_EQ(Text(created, {"metadata", "labels", "spark-exec-resourceprofile-id"}), "0");
    EXPECT_EQ(Text(created, {"metadata", "labels", "team"}), "data");
    EXPECT_EQ(Text(created, {"metadata", "annotations", "tugboat.io/run"}), "run-1");
    EXPECT_EQ(Text(created, {"spec", "nodeSelector", kCapacityLabel}), "spot");
    EXPECT_EQ(Text(created, {"spec", "nodeSelector", "kubernetes.io/os"}), "linux");
    json::value ec = FirstContainer(created);
    EXPECT_EQ(Text(ec, {"name"}), "spark-kubernetes-executor");
    EXPECT_EQ(Text(ec, {"image"}), "spark-exec:3.5.0");
    EXPECT_EQ(Text(ec, {"resources", "limits", "memory"}), "2432Mi");  // 2g + 384Mi
    EXPECT_EQ(Text(ec, {"resources", "requests", "memory"}), "2432Mi");
    EXPECT_EQ(Text(ec, {"resources", "requests", "cpu"}), "1");
    std::map<std::string, std::string> eenv = EnvOf(created);
    EXPECT_EQ(eenv["MODE"], "test");
    EXPECT_FALSE(eenv.contains("TUG_SIM"));
    EXPECT_EQ(sim().NodeOf(name), "spot-1");
    EXPECT_EQ(sim().Bindings(name), 1);
    bool killed = false;
    for (const auto& e : seen) killed = killed || TerminatedWith(e.object, "143", "Error");
    EXPECT_TRUE(killed) << name;
    // Deleted by the driver before spark-submit saw it finish.
    int deleted_at = recorder.IndexOf(name, [](const kube::WatchEvent& e) {
      return Find(e.object, {"metadata", "deletionTimestamp"}) != nullptr;
    });
    auto succeeded = [](const kube::WatchEvent& e) {
      return Text(e.object, {"status", "phase"}) == "Succeeded";
    };
    // The pods were read Succeeded above; the recorder's watch may lag behind those reads.
    ASSERT_TRUE(WaitFor([&] { return recorder.IndexOf("pi-ok-submit", succeeded) >= 0; }));
    int driver_done_at = recorder.IndexOf("pi-ok-driver", succeeded);
    int submit_done_at = recorder.IndexOf("pi-ok-submit", succeeded);
    EXPECT_GE(deleted_at, 0);
    EXPECT_LT(deleted_at, driver_done_at);
    EXPECT_LT(driver_done_at, submit_done_at);
  }
  EXPECT_TRUE(recorder.Of("pi-ok-exec-3").empty());

  std::string submit_log = Log("pi-ok-submit");
  EXPECT_TRUE(Contains(submit_log,
                       "INFO KubernetesClientApplication: Submitting application Pi Job! with "
                       "application ID " +
                           app_id + " and submission ID default:pi-ok-driver"))
      << submit_log;
  EXPECT_TRUE(Contains(submit_log,
                       "INFO LoggingPodStatusWatcherImpl: State changed, new state: pod name: "
                       "pi-ok-driver, namespace: default"))
      << submit_log;
  EXPECT_TRUE(std::regex_search(submit_log, std::regex("State changed, new state: pod name: "
                                                       "pi-ok-driver, .* phase: Running")))
      << submit_log;
  EXPECT_TRUE(Contains(submit_log, "exit code: 0, termination reason: Completed")) << submit_log;
  EXPECT_TRUE(Contains(submit_log,
                       "INFO LoggingPodStatusWatcherImpl: Application Pi Job! with submission ID "
                       "default:pi-ok-driver finished"))
      << submit_log;
  // Spark's log4j layout.
  EXPECT_TRUE(std::regex_search(
      submit_log,
      std::regex(R"(^\d\d/\d\d/\d\d \d\d:\d\d:\d\d INFO SparkKubernetesClientFactory)")))
      << submit_log;

  std::string driver_log = Log("pi-ok-driver");
  for (const char* line :
       {"INFO SparkContext: Running Spark version 3.5.0", "Pi is roughly 3.14\n",
        "Going to request 2 executors from Kubernetes",
        "Registered executor NettyRpcEndpointRef(spark-client://Executor) (127.0.0.1:40001) with "
        "ID 1",
        "SchedulerBackend is ready for scheduling",
        "INFO SparkContext: Successfully stopped "
        "SparkContext"}) {
    EXPECT_TRUE(Contains(driver_log, line)) << line << "\n" << driver_log;
  }
  EXPECT_FALSE(Contains(driver_log, "Lost executor")) << driver_log;
}

TEST_F(SparkSimTest, OomKilledExecutorFailsTheDriverButNotSparkSubmit) {
  PodRecorder recorder(client());
  ASSERT_TRUE(recorder.Start());
  CreateController(
      "pi-oom-submit",
      SubmitArgv("pi-oom",
                 {"spark.app.id=spark-oom-test", "spark.kubernetes.driver.pod.name=pi-oom-driver",
                  "spark.executor.memory=512m", "spark.executor.memoryOverhead=128m",
                  // No exit=: the lost executor decides.
                  "spark.kubernetes.driverEnv.TUG_SIM=run=60",
                  "spark.executorEnv.TUG_SIM_EXEC_1=oom_below=1Gi;log=one"}));
  json::value controller;
  ASSERT_TRUE(WaitPhase("pi-oom-submit", "Succeeded", &controller)) << json::serialize(controller);
  EXPECT_TRUE(TerminatedWith(controller, "0", "Completed"));

  auto driver = client().Get(PodPath("pi-oom-driver"));
  ASSERT_TRUE(driver.ok()) << driver.error().ToString();
  EXPECT_EQ(Text(*driver, {"status", "phase"}), "Failed");
  EXPECT_TRUE(TerminatedWith(*driver, "1", "Error")) << json::serialize(*driver);
  EXPECT_EQ(Text(*driver, {"metadata", "labels", "spark-app-selector"}), "spark-oom-test");

  // The default executor prefix is the driver's name without "-driver".
  for (const char* name : {"pi-oom-exec-1", "pi-oom-exec-2"}) {
    ASSERT_TRUE(WaitGone(name, 30s)) << name;
  }
  ASSERT_TRUE(WaitFor([&] {
    auto seen = recorder.Of("pi-oom-exec-2");
    return !seen.empty() && seen.back().type == "DELETED";
  }));
  std::vector<kube::WatchEvent> one = recorder.Of("pi-oom-exec-1");
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(Text(FirstContainer(one.front().object), {"resources", "limits", "memory"}), "640Mi");
  EXPECT_EQ(EnvOf(one.front().object)["TUG_SIM"], "oom_below=1Gi;log=one");
  bool oom = false;
  for (const auto& e : one) oom = oom || TerminatedWith(e.object, "137", "OOMKilled");
  EXPECT_TRUE(oom);
  bool two_killed = false;
  for (const auto& e : recorder.Of("pi-oom-exec-2")) {
    two_killed = two_killed || TerminatedWith(e.object, "143", "Error");
  }
  EXPECT_TRUE(two_killed);

  const std::string reason =
      "The executor with id 1 exited with exit code 137(SIGKILL, possible container OOM).";
  std::string driver_log = Log("pi-oom-driver");
  EXPECT_TRUE(Contains(driver_log,
                       "ERROR TaskSchedulerImpl: Lost executor 1 on 127.0.0.1: " + reason + "\n"))
      << driver_log;
  EXPECT_TRUE(Contains(driver_log,
                       "Job aborted due to stage failure: Task 0 in stage 0.0 failed 4 times, "
                       "most recent failure: Lost task 0.3 in stage 0.0 (TID 3) (127.0.0.1 "
                       "executor 1): ExecutorLostFailure (executor 1 exited caused by one of the "
                       "running tasks) Reason: " +
                           reason + "\n"))
      << driver_log;
  EXPECT_TRUE(std::regex_search(driver_log, std::regex(R"(ERROR SparkContext: .*Job aborted)")));
  std::string submit_log = Log("pi-oom-submit");
  EXPECT_TRUE(Contains(submit_log, "exit code: 1, termination reason: Error")) << submit_log;
  EXPECT_TRUE(
      Contains(submit_log, "Application pi-oom with submission ID default:pi-oom-driver finished"))
      << submit_log;
}

TEST_F(SparkSimTest, FailedSubmissionCreatesNoDriver) {
  CreateController("no-driver-submit",
                   SubmitArgv("nd", {"spark.kubernetes.driver.pod.name=no-driver-driver"}),
                   "log=boom;exit=1");
  CreateController("bad-argv-submit", {"/opt/spark/bin/spark-submit", "--conf",
                                       "spark.kubernetes.driver.pod.name=bad-argv-driver", "--conf",
                                       "oops", "local:///x.py"});
  json::value pod;
  ASSERT_TRUE(WaitPhase("no-driver-submit", "Failed", &pod)) << json::serialize(pod);
  EXPECT_TRUE(TerminatedWith(pod, "1", "Error"));
  EXPECT_EQ(Log("no-driver-submit"), "boom\n");
  ASSERT_TRUE(WaitPhase("bad-argv-submit", "Failed", &pod)) << json::serialize(pod);
  EXPECT_TRUE(TerminatedWith(pod, "1", "Error"));
  EXPECT_TRUE(
      Contains(Log("bad-argv-submit"), "Error: spark-submit: --conf 'oops' is not KEY=VALUE"))
      << Log("bad-argv-submit");
  // Both ended before submitting anything.
  EXPECT_TRUE(Missing("no-driver-driver"));
  EXPECT_TRUE(Missing("bad-argv-driver"));
  EXPECT_EQ(sim().Bindings("no-driver-driver"), 0);
}

TEST_F(SparkSimTest, AnExistingDriverOfTheSameAppIsAdoptedAnotherAppsIsNot) {
  // A driver already there (a retried POST, a restarted simulator): spark-submit watches it.
  json::object driver = Manifest({.name = "adopt-driver", .sim = "log=adopted;run=1"});
  driver["metadata"].as_object()["labels"] =
      json::object{{"spark-role", "driver"}, {"spark-app-selector", "spark-adopt"}};
  auto posted = client().Post(std::string("/api/v1/namespaces/") + kNamespace + "/pods", driver);
  ASSERT_TRUE(posted.ok()) << posted.error().ToString();
  CreateController("adopt-submit", SubmitArgv("adopt", {"spark.app.id=spark-adopt",
                                                        "spark.kubernetes.driver.pod.name="
                                                        "adopt-driver"}));
  CreateController("other-submit", SubmitArgv("other", {"spark.app.id=spark-other",
                                                        "spark.kubernetes.driver.pod.name="
                                                        "adopt-driver"}));
  json::value pod;
  ASSERT_TRUE(WaitPhase("adopt-submit", "Succeeded", &pod)) << json::serialize(pod);
  std::string log = Log("adopt-submit");
  EXPECT_TRUE(Contains(log, "Driver pod adopt-driver of application spark-adopt exists already"))
      << log;
  EXPECT_TRUE(Contains(log, "Application adopt with submission ID default:adopt-driver finished"))
      << log;
  ASSERT_TRUE(WaitPhase("other-submit", "Failed", &pod)) << json::serialize(pod);
  EXPECT_TRUE(TerminatedWith(pod, "1", "Error"));
  EXPECT_TRUE(Contains(Log("other-submit"),
                       R"(pods "adopt-driver" already exists (application 'spark-adopt'))"))
      << Log("other-submit");
  EXPECT_EQ(sim().Bindings("adopt-driver"), 1);
}

TEST_F(SparkSimTest, DeletedDriverStopsItsExecutorsAndEndsSparkSubmit) {
  CreateController("del-submit", SubmitArgv("del", {"spark.kubernetes.driver.pod.name=del-driver",
                                                    "spark.executor.instances=1",
                                                    "spark.kubernetes.driverEnv.TUG_SIM=hang"}));
  ASSERT_TRUE(WaitPhase("del-exec-1", "Running"));
  ASSERT_TRUE(WaitPhase("del-driver", "Running"));
  ASSERT_TRUE(client().Delete(PodPath("del-driver"), 30).ok());
  json::value pod;
  ASSERT_TRUE(WaitPhase("del-submit", "Succeeded", &pod)) << json::serialize(pod);
  EXPECT_TRUE(WaitGone("del-exec-1", 30s));
  EXPECT_TRUE(WaitGone("del-driver", 30s));
  std::string log = Log("del-submit");
  EXPECT_TRUE(Contains(log, "Application del with submission ID default:del-driver finished"))
      << log;
}

TEST_F(SparkSimTest, ExecutorOnARemovedNodeIsLost) {
  ASSERT_TRUE(sim().AddNode({"spark-doomed-1", "doomed-spark"}).ok());
  CreateController("lost-submit",
                   SubmitArgv("lost", {"spark.kubernetes.driver.pod.name=lost-driver",
                                       "spark.executor.instances=1",
                                       std::string("spark.kubernetes.executor.node.selector.") +
                                           kCapacityLabel + "=doomed-spark",
                                       "spark.kubernetes.driverEnv.TUG_SIM=run=60"}));
  ASSERT_TRUE(WaitPhase("lost-exec-1", "Running"));
  EXPECT_EQ(sim().NodeOf("lost-exec-1"), "spark-doomed-1");
  ASSERT_TRUE(sim().RemoveNode("spark-doomed-1").ok());
  json::value pod;
  ASSERT_TRUE(WaitPhase("lost-submit", "Succeeded", &pod)) << json::serialize(pod);
  auto driver = client().Get(PodPath("lost-driver"));
  ASSERT_TRUE(driver.ok()) << driver.error().ToString();
  EXPECT_TRUE(TerminatedWith(*driver, "1", "Error")) << json::serialize(*driver);
  std::string log = Log("lost-driver");
  EXPECT_TRUE(Contains(log,
                       "ERROR TaskSchedulerImpl: Lost executor 1 on 127.0.0.1: Executor Pod "
                       "lost-exec-1 on node spark-doomed-1 was deleted: node lost.\n"))
      << log;
  EXPECT_TRUE(Contains(log, "Job aborted due to stage failure")) << log;
  // The driver asked for the executor's deletion; nobody on a dead node finishes it.
  auto exec = client().Get(PodPath("lost-exec-1"));
  ASSERT_TRUE(exec.ok()) << exec.error().ToString();
  EXPECT_NE(Find(*exec, {"metadata", "deletionTimestamp"}), nullptr);
  ASSERT_TRUE(client().Delete(PodPath("lost-exec-1"), 0).ok());
  EXPECT_TRUE(WaitGone("lost-exec-1", 10s));
}

TEST_F(SparkSimTest, SubmissionSurvivesAnApiServerRestart) {
  // spark-submit starts (run=2) while the API server is down: its POSTs are retried, a POST
  // whose answer was lost is adopted, and nothing is created twice.
  CreateController("restart-submit",
                   SubmitArgv("restart", {"spark.kubernetes.driver.pod.name=restart-driver",
                                          "spark.kubernetes.driverEnv.TUG_SIM=run=1"}),
                   "run=2");
  ASSERT_TRUE(WaitPhase("restart-submit", "Running"));
  ASSERT_TRUE(world_->env->StopApiserver().ok());
  Status started = world_->env->StartApiserver();
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  json::value pod;
  ASSERT_TRUE(WaitPhase("restart-submit", "Succeeded", &pod)) << json::serialize(pod);
  auto driver = client().Get(PodPath("restart-driver"));
  ASSERT_TRUE(driver.ok()) << driver.error().ToString();
  EXPECT_TRUE(TerminatedWith(*driver, "0", "Completed")) << json::serialize(*driver);
  EXPECT_EQ(sim().Bindings("restart-submit"), 1);
  EXPECT_EQ(sim().Bindings("restart-driver"), 1);
  EXPECT_EQ(sim().Bindings("restart-exec-1"), 1);
  EXPECT_EQ(sim().Bindings("restart-exec-2"), 1);
  EXPECT_EQ(sim().Bindings("restart-exec-3"), 0);
  EXPECT_TRUE(WaitGone("restart-exec-1", 30s));
  EXPECT_TRUE(WaitGone("restart-exec-2", 30s));
  EXPECT_TRUE(Contains(Log("restart-submit"),
                       "Application restart with submission ID "
                       "default:restart-driver finished"))
      << Log("restart-submit");
}

TEST_F(KubeSimTest, PodIpIsConfigurable) {
  sim().SetPodIP("127.0.0.2");
  Create({.name = "other-ip", .sim = "run=0.1"});
  json::value pod;
  bool ok = WaitPhase("other-ip", "Succeeded", &pod);
  sim().SetPodIP("127.0.0.1");
  ASSERT_TRUE(ok) << json::serialize(pod);
  EXPECT_EQ(Text(pod, {"status", "podIP"}), "127.0.0.2");
  EXPECT_EQ(Text(pod, {"status", "podIPs"}), R"([{"ip":"127.0.0.2"}])");
  EXPECT_EQ(Text(pod, {"status", "hostIP"}), "127.0.0.1");
}

}  // namespace
}  // namespace tug::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  tug::testing::SimWorld::instance = new tug::testing::SimWorld();
  ::testing::AddGlobalTestEnvironment(tug::testing::SimWorld::instance);
  return RUN_ALL_TESTS();
}
