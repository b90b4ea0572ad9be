// API v1: submitting runs — the body of POST /api/v1/runs, and what every front end shares:
// who owns the run, the policy check, the engine, the first attempt's plan, and the batched write
// (PrepareRun, SubmitRun; the Flotilla v6 API uses them too).
#include <algorithm>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/ids.h"
#include "core/json.h"
#include "queue/queue.h"
#include "server/api.h"
#include "server/api_internal.h"
#include "templates/parameters.h"

namespace json = boost::json;

namespace tug::server {

using api_internal::Err;
using api_internal::Json;
using api_internal::ParseBody;

namespace {

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

// A run's parameters: checked against the definition's schema with the defaults filled in (kept
// on the run as overrides.parameters), and the command rendered from them (src/templates).
Status ApplyParameters(Definition& spec, RunOverrides& overrides) {
  json::object given;
  if (!overrides.parameters.empty()) {
    ASSIGN_OR_RETURN(json::value v, ParseJson(overrides.parameters));
    if (v.is_object()) given = std::move(v.as_object());
  }
  ASSIGN_OR_RETURN(json::object values, templates::Resolve(spec, given));
  overrides.parameters = values.empty() ? std::string() : json::serialize(values);
  spec = templates::Render(spec, values);
  return OkStatus();
}

}  // namespace

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

Result<std::string> Api::QueueFor(const Definition& spec, const std::string& group) const {
  const auto& queues = options_.queues;
  auto known = [&](const std::string& name) {
    return name == queue::kDefaultQueue ||
           std::any_of(queues.begin(), queues.end(),
                       [&](const queue::QueueSpec& q) { return q.name == name; });
  };
  if (!spec.queue.empty()) {
    if (queues.empty() || known(spec.queue)) return spec.queue;
    std::string names;
    for (const queue::QueueSpec& q : queues) {
      if (q.name != queue::kDefaultQueue) names += q.name + ", ";
    }
    names += queue::kDefaultQueue;
    return InvalidArgument(fmt::format(
        "definition '{}' names queue '{}', which this server does not have; use one of: {}",
        spec.name, spec.queue, names));
  }
  if (!group.empty() && known(group)) return group;
  return std::string(queue::kDefaultQueue);
}

Result<PreparedRun> Api::PrepareRun(Who who, RunRequest request) {
  RETURN_IF_ERROR(ValidateOwner(request.owner, "owner"));
  RETURN_IF_ERROR(ValidateOwner(request.group, "group"));
  if (!request.parent_run_id.empty()) {
    // Lineage: the parent must be a run the caller can read; one it cannot see is answered as
    // one that does not exist, so ids of others' runs are not confirmed.
    auto parent = request.parent_run_id.size() <= 64 ? ReadableRun(who, request.parent_run_id)
                                                     : Result<tug::Run>(NotFound("too long"));
    if (!parent.ok()) {
      const Code code = parent.error().code();
      if (code != Code::kNotFound && code != Code::kPermissionDenied) return parent.error();
      return FailedPrecondition(fmt::format(
          "parent_run_id '{}' is not a run you can see; check the id with `tug get runs` (a "
          "job's own id is in $TUG_RUN_ID)",
          request.parent_run_id.substr(0, 64)));
    }
  }
  auto def = store_.GetDefinition(request.definition);
  if (!def.ok()) {
    if (def.error().code() == Code::kNotFound) {
      return NotFound(fmt::format(
          "definition '{}' not found; create it with `tug apply -f FILE` or list them with "
          "`tug get definitions`",
          request.definition));
    }
    return def.error();
  }
  std::string owner = std::move(request.owner);
  std::string group = std::move(request.group);
  // Who owns the run: with authentication, the caller (only admins submit for someone else);
  // without, whoever the request names. Its group: the one asked for, else the definition's
  // when the caller is in it, else the caller's first.
  if (who.authenticated()) {
    if (!owner.empty() && owner != who.user && who.role != auth::Role::kAdmin) {
      return Error(Code::kPermissionDenied,
                   fmt::format("you are signed in as '{}' and may not submit runs as '{}'; "
                               "leave owner out (only admins submit for someone else)",
                               who.user, owner));
    }
    if (owner.empty()) owner = who.user;
    if (group.empty()) group = who.InGroup(def->group) ? def->group : who.PrimaryGroup();
  } else if (group.empty()) {
    group = def->group;
  }
  RETURN_IF_ERROR(
      Check(who, auth::Action::kSubmitRun,
            auth::Resource{
                "definition", def->name, def->owner, def->group, group, auth::Role::kViewer, {}}));
  Definition spec = ApplyOverrides(*def, request.overrides);
  RETURN_IF_ERROR(ApplyParameters(spec, request.overrides));
  spec.owner.clear();  // the definition's, not the run's; not part of the spec
  spec.group.clear();
  if (!request.command.empty()) {
    spec.command = std::move(request.command);
    spec.args.clear();
  }
  if (!request.capacity.empty()) spec.adapt.capacity = std::move(request.capacity);
  for (auto& [k, v] : request.labels) spec.labels[k] = std::move(v);
  for (auto& [k, v] : request.node_selector) spec.kubernetes.node_selector[k] = std::move(v);
  RETURN_IF_ERROR(Validate(spec, options_.limits));
  ASSIGN_OR_RETURN(std::string queue,
                   QueueFor(spec, who.authenticated() ? who.PrimaryGroup() : group));
  auto engine_name = EngineFor(spec);
  if (!engine_name.ok()) {
    // A dry run needs no cluster or EMR section: the engine's defaults (placeholders for EMR)
    // fill in what no config gives.
    const std::string want = WantedEngine(spec);
    if (request.dry_run && want == "emr-on-eks" && !options_.emr_configured) {
      engine_name = std::string("emr-on-eks:");
    } else {
      const bool kube = want == "spark" || want == "kubernetes";
      if (!request.dry_run || !kube || !options_.clusters.empty()) return engine_name.error();
      engine_name = want == "spark" ? std::string("spark:") : std::string("kubernetes:");
    }
  }
  RETURN_IF_ERROR(CheckSecretsFit(spec, *engine_name));
  if (*engine_name == "local" && spec.resources.gpu > 0 &&
      !(options_.host_has_gpu ? options_.host_has_gpu() : HostHasGpu())) {
    return FailedPrecondition(fmt::format(
        "definition '{}' asks for {} GPU(s), but this server's local engine has none (no "
        "/dev/nvidia0, no nvidia-smi); run it on kubernetes (engine: kubernetes) or remove "
        "resources.gpu",
        spec.name, spec.resources.gpu));
  }
  if (engine_name->rfind("emr-on-eks", 0) == 0 && spec.resources.gpu > 0) {
    return FailedPrecondition(fmt::format(
        "definition '{}' asks for {} GPU(s) per executor, but Tugboat does not schedule GPUs on "
        "emr-on-eks (its executors would need a pod template in S3); run it on the spark engine "
        "(engine: spark) or remove resources.gpu",
        spec.name, spec.resources.gpu));
  }

  const Micros now = clock_.Now();
  PreparedRun p;
  p.plan = options_.climate != nullptr && options_.history != nullptr
               ? control::PlanFirstAttempt(*options_.history, *options_.climate, options_.platform,
                                           def->name, spec, request.overrides, now)
               : adapt::PlanFirst(spec, request.overrides, {}, {}, options_.platform, now);
  p.engine = *engine_name;
  tug::Run& run = p.run;
  run.id = NewId(clock_);
  run.owner = owner;
  run.group = group;
  run.definition = def->name;
  run.definition_version = def->version;
  run.status = RunStatus::kQueued;
  run.spec = std::move(spec);
  run.overrides = std::move(request.overrides);
  run.created_at = now;
  run.updated_at = now;
  run.plan = json::serialize(adapt::ToJson(p.plan));
  run.queue = std::move(queue);
  run.priority = run.spec.priority;
  run.parent_run_id = std::move(request.parent_run_id);
  Attempt& first = p.first;
  first.id = AttemptId(run.id, 1);
  first.run_id = run.id;
  first.number = 1;
  first.status = AttemptStatus::kQueued;
  first.resources = p.plan.resources;
  first.placement = p.plan.placement;
  first.engine = p.engine;
  first.created_at = now;
  first.due_at = now;
  if (!request.dry_run && run.spec.kind == "spark" && options_.preview) {
    // What the engine would refuse at launch (no image for the version, ...) is refused now.
    auto preview = options_.preview(control::LaunchSpecFor(run, first, ServerUrl()), p.engine);
    if (!preview.ok()) return preview.error();
  }
  return p;
}

net::Response Api::SubmitRun(Who who, const net::Request& req, PreparedRun prepared,
                             std::string created_body,
                             std::optional<store::IdempotencyKey> idempotency) {
  net::Response resp;
  resp.deferred = std::make_shared<net::Deferred>();
  const tug::Run& run = prepared.run;
  // Audited once the store has answered: the line says whether the run exists.
  auto audit = [this, who_copy = who, remote = req.remote, run_id = run.id,
                detail = fmt::format("definition '{}' version {}, owner '{}', group '{}'",
                                     run.definition, run.definition_version, run.owner,
                                     run.group)](const Status& st) {
    if (options_.audit == nullptr) return;
    options_.audit->Record(who_copy,
                           {"submit_run", "run/" + run_id, st.ok() ? "ok" : "failed",
                            st.ok() ? detail : detail + ": " + st.error().message(), remote});
  };
  std::function<net::Response()> on_key_taken;
  if (idempotency) {
    // Lost the key to a concurrent request (this replica's batch or another's): answer with the
    // run that holds it, or 409 for a different request. Runs on the submitter's thread after
    // the batch committed, so the winner's row is there to read.
    on_key_taken = [this, who_copy = who, owner = run.owner, key = idempotency->key,
                    hash = idempotency->request_hash]() -> net::Response {
      auto found = store_.FindIdempotencyKey(owner, key, clock_.Now());
      if (!found.ok()) return Err(found.error());
      if (!found->has_value()) {
        return Err(Unavailable(fmt::format(
            "idempotency key '{}' expired while this request was stored; send it again", key)));
      }
      return IdempotentReply(who_copy, **found, hash);
    };
  }
  if (!submitter_.Submit(
          store::NewRun{std::move(prepared.run), std::move(prepared.first), std::move(idempotency)},
          resp.deferred, std::move(created_body), std::move(audit), std::move(on_key_taken))) {
    return Err(Unavailable("too many submissions are waiting to be stored; retry in a moment"));
  }
  return resp;
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
        k != "timeout" && k != "engine" && k != "parameters" && k != "parent_run_id" &&
        k != "idempotency_key") {
      return Err(InvalidArgument(
          fmt::format("run: unknown field '{}'; known fields are definition, owner, group, env, "
                      "resources, timeout, engine, parameters, parent_run_id, idempotency_key",
                      k)));
    }
  }
  const json::value* def_name = fields.if_contains("definition");
  if (def_name == nullptr || !def_name->is_string() || def_name->as_string().empty()) {
    return Err(
        InvalidArgument("field 'definition' is required: the name of a definition, e.g. "
                        "{\"definition\":\"hello\"}"));
  }
  RunRequest request;
  request.definition = std::string(def_name->as_string());
  fields.erase("definition");
  std::string idempotency_key;
  const bool key_in_body = fields.if_contains("idempotency_key") != nullptr;
  for (auto [field, out] :
       {std::pair<const char*, std::string*>{"owner", &request.owner},
        std::pair<const char*, std::string*>{"group", &request.group},
        std::pair<const char*, std::string*>{"parent_run_id", &request.parent_run_id},
        std::pair<const char*, std::string*>{"idempotency_key", &idempotency_key}}) {
    const json::value* v = fields.if_contains(field);
    if (v == nullptr) continue;
    if (!v->is_string()) {
      return Err(InvalidArgument(
          fmt::format(R"(field '{}' must be a string, e.g. {{"{}":"{}"}})", field, field,
                      std::string_view(field) == "owner" || std::string_view(field) == "group"
                          ? "ada"
                          : "01jexample")));
    }
    *out = std::string(v->as_string());
    fields.erase(field);
  }
  if (auto st = ValidateOwner(request.owner, "owner"); !st.ok()) return Err(st.error());
  if (auto st = ValidateOwner(request.group, "group"); !st.ok()) return Err(st.error());
  // The key in the body or the Idempotency-Key header (both: they must agree).
  if (std::string header = req.Header("idempotency-key"); !header.empty()) {
    if (!idempotency_key.empty() && idempotency_key != header) {
      return Err(InvalidArgument(
          "the Idempotency-Key header and the body's idempotency_key differ; send one of them, "
          "or the same key in both"));
    }
    idempotency_key = std::move(header);
  }
  if (!idempotency_key.empty() || key_in_body) {
    if (auto st = ValidateIdempotencyKey(idempotency_key); !st.ok()) return Err(st.error());
  }
  auto overrides = OverridesFromJson(fields);
  if (!overrides.ok()) return Err(overrides.error());
  request.overrides = std::move(*overrides);
  const bool dry_run = req.Query("dry_run") == "true" || req.Query("dry_run") == "1";
  request.dry_run = dry_run;
  const std::string request_hash = idempotency_key.empty() ? "" : CanonicalRequestHash(request);
  auto prepared = PrepareRun(who, std::move(request));
  if (!prepared.ok()) return Err(prepared.error());
  if (!dry_run) {
    std::optional<store::IdempotencyKey> idempotency;
    if (!idempotency_key.empty()) {
      // A key seen before answers at once; the store's unique key catches concurrent repeats.
      const Micros now = clock_.Now();
      auto found = store_.FindIdempotencyKey(prepared->run.owner, idempotency_key, now);
      if (!found.ok()) return Err(found.error());
      if (found->has_value()) return IdempotentReply(who, **found, request_hash);
      idempotency = store::IdempotencyKey{
          idempotency_key, request_hash,
          prepared->run.created_at + options_.idempotency_retention_seconds * kMicrosPerSecond};
    }
    tug::Run reply_run = prepared->run;
    reply_run.attempts.push_back(prepared->first);
    std::string body_text = json::serialize(ToJson(reply_run));
    return SubmitRun(who, req, std::move(*prepared), std::move(body_text), std::move(idempotency));
  }
  // A dry run: everything a launch would do, nothing stored and nothing started.
  const PreparedRun& p = *prepared;
  const std::string& engine_name = p.engine;
  engine::LaunchSpec launch = control::LaunchSpecFor(p.run, p.first, ServerUrl());
  const bool defaults = engine_name.back() == ':';
  json::object out{
      {"dry_run", true},
      {"engine", defaults ? engine_name.substr(0, engine_name.size() - 1) : engine_name},
      {"plan", adapt::ToJson(p.plan)},
      {"resources", ToJson(p.first.resources)},
      {"placement", json::object{{"capacity", p.first.placement.capacity},
                                 {"executor_capacity", p.first.placement.executor_capacity}}}};
  if (defaults && engine_name == "emr-on-eks:") {
    out["note"] =
        "no emr section is configured: the virtual cluster, execution role, release label and "
        "log location are placeholders";
  } else if (defaults) {
    out["note"] =
        "no Kubernetes cluster is configured: namespace, capacity label and images are the "
        "defaults";
  }
  if (options_.preview) {
    auto preview = options_.preview(launch, engine_name);
    if (!preview.ok()) return Err(preview.error());
    out["launch"] = std::move(*preview);
  } else {
    json::array argv;
    for (const auto& a : launch.argv) argv.emplace_back(a);
    out["launch"] = json::object{{"argv", std::move(argv)}};
  }
  return Json(200, std::move(out));
}

}  // namespace tug::server
