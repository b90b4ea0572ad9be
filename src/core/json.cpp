#include "core/json.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json_internal.h"
#include "core/quantity.h"

namespace json = boost::json;

namespace tug {

using json_internal::Reader;
using json_internal::StringMap;
using json_internal::Time;

namespace {

json::value ToJson(const Placement& p) {
  json::object o;
  o["capacity"] = p.capacity;
  if (!p.executor_capacity.empty()) o["executor_capacity"] = p.executor_capacity;
  return o;
}

json::value ParsedOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::system::error_code ec;
  json::value d = json::parse(text, ec);
  if (ec) return nullptr;
  return d;
}

}  // namespace

json::value ToJson(const RunOverrides& o) {
  json::object out;
  if (!o.env.empty()) out["env"] = StringMap(o.env);
  if (o.resources.memory_bytes > 0 || o.resources.cpu_millis > 0 || o.resources.gpu > 0) {
    out["resources"] = ToJson(o.resources);
  }
  if (o.timeout_seconds > 0) out["timeout"] = FormatDuration(o.timeout_seconds);
  if (!o.engine.empty()) out["engine"] = o.engine;
  if (!o.parameters.empty()) out["parameters"] = ParsedOrNull(o.parameters);
  return out;
}

Result<RunOverrides> OverridesFromJson(const json::value& v) {
  Reader r(v, "run");
  if (!r.is_object()) return r.NotObject().take_error();
  RETURN_IF_ERROR(r.OnlyKeys({"env", "resources", "timeout", "engine", "parameters"}));
  RunOverrides o;
  RETURN_IF_ERROR(r.Map("env", o.env));
  if (const json::value* p = r.Get("parameters")) {
    if (!p->is_object()) {
      return InvalidArgument(
          R"(run: parameters must be an object of names to values, e.g. {"count": 3})");
    }
    if (!p->get_object().empty()) o.parameters = json::serialize(*p);
  }
  RETURN_IF_ERROR(r.String("engine", o.engine));
  if (const json::value* res = r.Get("resources")) {
    ASSIGN_OR_RETURN(o.resources, ResourcesFromJson(*res));
  }
  if (const json::value* t = r.Get("timeout")) {
    if (t->is_string()) {
      ASSIGN_OR_RETURN(o.timeout_seconds, ParseDuration(t->get_string()));
    } else {
      RETURN_IF_ERROR(r.Int("timeout", o.timeout_seconds));
      if (o.timeout_seconds <= 0) return InvalidArgument("run: timeout must be positive");
    }
  }
  return o;
}

json::value ToJson(const Outcome& o) {
  json::object out;
  out["exit_code"] = o.exit_code ? json::value(*o.exit_code) : json::value(nullptr);
  out["reason"] = o.reason;
  out["message"] = o.message;
  return out;
}

Result<Outcome> OutcomeFromJson(const json::value& v) {
  Reader r(v, "outcome");
  if (!r.is_object()) return r.NotObject().take_error();
  Outcome o;
  if (r.Get("exit_code") != nullptr) {
    int code = 0;
    RETURN_IF_ERROR(r.Int("exit_code", code));
    o.exit_code = code;
  }
  RETURN_IF_ERROR(r.String("reason", o.reason));
  RETURN_IF_ERROR(r.String("message", o.message));
  return o;
}

json::value ToJson(const Attempt& a) {
  json::object o;
  o["id"] = a.id;
  o["run_id"] = a.run_id;
  o["number"] = a.number;
  o["status"] = ToString(a.status);
  o["resources"] = ToJson(a.resources);
  o["placement"] = ToJson(a.placement);
  o["engine"] = a.engine;
  if (!a.claimed_by.empty()) o["claimed_by"] = a.claimed_by;
  o["created_at"] = Time(a.created_at);
  o["due_at"] = Time(a.due_at);
  o["launched_at"] = Time(a.launched_at);
  o["started_at"] = Time(a.started_at);
  o["ended_at"] = Time(a.ended_at);
  o["outcome"] = a.outcome ? ToJson(*a.outcome) : json::value(nullptr);
  o["peak_memory"] = a.peak_memory_bytes;
  o["cpu_seconds"] = static_cast<double>(a.cpu_micros) / 1e6;
  o["diagnosis"] = ParsedOrNull(a.diagnosis);
  o["decision"] = ParsedOrNull(a.decision);
  if (!a.components.empty()) o["components"] = ParsedOrNull(a.components);
  if (!a.app_id.empty()) o["app_id"] = a.app_id;
  // Priced when it ended (src/cost); the API adds estimates for running attempts.
  if (a.cost_usd) o["cost"] = json::object{{"usd", *a.cost_usd}, {"basis", a.cost_basis}};
  return o;
}

