// SparkUiProxy against a stand-in Spark driver UI, both served over loopback sockets.
#include "server/spark_ui_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/json.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/refusing_port.h"
#include "net/scripted_upstream.h"

namespace tug::server {
namespace {

using namespace std::chrono_literals;

using net::testing::RefusingPort;
using net::testing::ScriptedUpstream;

constexpr std::string_view kApiServerPath = "/api/v1/namespaces/ns/pods/drv:4040/proxy";
constexpr std::string_view kHistoryUrl = "http://history.example:18080/history/spark-abc/jobs/";

class SparkUiProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(StartDriver().ok());
    driver_base_ = "http://127.0.0.1:" + std::to_string(driver_->port());

    SparkUiProxyOptions po;
    po.max_response_bytes = 256 << 10;
    po.timeout = 10s;
    proxy_ = std::make_unique<SparkUiProxy>(
        [this](const std::string& id) {
          ++resolver_calls_;
          return Resolve(id);
        },
        [this](const net::Request& req, const std::string& id) -> Status {
          std::lock_guard lock(mu_);
          access_seen_.push_back(id);
          // The proxy hands over the request itself, headers included.
          if (req.Header("x-anonymous") == "yes") {
            return Error(Code::kUnauthenticated, "sign in to see this run's Spark UI");
          }
          if (req.Header("x-deny") == "yes" || !allow_.load()) {
            return Error(Code::kPermissionDenied,
                         fmt::format("run '{}' belongs to another group", id));
          }
          return OkStatus();
        },
        po);
    net::Router router;
    proxy_->Register(router);
    router.Add("GET", "/healthz", [](net::Request&) { return net::JsonResponse(200, "{}"); });
    net::ServerOptions so;
    so.port = 0;
    // One io thread: a proxied request must never hold it (SlowDriverHoldsNoIoThread).
    so.threads = 1;
    server_ = std::make_unique<net::HttpServer>(so, std::move(router));
    ASSERT_TRUE(server_->Start().ok());
    auto client =
        net::HttpClient::Create("http://127.0.0.1:" + std::to_string(server_->port()), 10s);
    ASSERT_TRUE(client.ok());
    client_ = std::make_unique<net::HttpClient>(std::move(*client));
  }

  void TearDown() override {
    ReleaseSlow();
    if (server_) server_->Stop();
    if (driver_) driver_->Stop();
  }

  // The stand-in driver: the pages Spark serves under spark.ui.proxyBase=/runs/r1/spark-ui, and
  // a catch-all that echoes what it received (or redirects to ?redirect=).
  Status StartDriver() {
    net::Router r;
    r.Add("GET", "/", [this](net::Request&) {
      // Spark's root redirect is absolute, built from the Host it was reached at.
      net::Response resp;
      resp.status = 302;
      resp.content_type = "text/plain";
      resp.headers.emplace_back("Location", driver_base_ + "/jobs/");
      return resp;
    });
    r.Add("GET", "/jobs/", [](net::Request&) {
      net::Response resp;
      resp.content_type = "text/html;charset=utf-8";
      resp.body = "<html><a href=\"/runs/r1/spark-ui/stages/\">Stages</a></html>";
      resp.headers = {{"Cache-Control", "no-cache, no-store, must-revalidate"},
                      {"Set-Cookie", "JSESSIONID=driver"},
                      {"X-Frame-Options", "SAMEORIGIN"}};
      return resp;
    });
    r.Add("GET", "/static/x.css", [](net::Request&) {
      net::Response resp;
      resp.content_type = "text/css";
      resp.body = "body { color: black }";
      resp.headers = {{"ETag", "\"css-1\""}, {"Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"}};
      return resp;
    });
    r.Add("GET", "/api/v1/applications",
          [](net::Request&) { return net::JsonResponse(200, R"([{"id":"app-1","name":"etl"}])"); });
    r.Add("GET", "/big", [](net::Request&) {
      net::Response resp;
      resp.content_type = "text/plain";
      resp.body = std::string(300 << 10, 'x');
      return resp;
    });
    r.Add("GET", "/slow", [this](net::Request&) {
      {
        std::lock_guard lock(mu_);
        ++slow_arrived_;
      }
      slow_cv_.notify_all();
      slow_released_.wait_for(10s);
      return net::JsonResponse(200, R"({"slow":"done"})");
    });
    auto echo = [this](net::Request& req) {
      ++driver_hits_;
      {
        std::lock_guard lock(mu_);
        driver_remotes_.insert(req.remote);
      }
      std::string redirect = req.Query("redirect");
      if (!redirect.empty()) {
        net::Response resp;
        resp.status = 302;
        resp.headers.emplace_back("Location", redirect);
        return resp;
      }
      boost::json::object headers;
      for (const auto& [name, value] : req.headers) headers[name] = value;
      boost::json::object o{{"method", req.method}, {"target", req.target}};
      o["headers"] = std::move(headers);
      return net::JsonResponse(200, boost::json::serialize(o));
    };
    r.Add("GET", "/{rest...}", echo);
    r.Add("HEAD", "/{rest...}", echo);
    net::ServerOptions so;
    so.port = 0;
    so.threads = 2;
    driver_ = std::make_unique<net::HttpServer>(so, std::move(r));
    return driver_->Start();
  }

