#pragma once
/// A small blocking HTTP/1.1 client for the CLI and tests. Plain HTTP for now; the transport
/// sits behind the pimpl so TLS can be added without touching callers.
///
/// Lifecycle: Create() parses the base URL (no I/O); the first request connects. One keep-alive
/// connection is kept and reused; a reused connection the server already closed is reconnected
/// once, transparently.
/// Threading: not thread-safe; use one client per thread. Movable.
/// Errors: kUnavailable when the server cannot be reached or drops the connection,
/// kDeadlineExceeded when it does not answer within the timeout, kInvalidArgument for a bad URL.
/// HTTP error statuses are not errors: they come back in ClientResponse::status.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace tug::net {

struct ClientResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

class HttpClient {
 public:
  /// base: "http://127.0.0.1:8080" (a path prefix is allowed and prepended to every target).
  /// https → kInvalidArgument "https is not supported yet".
  [[nodiscard]] static Result<HttpClient> Create(
      const std::string& base_url, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  /// One request and its whole response. The timeout covers connecting, sending and reading.
  [[nodiscard]] Result<ClientResponse> Send(const std::string& method, const std::string& target,
                                            const std::string& body = "",
                                            const std::string& content_type = "application/json");

  /// Streams the body: on_data gets each piece as it arrives (any status, so an error body can be
  /// read too); return false to stop, which closes the connection. status_out (may be null) gets
  /// the status before the first on_data call. The timeout covers connecting and the response
  /// header; the body may take as long as the server keeps the stream open.
  [[nodiscard]] Status Stream(const std::string& method, const std::string& target,
                              const std::function<bool(std::string_view)>& on_data,
                              int* status_out);

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
