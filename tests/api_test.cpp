// API v1 against a real server: bad input gets a 4xx with a message that says what to fix, and
// leaves nothing written.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "net/http_client.h"
#include "test_util.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data");
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    auto c = net::HttpClient::Create(server_->url());
    ASSERT_TRUE(c.ok());
    client_ = std::make_unique<net::HttpClient>(std::move(*c));
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->Log() << "\n";
  }

  struct Reply {
    int status = 0;
    json::value body;
    std::string raw;
  };
  Reply Call(const std::string& method, const std::string& target, const std::string& body = "") {
    auto r = client_->Send(method, target, body);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    if (!r.ok()) return {};
    Reply out{r->status, nullptr, r->body};
    boost::system::error_code ec;
    out.body = json::parse(r->body, ec);
    return out;
  }
  static std::string Message(const Reply& r) {
    if (!r.body.is_object() || !r.body.as_object().contains("error")) return "";
    return std::string(r.body.at("error").at("message").as_string());
  }
  static std::string CodeOf(const Reply& r) {
    if (!r.body.is_object() || !r.body.as_object().contains("error")) return "";
    return std::string(r.body.at("error").at("code").as_string());
  }
  size_t RunCount() { return Call("GET", "/api/v1/runs").body.at("runs").as_array().size(); }
  size_t DefinitionCount() {
    return Call("GET", "/api/v1/definitions").body.at("definitions").as_array().size();
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<net::HttpClient> client_;
};

