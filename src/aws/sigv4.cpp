#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace tug::aws {
namespace {

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Header values are trimmed and runs of spaces inside collapse to one (the test suite's
// get-header-value-trim); quoted strings are not special.
std::string TrimAll(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// name -> values in the order given; std::map sorts the names as the canonical form wants.
std::map<std::string, std::string> CanonicalHeaderMap(const NameValues& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    std::string key = Lower(name);
    auto [it, inserted] = out.emplace(key, TrimAll(value));
    if (!inserted) it->second += "," + TrimAll(value);
  }
  return out;
}

std::string SignedHeaders(const std::map<std::string, std::string>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string CredentialScope(const SigningScope& scope) {
  return scope.amz_date.substr(0, 8) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

}  // namespace

std::string Credentials::Redacted() const {
  std::string id = access_key_id.size() > 4 ? access_key_id.substr(0, 4) + "..." : "...";
  return id + " (" + source + ")";
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return {reinterpret_cast<const char*>(out), len};
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

std::string AmzDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string CanonicalUri(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  if (!normalize) return UriEncode(path, true);
  // RFC 3986 dot-segment removal plus collapsing of empty segments, as the test suite's
  // normalize-path group expects (S3 is the exception and never comes here).
  std::vector<std::string_view> segments;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    pos = next + 1;
  }
  std::string out;
  for (auto seg : segments) out += "/" + UriEncode(seg, false);
  if (out.empty()) return "/";
  if (path.back() == '/') out += '/';
  return out;
}

std::string CanonicalQuery(const NameValues& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string CanonicalRequest(const SignableRequest& request, const SigningScope& scope) {
  auto headers = CanonicalHeaderMap(request.headers);
  std::string out = request.method + "\n" + CanonicalUri(request.path, scope.normalize_path) +
                    "\n" + CanonicalQuery(request.query) + "\n";
  for (const auto& [name, value] : headers) out += name + ":" + value + "\n";
  out += "\n" + SignedHeaders(headers) + "\n" + request.payload_sha256;
  return out;
}

std::string StringToSign(const SignableRequest& request, const SigningScope& scope) {
  return "AWS4-HMAC-SHA256\n" + scope.amz_date + "\n" + CredentialScope(scope) + "\n" +
         Sha256Hex(CanonicalRequest(request, scope));
}

std::string Authorization(const SignableRequest& request, const Credentials& credentials,
                          const SigningScope& scope) {
  std::string key = HmacSha256("AWS4" + credentials.secret_access_key, scope.amz_date.substr(0, 8));
  key = HmacSha256(key, scope.region);
  key = HmacSha256(key, scope.service);
  key = HmacSha256(key, "aws4_request");
  std::string signature = HmacSha256(key, StringToSign(request, scope));
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + CredentialScope(scope) +
         ", SignedHeaders=" + SignedHeaders(CanonicalHeaderMap(request.headers)) + ", Signature=" +
         Hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

void Sign(SignableRequest& request, const Credentials& credentials, const SigningScope& scope) {
  std::erase_if(request.headers, [](const auto& h) {
    std::string name = Lower(h.first);
    return name == "authorization" || name == "x-amz-date" || name == "x-amz-security-token";
  });
  request.headers.emplace_back("x-amz-date", scope.amz_date);
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  std::string authorization = Authorization(request, credentials, scope);
  request.headers.emplace_back("authorization", std::move(authorization));
}

}  // namespace tug::aws
