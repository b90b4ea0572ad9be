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
using api_internal::ParseBody;
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

// Who submitted a run, or its group: a short printable name ("" when not given).
Status ValidateOwner(const std::string& name, std::string_view field) {
  if (name.size() > 64) {
    return InvalidArgument(fmt::format("{} is {} characters long; use at most 64 (a {} name)",
                                       field, name.size(), field == "owner" ? "user" : "group"));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument(
          fmt::format("{} contains control characters; use a plain name", field));
    }
  }
  return OkStatus();
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

// What each engine can do with secret env values (core/model.h SecretEnv): the local engine
// passes inline values to the job and cannot read Kubernetes Secrets; the kubernetes and spark
// engines only reference Secrets. Refused at submission, so nothing is stored that cannot run.
Status CheckSecretsFit(const Definition& spec, const std::string& engine) {
  const bool local = engine == "local";
  for (const auto& [name, secret] : spec.secret_env) {
    if (local && secret.from_secret()) {
      return FailedPrecondition(fmt::format(
          "env '{}' of definition '{}' comes from the Kubernetes Secret '{}', which the local "
          "engine cannot read; give it an inline value ({{secret: true, value: ...}}) or run it "
          "on kubernetes (engine: kubernetes)",
          name, spec.name, secret.secret_name));
    }
    if (!local && !secret.from_secret()) {
      return FailedPrecondition(fmt::format(
          "env '{}' of definition '{}' has an inline secret value, which engine '{}' does not "
          "copy into pods; store it in a Kubernetes Secret (kubectl create secret generic NAME "
          "--from-literal=KEY=...) and reference it: {{valueFrom: {{secretKeyRef: {{name: NAME, "
          "key: KEY}}}}}}",
          name, spec.name, engine.back() == ':' ? engine.substr(0, engine.size() - 1) : engine));
    }
  }
  return OkStatus();
}

}  // namespace

