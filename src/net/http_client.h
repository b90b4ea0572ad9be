#pragma once
/// A small blocking HTTP/1.1 client (plain HTTP or HTTPS) for the CLI, the Kubernetes client and
/// tests. The transport (Beast, OpenSSL) sits behind the pimpl.
///
/// Lifecycle: Create() parses the base URL and loads the TLS settings (no I/O); the first request
/// connects. One keep-alive connection is kept and reused; a reused connection the server already
/// closed is reconnected once, transparently.
/// Threading: not thread-safe; use one client per thread. The one exception is Cancel(), which
/// any thread may call while another is inside Send()/Stream(). Movable.
/// Errors: kUnavailable when the server cannot be reached, drops the connection or fails TLS
/// verification, kDeadlineExceeded when it does not answer within the timeout, kCancelled after
/// Cancel(), kInvalidArgument for a bad URL or unusable TLS material.
/// kResourceExhausted when a body is over HttpClientOptions::max_response_bytes.
/// HTTP error statuses are not errors: they come back in ClientResponse::status. Redirects are
/// not followed: a 3xx comes back as it is, with its Location in ClientResponse::headers.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace tug::net {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ClientResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  /// Every response header in the order received, names lower-cased, repeated ones kept apart.
  HeaderList headers;

  /// The first value of a header ("" when absent); `lower_name` is lower case.
  std::string Header(std::string_view lower_name) const;
};

/// TLS settings for https base URLs (ignored for http).
struct TlsOptions {
  std::string ca_pem;  // trusted CA bundle (PEM); empty: the system's roots
  bool insecure_skip_verify = false;
  /// Name sent as SNI and checked against the certificate; empty: the URL's host. An IP address
  /// is checked against the certificate's IP SANs (and no SNI is sent).
  std::string server_name;
  std::string client_cert_pem;  // client certificate (chain), presented when the server asks
  std::string client_key_pem;
};

struct HttpClientOptions {
  std::chrono::milliseconds timeout{30000};
  TlsOptions tls;
  /// Evaluated for every request (so a bearer token can rotate); its headers are added to each
  /// request, before the per-request ones.
  std::function<HeaderList()> headers;
  std::string user_agent = "tug";
  /// Names the peer in error messages: "cannot reach <peer> at https://...". The default keeps
  /// the CLI's hints (`tug server`, --server/TUG_SERVER).
  std::string peer = "the tug server";
  /// Send(): a response body larger than this is kResourceExhausted (and the connection is
  /// dropped); 0: no limit. Stream() is not limited.
  int64_t max_response_bytes = 0;
};

class HttpClient {
 public:
  /// base: "http://127.0.0.1:8080" or "https://host:6443" (a path prefix is allowed and prepended
  /// to every target).
  [[nodiscard]] static Result<HttpClient> Create(
      const std::string& base_url, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  [[nodiscard]] static Result<HttpClient> Create(const std::string& base_url,
                                                 HttpClientOptions options);

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  /// One request and its whole response. The timeout covers connecting, sending and reading.
  /// `headers` are added to this request only.
  [[nodiscard]] Result<ClientResponse> Send(const std::string& method, const std::string& target,
                                            const std::string& body = "",
                                            const std::string& content_type = "application/json",
                                            const HeaderList& headers = {});

  /// Streams the body: on_data gets each piece as it arrives (any status, so an error body can be
  /// read too); return false to stop, which closes the connection. status_out (may be null) gets
  /// the status before the first on_data call. The timeout covers connecting and the response
  /// header; the body may take as long as the server keeps the stream open, or at most
  /// `body_timeout` when that is positive (kDeadlineExceeded).
  [[nodiscard]] Status Stream(
      const std::string& method, const std::string& target,
      const std::function<bool(std::string_view)>& on_data, int* status_out,
      const HeaderList& headers = {},
      std::chrono::milliseconds body_timeout = std::chrono::milliseconds(0));

  /// Thread-safe: makes a Send()/Stream() blocked on another thread return kCancelled promptly
  /// (its connection is closed). Sticky: every later call returns kCancelled at once, so a
  /// cancelled client is thrown away, not reused.
  void Cancel();
  bool cancelled() const;

  /// "http://127.0.0.1:8080" as given to Create (without a trailing slash).
  const std::string& base_url() const;
  /// Drops the kept connection (the next request reconnects).
  void Disconnect();

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::net
