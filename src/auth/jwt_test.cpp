// JWT verification against tokens signed in the test with keys OpenSSL generates in the test:
// every accepted algorithm, and a table of tokens that must be refused (and why).
#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/testing.h"
#include "auth/token.h"

namespace json = boost::json;

namespace tug::auth {
namespace {

using testing::Jwks;
using testing::TestKey;

constexpr Micros kNow = 1'700'000'000 * kMicrosPerSecond;
constexpr int64_t kNowSeconds = 1'700'000'000;

struct Keys {
  TestKey rsa;
  TestKey rsa_other;  // same kid as rsa, another key: a forged signature
  TestKey ec256;
  TestKey ec384;
  TestKey ec521;
  TestKey ed;
  TestKey rsa_small;
};

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new Keys{*TestKey::Rsa("rsa-1"),          *TestKey::Rsa("rsa-1"),
                     *TestKey::Ec("ec-256", "P-256"), *TestKey::Ec("ec-384", "P-384"),
                     *TestKey::Ec("ec-521", "P-521"), *TestKey::Ed25519("ed-1"),
                     *TestKey::Rsa("rsa-small", 1024)};
    auto set = KeySet::Parse(Jwks({keys_->rsa.Jwk(), keys_->ec256.Jwk("ES256"), keys_->ec384.Jwk(),
                                   keys_->ec521.Jwk(), keys_->ed.Jwk(), keys_->rsa_small.Jwk()}));
    ASSERT_TRUE(set.ok()) << set.error().ToString();
    set_ = new KeySet(std::move(*set));
  }
  static void TearDownTestSuite() {
    delete keys_;
    delete set_;
  }

  static json::object Claims() {
    return json::object{{"iss", "https://idp.example"},
                        {"aud", "tugboat"},
                        {"sub", "alice"},
                        {"iat", kNowSeconds - 10},
                        {"exp", kNowSeconds + 300}};
  }
  static JwtRules Rules() {
    JwtRules r;
    r.issuer = "https://idp.example";
    r.audiences = {"tugboat", "tugboat-ui"};
    r.now = kNow;
    r.clock_skew_seconds = 60;
    return r;
  }

  static Keys* keys_;
  static KeySet* set_;
};

Keys* JwtTest::keys_ = nullptr;
KeySet* JwtTest::set_ = nullptr;

