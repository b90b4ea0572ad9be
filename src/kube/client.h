#pragma once
/// Kubernetes REST client: kubeconfig and in-cluster credentials, typed errors carrying the API
/// server's message, a client-side QPS/burst limiter, list + watch with resume, pod logs.
/// Objects are Boost.JSON values; callers pick the fields they need (no generated types).
///
/// Lifecycle: Client::Create(config) (no I/O), then any calls. Each call takes a connection
/// from a small pool (TLS sessions are kept alive); long calls (Watch, StreamLogs) hold their own
/// connection until they return.
/// Threading: all methods are thread-safe.
/// Errors (Error::detail() carries "HTTP <status>" and the API server's reason):
///   401 → kUnauthenticated, 403 → kPermissionDenied, 404 → kNotFound, 409 AlreadyExists →
///   kAlreadyExists, 409 Conflict → kAborted, 410 Gone → kFailedPrecondition with
///   detail "HTTP 410 Expired" (IsGone() tells), 422 Invalid / 400 → kInvalidArgument,
///   429 / 5xx / connection failures → kUnavailable, timeouts → kDeadlineExceeded.
///   The message is the API server's Status.message ("pods \"x\" is invalid: spec...").
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.h"
#include "net/http_client.h"

namespace tug::kube {

/// How to reach and authenticate to one API server.
struct ClusterConfig {
  std::string server;  // "https://127.0.0.1:6443"
  std::string ca_pem;  // PEM of the CA bundle; empty: system roots
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // SNI/verification name override; empty: the server's host
  // Credentials (any may be empty):
  std::string token;       // static bearer token
  std::string token_file;  // re-read when it changes (projected service-account tokens)
  std::string client_cert_pem;
  std::string client_key_pem;
  /// client-go's exec credential plugin (e.g. `aws eks get-token`): run, parse the
  /// ExecCredential's status.token / clientCertificateData, cache until expirationTimestamp.
  struct Exec {
    std::string command;
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string api_version;  // client.authentication.k8s.io/v1beta1 or v1
  };
  std::optional<Exec> exec;
  std::string namespace_;  // the context's namespace ("default" when unset)
};

/// Reads a kubeconfig file (context: "" = current-context). Relative paths in it are resolved
/// against the file's directory; *-data fields are base64. Errors name the file and the field.
[[nodiscard]] Result<ClusterConfig> LoadKubeconfig(const std::string& path,
                                                   const std::string& context = "");
/// Parses kubeconfig text (base_dir resolves relative file references).
[[nodiscard]] Result<ClusterConfig> ParseKubeconfig(const std::string& yaml_text,
                                                    const std::string& base_dir,
                                                    const std::string& context = "",
                                                    const std::string& source_name = "kubeconfig");
/// In-cluster config: KUBERNETES_SERVICE_HOST/PORT, the service account's token file, CA and
/// namespace under `sa_dir` (default /var/run/secrets/kubernetes.io/serviceaccount).
[[nodiscard]] Result<ClusterConfig> InClusterConfig(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

struct ClientOptions {
  double qps = 50;  // client-side limiter: sustained requests per second (<= 0: unlimited)
  int burst = 100;
  std::chrono::milliseconds timeout{30000};  // per request (not for watch/log bodies)
  int pool_size = 4;                         // idle connections kept
  std::string user_agent = "tugboat";
};

/// One watch event: type ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, and the object.
struct WatchEvent {
  std::string type;
  boost::json::value object;
};

/// A list's items and the collection's resourceVersion to watch from.
struct ListResult {
  std::vector<boost::json::value> items;
  std::string resource_version;
};

/// Cancels long calls from another thread (Shutdown). Cheap to share.
class CancelToken {
 public:
  CancelToken();  // defined in client.cpp (State is incomplete here)
  ~CancelToken();
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;
  /// Runs the registered functions under a lock (so they must be short and must not call
  /// OnCancel/Remove); once Remove(id) has returned, that function is not running any more.
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  /// Registers a function to run on Cancel() (or at once if already cancelled); returns an id
  /// for Remove.
  int OnCancel(std::function<void()> fn);
  void Remove(int id);

 private:
  std::atomic<bool> cancelled_{false};
  struct State;
  std::shared_ptr<State> state_;
};

class Client {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Client>> Create(ClusterConfig config,
                                                              ClientOptions options = {});
  ~Client();

  const ClusterConfig& config() const;
  /// Settings for talking to the API server with a plain net::HttpClient (TLS, client
  /// certificate, the current bearer token): for proxying through it (pods/<name>:<port>/proxy).
  [[nodiscard]] Result<net::HttpClientOptions> HttpOptions();

  /// Plain requests. path: "/api/v1/namespaces/ns/pods" (+ "?query"). The body is JSON
  /// (PATCH: content_type "application/merge-patch+json" or strategic/json-patch).
  [[nodiscard]] Result<boost::json::value> Get(const std::string& path);
  [[nodiscard]] Result<boost::json::value> Post(const std::string& path,
                                                const boost::json::value& body);
  [[nodiscard]] Result<boost::json::value> Put(const std::string& path,
                                               const boost::json::value& body);
  [[nodiscard]] Result<boost::json::value> Patch(
      const std::string& path, const boost::json::value& body,
      const std::string& content_type = "application/merge-patch+json");
  /// DELETE with an optional grace period (seconds; < 0: the object's default). A 404 is kNotFound.
  [[nodiscard]] Result<boost::json::value> Delete(const std::string& path,
                                                  int64_t grace_period_seconds = -1);
  /// Raw text GET (e.g. a finished pod's log). A non-2xx maps as above.
  [[nodiscard]] Result<std::string> GetText(const std::string& path);

  /// Lists `path` (a collection) with `query` parameters (labelSelector=..., fieldSelector=...),
  /// following `continue` pages of `page_limit` items.
  [[nodiscard]] Result<ListResult> List(const std::string& path,
                                        const std::map<std::string, std::string>& query = {},
                                        int page_limit = 500);

  /// One watch request from resource_version (allowWatchBookmarks=true, timeoutSeconds). Calls
  /// on_event for each event until the server ends the stream (OK), on_event returns false (OK),
  /// cancel fires (kCancelled), or the connection fails (kUnavailable). An ERROR event whose
  /// Status code is 410 returns the 410 error (IsGone). The caller keeps the last seen
  /// resourceVersion (from objects and BOOKMARKs) and calls again; see Informer.
  [[nodiscard]] Status Watch(const std::string& path,
                             const std::map<std::string, std::string>& query,
                             const std::string& resource_version,
                             const std::function<bool(const WatchEvent&)>& on_event,
                             CancelToken* cancel = nullptr, int timeout_seconds = 300);

  /// Streams GET `path` (e.g. ".../pods/p/log?follow=true&timestamps=true") calling on_data with
  /// each piece until the body ends, on_data returns false, or cancel fires. Non-2xx: error.
  [[nodiscard]] Status Stream(const std::string& path,
                              const std::function<bool(std::string_view)>& on_data,
                              CancelToken* cancel = nullptr);

  /// Requests sent and limiter waits so far (metrics, tests).
  struct Stats {
    int64_t requests = 0;
    int64_t throttled = 0;  // requests that waited for the limiter
    std::chrono::microseconds throttle_wait{0};
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// True for the API server's 410 Gone (a watch's resourceVersion is too old: relist).
bool IsGone(const Error& e);

/// A URL path segment / query value escaped for the API server.
std::string Escape(std::string_view s);

/// List-then-watch of one collection with resume: keeps the last resourceVersion (from events
/// and bookmarks), re-watches after the server closes the stream or the connection drops
/// (back-off 0.5 s doubling to 30 s), relists on 410 Gone, and calls `on_sync` with the full
/// list after each (re)list so the caller can notice objects deleted while it was not watching.
/// Runs on its own thread between Start and Stop.
class Informer {
 public:
  struct Handlers {
    std::function<void(const std::vector<boost::json::value>& items)> on_sync;
    std::function<void(const WatchEvent& event)> on_event;  // ADDED / MODIFIED / DELETED
    /// Called with each error it recovers from (for logs and metrics).
    std::function<void(const Error& error)> on_error;
  };
  Informer(Client& client, std::string path, std::map<std::string, std::string> query,
           Handlers handlers);
  ~Informer();
  void Start();
  void Stop();  // idempotent; joins
  /// Number of (re)lists and watch (re)connects so far.
  int64_t lists() const;
  int64_t watches() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::kube
