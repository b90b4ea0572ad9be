#pragma once
// Test fixture: API v1 with authentication on (bearer tokens) and an audit log, through the
// ApiHarness, with one token per kind of caller:
//   admin: role admin, no groups
//   ada:   role user, group science        bob: role user, group ops
//   vic:   role viewer, group science
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "auth/token.h"
#include "core/ids.h"
#include "server/api_harness.h"

namespace tug::server::testing {

namespace json = boost::json;

struct Reply {
  int status = 0;
  std::string raw;
  json::value body;
  std::string www_authenticate;

  std::string Message() const {
    if (!body.is_object() || !body.as_object().contains("error")) return "";
    return std::string(body.at("error").at("message").as_string());
  }
};

class ApiAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(ApiOptions{}); }

  void TearDown() override {
    api_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Open(ApiOptions options, ApiHarness::Extras extras = {}) {
    api_.reset();
    if (dir_.empty()) {
      char tmpl[] = "/tmp/tug_api_auth_XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    }
    extras.auth = true;
    extras.audit_log = dir_ + "/audit.log";
    auto api = ApiHarness::Open(dir_, std::move(options), std::move(extras));
    ASSERT_TRUE(api.ok()) << api.error().ToString();
    api_ = std::move(*api);
    if (admin_.empty()) {
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

  static net::Request MakeRequest(const std::string& method, const std::string& target,
                                  const std::string& body, const std::string& token) {
    net::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers["content-type"] = "application/json";
    req.headers["content-length"] = std::to_string(body.size());
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    req.remote = "127.0.0.1:40000";
    return req;
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& token = "") {
    net::Response r = api_->Call(MakeRequest(method, target, body, token));
    Reply out;
    out.status = r.status;
    out.raw = r.body;
    boost::system::error_code ec;
    out.body = json::parse(r.body, ec);
    for (const auto& [k, v] : r.headers) {
      if (k == "WWW-Authenticate") out.www_authenticate = v;
    }
    return out;
  }

  // Creates definition `name` in `group` as admin (owner ada).
  void Define(const std::string& name, const std::string& group, const std::string& extra = "") {
    auto r = Call("PUT", "/api/v1/definitions/" + name,
                  R"({"name":")" + name + R"(","command":"echo hi","owner":"ada","group":")" +
                      group + "\"" + extra + "}",
                  admin_);
    ASSERT_EQ(r.status, 201) << r.raw;
  }

  // Submits a run of `definition` with `token`; its id ("" when refused).
  std::string Submit(const std::string& definition, const std::string& token, int expect = 201) {
    auto r = Call("POST", "/api/v1/runs", R"({"definition":")" + definition + "\"}", token);
    EXPECT_EQ(r.status, expect) << r.raw;
    if (r.status != 201) return "";
    return std::string(r.body.at("id").as_string());
  }

  std::vector<json::object> AuditLines() {
    std::ifstream in(dir_ + "/audit.log");
    std::vector<json::object> out;
    std::string line;
    while (std::getline(in, line)) {
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      EXPECT_FALSE(ec) << line;
      if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<ApiHarness> api_;
  std::string admin_, ada_, bob_, vic_;
};

}  // namespace tug::server::testing