  Result<SparkUiTarget> Resolve(const std::string& id) {
    SparkUiTarget t;
    auto live = [&](std::string base) {
      t.kind = SparkUiTarget::Kind::kLive;
      t.base_url = std::move(base);
      t.client.headers = [] { return net::HeaderList{{"Authorization", "Bearer upstream-token"}}; };
    };
    if (id == "r1") {
      live(driver_base_);
    } else if (id == "r2") {
      t.kind = SparkUiTarget::Kind::kHistory;
      t.history_url = std::string(kHistoryUrl);
    } else if (id == "r3") {
      t.message = "run 'r3' has no Spark driver yet; it is waiting for a node";
    } else if (id == "down") {
      live("http://127.0.0.1:" + std::to_string(refusing_.port()));
    } else if (id == "slow") {
      live(driver_base_);
      t.client.timeout = 300ms;  // shorter than the proxy's own: it wins
    } else if (id == "scripted") {
      live(scripted_base_);
    } else if (id == "k8s") {
      live(driver_base_ + std::string(kApiServerPath));
    } else {
      return NotFound("run '" + id + "' not found; list runs with `tug runs`");
    }
    return t;
  }

  net::ClientResponse Get(const std::string& target, const net::HeaderList& headers = {},
                          const std::string& method = "GET") {
    auto r = client_->Send(method, target, "", "application/json", headers);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? std::move(*r) : net::ClientResponse{};
  }

  static boost::json::value Json(const net::ClientResponse& r) {
    auto v = ParseJson(r.body);
    EXPECT_TRUE(v.ok()) << r.body;
    return v.ok() ? *v : boost::json::value();
  }

  static std::string ErrorMessage(const net::ClientResponse& r) {
    auto v = Json(r);
    if (!v.is_object() || !v.as_object().contains("error")) return "<no error in " + r.body + ">";
    return std::string(v.at("error").at("message").as_string());
  }

  /// What the stand-in's echo saw for a proxied request.
  std::string EchoedTarget(const std::string& target) {
    auto r = Get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    auto v = Json(r);
    if (!v.is_object()) return "<not an echo>";
    return std::string(v.at("target").as_string());
  }

