#include "kube/api_error.h"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "kube/client.h"

namespace tug::kube {
namespace {

struct Case {
  int status;
  std::string body;
  Code code;
  std::string message;
  std::string detail;
};

TEST(ApiErrorTest, MapsStatusBodiesAsDocumented) {
  auto status = [](int code, const std::string& reason, const std::string& message) {
    return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
           message + R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
  };
  const std::vector<Case> cases = {
      {401, status(401, "Unauthorized", "Unauthorized"), Code::kUnauthenticated, "Unauthorized",
       "HTTP 401 Unauthorized"},
      {403, status(403, "Forbidden", "pods is forbidden: User \\\"x\\\" cannot list"),
       Code::kPermissionDenied, "pods is forbidden: User \"x\" cannot list", "HTTP 403 Forbidden"},
      {404, status(404, "NotFound", "configmaps \\\"a\\\" not found"), Code::kNotFound,
       "configmaps \"a\" not found", "HTTP 404 NotFound"},
      {409, status(409, "AlreadyExists", "configmaps \\\"a\\\" already exists"),
       Code::kAlreadyExists, "configmaps \"a\" already exists", "HTTP 409 AlreadyExists"},
      {409, status(409, "Conflict", "the object has been modified"), Code::kAborted,
       "the object has been modified", "HTTP 409 Conflict"},
      {410, status(410, "Expired", "too old resource version: 1 (42)"), Code::kFailedPrecondition,
       "too old resource version: 1 (42)", "HTTP 410 Expired"},
      {422, status(422, "Invalid", "Pod \\\"Bad_Name\\\" is invalid"), Code::kInvalidArgument,
       "Pod \"Bad_Name\" is invalid", "HTTP 422 Invalid"},
      {400, status(400, "BadRequest", "bad json"), Code::kInvalidArgument, "bad json",
       "HTTP 400 BadRequest"},
      {429, status(429, "TooManyRequests", "slow down"), Code::kUnavailable, "slow down",
       "HTTP 429 TooManyRequests"},
      {500, status(500, "InternalError", "etcd is down"), Code::kUnavailable, "etcd is down",
       "HTTP 500 InternalError"},
      {503, "", Code::kUnavailable,
       "the Kubernetes API server answered HTTP 503 Service Unavailable",
       "HTTP 503 Service Unavailable"},
      {404, "404 page not found\n", Code::kNotFound,
       "the Kubernetes API server answered HTTP 404 Not Found: 404 page not found",
       "HTTP 404 Not Found"},
      {405, R"({"kind":"Status","code":405})", Code::kInvalidArgument,
       "the Kubernetes API server answered HTTP 405 Method Not Allowed",
       "HTTP 405 Method Not Allowed"},
  };
  for (const auto& c : cases) {
    Error e = ErrorFromResponse(c.status, c.body);
    EXPECT_EQ(e.code(), c.code) << c.body;
    EXPECT_EQ(e.message(), c.message) << c.body;
    EXPECT_EQ(e.detail(), c.detail) << c.body;
    EXPECT_EQ(IsGone(e), c.status == 410) << c.body;
  }
}

TEST(ApiErrorTest, TheStatusCodeWinsOverTheHttpStatus) {
  // A watch ERROR event arrives inside a 200 response.
  auto v = boost::json::parse(R"({"kind":"Status","code":410,"reason":"Gone","message":"gone"})");
  Error e = ErrorFromStatus(v, 200);
  EXPECT_TRUE(IsGone(e));
  EXPECT_EQ(e.detail(), "HTTP 410 Gone");
  EXPECT_FALSE(IsGone(Error(Code::kFailedPrecondition, "x", "HTTP 422")));
}

TEST(ApiErrorTest, EscapeEncodesQueryValues) {
  EXPECT_EQ(Escape("app=web,tier in (a,b)"), "app%3Dweb%2Ctier%20in%20%28a%2Cb%29");
  EXPECT_EQ(Escape("a-b_c.d~e09AZ"), "a-b_c.d~e09AZ");
  EXPECT_EQ(Escape("x/y?&+%"), "x%2Fy%3F%26%2B%25");
  EXPECT_EQ(Escape("\xc3\xa9"), "%C3%A9");
}

}  // namespace
}  // namespace tug::kube
