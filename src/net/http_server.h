#pragma once
/// The HTTP/1.1 server: keep-alive, pipelining-safe sequential handling per connection, body and
/// header limits, timeouts, chunked streaming from a StreamSource.
///
/// Lifecycle: construct with a filled Router, Start() once, Stop() (or destroy) once; Stop() is
/// idempotent and returns promptly: it stops accepting, drops open connections (their pending
/// StreamSources are destroyed) and joins the threads after handlers already running return.
///
/// Threading: `threads` io threads share one io_context; each connection is one async chain (no
/// strands, no locks per request). Handlers and the completion hook run on those threads, so
/// they must be thread-safe and should not block for long (short store calls are fine).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "net/http.h"

namespace tug::net {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 = pick a free port
  int threads = 2;
  /// Larger → 413 ErrorResponse (resource_exhausted) without reading it all; the connection closes.
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds stream_poll_interval{200};
  /// Waiting for the next request on a keep-alive connection, and for a request's header.
  std::chrono::seconds idle_timeout{60};
  /// Reading a request's body once its header arrived, and writing each response (or stream chunk)
  /// to a client that does not read.
  std::chrono::seconds request_timeout{30};
};

/// Called once per response (for metrics/access logs): route pattern ("" when unmatched),
/// status, seconds since the request was read. Runs on an io thread just before the response
/// (or a stream's last chunk) is written, so a client that saw the response can rely on it
/// having run. A stream reports when it ends, also when the client went away; exchanges cut by
/// Stop() are not reported.
using CompletionHook =
    std::function<void(const Request&, const std::string& route, int status, double seconds)>;

class HttpServer {
 public:
  HttpServer(ServerOptions options, Router router, CompletionHook hook = {});
  ~HttpServer();  // stops if running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds, listens and starts the threads. kUnavailable "listen 127.0.0.1:8080: address in use;
  /// pick another with --listen" (or another reason); kInvalidArgument for a host that does not
  /// resolve; kFailedPrecondition when already started.
  [[nodiscard]] Status Start();
  /// The bound port (after Start), 0 before.
  uint16_t port() const;
  /// Stops accepting, closes connections, joins the threads; idempotent. Not from a handler or
  /// the hook (it joins the thread they run on). Start() may be called again afterwards.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::net