  /// Where the proxy sends the browser when the driver redirects to `location` (the proxied
  /// request goes through the echo's ?redirect=). "" when there is no Location.
  net::ClientResponse RedirectThrough(const std::string& run, const std::string& location) {
    std::string encoded;
    for (char c : location) {
      auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) != 0) {
        encoded += c;
      } else {
        encoded += fmt::format("%{:02X}", u);
      }
    }
    return Get("/runs/" + run + "/spark-ui/go?redirect=" + encoded);
  }

  void ReleaseSlow() {
    std::call_once(released_once_, [this] { release_slow_.set_value(); });
  }

  void WaitForSlowRequests(int n) {
    std::unique_lock lock(mu_);
    slow_cv_.wait(lock, [&] { return slow_arrived_ >= n; });
  }

  size_t DriverConnections() {
    std::lock_guard lock(mu_);
    return driver_remotes_.size();
  }

  RefusingPort refusing_;
  std::string scripted_base_;  // the run "scripted": a ScriptedUpstream a test starts
  std::once_flag released_once_;
  std::condition_variable slow_cv_;
  int slow_arrived_ = 0;                  // guarded by mu_
  std::set<std::string> driver_remotes_;  // guarded by mu_: one client address per connection
  std::promise<void> release_slow_;
  std::shared_future<void> slow_released_ = release_slow_.get_future().share();
  std::string driver_base_;
  std::atomic<int> resolver_calls_{0};
  std::atomic<int> driver_hits_{0};
  std::atomic<bool> allow_{true};
  std::mutex mu_;
  std::vector<std::string> access_seen_;  // guarded by mu_
  std::unique_ptr<net::HttpServer> driver_;
  // Declared before the server that calls it, so it outlives it.
  std::unique_ptr<SparkUiProxy> proxy_;
  std::unique_ptr<net::HttpServer> server_;
  std::unique_ptr<net::HttpClient> client_;
};

TEST(SparkUiProxyBaseTest, IsTheRunsPathWithTheIdEscaped) {
  EXPECT_EQ(SparkUiProxy::ProxyBase("01jabc"), "/runs/01jabc/spark-ui");
  EXPECT_EQ(SparkUiProxy::ProxyBase("a b/c"), "/runs/a%20b%2Fc/spark-ui");
}

TEST_F(SparkUiProxyTest, ProxiesPagesOfTheLiveDriver) {
  auto jobs = Get("/runs/r1/spark-ui/jobs/");
  EXPECT_EQ(jobs.status, 200);
  EXPECT_EQ(jobs.content_type, "text/html;charset=utf-8");
  EXPECT_EQ(jobs.body, "<html><a href=\"/runs/r1/spark-ui/stages/\">Stages</a></html>");
  EXPECT_EQ(jobs.Header("cache-control"), "no-cache, no-store, must-revalidate");
  EXPECT_EQ(jobs.Header("set-cookie"), "");  // the driver's cookies stay away from tug's origin
  EXPECT_EQ(jobs.Header("x-frame-options"), "");

  auto css = Get("/runs/r1/spark-ui/static/x.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css");
  EXPECT_EQ(css.body, "body { color: black }");
  EXPECT_EQ(css.Header("etag"), "\"css-1\"");
  EXPECT_EQ(css.Header("last-modified"), "Mon, 01 Jan 2024 00:00:00 GMT");

  auto apps = Get("/runs/r1/spark-ui/api/v1/applications");
  EXPECT_EQ(apps.status, 200);
  EXPECT_EQ(apps.content_type, "application/json");
  EXPECT_EQ(apps.body, R"([{"id":"app-1","name":"etl"}])");

  auto missing = Get("/runs/r1/spark-ui/jobs/nothing/here/");
  EXPECT_EQ(missing.status, 200);  // the echo catch-all
  auto head = Get("/runs/r1/spark-ui/jobs/", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.content_type, "text/html;charset=utf-8");
}

