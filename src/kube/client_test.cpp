// Client against an in-test API server (net::HttpServer over plain HTTP): requests, lists,
// watches, streams and the limiter. Credentials: client_credentials_test.cpp; the informer:
// informer_test.cpp.
#include "kube/client.h"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "kube/client_testing.h"
#include "net/http_server.h"

namespace tug::kube {
namespace {

using namespace std::chrono_literals;
using testing::Event;
using testing::FakeApi;
using testing::NewClient;
using testing::StatusBody;
using testing::Stream;

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

}  // namespace
}  // namespace tug::kube
