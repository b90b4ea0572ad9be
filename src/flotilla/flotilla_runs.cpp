// Flotilla v6: executing tasks, the run history, one run, stopping runs, logs and events.
#include <deque>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "flotilla/flotilla_api.h"
#include "flotilla/flotilla_json.h"
#include "flotilla/flotilla_lists.h"
#include "server/log_stream.h"

namespace json = boost::json;

namespace tug::flotilla {
namespace {

constexpr int kPageSize = 500;  // the store's largest ListRuns page

EngineContext EnginesOf(const server::Api& api) {
  return EngineContext{api.options().default_engine, api.options().clusters};
}

// Flotilla's message for a run that is not there (pg_state_manager.go GetRun).
Error RunNotFound(const Error& e, const std::string& id) {
  if (e.code() != Code::kNotFound) return e;
  return NotFound(fmt::format("Run with id {} not found", id));
}

// How the store keys of Flotilla's idempotence keys are spelled: apart from API v1's keys of the
// same owner, and a generation after each failed run the key named (see ClaimIdempotenceKey).
constexpr std::string_view kKeyPrefix = "flotilla:";
constexpr size_t kMaxKeyLength = 240;  // the store's 255 less the prefix and a generation
constexpr int kMaxKeyGenerations = 100;
// Flotilla returns the earlier run whatever the repeated request says, so every Flotilla request
// with a key has the same "hash": a concurrent repeat gets the winner's run, never v1's 409.
constexpr const char* kAnyRequest = "flotilla-idempotence-key";

// Tugboat's answer to a submission as Flotilla's: 201 with the run (already Flotilla's JSON), 200
// with v1's run when a concurrent request held the idempotency key (that run, in Flotilla's
// JSON), or v1's error shape.
net::Response FlotillaReply(server::Api& api, net::Response r) {
  if (r.status == 201) {
    r.status = 200;
    r.content_type = "application/json; charset=utf-8";
    return r;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (r.status == 200 && !ec && v.is_object()) {
    if (const json::value* id = v.as_object().if_contains("id"); id && id->is_string()) {
      auto run = api.store().GetRun(std::string(id->as_string()));
      if (!run.ok()) return ErrorAnswer(run.error());
      return JsonAnswer(200, RunJson(*run, EnginesOf(api)));
    }
  }
  std::string message = fmt::format("HTTP {}", r.status);
  if (!ec && v.is_object()) {
    if (const json::value* e = v.as_object().if_contains("error"); e && e->is_object()) {
      if (const json::value* m = e->as_object().if_contains("message"); m && m->is_string()) {
        message = std::string(m->as_string());
      }
    }
  }
  return JsonAnswer(
      r.status == 400 || r.status == 404 || r.status == 409 || r.status == 503 || r.status == 413
          ? r.status
          : 500,
      json::object{{"error", message}});
}

}  // namespace

// --- execute ---

net::Response FlotillaApi::Execute(net::Request& req, Who who) {
  return ExecuteDefinition(req, who, req.params["definition_id"], /*by_alias=*/false);
}

net::Response FlotillaApi::ExecuteByAlias(net::Request& req, Who who) {
  return ExecuteDefinition(req, who, req.params["alias"], /*by_alias=*/true);
}

net::Response FlotillaApi::ExecuteDefinition(net::Request& req, Who who, const std::string& key,
                                             bool by_alias) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return ErrorAnswer(body.error());
  auto launch = ParseExecute(*body);
  if (!launch.ok()) return ErrorAnswer(launch.error());
  auto def = FindDefinition(who, key, by_alias);
  if (!def.ok()) return ErrorAnswer(def.error());
  return Launch(req, who, *def, std::move(*launch), nullptr, /*dry_run=*/false);
}

net::Response FlotillaApi::Launch(net::Request& req, Who who, const Definition& def,
                                  ExecuteRequest launch, const json::object* payload,
                                  bool dry_run) {
  const EngineContext engines = EnginesOf(api_);
  server::RunRequest request;
  request.definition = def.name;
  // With authentication the caller owns the run (owner_id is kept as a label); without, the
  // owner_id Flotilla clients send names the owner, as v1's `owner` does.
  if (!who.authenticated()) request.owner = launch.owner_id;
  request.overrides = std::move(launch.overrides);
  if (payload != nullptr) request.overrides.parameters = json::serialize(*payload);
  request.command = std::move(launch.command);
  request.capacity = std::move(launch.capacity);
  request.labels = std::move(launch.labels);
  request.node_selector = std::move(launch.node_selector);
  request.dry_run = dry_run;
  // Flotilla's parent is an env variable it never checks; when it names a run the caller can
  // read, it is also the run's parent_run_id (API v1 lineage: ?parent=, cascading stops).
  if (auto parent = request.overrides.env.find(kParentEnv);
      parent != request.overrides.env.end() && api_.ReadableRun(who, parent->second).ok()) {
    request.parent_run_id = parent->second;
  }
  auto prepared = api_.PrepareRun(who, std::move(request));
  if (!prepared.ok()) {
    if (prepared.error().code() == Code::kNotFound) {
      return ErrorAnswer(NotFound(fmt::format("Definition with ID {} not found", def.name)));
    }
    return ErrorAnswer(prepared.error());
  }
  // The variables Flotilla sets in every run (services/execution.go reservedEnv), unless the
  // request sets them: its variables come after, and win, in eks_adapter.go envOverrides.
  tug::Run& run = prepared->run;
  for (const auto& [name, value] :
       {std::pair<std::string, std::string>{"FLOTILLA_RUN_ID", run.id},
        std::pair<std::string, std::string>{"FLOTILLA_RUN_OWNER_ID", launch.owner_id}}) {
    if (run.overrides.env.count(name) > 0) continue;
    run.overrides.env[name] = value;
    run.spec.env[name] = value;
    run.spec.secret_env.erase(name);
  }
  tug::Run reply = run;
  reply.attempts = {prepared->first};
  // A template's dry run (services/execution.go createFromTemplate): the run, not enqueued.
  if (dry_run) return JsonAnswer(200, RunJson(reply, engines));
  std::optional<store::IdempotencyKey> idempotency;
  if (!launch.idempotence_key.empty()) {
    auto claim = ClaimIdempotenceKey(who, run, launch.idempotence_key);
    if (!claim.ok()) return ErrorAnswer(claim.error());
    if (claim->prior) return JsonAnswer(200, RunJson(*claim->prior, engines));
    idempotency = std::move(claim->key);
  }
  std::string created = json::serialize(RunJson(reply, engines)) + "\n";
  net::Response submitted =
      api_.SubmitRun(who, req, std::move(*prepared), std::move(created), std::move(idempotency));
  if (!submitted.deferred) return FlotillaReply(api_, std::move(submitted));
  // The submitter answers later, from its writer thread, in v1's words: translate on the way.
  auto outer = std::make_shared<net::Deferred>();
  submitted.deferred->OnReply(
      [outer, &api = api_](net::Response r) { outer->Reply(FlotillaReply(api, std::move(r))); });
  net::Response resp;
  resp.deferred = std::move(outer);
  return resp;
}

// services/execution.go createAndEnqueueRun answers a repeated idempotence_key with the earlier
// run when state/pg_queries.go TaskIdempotenceKeyCheckSQL finds one queued in the last 7 days
// that has not failed ("exit_code = 0 or exit_code is null"), whatever the new request says.
// Here the key is claimed in the store with the run (API v1's idempotency keys: per owner, for
// idempotency_retention_seconds, race-free across replicas). A key whose run failed is free
// again in Flotilla; the store keeps it, so the next generation of the key ("flotilla:KEY#1",
// "#2", ...) is claimed instead.
Result<FlotillaApi::KeyClaim> FlotillaApi::ClaimIdempotenceKey(Who who, const tug::Run& run,
                                                               const std::string& key) {
  RETURN_IF_ERROR(server::ValidateIdempotencyKey(key));
  if (key.size() > kMaxKeyLength) {
    return InvalidArgument(
        fmt::format("idempotence_key is {} characters; use at most {}", key.size(), kMaxKeyLength));
  }
  const Micros now = api_.clock().Now();
  for (int generation = 0; generation < kMaxKeyGenerations; ++generation) {
    std::string stored = std::string(kKeyPrefix) + key;
    if (generation > 0) stored += fmt::format("#{}", generation);
    ASSIGN_OR_RETURN(std::optional<store::IdempotencyRecord> found,
                     api_.store().FindIdempotencyKey(run.owner, stored, now));
    if (!found) {
      const int64_t retention = api_.options().idempotency_retention_seconds;
      return KeyClaim{std::nullopt,
                      store::IdempotencyKey{std::move(stored), kAnyRequest,
                                            run.created_at + retention * kMicrosPerSecond}};
    }
    auto prior = api_.ReadableRun(who, found->run_id);
    if (!prior.ok() && prior.error().code() != Code::kNotFound) return prior.error();
    if (prior.ok() && (!IsTerminal(prior->status) || prior->status == RunStatus::kSucceeded)) {
      return KeyClaim{std::move(*prior), {}};
    }
  }
  return FailedPrecondition(fmt::format(
      "idempotence_key '{}' has named {} runs that failed within the retention; use a new key", key,
      kMaxKeyGenerations));
}

// --- history ---

net::Response FlotillaApi::ListRuns(net::Request& req, Who who) { return History(req, who, ""); }

net::Response FlotillaApi::ListDefinitionRuns(net::Request& req, Who who) {
  return History(req, who, req.params["definition_id"]);
}

net::Response FlotillaApi::History(net::Request& req, Who who, const std::string& definition,
                                   bool template_runs) {
  auto parsed = ParseListRequest(req.target);
  if (!parsed.ok()) return ErrorAnswer(parsed.error());
  ListRequest& request = *parsed;
  store::RunFilter filter;
  filter.visible = api_.VisibleTo(who);
  filter.limit = kPageSize;
  if (template_runs) {
    // endpoints.go ListTemplateRuns: the path's template as the executable_id filter.
    auto tpl = FindTemplate(who, definition);
    if (!tpl.ok()) return ErrorAnswer(tpl.error());
    request.filters["executable_id"] = {definition};
    filter.definition = tpl->name;
  } else if (!definition.empty()) {
    // endpoints.go ListDefinitionRuns adds the path's definition as a filter (and echoes it).
    request.filters["definition_id"] = {definition};
  }
  // services/execution.go List: the definition must exist, the statuses be Flotilla's.
  if (auto it = request.filters.find("definition_id"); it != request.filters.end()) {
    auto def = FindDefinition(who, it->second.front(), /*by_alias=*/false);
    if (!def.ok()) return ErrorAnswer(def.error());
    if (it->second.size() == 1) filter.definition = def->name;
  }
  bool none = false;
  if (auto it = request.filters.find("status"); it != request.filters.end()) {
    std::set<RunStatus> wanted;
    for (const auto& s : it->second) {
      auto statuses = StatusesFor(s);
      if (!statuses.ok()) return ErrorAnswer(statuses.error());
      wanted.insert(statuses->begin(), statuses->end());
    }
    filter.statuses.assign(wanted.begin(), wanted.end());
    none = wanted.empty();  // only PENDING, which Tugboat never reports
  }
  // The queued_at range is the runs' creation time, a range of their ids in the store.
  if (auto it = request.filters.find("queued_at_since"); it != request.filters.end()) {
    if (auto t = ParseTimestamp(it->second.front()); t.ok() && *t > 0) filter.created_after = *t;
  }
  if (auto it = request.filters.find("queued_at_until"); it != request.filters.end()) {
    if (auto t = ParseTimestamp(it->second.front()); t.ok() && *t > 0) filter.created_before = *t;
  }
  if (filter.created_after > 0 && filter.created_before > 0 &&
      filter.created_after >= filter.created_before) {
    none = true;
  }
  const EngineContext engines = EnginesOf(api_);
  std::vector<json::object> rows;
  for (int scanned = 0; !none && scanned < options_.max_scan; scanned += kPageSize) {
    auto page = api_.store().ListRuns(filter);
    if (!page.ok()) return ErrorAnswer(page.error());
    for (const auto& r : page->runs) {
      if (MatchesEnv(r.spec.env, request)) rows.push_back(RunJson(r, engines));
    }
    if (page->next_cursor.empty()) break;
    filter.cursor = page->next_cursor;
  }
  auto page = Select(std::move(rows), request, RunColumns());
  if (!page.ok()) return ErrorAnswer(page.error());
  json::array items;
  for (auto& o : page->items) items.emplace_back(std::move(o));
  return JsonAnswer(200, ListEnvelope(request, page->total, "history", std::move(items)));
}

// --- one run ---

net::Response FlotillaApi::GetRun(net::Request& req, Who who) {
  const std::string& id = req.params["run_id"];
  auto run = api_.ReadableRun(who, id);
  if (!run.ok()) return ErrorAnswer(RunNotFound(run.error(), id));
  return JsonAnswer(200, RunJson(*run, EnginesOf(api_)));
}

// endpoints.go GetPayload: a template run's execution_request_custom, {} for any other run.
net::Response FlotillaApi::GetPayload(net::Request& req, Who who) {
  const std::string& id = req.params["run_id"];
  auto run = api_.ReadableRun(who, id);
  if (!run.ok()) return ErrorAnswer(RunNotFound(run.error(), id));
  json::object o = RunJson(*run, EnginesOf(api_));
  if (const json::value* custom = o.if_contains("execution_request_custom")) {
    return JsonAnswer(200, *custom);
  }
  return JsonAnswer(200, json::object());
}

net::Response FlotillaApi::StopRun(net::Request& req, Who who) {
  const std::string& id = req.params["run_id"];
  auto st = api_.StopRunFor(who, req, id);
  if (!st.ok()) {
    const Code code = st.error().code();
    if (code == Code::kPermissionDenied || code == Code::kUnauthenticated) {
      return ErrorAnswer(st.error());
    }
    // endpoints.go StopRun logs the error and answers {"terminated": true} all the same (a
    // missing run, one that ended); only its policy refusals are Tugboat's own.
    if (code == Code::kNotFound) return JsonAnswer(200, json::object{{"terminated", true}});
  }
  // services/execution.go terminateWorker: the runs whose PARENT_FLOTILLA_RUN_ID names a stopped
  // run are stopped too, down the tree, as far as the caller may stop them.
  store::RunFilter filter;
  filter.visible = api_.VisibleTo(who);
  filter.statuses = {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kRetrying};
  filter.limit = kPageSize;
  std::vector<tug::Run> active;
  for (int scanned = 0; scanned < options_.max_scan; scanned += kPageSize) {
    auto page = api_.store().ListRuns(filter);
    if (!page.ok()) break;
    for (auto& r : page->runs) {
      if (r.spec.env.count(kParentEnv) > 0) active.push_back(std::move(r));
    }
    if (page->next_cursor.empty()) break;
    filter.cursor = page->next_cursor;
  }
  std::deque<std::string> parents{id};
  std::set<std::string> seen{id};
  while (!parents.empty()) {
    const std::string parent = parents.front();
    parents.pop_front();
    for (const auto& r : active) {
      if (r.spec.env.at(kParentEnv) != parent || !seen.insert(r.id).second) continue;
      (void)api_.StopRunFor(who, req, r.id);  // as Flotilla: best effort, refusals skipped
      parents.push_back(r.id);
    }
  }
  // And the children by API v1's parent_run_id (runs submitted with it, not Flotilla's env).
  int skipped = 0;
  (void)api_.StopDescendants(who, req, id, &skipped);
  return JsonAnswer(200, json::object{{"terminated", true}});
}

// --- logs and events ---

net::Response FlotillaApi::GetLogs(net::Request& req, Who who) {
  const std::string& id = req.params["run_id"];
  auto run = api_.ReadableRun(who, id);
  if (!run.ok()) return ErrorAnswer(RunNotFound(run.error(), id));
  const std::string last_seen = req.Query("last_seen");
  const std::string raw_text = req.Query("raw_text");
  json::object nothing{{"last_seen", last_seen}, {"log", ""}};
  if (run->attempts.empty()) return JsonAnswer(200, nothing);
  const Attempt& attempt = run->attempts.back();
  const std::string component = run->spec.kind == "spark" ? "driver" : "main";
  if (raw_text == "true" || raw_text == "TRUE" || raw_text == "True") {
    // The whole log as text (eks_s3_logs_client.go LogsText).
    server::LogStreamOptions o;
    o.run_id = run->id;
    o.attempt_id = attempt.id;
    o.component = component;
    net::Response resp;
    resp.content_type = "text/plain; charset=utf-8";
    resp.stream = std::make_shared<server::LogStream>(o, api_.store(), api_.logs(), api_.clock());
    return resp;
  }
  // last_seen is where the previous answer stopped: a byte offset into the attempt's log, an
  // opaque token to Flotilla's clients. Each answer holds at most kMaxLogLines lines.
  int64_t offset = 0;
  if (!last_seen.empty() && last_seen.size() <= 18 &&
      last_seen.find_first_not_of("0123456789") == std::string::npos) {
    offset = std::stoll(last_seen);
  }
  auto chunk = api_.logs().Read(run->id, attempt.id, component, offset, size_t{1} << 20);
  if (!chunk.ok()) return JsonAnswer(200, nothing);  // no log yet: what Flotilla answers
  std::string_view data = chunk->data;
  size_t end = 0;
  for (int lines = 0; lines < kMaxLogLines && end < data.size(); ++lines) {
    size_t nl = data.find('\n', end);
    end = nl == std::string_view::npos ? data.size() : nl + 1;
  }
  std::string taken(data.substr(0, end));
  return JsonAnswer(200,
                    json::object{{"last_seen", std::to_string(offset + static_cast<int64_t>(end))},
                                 {"log", logs::StripLinePrefixes(taken)}});
}

net::Response FlotillaApi::GetEvents(net::Request& req, Who who) {
  const std::string& id = req.params["run_id"];
  auto run = api_.ReadableRun(who, id);
  if (!run.ok()) return ErrorAnswer(RunNotFound(run.error(), id));
  auto events = api_.store().ListEvents(id, 0, 5000);
  if (!events.ok()) return ErrorAnswer(events.error());
  // state/models.go PodEventList and PodEvent, from the run's timeline.
  json::array out;
  for (const auto& e : *events) {
    out.push_back(json::object{{"timestamp", GoTime(e.at)},
                               {"event_type", "Normal"},
                               {"reason", e.type},
                               {"source_object", e.attempt_id.empty() ? e.run_id : e.attempt_id},
                               {"message", e.message}});
  }
  const auto total = static_cast<int64_t>(out.size());
  return JsonAnswer(200, json::object{{"total", total}, {"pod_events", std::move(out)}});
}

}  // namespace tug::flotilla
