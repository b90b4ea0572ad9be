// kube::Client and kube::Informer against a real kube-apiserver (v1.20.2 + etcd on loopback,
// started once per binary by scripts/kube-testenv). Skips when the API server binary is missing
// unless TUG_REQUIRE_KUBE=1 (CI), where a missing binary is built by the script or fails.
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "kube/client.h"
#include "test_util.h"

namespace tug::kube {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::string Env(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// etcd + kube-apiserver for the whole binary, in a temporary directory; `down` at the end.
class KubeEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string source = Env("TUG_SOURCE_DIR", TUG_DEFAULT_SOURCE_DIR);
    script_ = source + "/scripts/kube-testenv";
    std::string cache = Env("TUG_CACHE", Env("HOME", "/root") + "/.cache/tugboat");
    std::string binary = Env("KUBE_APISERVER", cache + "/kube-apiserver-v1.20.2");
    bool required = Env("TUG_REQUIRE_KUBE") == "1";
    if (!std::filesystem::exists(binary) && !required) {
      skip_ = "no kube-apiserver at " + binary +
              "; run `scripts/kube-testenv build` (or set TUG_REQUIRE_KUBE=1 to require it)";
      return;
    }
    dir_ = std::make_unique<testing::TempDir>();
    auto up = testing::RunCommand({"bash", script_, "up", dir_->path()}, 900s);
    if (up.exit_code != 0) {
      failure_ = "kube-testenv up failed (exit " + std::to_string(up.exit_code) + "):\n" + up.err +
                 "\n" + ReadAll(dir_->path() + "/apiserver.log").substr(0, 4000);
      return;
    }
    started_ = true;
  }

  void TearDown() override {
    if (dir_ != nullptr) (void)testing::RunCommand({"bash", script_, "down", dir_->path()}, 60s);
    dir_.reset();
  }

  /// "" when the API server runs; otherwise why not (with Skipped() telling which kind).
  const std::string& skip() const { return skip_; }
  const std::string& failure() const { return failure_; }
  bool started() const { return started_; }
  std::string dir() const { return dir_ != nullptr ? dir_->path() : ""; }

  [[nodiscard]] bool Run(const std::string& command, std::string* err) const {
    auto r = testing::RunCommand({"bash", script_, command, dir()}, 300s);
    if (r.exit_code != 0 && err != nullptr) *err = r.err;
    return r.exit_code == 0;
  }

 private:
  std::string script_;
  std::unique_ptr<testing::TempDir> dir_;
  std::string skip_;
  std::string failure_;
  bool started_ = false;
};

KubeEnvironment* const env = dynamic_cast<KubeEnvironment*>(
    ::testing::AddGlobalTestEnvironment(new KubeEnvironment()));  // NOLINT: gtest owns it

class KubeClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!env->started()) return;
    auto config = LoadKubeconfig(env->dir() + "/kubeconfig");
    ASSERT_TRUE(config.ok()) << config.error().ToString();
    auto created_client = Client::Create(*config);
    ASSERT_TRUE(created_client.ok()) << created_client.error().ToString();
    api = std::move(created_client).value().release();
    ns = "tug-it-" + std::to_string(::getpid());
    auto created = api->Post(
        "/api/v1/namespaces",
        json::value{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }
  static void TearDownTestSuite() {
    delete api;
    api = nullptr;
  }

  void SetUp() override {
    if (!env->skip().empty()) GTEST_SKIP() << env->skip();
    ASSERT_TRUE(env->failure().empty()) << env->failure();
    ASSERT_NE(api, nullptr);
  }

  static std::string ConfigMaps() { return "/api/v1/namespaces/" + ns + "/configmaps"; }

  static json::value ConfigMap(const std::string& name, const json::object& labels = {},
                               const json::object& data = {}) {
    return json::value{{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata", {{"name", name}, {"labels", labels}}},
                       {"data", data}};
  }

  static Client* api;  // shared by the suite's tests
  static std::string ns;
};

Client* KubeClientTest::api = nullptr;
std::string KubeClientTest::ns;

TEST_F(KubeClientTest, ConfigMapCreateGetPatchDelete) {
  auto created = api->Post(ConfigMaps(), ConfigMap("crud", {}, {{"k", "v1"}}));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(created->at("metadata").at("namespace").as_string(), ns);

  auto got = api->Get(ConfigMaps() + "/crud");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->at("data").at("k"), "v1");

  auto patched =
      api->Patch(ConfigMaps() + "/crud", json::value{{"data", {{"k", "v2"}, {"x", "y"}}}});
  ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  EXPECT_EQ(patched->at("data").at("k"), "v2");
  EXPECT_EQ(patched->at("data").at("x"), "y");

  // A PUT carrying the old resourceVersion conflicts: kAborted, the server's message.
  json::value stale = *got;
  stale.at("data").as_object()["k"] = "stale";
  auto conflict = api->Put(ConfigMaps() + "/crud", stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code(), Code::kAborted);
  EXPECT_EQ(conflict.error().detail(), "HTTP 409 Conflict");
  EXPECT_NE(conflict.error().message().find("the object has been modified"), std::string::npos)
      << conflict.error().message();

  auto deleted = api->Delete(ConfigMaps() + "/crud", 0);
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  auto gone = api->Get(ConfigMaps() + "/crud");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), Code::kNotFound);
  EXPECT_EQ(gone.error().message(), "configmaps \"crud\" not found");
  EXPECT_EQ(gone.error().detail(), "HTTP 404 NotFound");
  auto again = api->Delete(ConfigMaps() + "/crud");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Code::kNotFound);
}

