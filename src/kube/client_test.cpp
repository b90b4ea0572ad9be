// Client and Informer against an in-test API server (net::HttpServer over plain HTTP).
#include "kube/client.h"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/clock.h"
#include "kube/testing.h"
#include "net/http_server.h"

namespace tug::kube {
namespace {

using namespace std::chrono_literals;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
using testing::WriteScript;

/// A chunked body: one chunk per Poll(); then done, or silent until the client goes away.
class Chunks : public net::StreamSource {
 public:
  Chunks(std::vector<std::string> chunks, bool hold) : chunks_(std::move(chunks)), hold_(hold) {}
  net::StreamPoll Poll() override {
    net::StreamPoll p;
    if (next_ < chunks_.size()) {
      p.data = chunks_[next_++];
    } else {
      p.done = !hold_;
    }
    return p;
  }

 private:
  std::vector<std::string> chunks_;
  size_t next_ = 0;
  bool hold_;
};

net::Response Stream(std::vector<std::string> chunks, bool hold = false) {
  net::Response r;
  r.stream = std::make_shared<Chunks>(std::move(chunks), hold);
  return r;
}

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  boost::json::object o{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                        {"message", message}, {"reason", reason},   {"code", code}};
  return boost::json::serialize(o);
}

std::string Event(const std::string& type, const std::string& name, const std::string& rv) {
  boost::json::object o{
      {"type", type},
      {"object", {{"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}};
  return boost::json::serialize(o) + "\n";
}

class FakeApi {
 public:
  explicit FakeApi(net::Router router) {
    net::ServerOptions o;
    o.port = 0;
    o.stream_poll_interval = 5ms;
    server_ = std::make_unique<net::HttpServer>(o, std::move(router));
    auto st = server_->Start();
    EXPECT_TRUE(st.ok()) << st.error().ToString();
  }
  ~FakeApi() { server_->Stop(); }
  FakeApi(const FakeApi&) = delete;
  FakeApi& operator=(const FakeApi&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  ClusterConfig Config(const std::string& token = "t0k") const {
    ClusterConfig c;
    c.server = url();
    c.token = token;
    return c;
  }

 private:
  std::unique_ptr<net::HttpServer> server_;
};

std::unique_ptr<Client> NewClient(ClusterConfig config, ClientOptions options = {}) {
  auto c = Client::Create(std::move(config), std::move(options));
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

/// What the fake server saw.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines;  // "METHOD target | content-type | authorization | body"
  std::set<std::string> remotes;

  void Add(const net::Request& r) {
    std::lock_guard lock(mu);
    lines.push_back(r.method + " " + r.target + " | " + r.Header("content-type") + " | " +
                    r.Header("authorization") + " | " + r.body);
    remotes.insert(r.remote);
    cv.notify_all();
  }
  std::vector<std::string> Lines() {
    std::lock_guard lock(mu);
    return lines;
  }
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 20s, [&] { return lines.size() >= n; });
  }
};

TEST(ClientTest, RequestsCarryTheTokenAndBodiesAndReuseTheConnection) {
  Seen seen;
  net::Router router;
  const std::string cms = "/api/v1/namespaces/ns/configmaps";
  router.Add("POST", cms, [&](net::Request& r) {
    seen.Add(r);
    return net::JsonResponse(201, r.body);
  });
  router.Add("GET", cms + "/{name}", [&](net::Request& r) {
    seen.Add(r);
    if (r.params["name"] != "a") {
      return net::JsonResponse(
          404, StatusBody(404, "NotFound", "configmaps \"" + r.params["name"] + "\" not found"));
    }
    return net::JsonResponse(200, R"({"kind":"ConfigMap","metadata":{"name":"a"}})");
  });
  router.Add("PATCH", cms + "/{name}", [&](net::Request& r) {
    seen.Add(r);
    return net::JsonResponse(200, r.body);
  });
  router.Add("PUT", cms + "/{name}", [&](net::Request& r) {
    seen.Add(r);
    return net::JsonResponse(200, r.body);
  });
  router.Add("DELETE", cms + "/{name}", [&](net::Request& r) {
    seen.Add(r);
    return net::JsonResponse(200, R"({"kind":"Status","status":"Success"})");
  });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);

  auto created = client->Post(cms, boost::json::parse(R"({"metadata":{"name":"a"}})"));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(created->at("metadata").at("name"), "a");
  auto got = client->Get(cms + "/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("kind"), "ConfigMap");
  auto patched = client->Patch(cms + "/a", boost::json::parse(R"({"data":{"k":"v"}})"));
  ASSERT_TRUE(patched.ok());
  auto put = client->Put(cms + "/a", boost::json::parse(R"({"data":{}})"));
  ASSERT_TRUE(put.ok());
  auto deleted = client->Delete(cms + "/a", 0);
  ASSERT_TRUE(deleted.ok());
  auto missing = client->Get(cms + "/b");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_EQ(missing.error().message(), "configmaps \"b\" not found");
  EXPECT_EQ(missing.error().detail(), "HTTP 404 NotFound");

  EXPECT_EQ(
      seen.Lines(),
      (std::vector<std::string>{
          "POST " + cms + " | application/json | Bearer t0k | {\"metadata\":{\"name\":\"a\"}}",
          "GET " + cms + "/a |  | Bearer t0k | ",
          "PATCH " + cms +
              "/a | application/merge-patch+json | Bearer t0k | {\"data\":{\"k\":\"v\"}}",
          "PUT " + cms + "/a | application/json | Bearer t0k | {\"data\":{}}",
          "DELETE " + cms + "/a?gracePeriodSeconds=0 |  | Bearer t0k | ",
          "GET " + cms + "/b |  | Bearer t0k | ",
      }));
  EXPECT_EQ(seen.remotes.size(), 1u) << "sequential calls share one pooled connection";
  EXPECT_EQ(client->stats().requests, 6);
  EXPECT_EQ(client->config().namespace_, "default");
}

TEST(ClientTest, AnUnreachableServerIsUnavailable) {
  std::string url;
  {
    FakeApi gone{net::Router()};
    url = gone.url();
  }
  ClusterConfig c;
  c.server = url;
  auto client = NewClient(c);
  ASSERT_NE(client, nullptr);
  auto r = client->Get("/api");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_EQ(r.error().message().rfind("cannot reach the Kubernetes API server at " + url, 0), 0u)
      << r.error().message();
}

TEST(ClientTest, CreateChecksTheConfig) {
  auto none = Client::Create(ClusterConfig{});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Code::kInvalidArgument);
  ClusterConfig bad;
  bad.server = "https://127.0.0.1:1";
  bad.ca_pem = "garbage";
  auto r = Client::Create(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("CA certificate"), std::string::npos) << r.error().message();
}

TEST(ClientTest, ListFollowsContinuePages) {
  Seen seen;
  net::Router router;
  router.Add("GET", "/api/v1/namespaces/ns/pods", [&](net::Request& r) {
    seen.Add(r);
    int start = r.Query("continue").empty() ? 0 : std::stoi(r.Query("continue"));
    int limit = std::stoi(r.Query("limit", "500"));
    boost::json::array items;
    for (int i = start; i < std::min(5, start + limit); ++i) {
      items.push_back(boost::json::object{{"metadata", {{"name", "p" + std::to_string(i)}}}});
    }
    boost::json::object meta{{"resourceVersion", "100"}};
    if (start + limit < 5) meta["continue"] = std::to_string(start + limit);
    boost::json::object list{{"kind", "PodList"}, {"metadata", meta}, {"items", items}};
    return net::JsonResponse(200, boost::json::serialize(list));
  });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  auto list = client->List("/api/v1/namespaces/ns/pods", {{"labelSelector", "app=x,tier!=db"}}, 2);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  ASSERT_EQ(list->items.size(), 5u);
  EXPECT_EQ(list->items[4].at("metadata").at("name"), "p4");
  EXPECT_EQ(list->resource_version, "100");
  auto lines = seen.Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].substr(0, lines[0].find(" |")),
            "GET /api/v1/namespaces/ns/pods?labelSelector=app%3Dx%2Ctier%21%3Ddb&limit=2");
  EXPECT_EQ(lines[2].substr(0, lines[2].find(" |")),
            "GET /api/v1/namespaces/ns/pods?labelSelector=app%3Dx%2Ctier%21%3Ddb&limit=2&"
            "continue=4");
}

TEST(ClientTest, WatchDecodesEventsSplitAcrossChunks) {
  std::string body = Event("ADDED", "a", "11") + Event("BOOKMARK", "", "12") +
                     Event("MODIFIED", "a", "13") + Event("DELETED", "a", "14");
  std::vector<std::string> chunks;
  for (size_t i = 0; i < body.size(); i += 7) chunks.push_back(body.substr(i, 7));
  Seen seen;
  net::Router router;
  router.Add("GET", "/api/v1/configmaps", [&](net::Request& r) {
    seen.Add(r);
    return Stream(chunks);
  });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  std::vector<std::string> events;
  auto st = client->Watch(
      "/api/v1/configmaps", {{"labelSelector", "app=x"}}, "10",
      [&](const WatchEvent& e) {
        events.push_back(e.type + ":" +
                         std::string(e.object.at("metadata").at("resourceVersion").as_string()));
        return true;
      },
      nullptr, 30);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(events,
            (std::vector<std::string>{"ADDED:11", "BOOKMARK:12", "MODIFIED:13", "DELETED:14"}));
  auto lines = seen.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].substr(0, lines[0].find(" |")),
            "GET /api/v1/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion=10&"
            "timeoutSeconds=30&labelSelector=app%3Dx");
}

