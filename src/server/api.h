#pragma once
/// API v1: definitions, runs, logs, events, tokens, health and metrics, as HTTP handlers on a
/// Router. Every error is {"error":{"code","message"}} with a message that says what to fix;
/// nothing is written before the whole request has been validated.
///
/// Authentication and authorization (src/auth): every route but /healthz, /readyz,
/// /api/v1/auth/config and /api/v1/openapi.json first establishes who calls (401 without valid
/// credentials, with WWW-Authenticate), then each handler asks the policy about what it touches
/// (403 naming what is missing). With authentication off (loopback only) every caller is an admin
/// without a name. Changes, and changes refused with 401/403, are written to the audit log
/// (audit_log.h).
///
/// Threading: handlers run on the HTTP server's threads and only call thread-safe collaborators.
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "auth/authenticator.h"
#include "auth/identity.h"
#include "auth/policy.h"
#include "control/controller.h"
#include "control/planning.h"
#include "core/clock.h"
#include "core/model.h"
#include "engine/engine.h"
#include "logs/log_store.h"
#include "metrics/registry.h"
#include "net/http.h"
#include "server/audit_log.h"
#include "server/cost_json.h"
#include "server/event_hub.h"
#include "server/queue_view.h"
#include "server/spark_ui_proxy.h"
#include "server/submitter.h"
#include "store/store.h"

