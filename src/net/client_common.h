#pragma once
/// Internal to src/net: what the blocking HttpClient and the asynchronous HttpPool share — the
/// base URL's parts, the TLS context and peer verification, error reasons. Includes Asio; never
/// include it outside src/net.
#include <optional>
#include <string>

#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>

#include "core/error.h"
#include "net/http_client.h"

namespace tug::net::detail {

/// A client connection: plain TCP or TLS over TCP, exactly one set while connected.
struct TcpOrTls {
  std::optional<boost::beast::tcp_stream> plain;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;

  bool connected() const { return plain.has_value() || tls.has_value(); }
  /// The TCP stream under either (timeouts, socket options, close).
  boost::beast::tcp_stream& Lowest() { return tls ? tls->next_layer() : *plain; }
  /// Calls `f` with the stream to read and write HTTP on.
  template <class F>
  void Visit(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }
};

/// "http://127.0.0.1:8080/prefix/" taken apart.
struct BaseUrl {
  std::string base;         // as given, without trailing slashes: "http://127.0.0.1:8080/prefix"
  std::string host;         // what to resolve: "127.0.0.1", "::1", "tug.example"
  std::string port;         // "8080" (the scheme's default when the URL has none)
  std::string host_header;  // "127.0.0.1:8080", "[::1]:8080"
  std::string prefix;       // the URL's path without the trailing '/': "" or "/prefix"
  bool https = false;
  std::string verify_name;  // https: the name checked against the certificate (and sent as SNI)
};

/// kInvalidArgument "server URL '...' <why>; use the form http://127.0.0.1:8080" for anything but
/// an absolute http(s) URL with a host and without credentials, query or fragment.
[[nodiscard]] Result<BaseUrl> ParseBaseUrl(const std::string& base_url, const TlsOptions& tls);

/// Loads the TLS material into a client context; errors (kInvalidArgument) name the field.
[[nodiscard]] Status ConfigureTls(boost::asio::ssl::context& ctx, const TlsOptions& tls);

/// Before a client handshake: SNI for DNS names, and the name (or IP address) OpenSSL checks the
/// certificate against unless verification is off.
void PrepareHandshake(SSL* ssl, const std::string& verify_name, bool insecure_skip_verify);

/// The reason of an error code in lower case ("connection refused").
std::string Reason(const boost::system::error_code& ec);

/// "30s", "300ms".
std::string FormatTimeout(std::chrono::milliseconds t);

}  // namespace tug::net::detail