TEST_F(SparkUiProxyTest, NormalSparkPathsAndQueriesPassThroughExactly) {
  for (const char* path :
       {"/jobs/job/?id=1", "/static/bootstrap.min.css", "/api/v1/applications/app-1/executors",
        "/stages/stage/?id=0&attempt=0", "/executors/threadDump/?executorId=1",
        "/stages/stage/?id=0&attempt=0&task.sort=Shuffle%20Read%20Size&task.desc=true",
        "/SQL/execution/?id=3", "/api/v1/applications/app-1/stages?status=active&x=a%2Fb",
        "/environment/", "/logPage/?appId=app-1&executorId=driver&logType=stdout"}) {
    EXPECT_EQ(EchoedTarget("/runs/r1/spark-ui" + std::string(path)), path);
  }
  // An empty rest is the driver's root; characters a browser may leave raw are escaped.
  EXPECT_EQ(EchoedTarget("/runs/r1/spark-ui/x?q=a|b"), "/x?q=a%7Cb");
  EXPECT_EQ(EchoedTarget("/runs/r1/spark-ui/a%20b/"), "/a%20b/");

  // Through the Kubernetes API server: the base URL's path prefix stays in front.
  EXPECT_EQ(EchoedTarget("/runs/k8s/spark-ui/jobs/?id=1"),
            std::string(kApiServerPath) + "/jobs/?id=1");
  EXPECT_EQ(EchoedTarget("/runs/k8s/spark-ui/"), std::string(kApiServerPath) + "/");
}

TEST_F(SparkUiProxyTest, RedirectsLandInsideTheProxyBase) {
  // Spark's absolute redirect from "/" to its own host.
  auto root = Get("/runs/r1/spark-ui/");
  EXPECT_EQ(root.status, 302);
  EXPECT_EQ(root.Header("location"), "/runs/r1/spark-ui/jobs/");

  // The bare path gets its trailing slash (relative links need it); the query is kept.
  auto bare = Get("/runs/r1/spark-ui");
  EXPECT_EQ(bare.status, 302);
  EXPECT_EQ(bare.Header("location"), "/runs/r1/spark-ui/");
  auto bare_query = Get("/runs/r1/spark-ui?a=1");
  EXPECT_EQ(bare_query.Header("location"), "/runs/r1/spark-ui/?a=1");

  struct Case {
    std::string run;
    std::string location;
    std::string want;  // "" → refused with 502
  };
  std::string host = driver_base_.substr(std::string("http://").size());
  std::vector<Case> cases = {
      {"r1", driver_base_ + "/jobs/", "/runs/r1/spark-ui/jobs/"},
      {"r1", driver_base_, "/runs/r1/spark-ui/"},
      {"r1", driver_base_ + "?x=1", "/runs/r1/spark-ui/?x=1"},
      {"r1", driver_base_ + "/runs/r1/spark-ui/jobs/", "/runs/r1/spark-ui/jobs/"},
      // The driver names itself by its pod IP: fine for paths under the proxy base.
      {"r1", "http://10.9.8.7:4040/runs/r1/spark-ui/stages/?id=1",
       "/runs/r1/spark-ui/stages/?id=1"},
      {"r1", "/stages/", "/runs/r1/spark-ui/stages/"},
      {"r1", "/runs/r1/spark-ui/stages/", "/runs/r1/spark-ui/stages/"},
      {"r1", "/runs/r1/spark-ui", "/runs/r1/spark-ui"},
      {"r1", "/runs/r1/spark-uiX/", "/runs/r1/spark-ui/runs/r1/spark-uiX/"},
      {"r1", "stages/", "stages/"},
      // Away from the driver: refused.
      {"r1", "http://evil.example/steal", ""},
      {"r1", "https://evil.example/", ""},
      {"r1", "//evil.example/steal", ""},
      {"r1", "/\\evil.example/steal", ""},
      {"r1", "javascript:alert(1)", ""},
      {"r1", "http://user@" + host + "/jobs/", ""},
      {"r1", "http://10.9.8.7:4040/runs/r2/spark-ui/", ""},
      {"r1", "http://10.9.8.7:4040/jobs/", ""},
      // Through the API server: its path prefix maps to the proxy base, from any host.
      {"k8s", driver_base_ + std::string(kApiServerPath) + "/jobs/", "/runs/k8s/spark-ui/jobs/"},
      {"k8s", std::string(kApiServerPath) + "/jobs/", "/runs/k8s/spark-ui/jobs/"},
      {"k8s", std::string(kApiServerPath), "/runs/k8s/spark-ui/"},
      {"k8s", "https://10.0.0.1:6443" + std::string(kApiServerPath) + "/x", "/runs/k8s/spark-ui/x"},
      {"k8s", driver_base_ + "/api/v1/secrets", "/runs/k8s/spark-ui/api/v1/secrets"},
      {"k8s", "/jobs/", "/runs/k8s/spark-ui/jobs/"},
      {"k8s", "http://evil.example/api/v1/secrets", ""},
  };
  for (const Case& c : cases) {
    auto r = RedirectThrough(c.run, c.location);
    if (c.want.empty()) {
      EXPECT_EQ(r.status, 502) << c.location << " → " << r.Header("location");
      EXPECT_EQ(r.Header("location"), "") << c.location;
      EXPECT_NE(ErrorMessage(r).find("redirected outside its UI"), std::string::npos) << r.body;
    } else {
      EXPECT_EQ(r.status, 302) << c.location << ": " << r.body;
      EXPECT_EQ(r.Header("location"), c.want) << c.location;
    }
  }
}

