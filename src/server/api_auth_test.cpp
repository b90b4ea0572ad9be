// API v1 with authentication on: 401 without credentials, 403 without rights (messages that say
// what is missing), owners and groups of definitions and runs, visibility, tokens, and the Spark
// UI proxy behind the same check.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "auth/testing.h"
#include "net/http.h"
#include "server/api_auth_fixture.h"
#include "server/spark_ui_proxy.h"

namespace tug::server::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> RunIds(const Reply& r) {
  std::vector<std::string> out;
  for (const auto& run : r.body.at("runs").as_array()) {
    out.emplace_back(run.at("id").as_string());
  }
  return out;
}

TEST_F(ApiAuthTest, NoOrBadCredentialsAre401AndSayHowToSignIn) {
  auto anonymous = Call("GET", "/api/v1/runs");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.www_authenticate, "Bearer realm=\"tugboat\"");
  EXPECT_TRUE(Has(anonymous.Message(), "Authorization: Bearer")) << anonymous.raw;
  EXPECT_TRUE(Has(anonymous.Message(), "tug login")) << anonymous.raw;

  auto unknown = Call("GET", "/api/v1/runs", "", *auth::GenerateToken());
  EXPECT_EQ(unknown.status, 401);
  EXPECT_TRUE(Has(unknown.Message(), "not known")) << unknown.raw;
  auto garbage = Call("GET", "/api/v1/runs", "", "not-a-token");
  EXPECT_EQ(garbage.status, 401);
  EXPECT_TRUE(Has(garbage.Message(), "tug token create")) << garbage.raw;

  // Health, readiness and the sign-in settings stay open; metrics do not.
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  auto config = Call("GET", "/api/v1/auth/config");
  EXPECT_EQ(config.status, 200);
  EXPECT_EQ(config.body.at("enabled"), true);
  EXPECT_EQ(Call("GET", "/metrics").status, 401);
  EXPECT_EQ(Call("GET", "/metrics", "", vic_).status, 200);

  auto who = Call("GET", "/api/v1/whoami", "", ada_);
  ASSERT_EQ(who.status, 200) << who.raw;
  EXPECT_EQ(who.body.at("user"), "ada");
  EXPECT_EQ(who.body.at("role"), "user");
  EXPECT_EQ(who.body.at("groups"), json::array{"science"});
}

TEST_F(ApiAuthTest, ViewersCannotSubmitUsersOfTheGroupCan) {
  Define("etl", "science");
  auto viewer = Call("POST", "/api/v1/runs", R"({"definition":"etl"})", vic_);
  EXPECT_EQ(viewer.status, 403);
  EXPECT_TRUE(Has(viewer.Message(), "role viewer")) << viewer.raw;
  EXPECT_TRUE(Has(viewer.Message(), "ask an admin for the user role")) << viewer.raw;

  auto other_group = Call("POST", "/api/v1/runs", R"({"definition":"etl"})", bob_);
  EXPECT_EQ(other_group.status, 403);
  EXPECT_TRUE(Has(other_group.Message(), "belongs to group 'science'")) << other_group.raw;

  std::string id = Submit("etl", ada_);
  ASSERT_FALSE(id.empty());
  auto run = Call("GET", "/api/v1/runs/" + id, "", ada_);
  EXPECT_EQ(run.body.at("owner"), "ada");
  EXPECT_EQ(run.body.at("group"), "science");

  // Submitting as someone else is for admins; a group that is not yours is refused.
  auto as_bob = Call("POST", "/api/v1/runs", R"({"definition":"etl","owner":"bob"})", ada_);
  EXPECT_EQ(as_bob.status, 403);
  EXPECT_TRUE(Has(as_bob.Message(), "only admins submit for someone else")) << as_bob.raw;
  auto into_ops = Call("POST", "/api/v1/runs", R"({"definition":"etl","group":"ops"})", ada_);
  EXPECT_EQ(into_ops.status, 403);
  EXPECT_TRUE(Has(into_ops.Message(), "pick one of your groups")) << into_ops.raw;
  auto by_admin =
      Call("POST", "/api/v1/runs", R"({"definition":"etl","owner":"bob","group":"ops"})", admin_);
  ASSERT_EQ(by_admin.status, 201) << by_admin.raw;
  EXPECT_EQ(by_admin.body.at("owner"), "bob");
}

