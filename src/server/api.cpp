#include "server/api.h"

#include <cctype>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/yaml.h"
#include "server/api_internal.h"

namespace json = boost::json;

namespace tug::server {

using api_internal::Err;
using api_internal::Json;
using api_internal::ParseIntParam;
using api_internal::Revalidated;

namespace {

// A time query parameter: RFC 3339 in UTC; 0 when absent.
Result<Micros> ParseTimeParam(const net::Request& req, const std::string& key) {
  std::string raw = req.Query(key);
  if (raw.empty()) return Micros{0};
  auto t = ParseTimestamp(raw);
  if (!t.ok() || *t <= 0) {
    return InvalidArgument(fmt::format(
        "query parameter {}='{}' must be a time in RFC 3339 UTC, e.g. 2026-11-24T10:00:00Z", key,
        raw));
  }
  return *t;
}

// What a refused change asked for ("POST /api/v1/runs"), for its audit line.
std::string AuditAction(const net::Request& req) {
  return fmt::format("{} {}", req.method, req.path);
}

std::string ErrorMessageOf(const net::Response& resp) {
  auto v = ParseJson(resp.body);
  if (v.ok() && v->is_object()) {
    if (const json::value* e = v->as_object().if_contains("error"); e && e->is_object()) {
      if (const json::value* m = e->as_object().if_contains("message"); m && m->is_string()) {
        return std::string(m->as_string());
      }
    }
  }
  return fmt::format("HTTP {}", resp.status);
}

}  // namespace

Api::Api(ApiOptions options, store::Store& store, logs::LogStore& logs,
         control::Controller& controller, std::vector<engine::Engine*> engines,
         metrics::Registry& registry, const Clock& clock)
    : options_(options),
      hub_(store, clock, options.events),
      submitter_(store,
                 [this](size_t n) {
                   controller_.Wake();
                   hub_.Poke();
                   runs_submitted_.With({}).Inc(static_cast<double>(n));
                 }),
      store_(store),
      logs_(logs),
      controller_(controller),
      engines_(std::move(engines)),
      registry_(registry),
      clock_(clock),
      requests_(registry.AddCounter("tug_http_requests_total", "HTTP requests by route and code")),
      request_seconds_(
          registry.AddHistogram("tug_http_request_seconds", "HTTP request latency by route",
                                {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})),
      runs_submitted_(registry.AddCounter("tug_runs_submitted_total", "Runs submitted")),
      queue_view_([this] { return BuildQueueView(); }) {
  submitter_.Start();
  if (auto st = hub_.Start(); !st.ok()) {
    log::Error("event hub did not start", {{"error", st.error().ToString()}});
  }
  registry.AddCollector([this](std::string& out) {
    out += "# HELP tug_runs Runs in the store by status\n# TYPE tug_runs gauge\n";
    if (auto counts = store_.CountRunsByStatus(); counts.ok()) {
      for (auto s :
           {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kRetrying, RunStatus::kSucceeded,
            RunStatus::kFailed, RunStatus::kStopped, RunStatus::kLost}) {
        int64_t n = 0;
        for (const auto& c : *counts) {
          if (c.status == s) n = c.count;
        }
        metrics::AppendSample(out, "tug_runs", {{"status", std::string(ToString(s))}},
                              static_cast<double>(n));
      }
    }
    out += "# HELP tug_queue_depth Attempts due and waiting for launch\n";
    out += "# TYPE tug_queue_depth gauge\n";
    if (auto depth = store_.QueueDepth(clock_.Now()); depth.ok()) {
      metrics::AppendSample(out, "tug_queue_depth", {}, static_cast<double>(*depth));
    }
    out += "# HELP tug_engine_degraded 1 when the engine runs degraded (see /readyz)\n";
    out += "# TYPE tug_engine_degraded gauge\n";
    for (engine::Engine* e : engines_) {
      engine::Health h = e->GetHealth();
      metrics::AppendSample(out, "tug_engine_degraded", {{"engine", e->Name()}},
                            h.degraded ? 1 : 0);
    }
    std::set<std::string> typed;
    for (engine::Engine* e : engines_) {
      for (const auto& [metric, value] : e->Counters()) {
        if (typed.insert(metric).second) out += "# TYPE " + metric + " counter\n";
        metrics::AppendSample(out, metric, {{"engine", e->Name()}}, value);
      }
    }
  });
}

void Api::Register(net::Router& router) {
  // Every route but health, readiness, the sign-in settings and the OpenAPI document
  // authenticates first; the
  // handler then asks the policy (Check) about what it touches.
  // Changes refused for want of credentials or rights are audited here, once for every route;
  // the handlers audit what they did.
  auto authed = [this](net::Response (Api::*fn)(net::Request&, Who)) {
    return [this, fn](net::Request& req) {
      const bool change = req.method != "GET" && req.method != "HEAD";
      auto who = Identify(req);
      if (!who.ok()) {
        if (change) {
          auth::Identity anonymous;
          anonymous.via = "anonymous";
          Audit(anonymous, req,
                {"request", AuditAction(req), "unauthenticated", who.error().message(), ""});
        }
        return Err(who.error());
      }
      net::Response resp = (this->*fn)(req, *who);
      if (change && resp.status == 403) {
        Audit(*who, req, {"request", AuditAction(req), "denied", ErrorMessageOf(resp), ""});
      }
      return resp;
    };
  };
  auto open = [this](net::Response (Api::*fn)(net::Request&)) {
    return [this, fn](net::Request& req) { return (this->*fn)(req); };
  };
  router.Add("POST", "/api/v1/definitions", authed(&Api::CreateDefinition));
  router.Add("GET", "/api/v1/definitions", authed(&Api::ListDefinitions));
  router.Add("GET", "/api/v1/definitions/{name}", authed(&Api::GetDefinition));
  router.Add("PUT", "/api/v1/definitions/{name}", authed(&Api::PutDefinition));
  router.Add("DELETE", "/api/v1/definitions/{name}", authed(&Api::DeleteDefinition));
  router.Add("POST", "/api/v1/runs", authed(&Api::CreateRun));
  router.Add("GET", "/api/v1/runs", authed(&Api::ListRuns));
  router.Add("GET", "/api/v1/runs/{id}", authed(&Api::GetRun));
  router.Add("POST", "/api/v1/runs/{id}/stop", authed(&Api::StopRun));
  router.Add("GET", "/api/v1/runs/{id}/logs", authed(&Api::RunLogs));
  router.Add("GET", "/api/v1/runs/{id}/events", authed(&Api::RunEvents));
  router.Add("GET", "/api/v1/events/stream", authed(&Api::EventsStream));
  router.Add("GET", "/api/v1/runs/{id}/usage", authed(&Api::RunUsage));
  router.Add("GET", "/api/v1/whoami", authed(&Api::WhoAmI));
  router.Add("GET", "/api/v1/queues", authed(&Api::ListQueues));
  router.Add("POST", "/api/v1/tokens", authed(&Api::CreateToken));
  router.Add("GET", "/api/v1/tokens", authed(&Api::ListTokens));
  router.Add("DELETE", "/api/v1/tokens/{id}", authed(&Api::RevokeToken));
  router.Add("GET", "/api/v1/auth/config", open(&Api::AuthConfig));
  // The API's description, not data: open like the sign-in settings (docs/api.md).
  router.Add("GET", "/api/v1/openapi.json", open(&Api::OpenApi));
  router.Add("GET", "/healthz", open(&Api::Healthz));
  router.Add("GET", "/readyz", open(&Api::Readyz));
  router.Add("GET", "/metrics", authed(&Api::Metrics));
}

void Api::Observe(const std::string& route, int status, double seconds) {
  std::string key = route;
  key += '\n';
  key += std::to_string(status);
  RouteSeries series{nullptr, nullptr};
  {
    std::shared_lock lock(series_mu_);
    if (auto it = series_.find(key); it != series_.end()) series = it->second;
  }
  if (series.requests == nullptr) {
    const std::string r = route.empty() ? std::string("unmatched") : route;
    series.requests = &requests_.With({{"route", r}, {"code", std::to_string(status)}});
    series.seconds = &request_seconds_.With({{"route", r}});
    std::unique_lock lock(series_mu_);
    series_.emplace(std::move(key), series);
  }
  series.requests->Inc();
  series.seconds->Observe(seconds);
}

net::Response Api::ListRuns(net::Request& req, Who who) {
  store::RunFilter filter;
  filter.visible = VisibleTo(who);
  if (std::string s = req.Query("status"); !s.empty()) {
    auto status = ParseRunStatus(s);
    if (!status.ok()) return Err(status.error());
    filter.status = *status;
  }
  filter.definition = req.Query("definition");
  filter.owner = req.Query("owner");
  filter.parent = req.Query("parent");
  filter.cursor = req.Query("cursor");
  if (std::string sort = req.Query("sort", "newest"); sort == "cost") {
    filter.sort = store::RunFilter::Sort::kCost;
  } else if (sort != "newest") {
    return Err(InvalidArgument(
        fmt::format("sort '{}' is not known; use newest (the default) or cost", sort)));
  }
  auto after = ParseTimeParam(req, "created_after");
  if (!after.ok()) return Err(after.error());
  auto before = ParseTimeParam(req, "created_before");
  if (!before.ok()) return Err(before.error());
  if (*after > 0 && *before > 0 && *after >= *before) {
    return Err(
        InvalidArgument(fmt::format("created_after ({}) must be earlier than created_before ({})",
                                    req.Query("created_after"), req.Query("created_before"))));
  }
  filter.created_after = *after;
  filter.created_before = *before;
  auto limit = ParseIntParam(req, "limit", 50, 1, 500);
  if (!limit.ok()) return Err(limit.error());
  filter.limit = *limit;
  auto page = store_.ListRuns(filter);
  if (!page.ok()) return Err(page.error());
  json::array runs;
  for (const auto& r : page->runs) {
    json::object summary = ToJsonSummary(r);
    AddSummaryCost(summary, r, options_.cost);
    runs.push_back(std::move(summary));
  }
  json::object out{{"runs", std::move(runs)}};
  out["next_cursor"] =
      page->next_cursor.empty() ? json::value(nullptr) : json::value(page->next_cursor);
  return Revalidated(req, out);
}

json::value Api::RunJson(const tug::Run& run) const {
  json::value v = ToJson(run);
  json::object& o = v.as_object();
  AddRunCost(o, run, options_.cost, clock_.Now());
  if (run.spec.kind == "spark") {
    // The proxy serves the live UI, then redirects to the history server.
    o["spark_ui"] = "/runs/" + run.id + "/spark-ui/";
  }
  json::value* attempts = o.if_contains("attempts");
  if (attempts == nullptr || !attempts->is_array()) return v;
  for (size_t i = 0; i < run.attempts.size() && i < attempts->as_array().size(); ++i) {
    const Attempt& a = run.attempts[i];
    // The components with a log (tabs in the UI): main, or controller, driver, executor-N.
    json::array logs;
    if (auto names = logs_.Components(run.id, a.id); names.ok()) {
      for (const auto& n : *names) logs.emplace_back(n);
    }
    attempts->as_array()[i].as_object()["logs"] = std::move(logs);
    if (IsTerminal(a.status) || !a.components.empty()) continue;
    for (engine::Engine* e : engines_) {
      if (e->Name() != a.engine) continue;
      std::vector<ComponentStatus> live = e->Components(a.id);
      if (live.empty()) break;
      json::array comps;
      for (const auto& c : live) comps.push_back(ToJson(c));
      attempts->as_array()[i].as_object()["components"] = std::move(comps);
      break;
    }
  }
  return v;
}

net::Response Api::GetRun(net::Request& req, Who who) {
  auto run = ReadableRun(who, req.params["id"]);
  if (!run.ok()) return Err(run.error());
  json::value v = RunJson(*run);
  if (int64_t position = QueuePosition(*run); position > 0) {
    v.as_object()["queue_position"] = position;
  }
  return Revalidated(req, v);
}

Status Api::StopRunFor(Who who, const net::Request& req, const std::string& id) {
  ASSIGN_OR_RETURN(tug::Run before, store_.GetRun(id));
  RETURN_IF_ERROR(
      Check(who, auth::Action::kStopRun,
            auth::Resource{"run", id, before.owner, before.group, "", auth::Role::kViewer, {}}));
  RETURN_IF_ERROR(controller_.StopRun(id, who.user));
  hub_.Poke();
  Audit(who, req,
        {"stop_run", "run/" + id, "ok",
         fmt::format("definition '{}', owner '{}', group '{}', was {}", before.definition,
                     before.owner, before.group, ToString(before.status)),
         ""});
  return OkStatus();
}

net::Response Api::StopRun(net::Request& req, Who who) {
  const std::string& id = req.params["id"];
  const std::string cascade_raw = req.Query("cascade");
  if (!cascade_raw.empty() && cascade_raw != "true" && cascade_raw != "false" &&
      cascade_raw != "1" && cascade_raw != "0") {
    return Err(InvalidArgument(fmt::format(
        "cascade '{}' is not a boolean; use cascade=true to stop the run's descendants too",
        cascade_raw)));
  }
  const bool cascade = cascade_raw == "true" || cascade_raw == "1";
  if (auto st = StopRunFor(who, req, id); !st.ok()) {
    // With cascade, a parent that already ended still has its descendants stopped.
    if (!cascade || st.error().code() != Code::kFailedPrecondition) return Err(st.error());
    auto readable = ReadableRun(who, id);
    if (!readable.ok()) return Err(readable.error());
  }
  json::object cascaded;
  if (cascade) {
    int skipped = 0;
    auto stopped = StopDescendants(who, req, id, &skipped);
    if (!stopped.ok()) return Err(stopped.error());
    json::array ids;
    for (const auto& s : *stopped) ids.emplace_back(s);
    cascaded = json::object{{"stopped", std::move(ids)}, {"skipped", skipped}};
  }
  auto run = store_.GetRun(id);
  if (!run.ok()) return Err(run.error());
  json::value out = ToJson(*run);
  if (cascade) out.as_object()["cascade"] = std::move(cascaded);
  return Json(202, out);
}

net::Response Api::Healthz(net::Request&) { return Json(200, json::object{{"status", "ok"}}); }

net::Response Api::Readyz(net::Request&) {
  json::object out;
  bool ready = true;
  if (auto depth = store_.QueueDepth(clock_.Now()); depth.ok()) {
    out["store"] = "ok";
  } else {
    ready = false;
    out["store"] = depth.error().message();
  }
  bool degraded = false;
  json::array engines;
  for (engine::Engine* e : engines_) {
    engine::Health h = e->GetHealth();
    json::object o{
        {"name", e->Name()}, {"ready", h.ready}, {"degraded", h.degraded}, {"message", h.message}};
    if (e == engines_.front()) out["engine"] = o;  // the default engine
    engines.emplace_back(std::move(o));
    ready = ready && h.ready;
    degraded = degraded || h.degraded;
  }
  out["engines"] = std::move(engines);
  out["status"] = !ready ? "unavailable" : (degraded ? "degraded" : "ready");
  return Json(ready ? 200 : 503, out);
}

net::Response Api::Metrics(net::Request&, Who who) {
  if (auto st = Check(who, auth::Action::kReadMetrics,
                      auth::Resource{"metrics", "", "", "", "", auth::Role::kViewer, {}});
      !st.ok()) {
    return Err(st.error());
  }
  net::Response resp;
  resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  resp.body = registry_.Render();
  return resp;
}

}  // namespace tug::server