TEST_F(SparkUiProxyTest, ForwardsOnlyAllowedHeadersAndTheTargetsOwnAuthorization) {
  auto r = Get("/runs/r1/spark-ui/echo", {{"Authorization", "Bearer caller-secret"},
                                          {"Cookie", "tug_session=caller-secret"},
                                          {"Accept", "text/html"},
                                          {"Accept-Language", "de"},
                                          {"If-None-Match", "\"css-1\""},
                                          {"If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"},
                                          {"User-Agent", "browser/1.0"},
                                          {"X-Forwarded-For", "6.6.6.6"},
                                          {"X-Forwarded-Prefix", "/evil"},
                                          {"Accept-Encoding", "gzip"},
                                          {"X-Custom", "secret"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto h = Json(r).at("headers").as_object();
  EXPECT_EQ(h.at("authorization").as_string(), "Bearer upstream-token");
  EXPECT_FALSE(h.contains("cookie"));
  EXPECT_EQ(h.at("accept").as_string(), "text/html");
  EXPECT_EQ(h.at("accept-language").as_string(), "de");
  EXPECT_EQ(h.at("if-none-match").as_string(), "\"css-1\"");
  EXPECT_EQ(h.at("if-modified-since").as_string(), "Mon, 01 Jan 2024 00:00:00 GMT");
  EXPECT_EQ(h.at("user-agent").as_string(), "browser/1.0");
  EXPECT_EQ(h.at("x-forwarded-prefix").as_string(), "/runs/r1/spark-ui");
  EXPECT_FALSE(h.contains("x-forwarded-for"));
  EXPECT_FALSE(h.contains("accept-encoding"));
  EXPECT_FALSE(h.contains("x-custom"));
  EXPECT_EQ(r.body.find("caller-secret"), std::string::npos);

  auto head = Get("/runs/r1/spark-ui/echo", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST_F(SparkUiProxyTest, EachRunResolvesToItsOwnTarget) {
  auto history = Get("/runs/r2/spark-ui/jobs/");
  EXPECT_EQ(history.status, 302);
  EXPECT_EQ(history.Header("location"), kHistoryUrl);  // nothing appended

  auto none = Get("/runs/r3/spark-ui/");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(ErrorMessage(none), "run 'r3' has no Spark driver yet; it is waiting for a node");

  auto unknown = Get("/runs/nope/spark-ui/jobs/");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrorMessage(unknown), "run 'nope' not found; list runs with `tug runs`");
  auto v = Json(unknown);
  EXPECT_EQ(v.at("error").at("code").as_string(), "not_found");
}

TEST_F(SparkUiProxyTest, DeniedAccessIs403BeforeAnythingIsResolved) {
  allow_ = false;
  for (const char* target : {"/runs/r1/spark-ui/jobs/", "/runs/r1/spark-ui", "/runs/r2/spark-ui/",
                             "/runs/r1/spark-ui/../../r2/spark-ui/"}) {
    auto r = Get(target);
    EXPECT_EQ(r.status, 403) << target;
    EXPECT_EQ(Json(r).at("error").at("code").as_string(), "permission_denied");
  }
  EXPECT_EQ(resolver_calls_.load(), 0);
  EXPECT_EQ(driver_hits_.load(), 0);
  allow_ = true;
  auto header_denied = Get("/runs/r1/spark-ui/jobs/", {{"X-Deny", "yes"}});
  EXPECT_EQ(header_denied.status, 403);
  EXPECT_EQ(ErrorMessage(header_denied), "run 'r1' belongs to another group");
  auto anonymous = Get("/runs/r1/spark-ui/jobs/", {{"X-Anonymous", "yes"}});
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Header("www-authenticate"), "Bearer realm=\"tugboat\"");
  EXPECT_EQ(resolver_calls_.load(), 0);
  std::lock_guard lock(mu_);
  ASSERT_FALSE(access_seen_.empty());
  EXPECT_EQ(access_seen_.front(), "r1");
}

TEST_F(SparkUiProxyTest, RefusesPathsThatCouldLeaveTheRunsUi) {
  for (const char* target : {
           "/runs/r1/spark-ui/../../r2/spark-ui/",
           "/runs/r1/spark-ui/jobs/../../../r2/spark-ui/",
           "/runs/r1/spark-ui/%2e%2e/%2e%2e/r2/spark-ui/",
           "/runs/r1/spark-ui/%2E%2E/",
           "/runs/r1/spark-ui/./jobs/",
           "/runs/r1/spark-ui/%2e/jobs/",
           "/runs/r1/spark-ui/..",
           "/runs/r1/spark-ui/..%2f..%2fsecrets",
           "/runs/r1/spark-ui/a%2Fb",
           "/runs/r1/spark-ui/a%5cb",
           "/runs/r1/spark-ui/a\\b",
           "/runs/r1/spark-ui//evil.com/",
           "/runs/r1/spark-ui/jobs//x",
           "/runs/r1/spark-ui/http://evil.com/",
           "/runs/r1/spark-ui/https:%2f%2fevil.com/",
           "/runs/r1/spark-ui/http:evil.com",
           "/runs/r1/spark-ui/user@evil.com/",
           "/runs/r1/spark-ui/jobs/%00",
           "/runs/r1/spark-ui/jobs/%0d%0aX-Injected:%201",
           "/runs/r1/spark-ui/caf%C3%A9/",
           "/runs/%2e%2e/spark-ui/",
           "/runs/r1/spark-ui/jobs/#frag",
       }) {
    auto r = Get(target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    if (r.status == 400) {
      EXPECT_NE(ErrorMessage(r).find("refusing to proxy this Spark UI path"), std::string::npos)
          << target << ": " << r.body;
    }
  }
  EXPECT_EQ(resolver_calls_.load(), 0);
  EXPECT_EQ(driver_hits_.load(), 0);
}

TEST_F(SparkUiProxyTest, OnlyGetAndHeadAreProxied) {
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto r = client_->Send(method, "/runs/r1/spark-ui/jobs/", "{}");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 405) << method;
    EXPECT_EQ(r->Header("allow"), "GET, HEAD");
  }
  auto bare = client_->Send("POST", "/runs/r1/spark-ui", "{}");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->status, 405);
  EXPECT_EQ(driver_hits_.load(), 0);
}

TEST_F(SparkUiProxyTest, UnreachableDriverIs502AndSlowOneIs504) {
  auto down = Get("/runs/down/spark-ui/jobs/");
  EXPECT_EQ(down.status, 502);
  std::string base = "http://127.0.0.1:" + std::to_string(refusing_.port());
  EXPECT_EQ(ErrorMessage(down), "the Spark driver of run 'down' is not reachable at " + base +
                                    ": connection refused; if the run just ended, reload in a "
                                    "moment for its history");
  EXPECT_EQ(down.body.find("upstream-token"), std::string::npos);

  auto slow = Get("/runs/slow/spark-ui/slow");
  EXPECT_EQ(slow.status, 504);
  EXPECT_EQ(ErrorMessage(slow), "the Spark driver of run 'slow' at " + driver_base_ +
                                    " did not answer within 300ms; it may be busy, reload in a "
                                    "moment");
}

TEST_F(SparkUiProxyTest, ResponseOverTheLimitIs502) {
  auto big = Get("/runs/r1/spark-ui/big");
  EXPECT_EQ(big.status, 502);
  EXPECT_NE(ErrorMessage(big).find("larger than 256 KiB"), std::string::npos) << big.body;
  // The proxy keeps serving.
  EXPECT_EQ(Get("/runs/r1/spark-ui/jobs/").status, 200);
}

// The proxy hands the upstream request to its pool and returns: with the server's only io
// thread, a driver that takes its time does not keep a health check waiting.
TEST_F(SparkUiProxyTest, SlowDriverHoldsNoIoThread) {
  auto other = net::HttpClient::Create("http://127.0.0.1:" + std::to_string(server_->port()), 10s);
  ASSERT_TRUE(other.ok());
  auto slow =
      std::async(std::launch::async, [&] { return other->Send("GET", "/runs/r1/spark-ui/slow"); });
  WaitForSlowRequests(1);  // the proxied request is at the driver, which does not answer yet
  for (int i = 0; i < 3; ++i) {
    auto health = Get("/healthz");
    EXPECT_EQ(health.status, 200);
    // Other proxied pages too.
    EXPECT_EQ(Get("/runs/r1/spark-ui/jobs/").status, 200);
  }
  ReleaseSlow();
  auto answer = slow.get();
  ASSERT_TRUE(answer.ok()) << answer.error().ToString();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, R"({"slow":"done"})");
}

