#pragma once
#include <vector>
/// API v1: definitions, runs, logs, events, health and metrics, as HTTP handlers on a Router.
/// Every error is {"error":{"code","message"}} with a message that says what to fix; nothing is
/// written before the whole request has been validated.
///
/// Threading: handlers run on the HTTP server's threads and only call thread-safe collaborators.
#include <functional>

#include <boost/json/value.hpp>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "control/controller.h"
#include "control/planning.h"
#include "core/clock.h"
#include "core/model.h"
#include "engine/engine.h"
#include "logs/log_store.h"
#include "metrics/registry.h"
#include "net/http.h"
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
  /// Kubernetes clusters in config order; a kubernetes definition without a cluster gets the
  /// first. Their engines are named "kubernetes:<cluster>".
  std::vector<std::string> clusters;
  /// Dry runs (POST /api/v1/runs?dry_run=true): what the first attempt would run as on the
  /// named engine (argv, pods, Spark confs), built without launching or reaching a cluster.
  /// `engine` is the resolved name, or "spark:" / "kubernetes:" when no cluster is configured
  /// (defaults fill in). Unset: dry runs show the launch spec only.
  std::function<Result<boost::json::value>(const engine::LaunchSpec&, const std::string& engine)>
      preview;
  /// How long a follow=true log stream stays open at most.
  Micros max_follow = Micros{24} * 3600 * kMicrosPerSecond;
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
  void Stop() { submitter_.Stop(); }
  /// For the server's completion hook: counts requests by route and code.
  void Observe(const std::string& route, int status, double seconds);

 private:
  net::Response CreateDefinition(net::Request& req);
  net::Response PutDefinition(net::Request& req);
  net::Response ListDefinitions(net::Request& req);
  net::Response GetDefinition(net::Request& req);
  net::Response DeleteDefinition(net::Request& req);
  net::Response CreateRun(net::Request& req);
  net::Response ListRuns(net::Request& req);
  net::Response GetRun(net::Request& req);
  net::Response StopRun(net::Request& req);
  net::Response RunLogs(net::Request& req);
  net::Response RunEvents(net::Request& req);
  net::Response RunUsage(net::Request& req);
  net::Response Healthz(net::Request& req);
  net::Response Readyz(net::Request& req);
  net::Response Metrics(net::Request& req);

  Result<Definition> ParseDefinitionBody(const net::Request& req);
  /// The engine a definition's attempts run on (its name), or a 422 saying what is missing.
  Result<std::string> EngineFor(const Definition& spec) const;
  /// The run as JSON, with live components of running attempts and the Spark UI link.
  boost::json::value RunJson(const tug::Run& run) const;

  ApiOptions options_;
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
  std::shared_mutex series_mu_;
  std::unordered_map<std::string, RouteSeries> series_;  // guarded by series_mu_
};

}  // namespace tug::server
