// The CLI's settings file: written private (0600, directory 0700), read back, tolerant of its
// absence and clear about a broken one.
#include "cli/cli_config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tug::cli {
namespace {

class CliConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tug_cli_config_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(CliConfigTest, RoundTripsPrivately) {
  const std::string path = dir_ + "/nested/tug/config";
  auto empty = LoadCliConfig(path);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->tokens.empty());

  CliConfig c;
  c.current_server = "https://tug.example.com";
  c.tokens["https://tug.example.com"] = "tug_abc";
  c.tokens["http://127.0.0.1:8080"] = "tug_\"quoted\"";
  ASSERT_TRUE(SaveCliConfig(path, c).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/nested/tug").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto back = LoadCliConfig(path);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->current_server, c.current_server);
  EXPECT_EQ(back->tokens, c.tokens);
  EXPECT_EQ(back->TokenFor("https://tug.example.com/"), "tug_abc");
  EXPECT_EQ(back->TokenFor("127.0.0.1:8080"), "tug_\"quoted\"");
  EXPECT_EQ(back->TokenFor("https://other"), "");
}

TEST_F(CliConfigTest, BrokenFileSaysHowToFixIt) {
  const std::string path = dir_ + "/config";
  std::ofstream(path) << "servers: {not: a list}\n";
  auto r = LoadCliConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("tug login"), std::string::npos);
  EXPECT_NE(r.error().message().find(path), std::string::npos);
}

TEST(NormalizeServerTest, AddsSchemeAndDropsSlashes) {
  EXPECT_EQ(NormalizeServer("127.0.0.1:8080/"), "http://127.0.0.1:8080");
  EXPECT_EQ(NormalizeServer("https://tug.example.com//"), "https://tug.example.com");
}

}  // namespace
}  // namespace tug::cli