TEST_F(SparkUiProxyTest, RequestsReuseKeptConnectionsToTheDriver) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(EchoedTarget("/runs/r1/spark-ui/echo/" + std::to_string(i)),
              "/echo/" + std::to_string(i));
  }
  EXPECT_EQ(DriverConnections(), 1u);
  auto stats = proxy_->pool_stats();
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.reused, 9u);
}

// A driver's Jetty closes idle keep-alive connections (30 s); one that closes just as a request
// is sent on it must not cost the caller an error page.
TEST_F(SparkUiProxyTest, DriverClosingAKeptConnectionIsHandled) {
  ScriptedUpstream upstream([](int fd, int index) {
    if (!ScriptedUpstream::ReadRequest(fd)) return;
    ScriptedUpstream::Answer(fd, "page " + std::to_string(index));
    if (index == 0) {
      // Reads the next request on this connection, then closes without an answer.
      ScriptedUpstream::ReadRequest(fd);
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    if (index == 1) {
      ::shutdown(fd, SHUT_RDWR);  // answered, kept alive, then closed while idle
      return;
    }
    while (ScriptedUpstream::ReadRequest(fd)) ScriptedUpstream::Answer(fd, "more");
  });
  scripted_base_ = upstream.base();
  auto first = Get("/runs/scripted/spark-ui/a");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "page 0");
  auto second = Get("/runs/scripted/spark-ui/b");  // sent on connection 0, which closes
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.body, "page 1");
  auto third = Get("/runs/scripted/spark-ui/c");  // connection 1 closed while kept
  EXPECT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(third.body, "page 2");
  EXPECT_EQ(upstream.accepted(), 3);
  EXPECT_GE(proxy_->pool_stats().stale_retries, 1u);
}

TEST_F(SparkUiProxyTest, DriverThatWentAwayIs502WithTheReason) {
  EXPECT_EQ(Get("/runs/r1/spark-ui/jobs/").status, 200);  // a connection is kept
  driver_->Stop();
  auto gone = Get("/runs/r1/spark-ui/jobs/");
  EXPECT_EQ(gone.status, 502);
  EXPECT_EQ(ErrorMessage(gone), "the Spark driver of run 'r1' is not reachable at " + driver_base_ +
                                    ": connection refused; if the run just ended, reload in a "
                                    "moment for its history");
  EXPECT_EQ(Get("/healthz").status, 200);
}

}  // namespace
}  // namespace tug::server
