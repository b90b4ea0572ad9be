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

}  // namespace
}  // namespace tug::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  tug::testing::SimWorld::instance = new tug::testing::SimWorld();
  ::testing::AddGlobalTestEnvironment(tug::testing::SimWorld::instance);
  return RUN_ALL_TESTS();
}
