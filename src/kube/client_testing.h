#pragma once
/// Test helpers for the client and informer tests (client_test.cpp, client_credentials_test.cpp,
/// informer_test.cpp): an in-test API server over plain HTTP, chunked bodies, Status and watch
/// event JSON, and a client for a config.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>

#include "kube/client.h"
#include "net/http_server.h"

namespace tug::kube::testing {

using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace): test durations

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

inline net::Response Stream(std::vector<std::string> chunks, bool hold = false) {
  net::Response r;
  r.stream = std::make_shared<Chunks>(std::move(chunks), hold);
  return r;
}

inline std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  boost::json::object o{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                        {"message", message}, {"reason", reason},   {"code", code}};
  return boost::json::serialize(o);
}

inline std::string Event(const std::string& type, const std::string& name, const std::string& rv) {
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

inline std::unique_ptr<Client> NewClient(ClusterConfig config, ClientOptions options = {}) {
  auto c = Client::Create(std::move(config), std::move(options));
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

}  // namespace tug::kube::testing