namespace tug::server {

struct ApiOptions {
  Limits limits;
  /// Planner constants (limits copied in by the composition root).
  adapt::Platform platform;
  /// Spot climate and run history for first plans; nullptr: none known.
  control::ClimateSource* climate = nullptr;
  control::HistorySource* history = nullptr;
  /// Engine for definitions that name none: "local" or "kubernetes".
  std::string default_engine = "local";
  /// Engine for Spark definitions that name none: "spark" or "emr-on-eks".
  std::string spark_engine = "spark";
  /// The emr-on-eks engine exists on this server (its engine is named "emr-on-eks").
  bool emr_configured = false;
  /// Kubernetes clusters in config order; a kubernetes definition without a cluster gets the
  /// first. Their engines are named "kubernetes:<cluster>".
  std::vector<std::string> clusters;
  /// Dry runs (POST /api/v1/runs?dry_run=true): what the first attempt would run as on the
  /// named engine (argv, pods, Spark confs), built without launching or reaching a cluster.
  /// `engine` is the resolved name, or "spark:" / "kubernetes:" when no cluster is configured
  /// and "emr-on-eks:" when no emr section is (defaults fill in). Unset: dry runs show the
  /// launch spec only.
  std::function<Result<boost::json::value>(const engine::LaunchSpec&, const std::string& engine)>
      preview;
  /// How long a follow=true log stream stays open at most.
  Micros max_follow = Micros{24} * 3600 * kMicrosPerSecond;
  /// Authentication; nullptr: off (the server listens on loopback only): every caller is an
  /// admin without a name and names the owner of what it submits, as before authentication.
  auth::Authenticator* authenticator = nullptr;
  auth::PolicyOptions policy;
  /// GET /api/v1/auth/config: what the web UI needs to sign in (OIDC client id and endpoints),
  /// merged into {"enabled": ...}.
  boost::json::object auth_config;
  /// How long `tug token create` tokens live unless asked otherwise (0: forever).
  int64_t token_ttl_seconds = int64_t{90} * 86400;
  /// Where changes are recorded; nullptr: nowhere (tests).
  AuditLog* audit = nullptr;
  /// Server-sent event streams (event_hub.h, event_stream.h): the store poll and the heartbeat.
  EventHubOptions events;
  std::chrono::milliseconds event_heartbeat{15'000};
  /// The configured team queues (config `queues:`); empty: queues are off and a run keeps
  /// whatever queue its definition names.
  std::vector<queue::QueueSpec> queues;
  queue::Vec queue_capacity;
  /// How long an idempotency key of POST /api/v1/runs names its run.
  int64_t idempotency_retention_seconds = int64_t{7} * 86400;
  /// The server's URL as jobs reach it (TUG_SERVER in dry runs' launch env; Api::SetServerUrl
  /// replaces it once the server listens).
  std::string server_url;
  /// Whether this host has a GPU (the local engine refuses GPU runs without one, at
  /// submission); unset: /dev/nvidia0 or nvidia-smi on PATH (HostHasGpu).
  std::function<bool()> host_has_gpu;
  /// Cost per run in run JSON (server/cost_json.h); a null recorder: pricing off.
  CostView cost;
};

/// The local engine's GPU check: /dev/nvidia0 exists, or nvidia-smi is on PATH.
bool HostHasGpu();

/// A run submission as a caller describes it: the v1 body, or a Flotilla v6 execute request
/// (src/flotilla).
struct RunRequest {
  std::string definition;
  /// Who submits (with authentication only admins may name someone else) and the run's group;
  /// "": the defaults (the caller; the definition's group when the caller is in it, else the
  /// caller's first).
  std::string owner;
  std::string group;
  RunOverrides overrides;
  /// This run's command instead of the definition's ("" keeps it): Flotilla's per-run command.
  std::string command;
  /// Where the planner may place it instead of the definition's adapt.capacity ("" keeps it):
  /// spot | on-demand | auto.
  std::string capacity;
  /// Added to the run's spec labels (Flotilla's run labels and the metadata it keeps).
  std::map<std::string, std::string> labels;
  /// Added to the run's kubernetes.node_selector (Flotilla's arch).
  std::map<std::string, std::string> node_selector;
  /// Plan and check only: an engine without a configured cluster gets its defaults.
  bool dry_run = false;
  /// The run that submits this one (lineage): must exist and be readable by the caller.
  std::string parent_run_id;
};

/// The canonical hash of a submission (lower-case hex SHA-256 of its parsed fields with keys
/// sorted): a repeated idempotency key with another hash is a different request (409).
std::string CanonicalRequestHash(const RunRequest& request);
/// 1..255 printable ASCII characters; kInvalidArgument saying so.
[[nodiscard]] Status ValidateIdempotencyKey(const std::string& key);

/// A submission validated and authorized, its first attempt planned; nothing is stored yet.
struct PreparedRun {
  tug::Run run;  // QUEUED, the spec resolved
  Attempt first;
  adapt::Decision plan;
  /// The engine's name; for a dry run without a configured cluster "spark:" or "kubernetes:".
  std::string engine;
};

/// A definition stored by Api::StoreDefinition.
struct StoredDefinition {
  Definition definition;
  Definition before;   // the previous version (when `change` is not "created")
  std::string change;  // created | updated | unchanged
};

class Api {
 public:
  Api(ApiOptions options, store::Store& store, logs::LogStore& logs,
      control::Controller& controller, std::vector<engine::Engine*> engines,
      metrics::Registry& registry, const Clock& clock);
  Api(ApiOptions options, store::Store& store, logs::LogStore& logs,
      control::Controller& controller, engine::Engine& engine, metrics::Registry& registry,
      const Clock& clock)
      : Api(std::move(options), store, logs, controller, std::vector<engine::Engine*>{&engine},
            registry, clock) {}

  /// Adds every route to the router.
  void Register(net::Router& router);
  /// Commits what is still queued and stops the submission writer; call after the HTTP server
  /// stopped and before it is destroyed.
  void Stop() {
    submitter_.Stop();
    hub_.Stop();
  }
  /// The fan-out of the event streams (for tests, and for writers that want streams to learn of
  /// their changes at once: EventHub::Poke).
  EventHub& event_hub() { return hub_; }
  /// For the server's completion hook: counts requests by route and code.
  void Observe(const std::string& route, int status, double seconds);