TEST(ClientTest, WatchErrorEventsAndErrorStatuses) {
  net::Router router;
  router.Add("GET", "/gone", [](net::Request&) {
    return Stream(
        {Event("ADDED", "a", "11"),
         R"j({"type":"ERROR","object":{"kind":"Status","status":"Failure",)j"
         R"j("message":"too old resource version: 5 (11)","reason":"Expired","code":410}})j"
         "\n"});
  });
  router.Add("GET", "/forbidden", [](net::Request&) {
    return net::JsonResponse(403, StatusBody(403, "Forbidden", "configmaps is forbidden"));
  });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  int events = 0;
  auto count = [&](const WatchEvent&) { return ++events > 0; };
  auto gone = client->Watch("/gone", {}, "5", count);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(IsGone(gone.error()));
  EXPECT_EQ(gone.error().message(), "too old resource version: 5 (11)");
  EXPECT_EQ(events, 1);
  auto denied = client->Watch("/forbidden", {}, "", count);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code(), Code::kPermissionDenied);
  EXPECT_EQ(denied.error().message(), "configmaps is forbidden");
}

TEST(ClientTest, CancelUnblocksAWatch) {
  net::Router router;
  router.Add("GET", "/quiet",
             [](net::Request&) { return Stream({Event("ADDED", "a", "11")}, /*hold=*/true); });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  CancelToken token;
  std::thread canceller;
  auto st = client->Watch(
      "/quiet", {}, "",
      [&](const WatchEvent&) {
        canceller = std::thread([&] { token.Cancel(); });
        return true;
      },
      &token);
  canceller.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kCancelled);
  // Already cancelled: returns at once, and the client still works for other calls.
  auto again = client->Watch(
      "/quiet", {}, "", [](const WatchEvent&) { return true; }, &token);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Code::kCancelled);
  CancelToken fresh;
  bool stopped_by_handler = false;
  auto third = client->Watch(
      "/quiet", {}, "",
      [&](const WatchEvent&) {
        stopped_by_handler = true;
        return false;
      },
      &fresh);
  EXPECT_TRUE(third.ok());
  EXPECT_TRUE(stopped_by_handler);
}