json::value ToJson(const ComponentStatus& c) {
  json::object o{{"name", c.name}, {"state", c.state}};
  if (!c.pod.empty()) o["pod"] = c.pod;
  if (!c.node.empty()) o["node"] = c.node;
  if (!c.capacity.empty()) o["capacity"] = c.capacity;
  o["exit_code"] = c.exit_code ? json::value(*c.exit_code) : json::value(nullptr);
  if (!c.reason.empty()) o["reason"] = c.reason;
  if (!c.message.empty()) o["message"] = c.message;
  if (c.started_at != 0) o["started_at"] = Time(c.started_at);
  if (c.ended_at != 0) o["ended_at"] = Time(c.ended_at);
  if (c.evidence) o["evidence"] = true;
  return o;
}

std::string ComponentsJson(const std::vector<ComponentStatus>& components) {
  if (components.empty()) return "";
  json::array a;
  for (const auto& c : components) a.push_back(ToJson(c));
  return json::serialize(a);
}

Result<std::vector<ComponentStatus>> ComponentsFromJson(std::string_view text) {
  std::vector<ComponentStatus> out;
  if (text.empty()) return out;
  ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  if (!v.is_array()) return InvalidArgument("components must be a JSON array");
  for (const json::value& e : v.as_array()) {
    Reader r(e, "component");
    if (!r.is_object()) return r.NotObject().take_error();
    ComponentStatus c;
    RETURN_IF_ERROR(r.String("name", c.name));
    RETURN_IF_ERROR(r.String("pod", c.pod));
    RETURN_IF_ERROR(r.String("node", c.node));
    RETURN_IF_ERROR(r.String("capacity", c.capacity));
    RETURN_IF_ERROR(r.String("state", c.state));
    if (const json::value* x = r.Get("exit_code"); x != nullptr && !x->is_null()) {
      if (!x->is_int64()) return InvalidArgument("component: exit_code must be an integer");
      c.exit_code = static_cast<int>(x->as_int64());
    }
    RETURN_IF_ERROR(r.String("reason", c.reason));
    RETURN_IF_ERROR(r.String("message", c.message));
    RETURN_IF_ERROR(r.Time("started_at", c.started_at));
    RETURN_IF_ERROR(r.Time("ended_at", c.ended_at));
    RETURN_IF_ERROR(r.Bool("evidence", c.evidence));
    out.push_back(std::move(c));
  }
  return out;
}

