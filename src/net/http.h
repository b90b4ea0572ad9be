#pragma once
/// The HTTP vocabulary the rest of Tugboat programs against: Request, Response, streamed bodies
/// and the Router. Plain values, no Asio/Beast here (those live in the .cpp files of src/net).
///
/// Threading: Request/Response are values owned by one connection at a time. A Router is filled
/// before the server starts and is then read-only, so Find() may run on many threads at once.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace tug::net {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // raw target incl. query
  std::string path;                            // percent-decoded path, no query
  std::map<std::string, std::string> query;    // decoded ('+' is a space); last value wins
  std::map<std::string, std::string> headers;  // names lower-cased; repeated ones joined by ", "
  std::map<std::string, std::string> params;   // from the route pattern, e.g. {id}
  std::string body;
  std::string remote;  // "127.0.0.1:53122"

  /// When set, Query() adds each key it is asked for: what a handler reads (the OpenAPI test
  /// checks that every one is documented).
  std::set<std::string>* query_reads = nullptr;

  std::string Query(const std::string& key, const std::string& fallback = "") const;
  /// "" when absent.
  std::string Header(const std::string& lower_name) const;
};

struct StreamPoll {
  std::string data;
  bool done = false;
};

/// A streamed (chunked) response body. Poll() is called on a server thread right away, again
/// right after a chunk it returned has been written, and every ServerOptions::stream_poll_interval
/// while it returns no data, until it returns done (or the client goes away). It must not block
/// for long. Destroyed when the stream ends or the connection closes (possibly on another thread
/// than the one that created it; never concurrently with Poll()).
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  virtual StreamPoll Poll() = 0;
  /// Push instead of polling, for sources that learn when they have data (server-sent events):
  /// called once, on a server thread, before the first Poll(), with `wake`: the source (or what
  /// feeds it) calls it from any thread, any number of times, when Poll() would return
  /// something. It is cheap, never blocks on the connection, and does nothing once the stream
  /// ended or the server stopped (it may outlive both). A source that returns an interval is
  /// polled right after each wake and otherwise only every that interval (for heartbeats and to
  /// notice a client that went away), instead of every ServerOptions::stream_poll_interval.
  /// Default: nullopt, the source is polled.
  virtual std::optional<std::chrono::milliseconds> Subscribe(std::function<void()> wake) {
    (void)wake;
    return std::nullopt;
  }
};

struct Response;

/// A response given later, from any thread: for handlers that hand their work to another thread
/// (e.g. a batching writer) instead of blocking an I/O thread. The handler returns a Response
/// whose `deferred` is set (everything else in it is ignored); the connection waits, without
/// reading further requests, until Reply() is called once. If the Deferred is destroyed without
/// a reply, the client gets a 503.
class Deferred {
 public:
  Deferred() = default;
  ~Deferred();
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  /// Thread-safe; only the first call counts.
  void Reply(Response response);
  /// Used by the server: where the reply goes (called at most once, possibly right away).
  void OnReply(std::function<void(Response)> deliver);

 private:
  std::mutex mu_;
  std::function<void(Response)> deliver_;  // guarded by mu_
  std::unique_ptr<Response> ready_;        // guarded by mu_: a reply that came before OnReply
  bool replied_ = false;                   // guarded by mu_
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// Extra headers. Content-Length, Transfer-Encoding and Connection are set by the server and
  /// ignored here; headers containing CR or LF are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<StreamSource> stream;  // set → chunked transfer encoding, body ignored
  std::shared_ptr<Deferred> deferred;    // set → the real response comes through it later
};

/// {"error":{"code":"<code>","message":"<message>"}} with HttpStatus(code); JSON-escaped properly.
Response ErrorResponse(const Error& error);
Response JsonResponse(int status, std::string json_body);

/// A strong ETag for a body: "\"<FNV-1a 64 hex>-<size hex>\"" (a content hash for caching, not a
/// security property).
std::string BodyEtag(std::string_view body);
/// Whether an If-None-Match value ("*", or a list of tags, weak or strong) matches `etag`.
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

/// "1 MiB", "64 KiB", "1000 bytes": for messages about limits.
std::string HumanBytes(uint64_t bytes);

/// Decodes %XX escapes (and '+' as a space when plus_as_space). False on a malformed escape.
bool PercentDecode(std::string_view in, bool plus_as_space, std::string& out);
/// Splits a request target into its decoded path and query parameters (last value wins).
/// kInvalidArgument when the target is not origin-form ("/...") or has a malformed escape.
[[nodiscard]] Status ParseTarget(std::string_view target, std::string& path,
                                 std::map<std::string, std::string>& query);

using Handler = std::function<Response(Request&)>;

/// Maps (method, path) to a handler. Patterns are matched against the decoded path, segment by
/// segment: "/api/v1/runs/{id}/logs" ({name} matches one non-empty segment). A last segment
/// {name...} matches the rest of the path after its '/': zero or more segments, as decoded and
/// without the leading slash ("/files/{rest...}" gives "" for "/files/", "a/b/" for
/// "/files/a/b/", and does not match "/files"). Exact segments beat params, and both beat a
/// {name...}. A HEAD request uses the GET handler when no HEAD handler is registered.
/// Add() before the server starts; Find() is const and thread-safe.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  /// Aborts with a message on a malformed pattern or a duplicate (method, pattern): both are
  /// programming errors found at startup.
  void Add(std::string method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;
    std::string pattern;
    bool method_mismatch = false;
    std::string allow;  // with method_mismatch: the methods the path accepts, "GET, HEAD, POST"
  };
  /// Fills request.params on a match.
  Match Find(Request& request) const;

  struct Registered {
    std::string method;
    std::string pattern;
  };
  /// Every route added, in order (HEAD, served by GET, is not listed).
  const std::vector<Registered>& Routes() const { return registered_; }

 private:
  std::vector<Registered> registered_;
  struct Node;
  std::unique_ptr<Node> root_;
};

/// What the server does with a request it has read: splits the target into path and query (400
/// when malformed), finds the route (404, or 405 with Allow), and runs the handler (an exception
/// becomes a 500, logged without request data). `route` gets the matched pattern ("" when none).
/// `request.method`, `target`, `headers` and `body` must be filled in. The HTTP server's sessions
/// call it, and so do in-process drivers (the API's fuzz target and tests), so both answer alike.
Response Dispatch(const Router& router, Request& request, std::string& route);

}  // namespace tug::net