  /// The caller's identity from the request's Authorization header (auth::Unauthenticated()
  /// while authentication is off). For the Spark UI proxy's access check.
  [[nodiscard]] Result<auth::Identity> Identify(const net::Request& req) const;
  /// May `who` see run `run_id`? kNotFound, kPermissionDenied naming what is missing, or the
  /// store's error. For the Spark UI proxy (the same policy as the API's).
  [[nodiscard]] Status MaySeeRun(const auth::Identity& who, const std::string& run_id);
  /// The Spark UI proxy's access check: Identify, then MaySeeRun — the decision GET
  /// /api/v1/runs/{id} makes. The Api must outlive the proxy.
  SparkUiAccess SparkUiAccessCheck();

  // --- What the handlers do, for other front ends on the same store (the Flotilla v6 API,
  // src/flotilla): the same validation, policy checks and audit lines as API v1. Thread-safe;
  // `req` is the request being answered (its remote address goes to the audit log). ---

  using Who = const auth::Identity&;
  /// The policy's decision for `who` (kPermissionDenied with its reason when denied).
  [[nodiscard]] Status Check(Who who, auth::Action action, const auth::Resource& resource) const;
  /// What a listing shows `who`.
  [[nodiscard]] store::Visibility VisibleTo(Who who) const;
  /// A run `who` may read (kReadRun), or the error to answer with (kNotFound,
  /// kPermissionDenied, the store's).
  [[nodiscard]] Result<tug::Run> ReadableRun(Who who, const std::string& id);
  /// The queue a run of `spec` waits in: the definition's (kInvalidArgument when queues are
  /// configured without it), else `group` when a queue has its name, else "default".
  [[nodiscard]] Result<std::string> QueueFor(const Definition& spec,
                                             const std::string& group) const;
  /// Definition `name` if `who` may read it (kNotFound, kPermissionDenied).
  [[nodiscard]] Result<Definition> ReadableDefinition(Who who, const std::string& name);
  /// Definitions `who` may see, newest versions.
  [[nodiscard]] Result<std::vector<Definition>> VisibleDefinitions(Who who);
  /// Validates and stores `def` for `who` (owner and group assigned and checked, the change
  /// audited). `create_only`: kAlreadyExists when it exists.
  [[nodiscard]] Result<StoredDefinition> StoreDefinition(Who who, const net::Request& req,
                                                         Definition def, bool create_only);
  /// Hides definition `name` (kNotFound, kPermissionDenied); audited.
  [[nodiscard]] Status RemoveDefinition(Who who, const net::Request& req, const std::string& name);
  /// Validates, authorizes and plans a run (see RunRequest); kNotFound for an unknown
  /// definition, kInvalidArgument, kFailedPrecondition (can never fit, no such engine),
  /// kPermissionDenied.
  [[nodiscard]] Result<PreparedRun> PrepareRun(Who who, RunRequest request);
  /// Stores a prepared run through the batching submitter: a deferred response that is 201
  /// with `created_body`, or the store's error (v1's shape); audited once stored. kUnavailable
  /// as an error response when too many submissions wait.
  /// With `idempotency`, the key is claimed with the run in one transaction; when a concurrent
  /// request holds it, the answer is that run (200) or a 409 (a different request).
  net::Response SubmitRun(Who who, const net::Request& req, PreparedRun prepared,
                          std::string created_body,
                          std::optional<store::IdempotencyKey> idempotency = std::nullopt);
  /// Stops run `id` for `who` (kNotFound, kPermissionDenied, kFailedPrecondition when it
  /// ended); audited.
  [[nodiscard]] Status StopRunFor(Who who, const net::Request& req, const std::string& id);
  /// Stops the non-terminal descendants of run `id` (children by parent_run_id, theirs, ...)
  /// that `who` may stop; returns the ids stopped. Refusals are skipped (and counted in
  /// `skipped`). kUnavailable/kInternal from the store.
  [[nodiscard]] Result<std::vector<std::string>> StopDescendants(Who who, const net::Request& req,
                                                                 const std::string& id,
                                                                 int* skipped);
  /// Replaces ApiOptions::server_url. Thread-safe.
  void SetServerUrl(std::string url);
  /// Writes an audit line (when there is an audit log); `entry.remote` defaults to the
  /// request's.
  void Audit(Who who, const net::Request& req, AuditEntry entry);
  const ApiOptions& options() const { return options_; }
  store::Store& store() { return store_; }
  logs::LogStore& logs() { return logs_; }
  const Clock& clock() const { return clock_; }

