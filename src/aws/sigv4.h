#pragma once
/// AWS Signature Version 4 (header-based signing) on OpenSSL's HMAC/SHA-256.
///
/// Pure functions, no I/O: the caller supplies the time (an "20150830T123600Z" stamp from its
/// Clock), the credentials and a request described by decoded parts; Sign() adds the x-amz-date,
/// x-amz-security-token (temporary credentials) and authorization headers.
/// Threading: thread-safe (no state). Errors: none (a malformed request signs to a signature
/// AWS rejects, with 403 SignatureDoesNotMatch).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tug::aws {

using NameValues = std::vector<std::pair<std::string, std::string>>;

/// Secrets: never log `secret_access_key` or `session_token`; Redacted() is what may be shown.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  /// Unix seconds when temporary credentials expire; 0: never.
  int64_t expires_at = 0;
  /// Where they came from ("environment", "shared credentials file profile 'x'", ...).
  std::string source;

  /// "AKID...(source)" with the key id shortened and no secret.
  std::string Redacted() const;
};

struct SignableRequest {
  std::string method;          // "GET"
  std::string path = "/";      // decoded ("/bucket/a b"); encoded by CanonicalUri
  NameValues query;            // decoded names and values, any order
  NameValues headers;          // names in any case; "host" is required
  std::string payload_sha256;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigningScope {
  std::string region;    // "us-east-1"
  std::string service;   // "s3", "emr-containers", "sts"
  std::string amz_date;  // "20150830T123600Z"
  /// S3 signs the path as sent (no dot-segment or slash normalisation); every other service
  /// signs the normalised path.
  bool normalize_path = true;
};

/// Lower-case hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);
/// Raw HMAC-SHA256(key, data).
std::string HmacSha256(std::string_view key, std::string_view data);
/// RFC 3986 percent-encoding as AWS wants it: unreserved characters kept, everything else %XX
/// (upper case); '/' kept when keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash);
/// "YYYYMMDDTHHMMSSZ" for Unix seconds.
std::string AmzDate(int64_t unix_seconds);

/// The encoded path as it goes on the wire ("/a%20b").
std::string CanonicalUri(std::string_view path, bool normalize);
/// "a=1&b=2" sorted by encoded name, then value; also what goes on the wire.
std::string CanonicalQuery(const NameValues& query);

std::string CanonicalRequest(const SignableRequest& request, const SigningScope& scope);
std::string StringToSign(const SignableRequest& request, const SigningScope& scope);
/// The value of the authorization header for `request` as it is (its headers are all signed).
std::string Authorization(const SignableRequest& request, const Credentials& credentials,
                          const SigningScope& scope);
/// Adds x-amz-date (scope.amz_date), x-amz-security-token when the credentials have one, and
/// authorization to request.headers.
void Sign(SignableRequest& request, const Credentials& credentials, const SigningScope& scope);

}  // namespace tug::aws
