// The authenticator on a real (in-memory SQLite) store: tokens by hash, revocation, expiry, the
// lookup cache; JWTs against a JWKS that rotates.
#include "auth/authenticator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include <boost/json.hpp>

#include "auth/testing.h"
#include "auth/token.h"
#include "core/ids.h"
#include "store/sqlite/sqlite_store.h"

namespace json = boost::json;

namespace tug::auth {
namespace {

constexpr Micros kT0 = 1'700'000'000 * kMicrosPerSecond;

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions so;
    so.path = ":memory:";
    auto s = store::SqliteStore::Open(so, clock_);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = std::move(*s);
  }

  // Stores a token for `user` and returns its text.
  std::string AddToken(const std::string& user, const std::string& role,
                       std::vector<std::string> groups, Micros expires_at = 0,
                       std::string* id_out = nullptr) {
    std::string text = *GenerateToken();
    store::ApiToken t;
    t.id = NewId(clock_);
    t.name = "test";
    t.user = user;
    t.groups = std::move(groups);
    t.role = role;
    t.hash = HashToken(text);
    t.created_by = "admin";
    t.created_at = clock_.Now();
    t.expires_at = expires_at;
    EXPECT_TRUE(store_->CreateToken(t).ok());
    if (id_out != nullptr) *id_out = t.id;
    return text;
  }

  std::unique_ptr<Authenticator> Make(AuthenticatorOptions o = {}) {
    auto a = Authenticator::Create(std::move(o), *store_, clock_);
    EXPECT_TRUE(a.ok()) << a.error().ToString();
    return a.ok() ? std::move(*a) : nullptr;
  }

  static std::string Bearer(const std::string& t) { return "Bearer " + t; }

  ManualClock clock_{kT0};
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(AuthenticatorTest, MissingOrMalformedCredentialsAreUnauthenticated) {
  auto a = Make();
  struct Case {
    std::string header;
    const char* why;
  };
  const Case cases[] = {
      {"", "needs credentials"},
      {"Basic YWRhOnB3", "must be 'Bearer TOKEN'"},
      {"Bearer", "must be 'Bearer TOKEN'"},
      {"Bearer    ", "must be 'Bearer TOKEN'"},
      {"Bearer not-a-token", "not a tug token"},
      {"Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "not a tug token"},
      {"Bearer tug_" + std::string(43, 'A'), "not known to this server"},
  };
  for (const Case& c : cases) {
    auto id = a->Authenticate(c.header);
    ASSERT_FALSE(id.ok()) << c.header;
    EXPECT_EQ(id.error().code(), Code::kUnauthenticated) << c.header;
    EXPECT_NE(id.error().message().find(c.why), std::string::npos)
        << c.header << ": " << id.error().message();
  }
  EXPECT_EQ(BearerToken("bEaReR  abc "), "abc");
}

TEST_F(AuthenticatorTest, TokensAuthenticateUntilRevokedOrExpired) {
  auto a = Make();
  std::string id;
  const std::string token =
      AddToken("ada", "user", {"ds", "ml"}, kT0 + 3600 * kMicrosPerSecond, &id);
  auto who = a->Authenticate(Bearer(token));
  ASSERT_TRUE(who.ok()) << who.error().ToString();
  EXPECT_EQ(who->user, "ada");
  EXPECT_EQ(who->role, Role::kUser);
  EXPECT_EQ(who->groups, (std::vector<std::string>{"ds", "ml"}));
  EXPECT_EQ(who->via, "token:" + id);
  EXPECT_EQ(store_->GetToken(id)->last_used_at, kT0);

  // Revoked here: refused at once, with the token's name.
  ASSERT_TRUE(store_->RevokeToken(id, clock_.Now()).ok());
  a->Forget(id);
  auto revoked = a->Authenticate(Bearer(token));
  ASSERT_FALSE(revoked.ok());
  EXPECT_NE(revoked.error().message().find("token 'test' was revoked"), std::string::npos);

  const std::string later = AddToken("bob", "viewer", {}, kT0 + 60 * kMicrosPerSecond);
  ASSERT_TRUE(a->Authenticate(Bearer(later)).ok());
  clock_.Advance(61 * kMicrosPerSecond);
  auto expired = a->Authenticate(Bearer(later));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code(), Code::kUnauthenticated);
  EXPECT_NE(expired.error().message().find("expired at"), std::string::npos);
}

TEST_F(AuthenticatorTest, ARevocationElsewhereTakesEffectWithinTheCacheTime) {
  AuthenticatorOptions o;
  o.token_cache_seconds = 10;
  o.touch_every_seconds = 60;
  auto a = Make(o);
  std::string id;
  const std::string token = AddToken("ada", "user", {}, 0, &id);
  ASSERT_TRUE(a->Authenticate(Bearer(token)).ok());
  ASSERT_TRUE(store_->RevokeToken(id, clock_.Now()).ok());  // another replica revoked it
  clock_.Advance(5 * kMicrosPerSecond);
  EXPECT_TRUE(a->Authenticate(Bearer(token)).ok()) << "cached for 10 s";
  clock_.Advance(6 * kMicrosPerSecond);
  EXPECT_FALSE(a->Authenticate(Bearer(token)).ok());
}

TEST_F(AuthenticatorTest, LastUseIsWrittenAtMostOncePerInterval) {
  AuthenticatorOptions o;
  o.token_cache_seconds = 0;
  o.touch_every_seconds = 60;
  auto a = Make(o);
  std::string id;
  const std::string token = AddToken("ada", "admin", {}, 0, &id);
  ASSERT_TRUE(a->Authenticate(Bearer(token)).ok());
  clock_.Advance(30 * kMicrosPerSecond);
  ASSERT_TRUE(a->Authenticate(Bearer(token)).ok());
  EXPECT_EQ(store_->GetToken(id)->last_used_at, kT0);
  clock_.Advance(31 * kMicrosPerSecond);
  ASSERT_TRUE(a->Authenticate(Bearer(token)).ok());
  EXPECT_EQ(store_->GetToken(id)->last_used_at, kT0 + 61 * kMicrosPerSecond);
}

class OidcTest : public AuthenticatorTest {
 protected:
  void SetUp() override {
    AuthenticatorTest::SetUp();
    first_ = std::make_unique<testing::TestKey>(*testing::TestKey::Ec("k1"));
    jwks_ = testing::Jwks({first_->Jwk()});
  }

