// The `auth:` section: keys, environment, and the rule that a server beyond loopback has
// authentication on.
#include <gtest/gtest.h>

#include "server/config.h"

namespace tug::server {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ConfigAuthTest, NonLoopbackWithoutAuthIsRefusedSayingHowToTurnItOn) {
  for (const char* listen : {"0.0.0.0:8080", "10.1.2.3:80", "[::]:8080", "127.example.com:80"}) {
    Config c = DefaultConfig();
    c.listen = listen;
    auto st = ValidateConfig(c);
    ASSERT_FALSE(st.ok()) << listen;
    EXPECT_TRUE(Has(st.error().message(), "without authentication")) << st.error().message();
    EXPECT_TRUE(Has(st.error().message(), "auth: {enabled: true")) << st.error().message();
    EXPECT_TRUE(Has(st.error().message(), "oidc")) << st.error().message();
  }
  for (const char* listen : {"127.0.0.1:8080", "localhost:9", "[::1]:8080", "127.0.0.2:1"}) {
    Config c = DefaultConfig();
    c.listen = listen;
    EXPECT_TRUE(ValidateConfig(c).ok()) << listen;
  }
  Config on = DefaultConfig();
  on.listen = "0.0.0.0:8080";
  ASSERT_TRUE(ApplyYaml(on, "auth: {enabled: true, bootstrap_token_file: /tmp/t}\n", "f").ok());
  EXPECT_TRUE(ValidateConfig(on).ok());
  Config env = DefaultConfig();
  env.listen = "0.0.0.0:8080";
  ASSERT_TRUE(ApplyEnv(env, {{"TUG_AUTH", "true"}}).ok());
  EXPECT_TRUE(ValidateConfig(env).ok());
}

TEST(ConfigAuthTest, OidcSectionIsReadAndChecked) {
  Config c = DefaultConfig();
  auto st = ApplyYaml(c, R"(
auth:
  visibility: all
  audit_log: /var/log/tug/audit.log
  token_ttl: 30d
  oidc:
    issuer: https://idp.example
    audience: [tug, tug-cli]
    jwks_url: https://idp.example/jwks.json
    user_claim: email
    groups_claim: groups
    admin_groups: platform
    user_groups: [ds, ml]
    default_role: none
)",
                      "tug.yaml");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(c.auth.on());
  EXPECT_EQ(c.auth.visibility, "all");
  EXPECT_EQ(c.auth.audit_log, "/var/log/tug/audit.log");
  EXPECT_EQ(c.auth.token_ttl_seconds, 30 * 86400);
  EXPECT_EQ(c.auth.oidc_audiences, (std::vector<std::string>{"tug", "tug-cli"}));
  EXPECT_EQ(c.auth.oidc_admin_groups, (std::vector<std::string>{"platform"}));
  EXPECT_EQ(c.auth.oidc_user_groups, (std::vector<std::string>{"ds", "ml"}));
  EXPECT_EQ(c.auth.oidc_user_claim, "email");
  c.listen = "0.0.0.0:8080";
  EXPECT_TRUE(ValidateConfig(c).ok());

  Config no_jwks = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(no_jwks, "auth: {oidc: {issuer: https://idp, audience: tug}}\n", "f").ok());
  EXPECT_TRUE(Has(ValidateConfig(no_jwks).error().message(), "jwks_url"));
  Config plain_http = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(plain_http,
                        "auth: {oidc: {issuer: i, audience: a, jwks_url: http://idp.example/k}}\n",
                        "f")
                  .ok());
  EXPECT_TRUE(Has(ValidateConfig(plain_http).error().message(), "https"));
  Config unknown = DefaultConfig();
  auto bad = ApplyYaml(unknown, "auth: {colour: red}\n", "tug.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Has(bad.error().message(), "unknown key 'auth.colour'"));
  Config visibility = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(visibility, "auth: {enabled: true, visibility: everyone}\n", "f").ok());
  EXPECT_TRUE(Has(ValidateConfig(visibility).error().message(), "use group or all"));
}

}  // namespace
}  // namespace tug::server
