#pragma once
// The fixture of the Spark UI proxy tests: a stand-in Spark driver UI and the proxy, both served
// over loopback sockets (spark_ui_proxy_test.cpp: routing and access;
// spark_ui_proxy_upstream_test.cpp: the upstream connection).
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

}  // namespace
}  // namespace tug::server
