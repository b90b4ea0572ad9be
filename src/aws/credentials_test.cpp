#include "aws/credentials.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace tug::aws {
namespace {

Env MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Credentials, FromEnvironment) {
  auto c = FromEnvironment(MapEnv({{"AWS_ACCESS_KEY_ID", "AKID"},
                                   {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                   {"AWS_SESSION_TOKEN", "TOKEN"}}));
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->access_key_id, "AKID");
  EXPECT_EQ(c->secret_access_key, "SECRET");
  EXPECT_EQ(c->session_token, "TOKEN");
  EXPECT_EQ(FromEnvironment(MapEnv({})).error().code(), Code::kNotFound);
  auto half = FromEnvironment(MapEnv({{"AWS_ACCESS_KEY_ID", "AKID"}}));
  EXPECT_EQ(half.error().code(), Code::kInvalidArgument);
}

TEST(Credentials, SharedFileProfiles) {
  const std::string text =
      "# comment\n[default]\naws_access_key_id = DEF\naws_secret_access_key=DEFSECRET\n\n"
      "[profile ci]\naws_access_key_id=CI\naws_secret_access_key = CISECRET\n"
      "aws_session_token = CITOKEN\n[broken]\naws_access_key_id=X\n";
  auto def = ParseSharedCredentials(text, "default", "f");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->access_key_id, "DEF");
  EXPECT_EQ(def->secret_access_key, "DEFSECRET");
  EXPECT_TRUE(def->session_token.empty());
  auto ci = ParseSharedCredentials(text, "ci", "f");
  ASSERT_TRUE(ci.ok());
  EXPECT_EQ(ci->session_token, "CITOKEN");
  EXPECT_EQ(ParseSharedCredentials(text, "nope", "f").error().code(), Code::kNotFound);
  auto broken = ParseSharedCredentials(text, "broken", "f");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code(), Code::kInvalidArgument);
}

TEST(Credentials, ChainPrefersEnvironmentThenFileWithoutLeakingSecrets) {
  auto dir = std::filesystem::temp_directory_path() /
             ("tug-aws-cred-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir / ".aws");
  {
    std::ofstream f(dir / ".aws" / "credentials");
    f << "[default]\naws_access_key_id=FILEID\naws_secret_access_key=FILESECRET\n"
         "[other]\naws_access_key_id=OTHERID\naws_secret_access_key=OTHERSECRET\n";
  }
  DefaultCredentialsChain env_first(MapEnv({{"HOME", dir.string()},
                                            {"AWS_ACCESS_KEY_ID", "ENVID"},
                                            {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"}}));
  EXPECT_EQ(env_first.Get()->access_key_id, "ENVID");
  DefaultCredentialsChain file(MapEnv({{"HOME", dir.string()}}));
  EXPECT_EQ(file.Get()->access_key_id, "FILEID");
  DefaultCredentialsChain profile(MapEnv({{"HOME", dir.string()}, {"AWS_PROFILE", "other"}}));
  auto other = profile.Get();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->secret_access_key, "OTHERSECRET");
  EXPECT_EQ(other->Redacted().find("OTHERSECRET"), std::string::npos);
  DefaultCredentialsChain none(MapEnv({{"HOME", (dir / "nowhere").string()}}));
  auto missing = none.Get();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_NE(missing.error().message().find("AWS_PROFILE"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tug::aws