Result<Attempt> AttemptFromJson(const json::value& v) {
  Reader r(v, "attempt");
  if (!r.is_object()) return r.NotObject().take_error();
  Attempt a;
  RETURN_IF_ERROR(r.String("id", a.id));
  RETURN_IF_ERROR(r.String("run_id", a.run_id));
  RETURN_IF_ERROR(r.Int("number", a.number));
  std::string status;
  RETURN_IF_ERROR(r.String("status", status));
  ASSIGN_OR_RETURN(a.status, ParseAttemptStatus(status));
  if (const json::value* res = r.Get("resources")) {
    ASSIGN_OR_RETURN(a.resources, ResourcesFromJson(*res));
  }
  RETURN_IF_ERROR(r.String("engine", a.engine));
  RETURN_IF_ERROR(r.String("claimed_by", a.claimed_by));
  RETURN_IF_ERROR(r.Time("created_at", a.created_at));
  RETURN_IF_ERROR(r.Time("due_at", a.due_at));
  RETURN_IF_ERROR(r.Time("launched_at", a.launched_at));
  RETURN_IF_ERROR(r.Time("started_at", a.started_at));
  RETURN_IF_ERROR(r.Time("ended_at", a.ended_at));
  if (const json::value* oc = r.Get("outcome")) {
    ASSIGN_OR_RETURN(a.outcome, OutcomeFromJson(*oc));
  }
  RETURN_IF_ERROR(r.Int("peak_memory", a.peak_memory_bytes));
  if (const json::value* cpu = r.Get("cpu_seconds")) {
    if (!cpu->is_number()) return InvalidArgument("attempt: cpu_seconds must be a number");
    a.cpu_micros = static_cast<int64_t>(std::llround(cpu->to_number<double>() * 1e6));
  }
  if (const json::value* d = r.Get("diagnosis")) {
    if (!d->is_object()) return InvalidArgument("attempt: diagnosis must be an object");
    a.diagnosis = json::serialize(*d);
  }
  if (const json::value* d = r.Get("decision")) {
    if (!d->is_object()) return InvalidArgument("attempt: decision must be an object");
    a.decision = json::serialize(*d);
  }
  if (const json::value* c = r.Get("components"); c != nullptr && !c->is_null()) {
    if (!c->is_array()) return InvalidArgument("attempt: components must be an array");
    a.components = json::serialize(*c);
  }
  RETURN_IF_ERROR(r.String("app_id", a.app_id));
  if (const json::value* c = r.Get("cost"); c != nullptr && !c->is_null()) {
    Reader cr(*c, "attempt: cost");
    if (!cr.is_object()) return cr.NotObject().take_error();
    if (const json::value* usd = cr.Get("usd"); usd != nullptr && usd->is_number()) {
      a.cost_usd = usd->to_number<double>();
    }
    RETURN_IF_ERROR(cr.String("basis", a.cost_basis));
  }
  if (const json::value* p = r.Get("placement")) {
    Reader pr(*p, "attempt: placement");
    RETURN_IF_ERROR(pr.String("capacity", a.placement.capacity));
    RETURN_IF_ERROR(pr.String("executor_capacity", a.placement.executor_capacity));
  }
  return a;
}

json::object ToJsonSummary(const Run& r) {
  json::object o;
  o["id"] = r.id;
  o["owner"] = r.owner;
  o["group"] = r.group;
  o["definition"] = r.definition;
  o["definition_version"] = r.definition_version;
  if (!r.parent_run_id.empty()) o["parent_run_id"] = r.parent_run_id;
  o["status"] = ToString(r.status);
  o["attempt_count"] = r.attempts.empty() ? r.attempt_count : static_cast<int>(r.attempts.size());
  if (!r.last_failure_class.empty()) o["failure_class"] = r.last_failure_class;
  o["created_at"] = Time(r.created_at);
  o["updated_at"] = Time(r.updated_at);
  o["started_at"] = Time(r.started_at);
  o["ended_at"] = Time(r.ended_at);
  o["stop_requested"] = r.stop_requested;
  o["outcome"] = r.outcome ? ToJson(*r.outcome) : json::value(nullptr);
  o["overrides"] = ToJson(r.overrides);
  // Team queues: where it waits, and while it waits over a limit, why.
  o["queue"] = r.queue;
  o["priority"] = r.priority;
  if (!r.queue_reason.empty()) o["queue_reason"] = r.queue_reason;
  // What its ended attempts cost, as stored; the API adds the currency (and for one run the
  // basis and running attempts' estimates).
  o["cost"] = json::object{{"total", r.cost_usd}, {"retries", r.retries_cost_usd}};
  return o;
}

json::value ToJson(const Run& r) {
  json::object o = ToJsonSummary(r);
  o["spec"] = ToJson(r.spec);
  o["plan"] = ParsedOrNull(r.plan);
  json::array attempts;
  for (const auto& a : r.attempts) attempts.push_back(ToJson(a));
  o["attempts"] = std::move(attempts);
  return o;
}

