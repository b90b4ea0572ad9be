#pragma once
/// Flotilla's v6 REST API (stitchfix/flotilla-os, flotilla/router.go) beside API v1, on the same
/// store, engines and policy: task definitions, execution, history, one run, stopping, logs,
/// events, groups, tags and clusters, answered in Flotilla's JSON (flotilla_json.h) so its web
/// UI, clients and scripts work against Tugboat. docs/flotilla.md maps every field.
///
/// Every route authenticates like v1 (server::Api::Identify: 401 with WWW-Authenticate) and asks
/// the same policy (403 naming what is missing; lists show only what the caller may see); changes
/// go to the same audit log. Errors are Flotilla's {"error": "..."} with its statuses (400
/// malformed input, 404 missing, 409 conflict, 500 anything else), plus 401/403.
///
/// Lifecycle: construct over an Api that outlives it, Register on the router before the server
/// starts. Threading: handlers are stateless and run on the HTTP threads; the Api is thread-safe.
#include <optional>
#include <string>

#include <boost/json/value.hpp>

#include "core/error.h"
#include "net/http.h"
#include "server/api.h"

namespace tug::flotilla {

struct FlotillaOptions {
  /// History listings read at most this many of the newest runs matching the filters the store
  /// applies (status, definition, visibility, queued_at range), then filter, order and page them
  /// in memory; `total` counts within them.
  int max_scan = 10000;
  /// Idempotence keys are looked up among the runs of the same definition queued in this many
  /// seconds (Flotilla: 7 days).
  int64_t idempotence_window_seconds = int64_t{7} * 86400;
};

class FlotillaApi {
 public:
  FlotillaApi(server::Api& api, FlotillaOptions options = {});

  /// Adds the /api/v6/ routes, and /api/v7/template* answering that templates are not served.
  void Register(net::Router& router);

 private:
  using Who = const auth::Identity&;
  using Handler = net::Response (FlotillaApi::*)(net::Request&, Who);

  net::Response ListDefinitions(net::Request& req, Who who);
  net::Response GetDefinition(net::Request& req, Who who);
  net::Response GetDefinitionByAlias(net::Request& req, Who who);
  net::Response CreateDefinition(net::Request& req, Who who);
  net::Response UpdateDefinition(net::Request& req, Who who);
  net::Response DeleteDefinition(net::Request& req, Who who);
  net::Response Execute(net::Request& req, Who who);
  net::Response ExecuteByAlias(net::Request& req, Who who);
  net::Response ListRuns(net::Request& req, Who who);
  net::Response ListDefinitionRuns(net::Request& req, Who who);
  net::Response GetRun(net::Request& req, Who who);
  net::Response StopRun(net::Request& req, Who who);
  net::Response GetLogs(net::Request& req, Who who);
  net::Response GetEvents(net::Request& req, Who who);
  net::Response GetGroups(net::Request& req, Who who);
  net::Response GetTags(net::Request& req, Who who);
  net::Response ListClusters(net::Request& req, Who who);

  /// A definition `who` may read, by Flotilla's id or alias (both the Tugboat name), with
  /// Flotilla's not-found message ("Definition with ID x not found" / "with alias").
  Result<Definition> FindDefinition(Who who, const std::string& key, bool by_alias);
  net::Response ExecuteDefinition(net::Request& req, Who who, const std::string& key,
                                  bool by_alias);
  /// The runs `who` may see that match `request` (see FlotillaOptions::max_scan).
  net::Response History(net::Request& req, Who who, const std::string& definition);
  /// A run of `definition` with idempotence key `key` queued within the window that has not
  /// failed, if any (services/execution.go createAndEnqueueRun).
  Result<std::optional<tug::Run>> PriorRun(Who who, const std::string& definition,
                                           const std::string& key);

  server::Api& api_;
  FlotillaOptions options_;
};

/// Flotilla's error answer: {"error": message} with the status its endpoints.go encodeError
/// gives (400 kInvalidArgument and kFailedPrecondition, 404, 409, 500), and 401 (with
/// WWW-Authenticate) / 403 / 413 / 503 as Tugboat answers them.
net::Response ErrorAnswer(const Error& error);
/// A JSON answer as Go's json.Encoder writes it: the body and a newline, Content-Type
/// "application/json; charset=utf-8".
net::Response JsonAnswer(int status, const boost::json::value& body);

}  // namespace tug::flotilla
