// Web-identity credentials (IRSA) against moto's STS AssumeRoleWithWebIdentity, an unsigned
// call, so this moto runs without signature checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "aws/credentials.h"
#include "aws/web_identity.h"
#include "moto_fixture.h"

namespace tug {
namespace {

TEST(WebIdentityMoto, ChainExchangesTheTokenThroughSts) {
  testing::MotoServer moto;
  std::string error;
  ASSERT_TRUE(moto.Start(&error, /*verify_signatures=*/false)) << error;
  auto dir =
      std::filesystem::temp_directory_path() / ("tug-web-identity-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "token") << "eyJhbGciOiJSUzI1NiJ9.test-token.sig\n"; }
  std::map<std::string, std::string> vars = {
      {"AWS_WEB_IDENTITY_TOKEN_FILE", (dir / "token").string()},
      {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/tug-server"},
      {"AWS_ENDPOINT_URL_STS", moto.endpoint()},
      {"HOME", dir.string()}};
  aws::Env env = [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  aws::DefaultCredentialsChain chain(env);
  auto creds = chain.Get();
  ASSERT_TRUE(creds.ok()) << creds.error().ToString() << "\n" << moto.Log();
  EXPECT_FALSE(creds->access_key_id.empty());
  EXPECT_FALSE(creds->secret_access_key.empty());
  EXPECT_FALSE(creds->session_token.empty());
  EXPECT_GT(creds->expires_at, 0);
  EXPECT_NE(creds->source.find("tug-server"), std::string::npos);
  // Cached: a second Get() does not need STS (the token file is gone).
  std::filesystem::remove(dir / "token");
  auto again = chain.Get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->access_key_id, creds->access_key_id);
  std::filesystem::remove_all(dir);
}

TEST(WebIdentityMoto, ParsesStsAnswers) {
  EXPECT_EQ(aws::ParseIso8601("2015-08-30T12:36:00Z"), 1440938160);
  EXPECT_EQ(aws::ParseIso8601("2015-08-30T12:36:00.123Z"), 1440938160);
  EXPECT_EQ(aws::ParseIso8601("yesterday"), -1);
  auto bad = aws::ParseAssumeRoleResponse("<Error><Code>AccessDenied</Code></Error>");
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace tug
