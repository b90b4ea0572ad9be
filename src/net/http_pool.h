#pragma once
/// An asynchronous HTTP/1.1 client (plain HTTP or HTTPS) with a keep-alive connection pool per
/// upstream endpoint, for servers that forward requests (the Spark UI proxy): the caller hands a
/// request over and gets the answer in a callback, so no thread waits for the upstream. The
/// transport (Asio, Beast, OpenSSL) sits behind the pimpl.
///
/// Lifecycle: the constructor starts `threads` io threads; Send() from any thread; the
/// destructor stops the threads, closes every connection and destroys the callbacks of requests
/// still in flight without calling them (so what they own answers for them: a net::Deferred
/// replies 503). Destroy the pool only from a thread that is not one of its own (not from a
/// callback).
///
/// Pool: connections are kept per endpoint — scheme, host, port and the TLS settings, so a
/// connection is never shared between different credentials. At most max_idle_per_endpoint
/// idle connections per endpoint and max_idle in all are kept, each for at most idle_timeout
/// (a timer closes older ones). A connection is reused only if the peer has not closed it
/// (checked without blocking when it is taken), and only after a complete keep-alive exchange.
/// A GET or HEAD whose reused connection turns out to be closed by the peer before any byte of
/// the answer (it closed it while we sent) is sent once more on a new connection.
///
/// Threading: Send() and stats() are thread-safe. Callbacks run on the pool's io threads: keep
/// them short and never block in them.
///
/// Errors (in the callback), as HttpClient::Send: kUnavailable (cannot connect, TLS failure,
/// connection lost, malformed answer), kDeadlineExceeded (no complete answer within the
/// request's timeout; connecting, TLS, sending and reading share that one deadline),
/// kResourceExhausted (a body over max_response_bytes). HTTP error statuses are answers, not
/// errors; redirects are not followed.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "net/http_client.h"

namespace tug::net {

struct HttpPoolOptions {
  int threads = 1;
  size_t max_idle_per_endpoint = 32;
  size_t max_idle = 256;
  std::chrono::milliseconds idle_timeout{15000};
};

struct HttpPoolStats {
  uint64_t requests = 0;            // Send() calls that were started
  uint64_t connections_opened = 0;  // TCP connections made
  uint64_t reused = 0;              // requests sent on a kept connection
  uint64_t stale_retries = 0;       // requests sent again because a kept connection was closed
  uint64_t discarded_on_check = 0;  // kept connections found closed when taken
  size_t idle = 0;                  // connections kept right now
};

struct PoolRequest {
  std::string method = "GET";
  /// Appended to the base URL's path: "/jobs/?id=1".
  std::string target;
  /// Added after HttpClientOptions::headers().
  HeaderList headers;
  std::string body;
  std::string content_type = "application/json";
};

class HttpPool {
 public:
  using Callback = std::function<void(Result<ClientResponse>)>;

  explicit HttpPool(HttpPoolOptions options = {});
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  /// Starts the request. `options` as for HttpClient (timeout, TLS, a header callback evaluated
  /// here, on the calling thread; user agent; the peer's name for messages; the body limit).
  /// kInvalidArgument (and `done` is not called) for a bad base URL or unusable TLS material;
  /// otherwise OK, and `done` is called exactly once, on a pool thread, never from inside Send.
  [[nodiscard]] Status Send(const std::string& base_url, const HttpClientOptions& options,
                            PoolRequest request, Callback done);

  HttpPoolStats stats() const;

  /// Internal (http_pool.cpp): public only so the exchanges there can name it.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::net
