// The first admin token: written once (0600), registered once, taken from the file when an
// operator put one there, and never revived once revoked.
#include "server/bootstrap_token.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/token.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::server {
namespace {

class BootstrapTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tug_bootstrap_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::SqliteOptions so;
    so.path = ":memory:";
    auto s = store::SqliteStore::Open(so, SystemClock::Instance());
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

  std::string dir_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(BootstrapTokenTest, WritesAndRegistersOnceThenReadsTheFile) {
  const std::string path = dir_ + "/admin-token";
  auto first = BootstrapAdminToken(*store_, path, SystemClock::Instance());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_TRUE(first->wrote_file);
  EXPECT_TRUE(first->registered);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string token = Read(path);
  EXPECT_TRUE(auth::LooksLikeToken(token));
  auto stored = store_->GetTokenByHash(auth::HashToken(token));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->role, "admin");
  EXPECT_EQ(stored->user, "admin");
  EXPECT_EQ(stored->expires_at, 0);

  auto second = BootstrapAdminToken(*store_, path, SystemClock::Instance());
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->wrote_file);
  EXPECT_FALSE(second->registered);
  EXPECT_EQ(second->token_id, first->token_id);
  EXPECT_EQ(Read(path), token);

  ASSERT_TRUE(store_->RevokeToken(first->token_id, SystemClock::Instance().Now()).ok());
  auto third = BootstrapAdminToken(*store_, path, SystemClock::Instance());
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->revoked);
  EXPECT_GT(store_->GetToken(first->token_id)->revoked_at, 0);
}

TEST_F(BootstrapTokenTest, AnOperatorsTokenIsRegisteredAndGarbageRefused) {
  const std::string path = dir_ + "/given";
  const std::string token = *auth::GenerateToken();
  std::ofstream(path) << token << "\n";
  auto r = BootstrapAdminToken(*store_, path, SystemClock::Instance());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->wrote_file);
  EXPECT_TRUE(r->registered);
  EXPECT_TRUE(store_->GetTokenByHash(auth::HashToken(token)).ok());

  std::ofstream(dir_ + "/bad") << "password123\n";
  auto bad = BootstrapAdminToken(*store_, dir_ + "/bad", SystemClock::Instance());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("does not hold a tug token"), std::string::npos);
  EXPECT_EQ(bad.error().message().find("password123"), std::string::npos);
}

}  // namespace
}  // namespace tug::server