TEST_F(ApiAuthTest, RunsAreSeenAndStoppedByTheirGroup) {
  Define("etl", "science");
  Define("ops-job", "ops");
  std::string science = Submit("etl", ada_);
  std::string ops = Submit("ops-job", bob_);

  EXPECT_EQ(Call("GET", "/api/v1/runs/" + science, "", vic_).status, 200);
  auto hidden = Call("GET", "/api/v1/runs/" + science, "", bob_);
  EXPECT_EQ(hidden.status, 403);
  EXPECT_TRUE(Has(hidden.Message(), "may not see run")) << hidden.raw;
  for (const char* view : {"/logs", "/events", "/usage"}) {
    EXPECT_EQ(Call("GET", "/api/v1/runs/" + science + view, "", bob_).status, 403) << view;
  }
  EXPECT_EQ(RunIds(Call("GET", "/api/v1/runs", "", bob_)), std::vector<std::string>{ops});
  EXPECT_EQ(RunIds(Call("GET", "/api/v1/runs", "", vic_)), std::vector<std::string>{science});
  EXPECT_EQ(RunIds(Call("GET", "/api/v1/runs", "", admin_)),
            (std::vector<std::string>{ops, science}));

  auto viewer_stop = Call("POST", "/api/v1/runs/" + science + "/stop", "", vic_);
  EXPECT_EQ(viewer_stop.status, 403);
  EXPECT_TRUE(Has(viewer_stop.Message(), "may not stop runs")) << viewer_stop.raw;
  EXPECT_EQ(Call("POST", "/api/v1/runs/" + science + "/stop", "", bob_).status, 403);
  auto stopped = Call("POST", "/api/v1/runs/" + science + "/stop", "", ada_);
  ASSERT_EQ(stopped.status, 202) << stopped.raw;
  EXPECT_EQ(stopped.body.at("status"), "STOPPED");

  // The timeline names who submitted and who stopped.
  auto events = Call("GET", "/api/v1/runs/" + science + "/events", "", vic_);
  ASSERT_EQ(events.status, 200);
  std::string text = json::serialize(events.body);
  EXPECT_TRUE(Has(text, "submitted by 'ada' (group 'science')")) << text;
  EXPECT_TRUE(Has(text, "stop requested by 'ada'")) << text;
}

TEST_F(ApiAuthTest, VisibilityAllShowsEveryRunReadOnly) {
  ApiOptions o;
  o.policy.all_visible = true;
  Open(o);
  Define("etl", "science");
  std::string science = Submit("etl", ada_);
  EXPECT_EQ(Call("GET", "/api/v1/runs/" + science, "", bob_).status, 200);
  EXPECT_EQ(RunIds(Call("GET", "/api/v1/runs", "", bob_)), std::vector<std::string>{science});
  EXPECT_EQ(Call("GET", "/api/v1/definitions/etl", "", bob_).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/runs/" + science + "/stop", "", bob_).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/runs", R"({"definition":"etl"})", bob_).status, 403);
}

TEST_F(ApiAuthTest, DefinitionsBelongToTheirCreatorAndGroup) {
  auto created = Call("PUT", "/api/v1/definitions/mine",
                      R"({"name":"mine","command":"echo hi","owner":"mallory"})", ada_);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body.at("owner"), "ada");  // the server says who; a body's owner is ignored
  EXPECT_EQ(created.body.at("group"), "science");

  auto other =
      Call("PUT", "/api/v1/definitions/mine", R"({"name":"mine","command":"rm -rf /"})", bob_);
  EXPECT_EQ(other.status, 403);
  EXPECT_TRUE(Has(other.Message(), "may not change definition 'mine'")) << other.raw;
  EXPECT_EQ(Call("GET", "/api/v1/definitions/mine", "", bob_).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/definitions/mine", "", bob_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/definitions", "", bob_).body.at("definitions").as_array().size(),
            0u);
  EXPECT_EQ(Call("GET", "/api/v1/definitions", "", vic_).body.at("definitions").as_array().size(),
            1u);
  auto viewer = Call("POST", "/api/v1/definitions", R"({"name":"v","command":"true"})", vic_);
  EXPECT_EQ(viewer.status, 403);
  EXPECT_TRUE(Has(viewer.Message(), "may not create definitions")) << viewer.raw;
  auto elsewhere =
      Call("POST", "/api/v1/definitions", R"({"name":"x","command":"true","group":"ops"})", ada_);
  EXPECT_EQ(elsewhere.status, 403);

  auto changed =
      Call("PUT", "/api/v1/definitions/mine", R"({"name":"mine","command":"echo changed"})", ada_);
  ASSERT_EQ(changed.status, 200) << changed.raw;
  EXPECT_EQ(changed.body.at("change"), "updated");
  EXPECT_EQ(changed.body.at("owner"), "ada");
  EXPECT_EQ(Call("DELETE", "/api/v1/definitions/mine", "", ada_).status, 200);
}

