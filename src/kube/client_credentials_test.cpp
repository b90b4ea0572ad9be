// Client credentials per request against an in-test API server: exec plugins (cached until
// shortly before they expire, dropped on a 401) and token files (read again when rotated).
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "kube/client.h"
#include "kube/client_testing.h"
#include "kube/testing.h"

namespace tug::kube {
namespace {

using testing::FakeApi;
using testing::NewClient;
using testing::StatusBody;
using testing::TempDir;
using testing::WriteFile;
using testing::WriteScript;

/// An API server that accepts only some bearer tokens.
class AuthApi {
 public:
  AuthApi() {
    net::Router router;
    router.Add("GET", "/api", [this](net::Request& r) {
      std::lock_guard lock(mu_);
      seen_.push_back(r.Header("authorization"));
      if (accepted_.count(r.Header("authorization")) == 0) {
        return net::JsonResponse(401, StatusBody(401, "Unauthorized", "Unauthorized"));
      }
      return net::JsonResponse(200, "{}");
    });
    api_ = std::make_unique<FakeApi>(std::move(router));
  }
  void Accept(const std::string& token) {
    std::lock_guard lock(mu_);
    accepted_.insert("Bearer " + token);
  }
  std::vector<std::string> Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  ClusterConfig Config() const { return api_->Config(""); }

 private:
  std::mutex mu_;
  std::set<std::string> accepted_;
  std::vector<std::string> seen_;
  std::unique_ptr<FakeApi> api_;
};

/// The plugin counts its runs in DIR/count and hands out tok-<run> expiring at EXPIRY.
ClusterConfig::Exec CountingPlugin(const TempDir& dir, const std::string& expiry) {
  WriteScript(dir / "plugin", R"(#!/bin/sh
n=$(cat "$DIR/count" 2>/dev/null || echo 0)
n=$((n+1))
echo $n > "$DIR/count"
printf '{"kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"%s"}}\n' "$n" "$EXPIRY"
)");
  ClusterConfig::Exec exec;
  exec.command = dir / "plugin";
  exec.env = {{"DIR", dir.path()}, {"EXPIRY", expiry}};
  return exec;
}

int Runs(const TempDir& dir) { return std::stoi("0" + testing::ReadFile(dir / "count")); }

TEST(ClientExecTest, TheCredentialIsCachedUntilShortlyBeforeItExpires) {
  AuthApi api;
  for (const char* t : {"tok-1", "tok-2", "tok-3"}) api.Accept(t);
  struct Case {
    std::string expiry;
    int runs_after_three_calls;
  };
  std::string soon = FormatTimestamp(SystemClock::Instance().Now() + 10 * kMicrosPerSecond);
  for (const Case& c : {Case{"2099-01-01T00:00:00Z", 1}, Case{"", 1}, Case{soon, 3}}) {
    TempDir dir;
    ClusterConfig config = api.Config();
    config.exec = CountingPlugin(dir, c.expiry);
    auto client = NewClient(config);
    ASSERT_NE(client, nullptr);
    for (int i = 0; i < 3; ++i) {
      auto r = client->Get("/api");
      ASSERT_TRUE(r.ok()) << r.error().ToString();
    }
    EXPECT_EQ(Runs(dir), c.runs_after_three_calls) << "expiry '" << c.expiry << "'";
  }
}

TEST(ClientExecTest, A401DropsTheCredentialAndRetriesOnce) {
  AuthApi api;
  api.Accept("tok-2");
  TempDir dir;
  ClusterConfig config = api.Config();
  config.exec = CountingPlugin(dir, "");
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  auto r = client->Get("/api");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Runs(dir), 2);
  EXPECT_EQ(api.Seen(), (std::vector<std::string>{"Bearer tok-1", "Bearer tok-2"}));
  auto again = client->Get("/api");  // the refreshed credential is cached
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Runs(dir), 2);
}

TEST(ClientExecTest, AFailingPluginIsUnauthenticated) {
  AuthApi api;
  TempDir dir;
  WriteScript(dir / "plugin", "#!/bin/sh\necho 'token expired; run sso login' >&2\nexit 1\n");
  ClusterConfig config = api.Config();
  config.exec = ClusterConfig::Exec{dir / "plugin", {}, {}, ""};
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  auto r = client->Get("/api");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_NE(r.error().message().find(": token expired; run sso login"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(api.Seen().empty());
}

TEST(ClientTokenFileTest, ARotatedTokenFileIsReadAgain) {
  AuthApi api;
  api.Accept("first");
  api.Accept("second-token");
  TempDir dir;
  WriteFile(dir / "token", "first\n");
  ClusterConfig config = api.Config();
  config.token_file = dir / "token";
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Get("/api").ok());
  WriteFile(dir / "token", "second-token\n");  // a different size: seen even within one mtime tick
  ASSERT_TRUE(client->Get("/api").ok());
  EXPECT_EQ(api.Seen(), (std::vector<std::string>{"Bearer first", "Bearer second-token"}));
}

TEST(ClientTokenFileTest, AWrongStaticTokenIs401Unauthenticated) {
  AuthApi api;
  ClusterConfig config = api.Config();
  config.token = "wrong";
  auto client = NewClient(config);
  ASSERT_NE(client, nullptr);
  auto r = client->Get("/api");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_EQ(r.error().detail(), "HTTP 401 Unauthorized");
  EXPECT_EQ(api.Seen().size(), 1u) << "a static token is not retried";
}

}  // namespace
}  // namespace tug::kube
