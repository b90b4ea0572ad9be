#pragma once
// Test fixture: API v1 and the Flotilla v6 API on one router over a SQLite store in a temporary
// directory (server::ApiHarness: nothing is ever launched), called the way the HTTP server
// calls handlers (net::Dispatch). With authentication on there is one token per kind of caller:
//   admin: role admin, no groups
//   ada:   role user, group science        bob: role user, group ops
//   vic:   role viewer, group science
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "auth/token.h"
#include "core/clock.h"
#include "core/ids.h"
#include "flotilla/flotilla_api.h"
#include "server/api_harness.h"

namespace tug::flotilla::testing {

namespace json = boost::json;

struct Reply {
  int status = 0;
  std::string raw;
  json::value body;
  std::string content_type;
  std::string www_authenticate;

  const json::object& object() const {
    static const json::object kEmpty;
    return body.is_object() ? body.as_object() : kEmpty;
  }
  /// Flotilla's {"error": "..."}.
  std::string Error() const {
    const json::value* e = object().if_contains("error");
    return e != nullptr && e->is_string() ? std::string(e->as_string()) : "";
  }
  std::string Str(const char* key) const {
    const json::value* v = object().if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
  }
};

class FlotillaTest : public ::testing::Test {
 protected:
  void TearDown() override {
    flotilla_.reset();
    api_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  /// The API with (auth) or without authentication, the v6 routes registered when `v6`.
  void Open(bool auth, bool v6 = true) {
    char tmpl[] = "/tmp/tug_flotilla_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    server::ApiHarness::Extras extras;
    extras.auth = auth;
    extras.audit_log = dir_ + "/audit.log";
    server::ApiOptions options;
    options.host_has_gpu = [this] { return host_gpu_; };  // hermetic: not this machine's
    auto api = server::ApiHarness::Open(dir_, std::move(options), std::move(extras));
    ASSERT_TRUE(api.ok()) << api.error().ToString();
    api_ = std::move(*api);
    flotilla_ = std::make_unique<FlotillaApi>(api_->api());
    api_->Register(router_);
    if (v6) flotilla_->Register(router_);
    if (auth) {
      admin_ = AddToken("admin", "admin", {});
      ada_ = AddToken("ada", "user", {"science"});
      bob_ = AddToken("bob", "user", {"ops"});
      vic_ = AddToken("vic", "viewer", {"science"});
    }
  }

  std::string AddToken(const std::string& user, const std::string& role,
                       std::vector<std::string> groups) {
    std::string text = *auth::GenerateToken();
    store::ApiToken t;
    t.id = NewId(SystemClock::Instance());
    t.name = user + "-test";
    t.user = user;
    t.groups = std::move(groups);
    t.role = role;
    t.hash = auth::HashToken(text);
    t.created_by = "test";
    t.created_at = SystemClock::Instance().Now();
    EXPECT_TRUE(api_->store().CreateToken(t).ok());
    return text;
  }

  /// The raw response (a deferred one waited for).
  net::Response Send(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& token = "") {
    net::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers["content-type"] = "application/json";
    req.headers["content-length"] = std::to_string(body.size());
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    req.remote = "127.0.0.1:40000";
    std::string route;
    net::Response r = net::Dispatch(router_, req, route);
    if (r.deferred) {
      auto reply = std::make_shared<std::promise<net::Response>>();
      std::future<net::Response> answer = reply->get_future();
      std::shared_ptr<net::Deferred> deferred = std::move(r.deferred);
      deferred->OnReply([reply](net::Response x) { reply->set_value(std::move(x)); });
      deferred.reset();
      r = answer.get();
      r.deferred.reset();
    }
    return r;
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& token = "") {
    net::Response r = Send(method, target, body, token);
    Reply out;
    out.status = r.status;
    out.content_type = r.content_type;
    if (r.stream) {
      for (int i = 0; i < 100000; ++i) {
        net::StreamPoll p = r.stream->Poll();
        out.raw += p.data;
        if (p.done) break;
      }
    } else {
      out.raw = r.body;
    }
    boost::system::error_code ec;
    out.body = json::parse(out.raw, ec);
    for (const auto& [k, v] : r.headers) {
      if (k == "WWW-Authenticate") out.www_authenticate = v;
    }
    return out;
  }

  /// POST /api/v6/task with a minimal valid body; the reply.
  Reply CreateTask(const std::string& alias, const std::string& extra = "",
                   const std::string& token = "") {
    return Call(
        "POST", "/api/v6/task",
        R"({"alias":")" + alias + R"(","image":"ubuntu:22.04","command":"echo hi")" + extra + "}",
        token);
  }

  /// PUT /api/v6/task/{alias}/execute; the new run's id ("" when refused).
  std::string Execute(const std::string& alias, const std::string& extra = "",
                      const std::string& token = "", int expect = 200) {
    auto r = Call("PUT", "/api/v6/task/" + alias + "/execute",
                  R"({"run_tags":{"owner_id":"flotilla"})" + extra + "}", token);
    EXPECT_EQ(r.status, expect) << r.raw;
    return r.status == 200 ? r.Str("run_id") : "";
  }

  std::vector<json::object> AuditLines() {
    std::ifstream in(dir_ + "/audit.log");
    std::vector<json::object> out;
    std::string line;
    while (std::getline(in, line)) {
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<server::ApiHarness> api_;
  std::unique_ptr<FlotillaApi> flotilla_;
  net::Router router_;
  std::string admin_, ada_, bob_, vic_;
  bool host_gpu_ = false;  // what the local engine's GPU check answers
};

}  // namespace tug::flotilla::testing