TEST_F(ApiAuthTest, TokensAreShownOnceHashedAndOnlyYours) {
  auto created = Call("POST", "/api/v1/tokens", R"({"name":"laptop","expires_in":"30d"})", ada_);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string token(created.body.at("token").as_string());
  const std::string id(created.body.at("id").as_string());
  EXPECT_EQ(created.body.at("role"), "user");
  EXPECT_EQ(created.body.at("groups"), json::array{"science"});
  EXPECT_EQ(Call("GET", "/api/v1/whoami", "", token).body.at("user"), "ada");

  // Never shown again, and only its hash is stored.
  auto listed = Call("GET", "/api/v1/tokens", "", ada_);
  ASSERT_EQ(listed.status, 200);
  EXPECT_FALSE(Has(listed.raw, token));
  EXPECT_EQ(listed.body.at("tokens").as_array().size(), 2u);  // the fixture's and this one
  auto stored = api_->store().GetToken(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->hash, auth::HashToken(token));
  std::ifstream db(dir_ + "/tug.db", std::ios::binary);
  std::stringstream bytes;
  bytes << db.rdbuf();
  EXPECT_FALSE(Has(bytes.str(), token));

  // More than the caller has is refused, and so are other people's tokens.
  auto admin_role = Call("POST", "/api/v1/tokens", R"({"role":"admin"})", ada_);
  EXPECT_EQ(admin_role.status, 403);
  EXPECT_TRUE(Has(admin_role.Message(), "may not create a token with the role admin"));
  EXPECT_EQ(Call("POST", "/api/v1/tokens", R"({"groups":["ops"]})", ada_).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/tokens", R"({"user":"bob"})", ada_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/tokens?user=bob", "", ada_).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/" + id, "", bob_).status, 403);
  auto for_bob =
      Call("POST", "/api/v1/tokens", R"({"user":"bob","role":"viewer","groups":["ops"]})", admin_);
  ASSERT_EQ(for_bob.status, 201) << for_bob.raw;
  EXPECT_EQ(Call("GET", "/api/v1/tokens", "", admin_).body.at("tokens").as_array().size(), 6u);

  auto revoked = Call("DELETE", "/api/v1/tokens/" + id, "", ada_);
  ASSERT_EQ(revoked.status, 200) << revoked.raw;
  auto after = Call("GET", "/api/v1/whoami", "", token);
  EXPECT_EQ(after.status, 401);
  EXPECT_TRUE(Has(after.Message(), "revoked")) << after.raw;
}

TEST_F(ApiAuthTest, OidcJwtsFromAJwksFileAreUsersOfTheirGroups) {
  auto key = auth::testing::TestKey::Ec("k1");
  ASSERT_TRUE(key.ok());
  const std::string jwks = dir_ + "/jwks.json";
  std::ofstream(jwks) << auth::testing::Jwks({key->Jwk()});
  ApiHarness::Extras extras;
  auth::OidcOptions oidc;
  oidc.issuer = "https://idp.example";
  oidc.audiences = {"tugboat"};
  oidc.jwks_file = jwks;
  oidc.claims.user_claim = "email";
  oidc.claims.user_groups = {"science"};
  extras.authenticator.oidc = oidc;
  Open(ApiOptions{}, std::move(extras));
  Define("etl", "science");
  const int64_t now = SystemClock::Instance().Now() / kMicrosPerSecond;
  auto jwt = [&](const std::string& email, json::array groups, int64_t exp,
                 const std::string& aud = "tugboat") {
    return key->Sign("ES256", json::object{{"iss", "https://idp.example"},
                                           {"aud", aud},
                                           {"email", email},
                                           {"groups", std::move(groups)},
                                           {"exp", exp},
                                           {"iat", now}});
  };
  const std::string olga = jwt("olga@example.com", {"science"}, now + 300);
  auto who = Call("GET", "/api/v1/whoami", "", olga);
  ASSERT_EQ(who.status, 200) << who.raw;
  EXPECT_EQ(who.body.at("user"), "olga@example.com");
  EXPECT_EQ(who.body.at("role"), "user");
  EXPECT_EQ(who.body.at("via"), "oidc");
  auto run = Call("POST", "/api/v1/runs", R"({"definition":"etl"})", olga);
  ASSERT_EQ(run.status, 201) << run.raw;
  EXPECT_EQ(run.body.at("owner"), "olga@example.com");
  // Default role viewer: signed in, may read its group's runs, may not submit.
  const std::string viewer = jwt("vera@example.com", {"analysts"}, now + 300);
  EXPECT_EQ(Call("POST", "/api/v1/runs", R"({"definition":"etl"})", viewer).status, 403);
  auto expired = Call("GET", "/api/v1/runs", "", jwt("olga@example.com", {"science"}, now - 600));
  EXPECT_EQ(expired.status, 401);
  EXPECT_TRUE(Has(expired.Message(), "expired")) << expired.raw;
  auto elsewhere =
      Call("GET", "/api/v1/runs", "", jwt("olga@example.com", {"science"}, now + 300, "other"));
  EXPECT_EQ(elsewhere.status, 401);
  EXPECT_TRUE(Has(elsewhere.Message(), "not meant for this server")) << elsewhere.raw;
  // Bearer tokens keep working beside OIDC.
  EXPECT_EQ(Call("GET", "/api/v1/whoami", "", ada_).body.at("user"), "ada");
}

