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
#include "flotilla/flotilla_json.h"
#include "net/http.h"
#include "server/api.h"

namespace tug::flotilla {

struct FlotillaOptions {
  /// History listings read at most this many of the newest runs matching the filters the store
  /// applies (status, definition, visibility, queued_at range), then filter, order and page them
  /// in memory; `total` counts within them.
  int max_scan = 10000;
};

class FlotillaApi {
 public:
  FlotillaApi(server::Api& api, FlotillaOptions options = {});

  /// Adds the /api/v6/ routes and the /api/v7/template ones.
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
  net::Response GetPayload(net::Request& req, Who who);
  net::Response UpdateRunStatus(net::Request& req, Who who);  // 501: not served
  // v7 templates (flotilla_templates.cpp).
  net::Response ListTemplates(net::Request& req, Who who);
  net::Response GetTemplate(net::Request& req, Who who);
  net::Response CreateTemplate(net::Request& req, Who who);
  net::Response ExecuteTemplate(net::Request& req, Who who);
  net::Response ExecuteTemplateByName(net::Request& req, Who who);
  net::Response ListTemplateRuns(net::Request& req, Who who);

  /// A definition `who` may read, by Flotilla's id or alias (both the Tugboat name), with
  /// Flotilla's not-found message ("Definition with ID x not found" / "with alias").
  Result<Definition> FindDefinition(Who who, const std::string& key, bool by_alias);
  net::Response ExecuteDefinition(net::Request& req, Who who, const std::string& key,
                                  bool by_alias);
  /// A template `who` may read by id (the definition's name): a definition with parameters;
  /// else kNotFound "Template with ID x not found" (pg_state_manager.go GetTemplateByID).
  Result<Definition> FindTemplate(Who who, const std::string& id);
  /// Runs `def` as `launch` asks, through v1's submission path: the parent link, Flotilla's
  /// reserved env, the idempotence key; `payload` (a template's, defaults filled in) when not
  /// null. A dry run answers the run it would create and stores nothing.
  net::Response Launch(net::Request& req, Who who, const Definition& def, ExecuteRequest launch,
                       const boost::json::object* payload, bool dry_run);
  /// The run an idempotence key already names (it has not failed: Flotilla's "exit_code = 0 or
  /// exit_code is null"), or the store key to claim with the new run. See flotilla_runs.cpp.
  struct KeyClaim {
    std::optional<tug::Run> prior;
    store::IdempotencyKey key;
  };
  Result<KeyClaim> ClaimIdempotenceKey(Who who, const tug::Run& run, const std::string& key);
  /// The runs `who` may see that match `request` (see FlotillaOptions::max_scan); of one
  /// definition, or of one template (`template_runs`: filtered as executable_id).
  net::Response History(net::Request& req, Who who, const std::string& definition,
                        bool template_runs = false);

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