TEST_F(KubeClientTest, AlreadyExistsAndInvalidCarryTheServersMessage) {
  ASSERT_TRUE(api->Post(ConfigMaps(), ConfigMap("dup")).ok());
  auto dup = api->Post(ConfigMaps(), ConfigMap("dup"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), Code::kAlreadyExists);
  EXPECT_EQ(dup.error().message(), "configmaps \"dup\" already exists");
  EXPECT_EQ(dup.error().detail(), "HTTP 409 AlreadyExists");

  json::value pod{{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"metadata", {{"name", "Bad_Name"}}},
                  {"spec", {{"containers", json::array{{{"name", "c"}, {"image", "busybox"}}}}}}};
  auto invalid = api->Post("/api/v1/namespaces/" + ns + "/pods", pod);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(invalid.error().detail(), "HTTP 422 Invalid");
  EXPECT_EQ(invalid.error().message().rfind("Pod \"Bad_Name\" is invalid: metadata.name", 0), 0u)
      << invalid.error().message();
}

TEST_F(KubeClientTest, AWrongTokenIsUnauthenticatedAndAClientCertificateWorks) {
  ClusterConfig config = api->config();
  config.token = "not-the-token";
  auto wrong = Client::Create(config);
  ASSERT_TRUE(wrong.ok());
  auto r = (*wrong)->Get("/api/v1/namespaces");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_EQ(r.error().message(), "Unauthorized");
  EXPECT_EQ(r.error().detail(), "HTTP 401 Unauthorized");

  // kube-testenv's client certificate is in system:masters, signed by the client CA.
  config.token.clear();
  config.client_cert_pem = ReadAll(env->dir() + "/client.crt");
  config.client_key_pem = ReadAll(env->dir() + "/client.key");
  auto by_cert = Client::Create(config);
  ASSERT_TRUE(by_cert.ok()) << by_cert.error().ToString();
  auto ok = (*by_cert)->Get("/api/v1/namespaces/" + ns);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
}

TEST_F(KubeClientTest, ListWithLabelSelectorFollowsPages) {
  for (int i = 0; i < 5; ++i) {
    auto r = api->Post(ConfigMaps(), ConfigMap("page-" + std::to_string(i), {{"set", "page"}}));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }
  ASSERT_TRUE(api->Post(ConfigMaps(), ConfigMap("other", {{"set", "other"}})).ok());
  int64_t before = api->stats().requests;
  auto list = api->List(ConfigMaps(), {{"labelSelector", "set=page"}}, 2);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  EXPECT_EQ(api->stats().requests - before, 3) << "5 items in pages of 2";
  std::set<std::string> names;
  for (const auto& item : list->items) {
    names.insert(std::string(item.at("metadata").at("name").as_string()));
  }
  EXPECT_EQ(names, (std::set<std::string>{"page-0", "page-1", "page-2", "page-3", "page-4"}));
  EXPECT_FALSE(list->resource_version.empty());
}