TEST(ClientTest, StreamAndGetText) {
  net::Router router;
  router.Add("GET", "/api/v1/namespaces/ns/pods/p/log", [](net::Request& r) {
    if (r.Query("follow") == "true") return Stream({"line 1\n", "line 2\n"});
    net::Response res;
    res.content_type = "text/plain";
    res.body = "all of it\n";
    return res;
  });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  auto text = client->GetText("/api/v1/namespaces/ns/pods/p/log");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "all of it\n");
  std::string got;
  auto st = client->Stream("/api/v1/namespaces/ns/pods/p/log?follow=true", [&](std::string_view d) {
    got.append(d);
    return true;
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(got, "line 1\nline 2\n");
  auto missing =
      client->Stream("/api/v1/namespaces/ns/pods/q/log", [](std::string_view) { return true; });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
}

TEST(ClientTest, TheLimiterThrottlesBeyondTheBurst) {
  net::Router router;
  router.Add("GET", "/api", [](net::Request&) { return net::JsonResponse(200, "{}"); });
  FakeApi api(std::move(router));
  ClientOptions o;
  o.qps = 10;
  o.burst = 2;
  auto client = NewClient(api.Config(), o);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->Get("/api").ok());
  auto stats = client->stats();
  EXPECT_EQ(stats.requests, 5);
  EXPECT_EQ(stats.throttled, 3);
  EXPECT_GT(stats.throttle_wait.count(), 0);
}