TEST_F(ApiAuthTest, SparkUiProxyRefusesRunsTheCallerMayNotSee) {
  Define("etl", "science");
  std::string id = Submit("etl", ada_);
  std::atomic<int> resolved{0};
  SparkUiProxy proxy(
      [&](const std::string& run_id) -> Result<SparkUiTarget> {
        ++resolved;
        SparkUiTarget t;
        t.message = "run '" + run_id + "' is not a Spark run; it has no Spark UI";
        return t;
      },
      api_->api().SparkUiAccessCheck());
  net::Router router;
  proxy.Register(router);
  auto get = [&](const std::string& token) {
    net::Request req = MakeRequest("GET", "/runs/" + id + "/spark-ui/jobs/", "", token);
    std::string route;
    return net::Dispatch(router, req, route);
  };
  EXPECT_EQ(get("").status, 401);
  auto other_group = get(bob_);
  EXPECT_EQ(other_group.status, 403);
  EXPECT_TRUE(Has(other_group.body, "belongs to group 'science'")) << other_group.body;
  EXPECT_EQ(resolved.load(), 0);     // refused before anything about the run was resolved
  EXPECT_EQ(get(vic_).status, 404);  // may see it: resolved, and it has no Spark UI
  EXPECT_EQ(resolved.load(), 1);
  net::Request unknown = MakeRequest("GET", "/runs/01jzzzzzzzzzzzzzzzzzzzzzzz/spark-ui/", "", vic_);
  std::string route;
  EXPECT_EQ(net::Dispatch(router, unknown, route).status, 404);
  EXPECT_EQ(resolved.load(), 1);

  // A browser tab carries the web UI's token as the tug_token cookie instead.
  auto with_cookie = [&](const std::string& method, const std::string& target,
                         const std::string& cookie) {
    net::Request req = MakeRequest(method, target, "", "");
    req.headers["cookie"] = cookie;
    return req;
  };
  const std::string page = "/runs/" + id + "/spark-ui/jobs/";
  net::Request bob_tab = with_cookie("GET", page, "theme=dark; tug_token=" + bob_);
  EXPECT_EQ(net::Dispatch(router, bob_tab, route).status, 403);
  net::Request vic_tab = with_cookie("GET", page, "tug_token=" + vic_ + "; theme=dark");
  EXPECT_EQ(net::Dispatch(router, vic_tab, route).status, 404);
  EXPECT_EQ(resolved.load(), 2);
  net::Request bad_tab = with_cookie("GET", page, "tug_token=tug_nope");
  EXPECT_EQ(net::Dispatch(router, bad_tab, route).status, 401);
  // Never for the API.
  EXPECT_EQ(api_->Call(with_cookie("GET", "/api/v1/runs", "tug_token=" + vic_)).status, 401);
  EXPECT_EQ(api_->Call(with_cookie("POST", "/api/v1/runs", "tug_token=" + ada_)).status, 401);
  net::Request post_tab = with_cookie("POST", page, "tug_token=" + vic_);
  EXPECT_EQ(net::Dispatch(router, post_tab, route).status, 405);  // the proxy serves GET/HEAD
}

}  // namespace
}  // namespace tug::server::testing
