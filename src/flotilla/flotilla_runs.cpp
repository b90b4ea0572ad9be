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
constexpr const char* kParentEnv = "PARENT_FLOTILLA_RUN_ID";

EngineContext EnginesOf(const server::Api& api) {
  return EngineContext{api.options().default_engine, api.options().clusters};
}

// Flotilla's message for a run that is not there (pg_state_manager.go GetRun).
Error RunNotFound(const Error& e, const std::string& id) {
  if (e.code() != Code::kNotFound) return e;
  return NotFound(fmt::format("Run with id {} not found", id));
}

// Tugboat's answer to a submission (201 with the body, or v1's error shape) as Flotilla's.
net::Response FlotillaReply(net::Response r) {
  if (r.status == 201) {
    r.status = 200;
    r.content_type = "application/json; charset=utf-8";
    return r;
  }
  std::string message = fmt::format("HTTP {}", r.status);
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = v.as_object().if_contains("error"); e && e->is_object()) {
      if (const json::value* m = e->as_object().if_contains("message"); m && m->is_string()) {
        message = std::string(m->as_string());
      }
    }
  }
  net::Response out = JsonAnswer(
      r.status == 400 || r.status == 404 || r.status == 409 || r.status == 503 || r.status == 413
          ? r.status
          : 500,
      json::object{{"error", message}});
  return out;
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
  const EngineContext engines = EnginesOf(api_);
  if (!launch->idempotence_key.empty()) {
    // services/execution.go createAndEnqueueRun: the earlier run with this key, if it has not
    // failed, instead of a new one.
    auto prior = PriorRun(who, def->name, launch->idempotence_key);
    if (!prior.ok()) return ErrorAnswer(prior.error());
    if (prior->has_value()) return JsonAnswer(200, RunJson(**prior, engines));
  }
  server::RunRequest request;
  request.definition = def->name;
  // With authentication the caller owns the run (owner_id is kept as a label); without, the
  // owner_id Flotilla clients send names the owner, as v1's `owner` does.
  if (!who.authenticated()) request.owner = launch->owner_id;
  request.overrides = std::move(launch->overrides);
  request.command = std::move(launch->command);
  request.capacity = std::move(launch->capacity);
  request.labels = std::move(launch->labels);
  request.node_selector = std::move(launch->node_selector);
  // Flotilla's parent is an env variable it never checks; when it names a run the caller can
  // read, it is also the run's parent_run_id (API v1 lineage: ?parent=, cascading stops).
  if (auto parent = request.overrides.env.find(kParentEnv);
      parent != request.overrides.env.end() && api_.ReadableRun(who, parent->second).ok()) {
    request.parent_run_id = parent->second;
  }
  auto prepared = api_.PrepareRun(who, std::move(request));
  if (!prepared.ok()) {
    if (prepared.error().code() == Code::kNotFound) {
      return ErrorAnswer(
          NotFound(fmt::format("Definition with {} {} not found", by_alias ? "alias" : "ID", key)));
    }
    return ErrorAnswer(prepared.error());
  }
  // The variables Flotilla sets in every run (services/execution.go reservedEnv), unless the
  // request sets them: its variables come after, and win, in eks_adapter.go envOverrides.
  tug::Run& run = prepared->run;
  for (const auto& [name, value] :
       {std::pair<std::string, std::string>{"FLOTILLA_RUN_ID", run.id},
        std::pair<std::string, std::string>{"FLOTILLA_RUN_OWNER_ID", launch->owner_id}}) {
    if (run.overrides.env.count(name) > 0) continue;
    run.overrides.env[name] = value;
    run.spec.env[name] = value;
    run.spec.secret_env.erase(name);
  }
  tug::Run reply = run;
  reply.attempts = {prepared->first};
  std::string created = json::serialize(RunJson(reply, engines)) + "\n";
  net::Response submitted = api_.SubmitRun(who, req, std::move(*prepared), std::move(created));
  if (!submitted.deferred) return FlotillaReply(std::move(submitted));
  // The submitter answers later, from its writer thread, in v1's words: translate on the way.
  auto outer = std::make_shared<net::Deferred>();
  submitted.deferred->OnReply(
      [outer](net::Response r) { outer->Reply(FlotillaReply(std::move(r))); });
  net::Response resp;
  resp.deferred = std::move(outer);
  return resp;
}

Result<std::optional<tug::Run>> FlotillaApi::PriorRun(Who who, const std::string& definition,
                                                      const std::string& key) {
  store::RunFilter filter;
  filter.definition = definition;
  filter.visible = api_.VisibleTo(who);
  filter.created_after =
      api_.clock().Now() - options_.idempotence_window_seconds * kMicrosPerSecond;
  filter.limit = kPageSize;
  for (int scanned = 0; scanned < options_.max_scan; scanned += kPageSize) {
    ASSIGN_OR_RETURN(store::RunPage page, api_.store().ListRuns(filter));
    for (const auto& r : page.runs) {
      auto it = r.spec.labels.find(kIdempotenceLabel);
      if (it == r.spec.labels.end() || it->second != key) continue;
      // "exit_code = 0 or exit_code is null": succeeded, or not ended yet
      if (IsTerminal(r.status) && r.status != RunStatus::kSucceeded) continue;
      ASSIGN_OR_RETURN(tug::Run full, api_.store().GetRun(r.id));
      return std::optional<tug::Run>(std::move(full));
    }
    if (page.next_cursor.empty()) break;
    filter.cursor = page.next_cursor;
  }
  return std::optional<tug::Run>();
}

// --- history ---

net::Response FlotillaApi::ListRuns(net::Request& req, Who who) { return History(req, who, ""); }

net::Response FlotillaApi::ListDefinitionRuns(net::Request& req, Who who) {
  return History(req, who, req.params["definition_id"]);
}

net::Response FlotillaApi::History(net::Request& req, Who who, const std::string& definition) {
  auto parsed = ParseListRequest(req.target);
  if (!parsed.ok()) return ErrorAnswer(parsed.error());
  ListRequest& request = *parsed;
  // endpoints.go ListDefinitionRuns adds the path's definition as a filter (and echoes it).
  if (!definition.empty()) request.filters["definition_id"] = {definition};
  store::RunFilter filter;
  filter.visible = api_.VisibleTo(who);
  filter.limit = kPageSize;
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