TEST_F(JwtTest, TheKeySetKeepsUsableKeysAndSaysWhyOthersWereSkipped) {
  EXPECT_EQ(set_->keys().size(), 5u);
  ASSERT_EQ(set_->skipped().size(), 1u);
  EXPECT_NE(set_->skipped()[0].find("1024 bits"), std::string::npos) << set_->skipped()[0];
  EXPECT_TRUE(set_->HasKid("ec-521"));
  EXPECT_FALSE(set_->HasKid("rsa-small"));

  json::object enc = keys_->rsa.Jwk();
  enc["use"] = "enc";
  json::object hmac{{"kty", "oct"}, {"kid", "h"}, {"k", "c2VjcmV0"}};
  json::object bad_alg = keys_->ec256.Jwk("RS256");  // an EC key claiming an RSA algorithm
  auto none = KeySet::Parse(Jwks({enc, hmac, bad_alg}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Code::kInvalidArgument);
  EXPECT_NE(none.error().message().find("no usable signing key"), std::string::npos);
  EXPECT_NE(none.error().message().find("use is 'enc'"), std::string::npos);
  EXPECT_NE(none.error().message().find("kty 'oct'"), std::string::npos);

  for (const char* bad : {"", "[]", "{}", R"({"keys": {}})", "not json"}) {
    auto r = KeySet::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << bad;
  }
}

TEST_F(JwtTest, EveryAcceptedAlgorithmVerifies) {
  struct Case {
    const TestKey* key;
    const char* alg;
  };
  const Case cases[] = {
      {&keys_->rsa, "RS256"},   {&keys_->rsa, "RS384"},   {&keys_->rsa, "RS512"},
      {&keys_->rsa, "PS256"},   {&keys_->rsa, "PS384"},   {&keys_->rsa, "PS512"},
      {&keys_->ec256, "ES256"}, {&keys_->ec384, "ES384"}, {&keys_->ec521, "ES512"},
      {&keys_->ed, "EdDSA"},
  };
  for (const Case& c : cases) {
    std::string token = c.key->Sign(c.alg, Claims());
    auto v = VerifyJwt(token, *set_, Rules());
    ASSERT_TRUE(v.ok()) << c.alg << ": " << v.error().ToString();
    EXPECT_EQ(v->alg, c.alg);
    EXPECT_EQ(v->kid, c.key->kid());
    EXPECT_EQ(v->claims.at("sub"), "alice");
    // Without a kid, every key that fits the algorithm is tried.
    auto no_kid = VerifyJwt(c.key->Sign(c.alg, Claims(), false), *set_, Rules());
    EXPECT_TRUE(no_kid.ok()) << c.alg << ": " << no_kid.error().ToString();
  }
}

TEST_F(JwtTest, ClaimsAreCheckedWithASmallClockSkew) {
  struct Case {
    const char* name;
    json::object claims;
    bool ok;
    const char* why;
  };
  auto with = [](std::initializer_list<std::pair<const char*, json::value>> changes,
                 std::initializer_list<const char*> removed = {}) {
    json::object c = Claims();
    for (const auto& [k, v] : changes) c[k] = v;
    for (const char* k : removed) c.erase(k);
    return c;
  };
  const Case cases[] = {
      {"valid", Claims(), true, ""},
      {"expired long ago", with({{"exp", kNowSeconds - 3600}}), false, "expired"},
      {"expired within the skew", with({{"exp", kNowSeconds - 30}}), true, ""},
      {"expired just past the skew", with({{"exp", kNowSeconds - 61}}), false, "expired"},
      {"fractional exp", with({{"exp", static_cast<double>(kNowSeconds) + 0.5}}), true, ""},
      {"no exp", with({}, {"exp"}), false, "no expiry"},
      {"exp not a number", with({{"exp", "tomorrow"}}), false, "not a time"},
      {"not yet valid", with({{"nbf", kNowSeconds + 600}}), false, "not valid yet"},
      {"nbf within the skew", with({{"nbf", kNowSeconds + 30}}), true, ""},
      {"issued in the future", with({{"iat", kNowSeconds + 600}}), false, "issued in the future"},
      {"another issuer", with({{"iss", "https://evil.example"}}), false, "issuer"},
      {"no issuer", with({}, {"iss"}), false, "issuer"},
      {"another audience", with({{"aud", "someone-else"}}), false, "not meant for this server"},
      {"audience list", with({{"aud", json::array{"x", "tugboat-ui"}}}), true, ""},
      {"audience list without ours", with({{"aud", json::array{"x", "y"}}}), false,
       "not meant for this server"},
      {"no audience", with({}, {"aud"}), false, "not meant for this server"},
  };
  for (const Case& c : cases) {
    auto v = VerifyJwt(keys_->rsa.Sign("RS256", c.claims), *set_, Rules());
    EXPECT_EQ(v.ok(), c.ok) << c.name << ": " << (v.ok() ? "ok" : v.error().ToString());
    if (!v.ok()) {
      EXPECT_EQ(v.error().code(), Code::kUnauthenticated) << c.name;
      EXPECT_NE(v.error().message().find(c.why), std::string::npos)
          << c.name << ": " << v.error().message();
    }
  }
}

TEST_F(JwtTest, ForgedAndDowngradedTokensAreRefused) {
  const std::string good = keys_->rsa.Sign("RS256", Claims());
  auto tamper_payload = [&](const std::string& token) {
    size_t a = token.find('.');
    size_t b = token.find('.', a + 1);
    json::object c = Claims();
    c["sub"] = "root";
    return token.substr(0, a + 1) + Base64UrlEncode(json::serialize(c)) + token.substr(b);
  };
  struct Case {
    const char* name;
    std::string token;
    const char* why;
    std::string detail;
  };
  const Case cases[] = {
      {"alg none", keys_->rsa.Sign("none", Claims()), "algorithm 'none'", ""},
      {"HS256 keyed with the public key", keys_->rsa.Sign("HS256", Claims()), "algorithm 'HS256'",
       ""},
      {"HS512", keys_->rsa.Sign("HS512", Claims()), "algorithm 'HS512'", ""},
      {"unknown alg", keys_->rsa.Sign("RS1", Claims()), "not accepted", ""},
      {"another key with the same kid", keys_->rsa_other.Sign("RS256", Claims()), "does not verify",
       ""},
      {"payload changed after signing", tamper_payload(good), "does not verify", ""},
      {"unknown kid", keys_->rsa.Sign("RS256", Claims(), true, json::object{{"kid", "rotated"}}),
       "key set does not have", std::string(kUnknownKid)},
      {"EC algorithm on an RSA kid",
       keys_->ec256.Sign("ES256", Claims(), true, json::object{{"kid", "rsa-1"}}),
       "fits the token's algorithm", ""},
      {"a JWK limited to ES256 used for ES384",
       keys_->ec256.Sign("ES256", Claims(), true, json::object{{"alg", "ES384"}}),
       "fits the token's algorithm", ""},
      {"a key below 2048 bits", keys_->rsa_small.Sign("RS256", Claims()), "key set does not have",
       std::string(kUnknownKid)},
      {"crit header",
       keys_->rsa.Sign("RS256", Claims(), true,
                       json::object{{"crit", json::array{"b64"}}, {"b64", false}}),
       "crit", ""},
      {"no signature", good.substr(0, good.rfind('.') + 1), "signature is missing", ""},
      {"two parts", good.substr(0, good.rfind('.')), "neither", ""},
      {"not base64url", "a.b.c!", "neither", ""},
      {"header not JSON", Base64UrlEncode("nope") + ".e30.c2ln", "not a JSON object", ""},
  };
  for (const Case& c : cases) {
    auto v = VerifyJwt(c.token, *set_, Rules());
    ASSERT_FALSE(v.ok()) << c.name;
    EXPECT_EQ(v.error().code(), Code::kUnauthenticated) << c.name;
    EXPECT_NE(v.error().message().find(c.why), std::string::npos)
        << c.name << ": " << v.error().message();
    EXPECT_EQ(v.error().detail(), c.detail) << c.name;
    EXPECT_EQ(v.error().message().find(c.token), std::string::npos) << "echoes the token";
  }
  // An ECDSA signature of the wrong length (an RSA-sized one) is refused, not misread.
  std::string es = keys_->ec256.Sign("ES256", Claims());
  std::string long_sig = es.substr(0, es.rfind('.') + 1) + Base64UrlEncode(std::string(256, 'x'));
  EXPECT_FALSE(VerifyJwt(long_sig, *set_, Rules()).ok());
}

TEST(JwtShapeTest, TellsJwtsFromOtherText) {
  EXPECT_TRUE(LooksLikeJwt("a.b.c"));
  EXPECT_TRUE(LooksLikeJwt("eyJhbGc-_.eyJ.sig_-"));
  EXPECT_FALSE(LooksLikeJwt("a.b"));
  EXPECT_FALSE(LooksLikeJwt("a.b.c.d"));
  EXPECT_FALSE(LooksLikeJwt("a.b.c="));
  EXPECT_FALSE(LooksLikeJwt("tug_abc"));
}

}  // namespace
}  // namespace tug::auth