TEST_F(KubeClientTest, WatchSeesAddedModifiedDeleted) {
  auto list = api->List(ConfigMaps(), {{"labelSelector", "watch=me"}});
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  std::vector<std::string> seen;
  Status watch_status;
  std::thread watcher([&] {
    watch_status = api->Watch(
        ConfigMaps(), {{"labelSelector", "watch=me"}}, list->resource_version,
        [&](const WatchEvent& e) {
          if (e.type == "BOOKMARK") return true;
          seen.push_back(e.type + " " +
                         std::string(e.object.at("metadata").at("name").as_string()));
          return e.type != "DELETED";
        },
        nullptr, 60);
  });
  // Events after the list's resourceVersion are delivered however late the watch connects.
  ASSERT_TRUE(api->Post(ConfigMaps(), ConfigMap("watched", {{"watch", "me"}})).ok());
  ASSERT_TRUE(api->Patch(ConfigMaps() + "/watched", json::value{{"data", {{"a", "b"}}}}).ok());
  ASSERT_TRUE(api->Delete(ConfigMaps() + "/watched").ok());
  watcher.join();
  ASSERT_TRUE(watch_status.ok()) << watch_status.error().ToString();
  EXPECT_EQ(seen,
            (std::vector<std::string>{"ADDED watched", "MODIFIED watched", "DELETED watched"}));
}

TEST_F(KubeClientTest, AWatchFromAnAncientResourceVersionWorksOrIsGone) {
  // The watch cache decides: "1" is either still servable or 410 Expired. Both are fine; a
  // cancel token bounds the first case.
  CancelToken cancel;
  std::thread stopper;
  Status st = api->Watch(
      ConfigMaps(), {}, "1",
      [&](const WatchEvent&) {
        if (!stopper.joinable()) stopper = std::thread([&] { cancel.Cancel(); });
        return true;
      },
      &cancel, 5);
  if (stopper.joinable()) stopper.join();
  if (!st.ok()) {
    EXPECT_TRUE(IsGone(st.error()) || st.error().code() == Code::kCancelled)
        << st.error().ToString();
  }
}

/// Names the informer believes exist (on_sync replaces, events update), for waiting on.
struct InformerView {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> names;
  int errors = 0;

  template <class F>
  bool WaitUntil(F pred, std::chrono::seconds limit = 120s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, pred);
  }
};

TEST_F(KubeClientTest, InformerSurvivesAnApiServerRestart) {
  InformerView view;
  Informer::Handlers h;
  auto name_of = [](const json::value& o) {
    return std::string(o.at("metadata").at("name").as_string());
  };
  h.on_sync = [&](const std::vector<json::value>& items) {
    std::lock_guard lock(view.mu);
    view.names.clear();
    for (const auto& i : items) view.names.insert(name_of(i));
    view.cv.notify_all();
  };
  h.on_event = [&](const WatchEvent& e) {
    std::lock_guard lock(view.mu);
    if (e.type == "DELETED") {
      view.names.erase(name_of(e.object));
    } else {
      view.names.insert(name_of(e.object));
    }
    view.cv.notify_all();
  };
  h.on_error = [&](const Error&) {
    std::lock_guard lock(view.mu);
    ++view.errors;
  };
  Informer informer(*api, ConfigMaps(), {{"labelSelector", "inf=1"}}, h);
  ASSERT_TRUE(api->Post(ConfigMaps(), ConfigMap("inf-a", {{"inf", "1"}})).ok());
  informer.Start();
  ASSERT_TRUE(view.WaitUntil([&] { return view.names.count("inf-a") > 0; }));
  ASSERT_TRUE(api->Post(ConfigMaps(), ConfigMap("inf-b", {{"inf", "1"}})).ok());
  ASSERT_TRUE(view.WaitUntil([&] { return view.names.count("inf-b") > 0; }));

  std::string err;
  ASSERT_TRUE(env->Run("stop-apiserver", &err)) << err;
  ASSERT_TRUE(env->Run("start-apiserver", &err)) << err;
  // Changed once the server is back: delivered by the resumed watch or seen by a relist.
  ASSERT_TRUE(api->Post(ConfigMaps(), ConfigMap("inf-c", {{"inf", "1"}})).ok());
  ASSERT_TRUE(api->Delete(ConfigMaps() + "/inf-a").ok());
  EXPECT_TRUE(view.WaitUntil([&] {
    return view.names == std::set<std::string>{"inf-b", "inf-c"};
  })) << "the informer did not catch up after the restart";
  informer.Stop();
  std::lock_guard lock(view.mu);
  EXPECT_GE(view.errors, 1) << "the dropped watch is reported";
  EXPECT_GE(informer.watches(), 2);
}

}  // namespace
}  // namespace tug::kube
