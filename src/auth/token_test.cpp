#include "auth/token.h"

#include <gtest/gtest.h>

#include <set>

namespace tug::auth {
namespace {

TEST(TokenTest, TokensAreRandomWellFormedAndHashedToHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto t = GenerateToken();
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(LooksLikeToken(*t)) << *t;
    EXPECT_EQ(t->size(), 47u);
    EXPECT_TRUE(seen.insert(*t).second) << "a token repeated";
    auto raw = Base64UrlDecode(t->substr(4));
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw->size(), 32u);  // 256 bits
  }
  // SHA-256 of "abc" (FIPS 180-2's example).
  EXPECT_EQ(HashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashToken("tug_x").size(), 64u);
}

TEST(TokenTest, ShapesAreToldApart) {
  struct Case {
    std::string text;
    bool token;
  };
  const Case cases[] = {
      {"tug_" + std::string(43, 'A'), true},        {"tug_" + std::string(42, 'A'), false},
      {"tug_" + std::string(44, 'A'), false},       {"tok_" + std::string(43, 'A'), false},
      {"tug_" + std::string(42, 'A') + "=", false}, {"tug_" + std::string(42, 'A') + "-", true},
      {"eyJhbGciOiJSUzI1NiJ9.e30.c2ln", false},     {"", false},
  };
  for (const auto& c : cases) EXPECT_EQ(LooksLikeToken(c.text), c.token) << c.text;
}

TEST(TokenTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(TokenTest, Base64UrlRoundTripsAndRefusesOtherAlphabets) {
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    auto back = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYg=="), "foob");
  EXPECT_FALSE(Base64UrlDecode("Zm9v+g").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").ok());  // one character past a full group
  EXPECT_FALSE(Base64UrlDecode("Zm 9v").ok());
}

}  // namespace
}  // namespace tug::auth