/// An API server that accepts only some bearer tokens.
class AuthApi {
 public:
  AuthApi() {
    net::Router router;
    router.Add("GET", "/api", [this](net::Request& r) {
      std::lock_guard lock(mu_);
      seen_.push_back(r.Header("authorization"));
      if (accepted_.count(r.Header("authorization")) == 0) {
        return net::JsonResponse(401, StatusBody(401, "Unauthorized", "Unauthorized"));
      }
      return net::JsonResponse(200, "{}");
    });
    api_ = std::make_unique<FakeApi>(std::move(router));
  }
  void Accept(const std::string& token) {
    std::lock_guard lock(mu_);
    accepted_.insert("Bearer " + token);
  }
  std::vector<std::string> Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  ClusterConfig Config() const { return api_->Config(""); }

 private:
  std::mutex mu_;
  std::set<std::string> accepted_;
  std::vector<std::string> seen_;
  std::unique_ptr<FakeApi> api_;
};

/// The plugin counts its runs in DIR/count and hands out tok-<run> expiring at EXPIRY.
ClusterConfig::Exec CountingPlugin(const TempDir& dir, const std::string& expiry) {
  WriteScript(dir / "plugin", R"(#!/bin/sh
n=$(cat "$DIR/count" 2>/dev/null || echo 0)
n=$((n+1))
echo $n > "$DIR/count"
printf '{"kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"%s"}}\n' "$n" "$EXPIRY"
)");
  ClusterConfig::Exec exec;
  exec.command = dir / "plugin";
  exec.env = {{"DIR", dir.path()}, {"EXPIRY", expiry}};
  return exec;
}

int Runs(const TempDir& dir) { return std::stoi("0" + testing::ReadFile(dir / "count")); }

TEST(ClientExecTest, TheCredentialIsCachedUntilShortlyBeforeItExpires) {
  AuthApi api;
  for (const char* t : {"tok-1", "tok-2", "tok-3"}) api.Accept(t);
  struct Case {
    std::string expiry;
    int runs_after_three_calls;
  };
  std::string soon = FormatTimestamp(SystemClock::Instance().Now() + 10 * kMicrosPerSecond);
  for (const Case& c : {Case{"2099-01-01T00:00:00Z", 1}, Case{"", 1}, Case{soon, 3}}) {
    TempDir dir;
    ClusterConfig config = api.Config();
    config.exec = CountingPlugin(dir, c.expiry);
    auto client = NewClient(config);
    ASSERT_NE(client, nullptr);
    for (int i = 0; i < 3; ++i) {
      auto r = client->Get("/api");
      ASSERT_TRUE(r.ok()) << r.error().ToString();
    }
    EXPECT_EQ(Runs(dir), c.runs_after_three_calls) << "expiry '" << c.expiry << "'";
  }
}

TEST(ClientExecTest, A401DropsTheCredentialAndRetriesOnce) {
  AuthApi api;
  api.Accept("tok-2");
  TempDir dir;
  ClusterConfig config = api.Config();
  config.exec = CountingPlugin(dir, "");
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  auto r = client->Get("/api");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Runs(dir), 2);
  EXPECT_EQ(api.Seen(), (std::vector<std::string>{"Bearer tok-1", "Bearer tok-2"}));
  auto again = client->Get("/api");  // the refreshed credential is cached
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Runs(dir), 2);
}

