#include "net/client_common.h"

#include <cctype>

#include <fmt/format.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

namespace tug::net::detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using error_code = boost::system::error_code;

std::string Reason(const error_code& ec) {
  std::string m = ec.message();
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

std::string FormatTimeout(std::chrono::milliseconds t) {
  if (t.count() % 1000 == 0) return fmt::format("{}s", t.count() / 1000);
  return fmt::format("{}ms", t.count());
}

namespace {

bool IsIpAddress(const std::string& host) {
  error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

Result<BaseUrl> ParseBaseUrl(const std::string& base_url, const TlsOptions& tls) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(
        fmt::format("server URL '{}' {}; use the form http://127.0.0.1:8080", base_url, why));
  };
  auto parsed = boost::urls::parse_absolute_uri(base_url);
  if (!parsed) return bad("is not a URL");
  const auto& url = *parsed;
  std::string scheme(url.scheme());
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return bad("has an unknown scheme");
  if (!url.has_authority() || url.encoded_host().empty()) return bad("has no host");
  if (url.has_userinfo()) return bad("has credentials in it; remove them");
  if (url.has_query() || url.has_fragment()) return bad("has a query or fragment");
  BaseUrl out;
  out.https = scheme == "https";
  const char* default_port = out.https ? "443" : "80";
  out.host = url.host_address();
  out.port = url.has_port() ? std::string(url.port()) : default_port;
  if (out.port.empty()) out.port = default_port;
  out.host_header = std::string(url.encoded_host());
  if (url.has_port()) out.host_header += ":" + out.port;
  out.prefix = std::string(url.encoded_path());
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  out.base = base_url;
  while (!out.base.empty() && out.base.back() == '/') out.base.pop_back();
  if (out.https) out.verify_name = tls.server_name.empty() ? out.host : tls.server_name;
  return out;
}

Status ConfigureTls(ssl::context& ctx, const TlsOptions& tls) {
  error_code ec;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (tls.insecure_skip_verify) {
    ctx.set_verify_mode(ssl::verify_none);
  } else {
    ctx.set_verify_mode(ssl::verify_peer);
    if (tls.ca_pem.empty()) {
      if (ctx.set_default_verify_paths(ec); ec) {
        return InvalidArgument(fmt::format(
            "cannot load the system's CA certificates ({}); give a CA bundle", Reason(ec)));
      }
    } else if (ctx.add_certificate_authority(asio::buffer(tls.ca_pem), ec); ec) {
      return InvalidArgument(fmt::format(
          "the CA certificate is not a valid PEM certificate ({}); check the CA data", Reason(ec)));
    }
  }
  if (tls.client_cert_pem.empty() != tls.client_key_pem.empty()) {
    return InvalidArgument(
        "a client certificate needs both the certificate and its key; give both or neither");
  }
  if (!tls.client_cert_pem.empty()) {
    if (ctx.use_certificate_chain(asio::buffer(tls.client_cert_pem), ec); ec) {
      return InvalidArgument(fmt::format(
          "the client certificate is not a valid PEM certificate ({}); check it", Reason(ec)));
    }
    if (ctx.use_private_key(asio::buffer(tls.client_key_pem), ssl::context::pem, ec); ec) {
      return InvalidArgument(fmt::format(
          "the client key is not a valid PEM key or does not match the certificate ({}); check "
          "it",
          Reason(ec)));
    }
  }
  return OkStatus();
}

void PrepareHandshake(SSL* ssl, const std::string& verify_name, bool insecure_skip_verify) {
  bool ip = IsIpAddress(verify_name);
  // SNI carries DNS names only (RFC 6066).
  if (!ip) SSL_set_tlsext_host_name(ssl, verify_name.c_str());
  if (insecure_skip_verify) return;
  // OpenSSL checks the name during the handshake, so a mismatch reports its own reason
  // ("hostname mismatch", "IP address mismatch") rather than a bare verify failure.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), verify_name.size());
  }
}

}  // namespace tug::net::detail
