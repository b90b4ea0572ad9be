#include <gtest/gtest.h>

#include "core/json.h"
#include "net/http.h"

namespace tug::net {
namespace {

Handler Named(std::string name) {
  return [name](Request&) { return JsonResponse(200, name); };
}

std::string Call(const Router::Match& m, Request& req) {
  if (m.handler == nullptr) return "<none>";
  return (*m.handler)(req).body;
}

Request Req(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RouterTest, MatchesParams) {
  Router router;
  router.Add("GET", "/api/v1/runs/{id}/logs", Named("logs"));
  router.Add("GET", "/api/v1/definitions/{name}/versions/{version}", Named("version"));
  Request req = Req("GET", "/api/v1/runs/01jabc/logs");
  auto m = router.Find(req);
  EXPECT_EQ(Call(m, req), "logs");
  EXPECT_EQ(m.pattern, "/api/v1/runs/{id}/logs");
  EXPECT_EQ(req.params.at("id"), "01jabc");

  Request v = Req("GET", "/api/v1/definitions/hello/versions/3");
  m = router.Find(v);
  EXPECT_EQ(Call(m, v), "version");
  EXPECT_EQ(v.params.at("name"), "hello");
  EXPECT_EQ(v.params.at("version"), "3");
}

TEST(RouterTest, ParamNeedsANonEmptySegment) {
  Router router;
  router.Add("GET", "/runs/{id}", Named("run"));
  Request empty = Req("GET", "/runs/");
  EXPECT_EQ(router.Find(empty).handler, nullptr);
  Request deeper = Req("GET", "/runs/a/b");
  EXPECT_EQ(router.Find(deeper).handler, nullptr);
  Request shorter = Req("GET", "/runs");
  EXPECT_EQ(router.Find(shorter).handler, nullptr);
}

TEST(RouterTest, ExactBeatsParamAndBacktracks) {
  Router router;
  router.Add("GET", "/runs/{id}", Named("run"));
  router.Add("GET", "/runs/stats", Named("stats"));
  router.Add("GET", "/runs/{id}/logs", Named("logs"));
  router.Add("GET", "/runs/stats/daily", Named("daily"));
  Request stats = Req("GET", "/runs/stats");
  EXPECT_EQ(Call(router.Find(stats), stats), "stats");
  EXPECT_TRUE(stats.params.empty());
  Request run = Req("GET", "/runs/r1");
  EXPECT_EQ(Call(router.Find(run), run), "run");
  // "stats" is an exact child but has no "logs" below it: the param branch still matches.
  Request logs = Req("GET", "/runs/stats/logs");
  EXPECT_EQ(Call(router.Find(logs), logs), "logs");
  EXPECT_EQ(logs.params.at("id"), "stats");
  Request daily = Req("GET", "/runs/stats/daily");
  EXPECT_EQ(Call(router.Find(daily), daily), "daily");
}

TEST(RouterTest, MethodMismatchListsAllowedMethods) {
  Router router;
  router.Add("GET", "/runs", Named("list"));
  router.Add("POST", "/runs", Named("create"));
  Request del = Req("DELETE", "/runs");
  auto m = router.Find(del);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.method_mismatch);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
  EXPECT_EQ(m.pattern, "/runs");