TEST(ClientExecTest, AFailingPluginIsUnauthenticated) {
  AuthApi api;
  TempDir dir;
  WriteScript(dir / "plugin", "#!/bin/sh\necho 'token expired; run sso login' >&2\nexit 1\n");
  ClusterConfig config = api.Config();
  config.exec = ClusterConfig::Exec{dir / "plugin", {}, {}, ""};
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  auto r = client->Get("/api");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_NE(r.error().message().find(": token expired; run sso login"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(api.Seen().empty());
}

TEST(ClientTokenFileTest, ARotatedTokenFileIsReadAgain) {
  AuthApi api;
  api.Accept("first");
  api.Accept("second-token");
  TempDir dir;
  WriteFile(dir / "token", "first\n");
  ClusterConfig config = api.Config();
  config.token_file = dir / "token";
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Get("/api").ok());
  WriteFile(dir / "token", "second-token\n");  // a different size: seen even within one mtime tick
  ASSERT_TRUE(client->Get("/api").ok());
  EXPECT_EQ(api.Seen(), (std::vector<std::string>{"Bearer first", "Bearer second-token"}));
}

TEST(ClientTokenFileTest, AWrongStaticTokenIs401Unauthenticated) {
  AuthApi api;
  ClusterConfig config = api.Config();
  config.token = "wrong";
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  auto r = client->Get("/api");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_EQ(r.error().detail(), "HTTP 401 Unauthorized");
  EXPECT_EQ(api.Seen().size(), 1u) << "a static token is not retried";
}

/// The informer's view, filled from its handlers (its own thread).
struct Observed {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<size_t> syncs;
  std::vector<std::string> events;
  std::vector<std::string> errors;
  std::vector<std::string> watch_rvs;  // resourceVersion of each watch request, server side
  int lists = 0;

  template <class F>
  bool WaitUntil(F pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 30s, pred);
  }
};

TEST(InformerTest, ListsWatchesResumesAndRelistsOnGone) {
  Observed seen;
  net::Router router;
  router.Add("GET", "/api/v1/configmaps", [&](net::Request& r) {
    std::lock_guard lock(seen.mu);
    seen.cv.notify_all();
    if (r.Query("watch") != "1") {
      int n = seen.lists++;
      boost::json::array items{{{"metadata", {{"name", "a"}}}}};
      if (n > 0) items.push_back(boost::json::object{{"metadata", {{"name", "b"}}}});
      boost::json::object list{{"kind", "ConfigMapList"},
                               {"metadata", {{"resourceVersion", n == 0 ? "10" : "20"}}},
                               {"items", items}};
      return net::JsonResponse(200, boost::json::serialize(list));
    }
    size_t n = seen.watch_rvs.size();
    seen.watch_rvs.push_back(r.Query("resourceVersion"));
    switch (n) {
      case 0:  // an event and a bookmark, then the server ends the watch
        return Stream({Event("ADDED", "b", "11"), Event("BOOKMARK", "", "12")});
      case 1:  // resumed from the bookmark, but that is too old now
        return Stream({R"({"type":"ERROR","object":{"kind":"Status","code":410,)"
                       R"j("reason":"Expired","message":"too old resource version: 12 (15)"}})j"
                       "\n"});
      case 2:  // after the relist: the server hiccups
        return net::JsonResponse(500, StatusBody(500, "InternalError", "etcd timeout"));
      default:  // then a watch that stays open
        return Stream({Event("MODIFIED", "b", "21")}, /*hold=*/true);
    }
  });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  Informer::Handlers h;
  h.on_sync = [&](const std::vector<boost::json::value>& items) {
    std::lock_guard lock(seen.mu);
    seen.syncs.push_back(items.size());
    seen.cv.notify_all();
  };
  h.on_event = [&](const WatchEvent& e) {
    std::lock_guard lock(seen.mu);
    seen.events.push_back(e.type + ":" +
                          std::string(e.object.at("metadata").at("resourceVersion").as_string()));
    seen.cv.notify_all();
  };
  h.on_error = [&](const Error& e) {
    std::lock_guard lock(seen.mu);
    seen.errors.push_back(std::string(CodeName(e.code())) + (IsGone(e) ? " gone" : ""));
    seen.cv.notify_all();
  };
  Informer informer(*client, "/api/v1/configmaps", {}, h);
  informer.Start();
  ASSERT_TRUE(seen.WaitUntil([&] { return seen.events.size() >= 2; }));
  informer.Stop();  // the last watch is blocked: Stop cancels it
  informer.Stop();  // idempotent
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.syncs, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(seen.events, (std::vector<std::string>{"ADDED:11", "MODIFIED:21"}));
  EXPECT_EQ(seen.errors, (std::vector<std::string>{"failed_precondition gone", "unavailable"}));
  EXPECT_EQ(seen.watch_rvs, (std::vector<std::string>{"10", "12", "20", "20"}));
  EXPECT_EQ(informer.lists(), 2);
  EXPECT_EQ(informer.watches(), 4);
}

TEST(InformerTest, StopBeforeStartAndWithoutStartIsFine) {
  net::Router router;
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  Informer never(*client, "/x", {}, {});
  never.Stop();
  Informer destroyed(*client, "/x", {}, {});
}

}  // namespace
}  // namespace tug::kube
