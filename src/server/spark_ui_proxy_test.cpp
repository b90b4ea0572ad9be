// SparkUiProxy against a stand-in Spark driver UI: routing, redirects, headers and access.
#include "server/spark_ui_proxy_test_fixture.h"

namespace tug::server {
namespace {

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

}  // namespace
}  // namespace tug::server