TEST_F(ApiTest, BadInputIs4xxWithAClearMessageAndWritesNothing) {
  ASSERT_EQ(Call("PUT", "/api/v1/definitions/hello",
                 R"({"name":"hello","command":"echo hi","resources":{"memory":"64Mi"}})")
                .status,
            201);

  auto malformed = Call("POST", "/api/v1/definitions", "{\"name\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(CodeOf(malformed), "invalid_argument");
  EXPECT_NE(Message(malformed).find("not valid JSON"), std::string::npos) << malformed.raw;

  auto malformed_run = Call("POST", "/api/v1/runs", "{definition: hello}");
  EXPECT_EQ(malformed_run.status, 400);

  auto unknown = Call("POST", "/api/v1/runs", R"({"definition":"nope"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(Message(unknown).find("definition 'nope' not found"), std::string::npos) << unknown.raw;
  EXPECT_NE(Message(unknown).find("tug apply"), std::string::npos);

  auto negative =
      Call("POST", "/api/v1/runs", R"({"definition":"hello","resources":{"memory":"-64Mi"}})");
  EXPECT_EQ(negative.status, 400);
  EXPECT_NE(Message(negative).find("positive"), std::string::npos) << negative.raw;

  auto absurd =
      Call("POST", "/api/v1/runs", R"({"definition":"hello","resources":{"memory":"900Ti"}})");
  EXPECT_EQ(absurd.status, 422);
  EXPECT_NE(Message(absurd).find("lower it"), std::string::npos) << absurd.raw;

  auto absurd_def = Call("PUT", "/api/v1/definitions/big",
                         R"({"name":"big","command":"x","resources":{"memory":"900Ti"}})");
  EXPECT_EQ(absurd_def.status, 422);

  auto unknown_field = Call("POST", "/api/v1/runs", R"({"definition":"hello","memroy":"1Gi"})");
  EXPECT_EQ(unknown_field.status, 400);
  EXPECT_NE(Message(unknown_field).find("unknown field 'memroy'"), std::string::npos);

  std::string huge = R"({"name":"x","command":")" + std::string(2 << 20, 'a') + "\"}";
  auto oversized = Call("POST", "/api/v1/definitions", huge);
  EXPECT_EQ(oversized.status, 413);
  EXPECT_FALSE(Message(oversized).empty());

  auto cursor = Call("GET", "/api/v1/runs?cursor=not-a-cursor");
  EXPECT_EQ(cursor.status, 400);
  EXPECT_NE(Message(cursor).find("cursor"), std::string::npos) << cursor.raw;
  auto limit = Call("GET", "/api/v1/runs?limit=0");
  EXPECT_EQ(limit.status, 400);
  auto status = Call("GET", "/api/v1/runs?status=DONE");
  EXPECT_EQ(status.status, 400);

  auto mismatch = Call("PUT", "/api/v1/definitions/a", R"({"name":"b","command":"x"})");
  EXPECT_EQ(mismatch.status, 400);

  auto missing_run = Call("GET", "/api/v1/runs/01jd0000000000000000000000");
  EXPECT_EQ(missing_run.status, 404);
  auto no_route = Call("GET", "/api/v1/nothing");
  EXPECT_EQ(no_route.status, 404);

  EXPECT_EQ(RunCount(), 0u) << "a rejected request must not leave a run behind";
  EXPECT_EQ(DefinitionCount(), 1u);
}

TEST_F(ApiTest, PaginationWalksEveryRunOnce) {
  ASSERT_EQ(Call("PUT", "/api/v1/definitions/noop", R"({"name":"noop","command":"true"})").status,
            201);
  std::set<std::string> submitted;
  for (int i = 0; i < 7; ++i) {
    auto r = Call("POST", "/api/v1/runs", R"({"definition":"noop"})");
    ASSERT_EQ(r.status, 201) << r.raw;
    submitted.insert(std::string(r.body.at("id").as_string()));
  }
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = Call("GET", "/api/v1/runs?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200) << page.raw;
    for (const auto& run : page.body.at("runs").as_array()) {
      EXPECT_TRUE(seen.insert(std::string(run.at("id").as_string())).second);
    }
    const auto& next = page.body.at("next_cursor");
    cursor = next.is_string() ? std::string(next.as_string()) : "";
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen, submitted);
  EXPECT_EQ(pages, 3);
}

TEST_F(ApiTest, HealthReadinessAndMetrics) {
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  auto ready = Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.raw;
  EXPECT_TRUE(ready.body.at("engine").is_object());
  auto metrics = client_->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  for (const char* name :
       {"tug_http_requests_total", "tug_runs{status=\"QUEUED\"}", "tug_queue_depth",
        "tug_submit_to_launch_seconds", "tug_attempts_launched_total"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name << "\n" << metrics->body;
  }
}

TEST_F(ApiTest, RunsHaveOwnersAndFilterByOwnerAndCreationTime) {
  ASSERT_EQ(Call("PUT", "/api/v1/definitions/noop", R"({"name":"noop","command":"true"})").status,
            201);
  for (const char* owner : {"alice", "bob", "alice"}) {
    auto r = Call("POST", "/api/v1/runs",
                  std::string(R"({"definition":"noop","owner":")") + owner + "\"}");
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body.at("owner").as_string(), owner);
  }
  auto number = Call("POST", "/api/v1/runs", R"({"definition":"noop","owner":7})");
  EXPECT_EQ(number.status, 400);
  EXPECT_NE(Message(number).find("'owner' must be a string"), std::string::npos) << number.raw;
  auto control = Call("POST", "/api/v1/runs", R"({"definition":"noop","owner":"a\nb"})");
  EXPECT_EQ(control.status, 400);
  EXPECT_EQ(RunCount(), 3u) << "a refused submit was stored";

  auto alice = Call("GET", "/api/v1/runs?owner=alice");
  ASSERT_EQ(alice.status, 200) << alice.raw;
  ASSERT_EQ(alice.body.at("runs").as_array().size(), 2u);
  const auto& first = alice.body.at("runs").as_array()[0];
  EXPECT_EQ(first.at("owner").as_string(), "alice");
  EXPECT_EQ(first.at("attempt_count").as_int64(), 1);

  EXPECT_EQ(Call("GET", "/api/v1/runs?created_before=2999-01-01T00:00:00Z")
                .body.at("runs")
                .as_array()
                .size(),
            3u);
  EXPECT_TRUE(Call("GET", "/api/v1/runs?created_after=2999-01-01T00:00:00Z")
                  .body.at("runs")
                  .as_array()
                  .empty());
  EXPECT_EQ(Call("GET", "/api/v1/runs?owner=bob&created_after=2000-01-01T00:00:00Z")
                .body.at("runs")
                .as_array()
                .size(),
            1u);
  auto garbage = Call("GET", "/api/v1/runs?created_after=yesterday");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_NE(Message(garbage).find("RFC 3339"), std::string::npos) << garbage.raw;
  auto inverted = Call(
      "GET", "/api/v1/runs?created_after=2026-01-02T00:00:00Z&created_before=2026-01-01T00:00:00Z");
  EXPECT_EQ(inverted.status, 400);
  EXPECT_NE(Message(inverted).find("must be earlier"), std::string::npos) << inverted.raw;
}

TEST_F(ApiTest, PolledAnswersRevalidateByEtag) {
  ASSERT_EQ(Call("PUT", "/api/v1/definitions/noop", R"({"name":"noop","command":"true"})").status,
            201);
  auto first = client_->Send("GET", "/api/v1/runs");
  ASSERT_TRUE(first.ok());
  std::string etag;
  for (const auto& [k, v] : first->headers) {
    if (k == "ETag" || k == "etag") etag = v;
  }
  ASSERT_FALSE(etag.empty()) << "no ETag on the runs list";
  auto same =
      client_->Send("GET", "/api/v1/runs", "", "application/json", {{"If-None-Match", etag}});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->status, 304);
  EXPECT_TRUE(same->body.empty());

  auto run = Call("POST", "/api/v1/runs", R"({"definition":"noop"})");
  ASSERT_EQ(run.status, 201) << run.raw;
  auto changed =
      client_->Send("GET", "/api/v1/runs", "", "application/json", {{"If-None-Match", etag}});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->status, 200) << "a changed list was not sent";

  const std::string id(run.body.at("id").as_string());
  // Usage answers even before any sample arrived; a run's attempts list their logs.
  auto usage = Call("GET", "/api/v1/runs/" + id + "/usage");
  ASSERT_EQ(usage.status, 200) << usage.raw;
  EXPECT_EQ(usage.body.at("run_id").as_string(), id);
  EXPECT_TRUE(usage.body.at("series").is_array());
  EXPECT_EQ(Call("GET", "/api/v1/runs/nope/usage").status, 404);
  ASSERT_TRUE(WaitFor([&] {
    auto r = Call("GET", "/api/v1/runs/" + id);
    const auto& a = r.body.at("attempts").as_array()[0].at("logs").as_array();
    return !a.empty() && a[0].as_string() == "main";
  }));
}

TEST_F(ApiTest, WebUiIsServedAtRootWithAContentSecurityPolicy) {
  auto root = client_->Send("GET", "/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->status, 200);
  std::string csp;
  std::string type;
  for (const auto& [k, v] : root->headers) {
    if (k == "content-security-policy" || k == "Content-Security-Policy") csp = v;
    if (k == "content-type" || k == "Content-Type") type = v;
  }
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(type, "text/html; charset=utf-8");
  EXPECT_NE(root->body.find("<"), std::string::npos);
}

}  // namespace
}  // namespace tug::testing