  Request missing = Req("GET", "/nothing");
  m = router.Find(missing);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_FALSE(m.method_mismatch);
  EXPECT_EQ(m.pattern, "");
}

TEST(RouterTest, HeadUsesGetAndRootMatches) {
  Router router;
  router.Add("GET", "/", Named("root"));
  Request head = Req("HEAD", "/");
  EXPECT_EQ(Call(router.Find(head), head), "root");
  Request get = Req("GET", "/");
  EXPECT_EQ(Call(router.Find(get), get), "root");
  Request slash = Req("GET", "//");
  EXPECT_EQ(router.Find(slash).handler, nullptr);
}

TEST(RouterTest, MethodIsPartOfTheMatch) {
  Router router;
  router.Add("GET", "/runs/{id}", Named("get"));
  router.Add("POST", "/runs/stop", Named("stop-all"));
  Request get = Req("GET", "/runs/stop");
  EXPECT_EQ(Call(router.Find(get), get), "get");
  Request post = Req("POST", "/runs/stop");
  EXPECT_EQ(Call(router.Find(post), post), "stop-all");
}

TEST(RouterTest, CatchAllTakesTheRestOfThePath) {
  Router router;
  router.Add("GET", "/runs/{id}/files/{rest...}", Named("files"));
  Request deep = Req("GET", "/runs/r1/files/a/b/c.txt");
  auto m = router.Find(deep);
  EXPECT_EQ(Call(m, deep), "files");
  EXPECT_EQ(m.pattern, "/runs/{id}/files/{rest...}");
  EXPECT_EQ(deep.params.at("id"), "r1");
  EXPECT_EQ(deep.params.at("rest"), "a/b/c.txt");

  Request empty = Req("GET", "/runs/r1/files/");
  EXPECT_EQ(Call(router.Find(empty), empty), "files");
  EXPECT_EQ(empty.params.at("rest"), "");

  Request trailing = Req("GET", "/runs/r1/files/jobs/");
  EXPECT_EQ(Call(router.Find(trailing), trailing), "files");
  EXPECT_EQ(trailing.params.at("rest"), "jobs/");

  // Decoded and unfiltered: empty segments and dots reach the handler, which must check them.
  Request odd = Req("GET", "/runs/r1/files//x/../y");
  EXPECT_EQ(Call(router.Find(odd), odd), "files");
  EXPECT_EQ(odd.params.at("rest"), "/x/../y");

  // Without the slash before it, there is nothing to match.
  Request bare = Req("GET", "/runs/r1/files");
  EXPECT_EQ(router.Find(bare).handler, nullptr);
}

TEST(RouterTest, CatchAllLosesToExactAndParamRoutes) {
  Router router;
  router.Add("GET", "/ui/{rest...}", Named("rest"));
  router.Add("GET", "/ui/static/{name}", Named("static"));
  router.Add("GET", "/ui/about", Named("about"));
  router.Add("GET", "/ui", Named("bare"));
  Request about = Req("GET", "/ui/about");
  EXPECT_EQ(Call(router.Find(about), about), "about");
  Request file = Req("GET", "/ui/static/app.css");
  EXPECT_EQ(Call(router.Find(file), file), "static");
  EXPECT_EQ(file.params.at("name"), "app.css");
  EXPECT_EQ(file.params.count("rest"), 0u);
  // "static/{name}" does not take two segments: back off to the catch-all.
  Request deeper = Req("GET", "/ui/static/css/app.css");
  EXPECT_EQ(Call(router.Find(deeper), deeper), "rest");
  EXPECT_EQ(deeper.params.at("rest"), "static/css/app.css");
  EXPECT_EQ(deeper.params.count("name"), 0u);
  Request bare = Req("GET", "/ui");
  EXPECT_EQ(Call(router.Find(bare), bare), "bare");
}

TEST(RouterTest, CatchAllAtTheRootAndMethods) {
  Router router;
  router.Add("GET", "/{path...}", Named("any"));
  router.Add("GET", "/healthz", Named("health"));
  Request root = Req("GET", "/");
  EXPECT_EQ(Call(router.Find(root), root), "any");
  EXPECT_EQ(root.params.at("path"), "");
  Request health = Req("GET", "/healthz");
  EXPECT_EQ(Call(router.Find(health), health), "health");
  Request other = Req("HEAD", "/a/b");
  EXPECT_EQ(Call(router.Find(other), other), "any");
  EXPECT_EQ(other.params.at("path"), "a/b");
  Request post = Req("POST", "/a/b");
  auto m = router.Find(post);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.method_mismatch);
  EXPECT_EQ(m.allow, "GET, HEAD");
  EXPECT_EQ(m.pattern, "/{path...}");
}

TEST(RouterDeathTest, DuplicateRouteIsFatal) {
  Router router;
  router.Add("GET", "/runs", Named("a"));
  EXPECT_DEATH(router.Add("GET", "/runs", Named("b")), "registered twice");
  EXPECT_DEATH(router.Add("GET", "/runs/{", Named("b")), "parameter");
  EXPECT_DEATH(router.Add("GET", "runs", Named("b")), "starts with");
  EXPECT_DEATH(router.Add("GET", "/files/{rest...}/x", Named("b")), "must be the last");
  EXPECT_DEATH(router.Add("GET", "/files/{...}", Named("b")), "parameter");
}

TEST(TargetTest, DecodesPathAndQuery) {
  std::string path;
  std::map<std::string, std::string> query;
  ASSERT_TRUE(ParseTarget("/a%20b/c%2Fd?x=1&y=hello%20world&z=a+b&x=2&flag&=v&", path, query).ok());
  EXPECT_EQ(path, "/a b/c/d");
  EXPECT_EQ(query.at("x"), "2");  // last wins
  EXPECT_EQ(query.at("y"), "hello world");
  EXPECT_EQ(query.at("z"), "a b");
  EXPECT_EQ(query.at("flag"), "");
  EXPECT_EQ(query.at(""), "v");

  ASSERT_TRUE(ParseTarget("/plus+stays", path, query).ok());
  EXPECT_EQ(path, "/plus+stays");
  EXPECT_TRUE(query.empty());
}

TEST(TargetTest, RejectsMalformed) {
  std::string path;
  std::map<std::string, std::string> query;
  auto st = ParseTarget("/bad%zz", path, query);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
  EXPECT_FALSE(ParseTarget("/ok?x=%4", path, query).ok());
  EXPECT_FALSE(ParseTarget("http://host/x", path, query).ok());
  EXPECT_FALSE(ParseTarget("", path, query).ok());
}

TEST(ResponseTest, ErrorResponseIsEscapedJson) {
  Response r = ErrorResponse(NotFound("run \"x\"\n not found \\ here"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  auto v = ParseJson(r.body);
  ASSERT_TRUE(v.ok()) << r.body;
  EXPECT_EQ(v->at("error").at("code").as_string(), "not_found");
  EXPECT_EQ(v->at("error").at("message").as_string(), "run \"x\"\n not found \\ here");

  EXPECT_EQ(ErrorResponse(ResourceExhausted("too big")).status, 413);
  Response j = JsonResponse(201, "{}");
  EXPECT_EQ(j.status, 201);
  EXPECT_EQ(j.body, "{}");
}

TEST(ResponseTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(1 << 20), "1 MiB");
  EXPECT_EQ(HumanBytes(64 * 1024), "64 KiB");
  EXPECT_EQ(HumanBytes(1000), "1000 bytes");
  EXPECT_EQ(HumanBytes(1ull << 30), "1 GiB");
}

}  // namespace
}  // namespace tug::net