Result<Run> RunFromJson(const json::value& v) {
  Reader r(v, "run");
  if (!r.is_object()) return r.NotObject().take_error();
  Run run;
  RETURN_IF_ERROR(r.String("id", run.id));
  RETURN_IF_ERROR(r.String("definition", run.definition));
  RETURN_IF_ERROR(r.Int("definition_version", run.definition_version));
  std::string status;
  RETURN_IF_ERROR(r.String("status", status));
  ASSIGN_OR_RETURN(run.status, ParseRunStatus(status));
  RETURN_IF_ERROR(r.Time("created_at", run.created_at));
  RETURN_IF_ERROR(r.Time("updated_at", run.updated_at));
  RETURN_IF_ERROR(r.Time("started_at", run.started_at));
  RETURN_IF_ERROR(r.Time("ended_at", run.ended_at));
  RETURN_IF_ERROR(r.Bool("stop_requested", run.stop_requested));
  RETURN_IF_ERROR(r.String("owner", run.owner));
  RETURN_IF_ERROR(r.String("group", run.group));
  RETURN_IF_ERROR(r.String("queue", run.queue));
  int64_t priority = 0;
  RETURN_IF_ERROR(r.Int("priority", priority));
  run.priority = static_cast<int>(priority);
  RETURN_IF_ERROR(r.String("queue_reason", run.queue_reason));
  RETURN_IF_ERROR(r.String("parent_run_id", run.parent_run_id));
  int64_t attempt_count = 0;
  RETURN_IF_ERROR(r.Int("attempt_count", attempt_count));
  run.attempt_count = static_cast<int>(attempt_count);
  RETURN_IF_ERROR(r.String("failure_class", run.last_failure_class));
  if (const json::value* c = r.Get("cost"); c != nullptr && c->is_object()) {
    const json::object& co = c->as_object();
    if (const json::value* t = co.if_contains("total"); t != nullptr && t->is_number()) {
      run.cost_usd = t->to_number<double>();
    }
    if (const json::value* t = co.if_contains("retries"); t != nullptr && t->is_number()) {
      run.retries_cost_usd = t->to_number<double>();
    }
  }
  if (const json::value* oc = r.Get("outcome")) {
    ASSIGN_OR_RETURN(run.outcome, OutcomeFromJson(*oc));
  }
  if (const json::value* ov = r.Get("overrides")) {
    ASSIGN_OR_RETURN(run.overrides, OverridesFromJson(*ov));
  }
  if (const json::value* spec = r.Get("spec")) {
    ASSIGN_OR_RETURN(run.spec, DefinitionFromJson(*spec));
  }
  if (const json::value* plan = r.Get("plan")) {
    if (!plan->is_object()) return InvalidArgument("run: plan must be an object");
    run.plan = json::serialize(*plan);
  }
  if (const json::value* attempts = r.Get("attempts")) {
    if (!attempts->is_array()) return InvalidArgument("run: attempts must be a list");
    for (const auto& a : attempts->get_array()) {
      ASSIGN_OR_RETURN(auto attempt, AttemptFromJson(a));
      run.attempts.push_back(std::move(attempt));
    }
  }
  if (!run.attempts.empty()) run.attempt_count = 0;  // a summary field, as ListRuns fills it
  return run;
}

json::value ToJson(const Event& e) {
  json::object o;
  o["seq"] = e.seq;
  o["run_id"] = e.run_id;
  if (!e.attempt_id.empty()) o["attempt_id"] = e.attempt_id;
  o["at"] = Time(e.at);
  o["type"] = e.type;
  o["message"] = e.message;
  return o;
}

Result<Event> EventFromJson(const json::value& v) {
  Reader r(v, "event");
  if (!r.is_object()) return r.NotObject().take_error();
  Event e;
  RETURN_IF_ERROR(r.Int("seq", e.seq));
  RETURN_IF_ERROR(r.String("run_id", e.run_id));
  RETURN_IF_ERROR(r.String("attempt_id", e.attempt_id));
  RETURN_IF_ERROR(r.Time("at", e.at));
  RETURN_IF_ERROR(r.String("type", e.type));
  RETURN_IF_ERROR(r.String("message", e.message));
  return e;
}

Result<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec == json::error::too_deep) {
    return InvalidArgument(
        fmt::format("request body is not valid JSON: nested more than {} levels deep; flatten it",
                    opts.max_depth));
  }
  if (ec) {
    return InvalidArgument(fmt::format("request body is not valid JSON: {}", ec.message()));
  }
  return v;
}

std::string Serialize(const json::value& v) { return json::serialize(v); }

}  // namespace tug