 private:
  net::Response CreateDefinition(net::Request& req, Who who);
  net::Response PutDefinition(net::Request& req, Who who);
  net::Response ListDefinitions(net::Request& req, Who who);
  net::Response GetDefinition(net::Request& req, Who who);
  net::Response DeleteDefinition(net::Request& req, Who who);
  net::Response CreateRun(net::Request& req, Who who);
  net::Response ListRuns(net::Request& req, Who who);
  net::Response GetRun(net::Request& req, Who who);
  net::Response StopRun(net::Request& req, Who who);
  net::Response RunLogs(net::Request& req, Who who);
  net::Response RunEvents(net::Request& req, Who who);
  // Server-sent event streams (api_events.cpp).
  net::Response EventsStream(net::Request& req, Who who);
  net::Response FollowRunEvents(net::Request& req, const tug::Run& run);
  net::Response RunUsage(net::Request& req, Who who);
  net::Response Metrics(net::Request& req, Who who);
  net::Response ListQueues(net::Request& req, Who who);
  /// A waiting run's place in its queue (1: next), 0 when it is not waiting or queues are off.
  int64_t QueuePosition(const tug::Run& run);
  /// The queues' scheduler built from the store's queue entries (what queue_view_ keeps).
  Result<queue::Scheduler> BuildQueueView();
  net::Response WhoAmI(net::Request& req, Who who);
  net::Response CreateToken(net::Request& req, Who who);
  net::Response ListTokens(net::Request& req, Who who);
  net::Response RevokeToken(net::Request& req, Who who);
  net::Response Healthz(net::Request& req);
  net::Response Readyz(net::Request& req);
  net::Response AuthConfig(net::Request& req);
  net::Response OpenApi(net::Request& req);  // api_openapi.cpp

  /// Parses and validates a definition body. A secret env entry without value or reference
  /// ({secret: true}, as GET answers) takes the stored definition's value.
  [[nodiscard]] Result<Definition> ParseDefinitionBody(const net::Request& req);
  /// Owner and group of a definition being created or changed by `who` (`existing`: the stored
  /// one, if any), checked against the policy.
  [[nodiscard]] Status AssignOwnership(Who who, Definition& def, const Definition* existing);
  /// The engine a definition's attempts run on (its name), or a 422 saying what is missing.
  /// The engine kind a spec asks for: local, kubernetes, spark or emr-on-eks.
  std::string WantedEngine(const Definition& spec) const;
  Result<std::string> EngineFor(const Definition& spec) const;
  /// The run as JSON, with live components of running attempts and the Spark UI link.
  boost::json::value RunJson(const tug::Run& run) const;
  /// The answer to a repeated idempotency key: the run it names (200) when `request_hash` is
  /// the first request's, else 409.
  net::Response IdempotentReply(Who who, const store::IdempotencyRecord& record,
                                const std::string& request_hash);
  std::string ServerUrl() const;

  ApiOptions options_;
  EventHub hub_;
  Submitter submitter_;
  store::Store& store_;
  logs::LogStore& logs_;
  control::Controller& controller_;
  std::vector<engine::Engine*> engines_;
  metrics::Registry& registry_;
  const Clock& clock_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& request_seconds_;
  metrics::Family<metrics::Counter>& runs_submitted_;
  // Series per (route, code), so a request costs one shared lock instead of label building.
  struct RouteSeries {
    metrics::Counter* requests;
    metrics::Histogram* seconds;
  };
  // The team queues as GET /api/v1/queues and a waiting run's place show them (queue_view.h).
  QueueView queue_view_;
  mutable std::mutex server_url_mu_;
  std::string server_url_;  // guarded by server_url_mu_
  std::shared_mutex series_mu_;
  std::unordered_map<std::string, RouteSeries> series_;  // guarded by series_mu_
};

}  // namespace tug::server
