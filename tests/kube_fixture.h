#pragma once
/// Shared fixture of the integration tests against a real kube-apiserver: one API server and
/// one simulated cluster (a spot and an on-demand node) per test binary, and a real
/// `tug server` per test configured with that cluster. Test binaries end with
/// TUG_KUBE_TEST_MAIN().
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "e2e_fixture.h"
#include "kube/client.h"
#include "kube_sim.h"

namespace tug::testing {
namespace json = boost::json;

inline constexpr char kNamespace[] = "default";

// One API server and one simulated cluster (a spot and an on-demand node) per test binary.
class KubeWorld : public ::testing::Environment {
 public:
  void SetUp() override {
    env_ = std::make_unique<KubeTestEnv>();
    auto st = env_->Start();
    if (!st.ok()) {
      skip_reason_ = st.error().message();
      return;
    }
    auto cfg = kube::LoadKubeconfig(env_->kubeconfig());
    ASSERT_TRUE(cfg.ok()) << cfg.error().ToString();
    auto client = kube::Client::Create(*cfg);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_ = std::move(*client);
    sim_ = std::make_unique<NodeSimulator>(*client_, kNamespace, env_->dir());
    ASSERT_TRUE(sim_->Start().ok());
    ASSERT_TRUE(sim_->AddNode({"spot-1", "spot"}).ok());
    ASSERT_TRUE(sim_->AddNode({"ondemand-1", "on-demand"}).ok());
  }
  void TearDown() override {
    if (sim_) sim_->Stop();
    sim_.reset();
    client_.reset();
    env_.reset();
  }
  static inline KubeWorld* instance = nullptr;
  std::unique_ptr<KubeTestEnv> env_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<NodeSimulator> sim_;
  std::string skip_reason_;
};

class KubeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    world_ = KubeWorld::instance;
    if (!world_->skip_reason_.empty()) {
      if (RequireKube()) FAIL() << world_->skip_reason_;
      GTEST_SKIP() << world_->skip_reason_;
    }
    StartServer();
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->Log() << "\n";
    server_.reset();
  }

  /// `extra`: more YAML at the top level of the server config (e.g. a spark: section).
  void StartServer(const std::string& linger = "30s", const std::string& extra = "") {
    std::string config = dir_.Write("tug.yaml",
                                    "engine: {driver: kubernetes}\n"
                                    "clusters:\n"
                                    "  - name: sim\n"
                                    "    kubeconfig: " +
                                        world_->env_->kubeconfig() +
                                        "\n"
                                        "    namespace: default\n"
                                        "    pod_linger: " +
                                        linger + "\n" + extra);
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data",
                                              std::vector<std::string>{"--config", config});
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }

  void Apply(const std::string& yaml) {
    std::string file = dir_.Write("def.yaml", yaml);
    auto r = server_->Tug({"apply", "-f", file});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  std::string Submit(const std::string& name) {
    auto r = server_->Tug({"run", name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
  }
  json::object GetRun(const std::string& id) {
    auto r = server_->Tug({"get", "run", id, "-o", "json"});
    if (r.exit_code != 0) return {};
    boost::system::error_code ec;
    json::value v = json::parse(r.out, ec);
    return ec || !v.is_object() ? json::object{} : v.as_object();
  }
  std::string Status(const std::string& id) {
    json::object run = GetRun(id);
    const json::value* s = run.if_contains("status");
    return s != nullptr && s->is_string() ? std::string(s->as_string()) : "";
  }
  bool WaitStatus(const std::string& id, const std::string& status,
                  std::chrono::seconds timeout = std::chrono::seconds(90)) {
    return WaitFor([&] { return Status(id) == status; }, timeout);
  }
  std::string FirstAttempt(const std::string& run_id) {
    return std::string(GetRun(run_id).at("attempts").as_array()[0].at("id").as_string());
  }
  Result<json::value> Pod(const std::string& attempt_id) {
    return world_->client_->Get(std::string("/api/v1/namespaces/") + kNamespace + "/pods/tug-" +
                                attempt_id);
  }

  TempDir dir_;
  KubeWorld* world_ = nullptr;
  std::unique_ptr<ServerProcess> server_;
};

inline std::string Text(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) {
    if (!cur->is_object() || cur->as_object().if_contains(k) == nullptr) return "";
    cur = cur->as_object().if_contains(k);
  }
  if (cur->is_string()) return std::string(cur->as_string());
  return json::serialize(*cur);
}

}  // namespace tug::testing

#define TUG_KUBE_TEST_MAIN()                                                \
  int main(int argc, char** argv) {                                         \
    ::testing::InitGoogleTest(&argc, argv);                                 \
    tug::testing::KubeWorld::instance = new tug::testing::KubeWorld();      \
    ::testing::AddGlobalTestEnvironment(tug::testing::KubeWorld::instance); \
    return RUN_ALL_TESTS();                                                 \
  }
