#pragma once
/// The Spark UI of a run, through the tug server: `/runs/{id}/spark-ui/...` is reverse-proxied to
/// that run's live Spark driver UI, and once the run ended redirects to the history server page
/// of its app. Where a run's UI is comes only from the resolver, never from the request, and the
/// forwarded path is validated so a caller can never change the host, the port or the path
/// prefix: this is not an open proxy.
///
/// Routes (Register): GET and HEAD on `/runs/{id}/spark-ui` (302 to `.../spark-ui/`) and on
/// `/runs/{id}/spark-ui/{rest...}`; other methods are 405 (by the router).
/// Per request, in order: access (401/403/404) → path validation (400) → resolver (404 for an
/// unknown run; 404 with the target's message for kNone; other resolver errors as they are) →
/// kHistory: 302 to its URL → kLive: one asynchronous upstream request (see Threading) with an
/// allow-list of the caller's
/// headers (never its Authorization or Cookie) plus the target's own client headers. The upstream's
/// status, Content-Type, Cache-Control, ETag and Last-Modified come back, and its Location
/// rewritten into the proxy base (a redirect elsewhere is 502). Bodies are not rewritten: Spark,
/// started with spark.ui.proxyBase = ProxyBase(id), writes its links under the proxy base itself.
/// Upstream failures: unreachable or misbehaving 502, no answer within the timeout 504, a body
/// over max_response_bytes 502.
///
/// Lifecycle: construct (starts the upstream pool's thread), Register() on the router before the
/// HTTP server starts; the proxy must outlive the server. Destroying it drops requests still
/// waiting for a driver (their clients get 503).
/// Threading: the handlers are thread-safe if the resolver and the access function are; they
/// run on the HTTP io thread (access check, validation, resolver: short), then hand the
/// upstream request to a net::HttpPool and return a net::Deferred. The pool's own io threads
/// connect, write and read (Beast, asynchronously, one deadline per request) over kept
/// connections per driver (or API server), and the reply is written when the driver's answer
/// arrives, so a slow driver holds no HTTP thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "net/http.h"
#include "net/http_client.h"
#include "net/http_pool.h"

namespace tug::server {

/// Where a run's Spark UI is right now (decided by the resolver, never by the request).
struct SparkUiTarget {
  enum class Kind { kNone, kLive, kHistory };
  Kind kind = Kind::kNone;
  /// kNone: why there is no UI, shown to the user ("run 'x' has no Spark driver yet").
  std::string message;
  /// kLive: "http://10.1.2.3:4040" or
  /// "https://apiserver:6443/api/v1/namespaces/ns/pods/drv:4040/proxy" (no query, no trailing '/').
  std::string base_url;
  /// kLive: TLS, auth headers (e.g. the API server's) and timeout for the upstream request. The
  /// shorter of its timeout and SparkUiProxyOptions::timeout applies; `peer` is replaced.
  net::HttpClientOptions client;
  /// kHistory: absolute URL to redirect to, e.g. "http://history:18080/history/spark-abc/jobs/".
  std::string history_url;
};

/// Looks up the run and its driver. kNotFound: no such run. Called per request, on an HTTP io
/// thread, so it must be thread-safe and quick.
using SparkUiResolver = std::function<Result<SparkUiTarget>(const std::string& run_id)>;

/// May the caller see this run? OK, or the error to answer with: kUnauthenticated (401, with
/// WWW-Authenticate), kPermissionDenied (403), kNotFound (404). The server passes the API's
/// authentication and policy (the same decision as GET /api/v1/runs/{id}); the proxy calls it
/// before resolving anything, so a run the caller may not see never reaches an upstream.
using SparkUiAccess = std::function<Status(const net::Request&, const std::string& run_id)>;

struct SparkUiProxyOptions {
  int64_t max_response_bytes = 64 << 20;
  std::chrono::milliseconds timeout{30000};
  /// Upstream io threads, and connections kept per driver (or API server) and in all. A browser
  /// opens about six at once; several people on one driver need more, and a connection closed
  /// only to be opened again costs more than an idle one (bench/proxy_bench.sh).
  net::HttpPoolOptions pool{.threads = 2,
                            .max_idle_per_endpoint = 64,
                            .max_idle = 256,
                            .idle_timeout = std::chrono::seconds(15)};
};

class SparkUiProxy {
 public:
  SparkUiProxy(SparkUiResolver resolver, SparkUiAccess access, SparkUiProxyOptions options = {});
  ~SparkUiProxy();
  SparkUiProxy(const SparkUiProxy&) = delete;
  SparkUiProxy& operator=(const SparkUiProxy&) = delete;

  /// Adds GET and HEAD routes for `/runs/{id}/spark-ui` and `/runs/{id}/spark-ui/{rest...}`.
  void Register(net::Router& router);

  /// The proxy base path for a run: "/runs/<id>/spark-ui" (what spark.ui.proxyBase is set to).
  /// Characters of the id outside [A-Za-z0-9-._~] are percent-encoded.
  static std::string ProxyBase(const std::string& run_id);

  /// The upstream pool's counters (connections opened, reused, ...).
  net::HttpPoolStats pool_stats() const;

 private:
  net::Response Bare(net::Request& req) const;
  net::Response Proxy(net::Request& req) const;
  net::Response Forward(const net::Request& req, const std::string& run_id,
                        const std::string& forward_target, SparkUiTarget target) const;

  SparkUiResolver resolver_;
  SparkUiAccess access_;
  SparkUiProxyOptions options_;
  std::unique_ptr<net::HttpPool> pool_;
};

}  // namespace tug::server