Api::Api(ApiOptions options, store::Store& store, logs::LogStore& logs,
         control::Controller& controller, std::vector<engine::Engine*> engines,
         metrics::Registry& registry, const Clock& clock)
    : options_(options),
      submitter_(store,
                 [this](size_t n) {
                   controller_.Wake();
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
      runs_submitted_(registry.AddCounter("tug_runs_submitted_total", "Runs submitted")) {
  submitter_.Start();
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
  // Every route but health, readiness and the sign-in settings authenticates first; the
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
  router.Add("GET", "/api/v1/runs/{id}/usage", authed(&Api::RunUsage));
  router.Add("GET", "/api/v1/whoami", authed(&Api::WhoAmI));
  router.Add("POST", "/api/v1/tokens", authed(&Api::CreateToken));
  router.Add("GET", "/api/v1/tokens", authed(&Api::ListTokens));
  router.Add("DELETE", "/api/v1/tokens/{id}", authed(&Api::RevokeToken));
  router.Add("GET", "/api/v1/auth/config", open(&Api::AuthConfig));
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

net::Response Api::CreateRun(net::Request& req, Who who) {
  if (req.body.empty()) {
    return Err(InvalidArgument(
        R"(request body is empty; send e.g. {"definition":"hello","env":{"K":"v"}})"));
  }
  auto body = ParseBody(req);
  if (!body.ok()) return Err(body.error());
  if (!body->is_object()) {
    return Err(
        InvalidArgument(R"(request body must be a JSON object, e.g. {"definition":"hello"})"));
  }
  json::object fields = body->as_object();
  for (const auto& kv : fields) {
    std::string_view k = kv.key();
    if (k != "definition" && k != "owner" && k != "group" && k != "env" && k != "resources" &&
        k != "timeout" && k != "engine") {
      return Err(InvalidArgument(
          fmt::format("run: unknown field '{}'; known fields are definition, owner, group, env, "
                      "resources, timeout, engine",
                      k)));
    }
  }
  const json::value* def_name = fields.if_contains("definition");
  if (def_name == nullptr || !def_name->is_string() || def_name->as_string().empty()) {
    return Err(
        InvalidArgument("field 'definition' is required: the name of a definition, e.g. "
                        "{\"definition\":\"hello\"}"));
  }
  std::string name(def_name->as_string());
  fields.erase("definition");
  std::string owner;
  std::string group;
  for (auto [field, out] : {std::pair<const char*, std::string*>{"owner", &owner},
                            std::pair<const char*, std::string*>{"group", &group}}) {
    const json::value* v = fields.if_contains(field);
    if (v == nullptr) continue;
    if (!v->is_string()) {
      return Err(InvalidArgument(
          fmt::format(R"(field '{}' must be a string, e.g. {{"{}":"ada"}})", field, field)));
    }
    *out = std::string(v->as_string());
    if (auto st = ValidateOwner(*out, field); !st.ok()) return Err(st.error());
    fields.erase(field);
  }
  auto overrides = OverridesFromJson(fields);
  if (!overrides.ok()) return Err(overrides.error());
  auto def = store_.GetDefinition(name);
  if (!def.ok()) {
    if (def.error().code() == Code::kNotFound) {
      return Err(NotFound(fmt::format(
          "definition '{}' not found; create it with `tug apply -f FILE` or list them with "
          "`tug get definitions`",
          name)));
    }
    return Err(def.error());
  }
  // Who owns the run: with authentication, the caller (only admins submit for someone else);
  // without, whoever the request names. Its group: the one asked for, else the definition's
  // when the caller is in it, else the caller's first.
  if (who.authenticated()) {
    if (!owner.empty() && owner != who.user && who.role != auth::Role::kAdmin) {
      return Err(Error(Code::kPermissionDenied,
                       fmt::format("you are signed in as '{}' and may not submit runs as '{}'; "
                                   "leave owner out (only admins submit for someone else)",
                                   who.user, owner)));
    }
    if (owner.empty()) owner = who.user;
    if (group.empty()) group = who.InGroup(def->group) ? def->group : who.PrimaryGroup();
  } else if (group.empty()) {
    group = def->group;
  }
  if (auto st = Check(
          who, auth::Action::kSubmitRun,
          auth::Resource{
              "definition", def->name, def->owner, def->group, group, auth::Role::kViewer, {}});
      !st.ok()) {
    return Err(st.error());
  }
  Definition spec = ApplyOverrides(*def, *overrides);
  spec.owner.clear();  // the definition's, not the run's; not part of the spec
  spec.group.clear();
  if (auto st = Validate(spec, options_.limits); !st.ok()) return Err(st.error());
  const bool dry_run = req.Query("dry_run") == "true" || req.Query("dry_run") == "1";
  auto engine_name = EngineFor(spec);
  if (!engine_name.ok()) {
    // A dry run needs no cluster or EMR section: the engine's defaults (placeholders for EMR)
    // fill in what no config gives.
    const std::string want = WantedEngine(spec);
    if (dry_run && want == "emr-on-eks" && !options_.emr_configured) {
      engine_name = std::string("emr-on-eks:");
    } else {
      const bool kube = want == "spark" || want == "kubernetes";
      if (!dry_run || !kube || !options_.clusters.empty()) return Err(engine_name.error());
      engine_name = want == "spark" ? std::string("spark:") : std::string("kubernetes:");
    }
  }
  if (auto st = CheckSecretsFit(spec, *engine_name); !st.ok()) return Err(st.error());

  Micros now = clock_.Now();
  adapt::Decision plan =
      options_.climate != nullptr && options_.history != nullptr
          ? control::PlanFirstAttempt(*options_.history, *options_.climate, options_.platform,
                                      def->name, spec, *overrides, now)
          : adapt::PlanFirst(spec, *overrides, {}, {}, options_.platform, now);
  tug::Run run;
  run.id = NewId(clock_);
  run.owner = owner;
  run.group = group;
  run.definition = def->name;
  run.definition_version = def->version;
  run.status = RunStatus::kQueued;
  run.spec = spec;
  run.overrides = *overrides;
  run.created_at = now;
  run.updated_at = now;
  run.plan = json::serialize(adapt::ToJson(plan));
  Attempt first;
  first.id = AttemptId(run.id, 1);
  first.run_id = run.id;
  first.number = 1;
  first.status = AttemptStatus::kQueued;
  first.resources = plan.resources;
  first.placement = plan.placement;
  first.engine = *engine_name;
  first.created_at = now;
  first.due_at = now;
  if (dry_run) {
    // Everything a launch would do, nothing stored and nothing started.
    engine::LaunchSpec launch = control::LaunchSpecFor(run, first);
    const bool defaults = engine_name->back() == ':';
    json::object out{
        {"dry_run", true},
        {"engine", defaults ? engine_name->substr(0, engine_name->size() - 1) : *engine_name},
        {"plan", adapt::ToJson(plan)},
        {"resources", ToJson(first.resources)},
        {"placement", json::object{{"capacity", first.placement.capacity},
                                   {"executor_capacity", first.placement.executor_capacity}}}};
    if (defaults && *engine_name == "emr-on-eks:") {
      out["note"] =
          "no emr section is configured: the virtual cluster, execution role, release label and "
          "log location are placeholders";
    } else if (defaults) {
      out["note"] =
          "no Kubernetes cluster is configured: namespace, capacity label and images are the "
          "defaults";
    }
    if (options_.preview) {
      auto preview = options_.preview(launch, *engine_name);
      if (!preview.ok()) return Err(preview.error());
      out["launch"] = std::move(*preview);
    } else {
      json::array argv;
      for (const auto& a : launch.argv) argv.emplace_back(a);
      out["launch"] = json::object{{"argv", std::move(argv)}};
    }
    return Json(200, std::move(out));
  }
  if (spec.kind == "spark" && options_.preview) {
    // What the engine would refuse at launch (no image for the version, ...) is refused now.
    if (auto p = options_.preview(control::LaunchSpecFor(run, first), *engine_name); !p.ok()) {
      return Err(p.error());
    }
  }
  tug::Run reply_run = run;
  reply_run.attempts.push_back(first);
  net::Response resp;
  resp.deferred = std::make_shared<net::Deferred>();
  // Audited once the store has answered: the line says whether the run exists.
  auto audit = [this, who_copy = who, remote = req.remote, run_id = run.id,
                detail = fmt::format("definition '{}' version {}, owner '{}', group '{}'",
                                     def->name, def->version, owner, group)](const Status& st) {
    if (options_.audit == nullptr) return;
    options_.audit->Record(who_copy,
                           {"submit_run", "run/" + run_id, st.ok() ? "ok" : "failed",
                            st.ok() ? detail : detail + ": " + st.error().message(), remote});
  };
  if (!submitter_.Submit(store::NewRun{std::move(run), std::move(first)}, resp.deferred,
                         json::serialize(ToJson(reply_run)), std::move(audit))) {
    return Err(Unavailable("too many submissions are waiting to be stored; retry in a moment"));
  }
  return resp;
}

net::Response Api::ListRuns(net::Request& req, Who who) {
  store::RunFilter filter;
  const auth::ListScope scope = auth::VisibleScope(who, options_.policy);
  filter.visible = {scope.all, scope.groups, scope.owner};
  if (std::string s = req.Query("status"); !s.empty()) {
    auto status = ParseRunStatus(s);
    if (!status.ok()) return Err(status.error());
    filter.status = *status;
  }
  filter.definition = req.Query("definition");
  filter.owner = req.Query("owner");
  filter.cursor = req.Query("cursor");
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
  for (const auto& r : page->runs) runs.push_back(ToJsonSummary(r));
  json::object out{{"runs", std::move(runs)}};
  out["next_cursor"] =
      page->next_cursor.empty() ? json::value(nullptr) : json::value(page->next_cursor);
  return Revalidated(req, out);
}

json::value Api::RunJson(const tug::Run& run) const {
  json::value v = ToJson(run);
  json::object& o = v.as_object();
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
  return Revalidated(req, RunJson(*run));
}

net::Response Api::StopRun(net::Request& req, Who who) {
  const std::string& id = req.params["id"];
  auto before = store_.GetRun(id);
  if (!before.ok()) return Err(before.error());
  if (auto st = Check(
          who, auth::Action::kStopRun,
          auth::Resource{"run", id, before->owner, before->group, "", auth::Role::kViewer, {}});
      !st.ok()) {
    return Err(st.error());
  }
  if (auto st = controller_.StopRun(id, who.user); !st.ok()) return Err(st.error());
  Audit(who, req,
        {"stop_run", "run/" + id, "ok",
         fmt::format("definition '{}', owner '{}', group '{}', was {}", before->definition,
                     before->owner, before->group, ToString(before->status)),
         ""});
  auto run = store_.GetRun(id);
  if (!run.ok()) return Err(run.error());
  return Json(202, ToJson(*run));
}

net::Response Api::Healthz(net::Request&) { return Json(200, json::object{{"status", "ok"}}); }

std::string Api::WantedEngine(const Definition& spec) const {
  // Spark definitions name spark or emr-on-eks, or take spark.engine; the server's default
  // engine is for containers.
  if (spec.kind == "spark") return spec.engine.empty() ? options_.spark_engine : spec.engine;
  return spec.engine.empty() ? options_.default_engine : spec.engine;
}

Result<std::string> Api::EngineFor(const Definition& spec) const {
  const std::string want = WantedEngine(spec);
  if (want == "emr-on-eks" && !options_.emr_configured) {
    return FailedPrecondition(fmt::format(
        "definition '{}' runs on engine emr-on-eks, but this server has no emr section "
        "configured; add one (virtual cluster, execution role, release labels, log bucket: see "
        "docs/emr.md); a dry run works without one (`tug run --dry-run`, dry_run=true)",
        spec.name));
  }
  std::string name = want;
  if (want == "kubernetes" || want == "spark") {
    std::string cluster = spec.cluster;
    if (cluster.empty() && !options_.clusters.empty()) cluster = options_.clusters.front();
    if (cluster.empty()) {
      return FailedPrecondition(fmt::format(
          "definition '{}' runs on engine {}, but this server has no Kubernetes cluster "
          "configured; add one under clusters: (see docs/configuration.md); a dry run works "
          "without one (`tug run --dry-run`, dry_run=true)",
          spec.name, want));
    }
    name = want + ":" + cluster;
  }
  for (engine::Engine* e : engines_) {
    if (e->Name() == name) return name;
  }
  std::string have;
  for (engine::Engine* e : engines_) have += (have.empty() ? "" : ", ") + e->Name();
  return FailedPrecondition(fmt::format(
      "definition '{}' runs on engine '{}', which this server does not have (it has: {})",
      spec.name, name, have));
}

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