  AuthenticatorOptions Options() {
    OidcOptions oidc;
    oidc.issuer = "https://idp.example";
    oidc.audiences = {"tugboat"};
    oidc.jwks_url = "https://idp.example/jwks";
    oidc.claims.user_claim = "email";
    oidc.claims.user_groups = {"ds"};
    oidc.jwks_refresh_min_seconds = 60;
    AuthenticatorOptions o;
    o.oidc = oidc;
    o.fetch_jwks = [this]() -> Result<std::string> {
      ++fetches_;
      if (jwks_.empty()) return Unavailable("the identity provider is down");
      return jwks_;
    };
    return o;
  }

  json::object Claims() const {
    const int64_t now = clock_.Now() / kMicrosPerSecond;
    return json::object{
        {"iss", "https://idp.example"}, {"aud", "tugboat"}, {"email", "ada@example.com"},
        {"groups", json::array{"ds"}},  {"exp", now + 300}, {"iat", now}};
  }

  std::unique_ptr<testing::TestKey> first_;
  std::string jwks_;
  std::atomic<int> fetches_{0};
};

TEST_F(OidcTest, JwtsMapToIdentitiesAndRotatedKeysAreFetchedOnce) {
  auto a = Make(Options());
  EXPECT_EQ(fetches_, 1) << "fetched at start";
  auto who = a->Authenticate(Bearer(first_->Sign("ES256", Claims())));
  ASSERT_TRUE(who.ok()) << who.error().ToString();
  EXPECT_EQ(who->user, "ada@example.com");
  EXPECT_EQ(who->role, Role::kUser);
  EXPECT_EQ(who->via, "oidc");

  // The provider rotates: a token signed with a new key is accepted after one refetch.
  auto second = *testing::TestKey::Rsa("k2");
  jwks_ = testing::Jwks({first_->Jwk(), second.Jwk()});
  clock_.Advance(61 * kMicrosPerSecond);
  auto rotated = a->Authenticate(Bearer(second.Sign("RS256", Claims())));
  ASSERT_TRUE(rotated.ok()) << rotated.error().ToString();
  EXPECT_EQ(fetches_, 2);

  // Tokens naming keys nobody has cannot make the server fetch again and again.
  auto stranger = *testing::TestKey::Ec("k3");
  for (int i = 0; i < 5; ++i) {
    auto r = a->Authenticate(Bearer(stranger.Sign("ES256", Claims())));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  }
  EXPECT_EQ(fetches_, 2) << "the last fetch was less than a minute ago";
  clock_.Advance(61 * kMicrosPerSecond);
  EXPECT_FALSE(a->Authenticate(Bearer(stranger.Sign("ES256", Claims()))).ok());
  EXPECT_EQ(fetches_, 3);

  // Tug tokens still work beside OIDC.
  const std::string token = AddToken("ci", "user", {"ds"});
  EXPECT_TRUE(a->Authenticate(Bearer(token)).ok());
}

TEST_F(OidcTest, AnUnreachableProviderIsUnavailableNotFatal) {
  jwks_.clear();
  auto a = Make(Options());
  auto r = a->Authenticate(Bearer(first_->Sign("ES256", Claims())));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  jwks_ = testing::Jwks({first_->Jwk()});
  clock_.Advance(61 * kMicrosPerSecond);
  EXPECT_TRUE(a->Authenticate(Bearer(first_->Sign("ES256", Claims()))).ok());
}

TEST_F(OidcTest, AJwksFileIsReadAtStartAndABadOneRefusesToStart) {
  AuthenticatorOptions o = Options();
  o.fetch_jwks = nullptr;
  o.oidc->jwks_url.clear();
  o.oidc->jwks_file = ::testing::TempDir() + "/jwks.json";
  { std::ofstream(o.oidc->jwks_file) << jwks_; }
  auto a = Make(o);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->Authenticate(Bearer(first_->Sign("ES256", Claims()))).ok());
  { std::ofstream(o.oidc->jwks_file) << "{\"keys\": []}"; }
  auto bad = Authenticator::Create(o, *store_, clock_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("jwks_file"), std::string::npos);
}

}  // namespace
}  // namespace tug::auth
