#include "flotilla/flotilla_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/clock.h"
#include "flotilla/flotilla_decode.h"

namespace json = boost::json;

namespace tug::flotilla {
namespace {

Status NoPorts(const json::object& o) {
  const json::value* ports = Field(o, "ports");
  if (ports != nullptr && (!ports->is_array() || !ports->as_array().empty())) {
    return InvalidArgument(
        "ports have no equivalent in Tugboat: jobs publish no ports; leave ports out");
  }
  return OkStatus();
}

std::string CommandOf(const Definition& d) {
  if (!d.command.empty() || d.args.empty()) return d.command;
  std::string out;
  for (const auto& a : d.args) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::string Label(const Definition& d, const char* key) {
  auto it = d.labels.find(key);
  return it == d.labels.end() ? std::string() : it->second;
}

std::string_view Lifecycle(const std::string& capacity) {
  if (capacity == kSpot) return "spot";
  if (capacity == kOnDemand) return "ondemand";
  return "";
}

// The cluster a run went to: its latest attempt's engine ("kubernetes:prod" → prod, "local"),
// or where its spec sends it.
std::string ClusterOf(const Run& run, const EngineContext& engines) {
  if (!run.attempts.empty()) {
    const std::string& e = run.attempts.back().engine;
    auto colon = e.find(':');
    return colon == std::string::npos ? e : e.substr(colon + 1);
  }
  std::string engine = run.spec.engine.empty() ? engines.default_engine : run.spec.engine;
  if (run.spec.kind == "spark" || engine == "kubernetes") {
    if (!run.spec.cluster.empty()) return run.spec.cluster;
    return engines.clusters.empty() ? std::string() : engines.clusters.front();
  }
  return engine;
}

}  // namespace

// --- statuses ---

std::string_view StatusOf(RunStatus status) {
  switch (status) {
    case RunStatus::kQueued:
      return kQueued;
    case RunStatus::kRunning:
      return kRunning;
    case RunStatus::kRetrying:
      return kNeedsRetry;
    case RunStatus::kSucceeded:
    case RunStatus::kFailed:
    case RunStatus::kStopped:
    case RunStatus::kLost:
      return kStopped;
  }
  return kQueued;
}

Result<std::vector<RunStatus>> StatusesFor(std::string_view s) {
  if (s == kQueued) return std::vector<RunStatus>{RunStatus::kQueued};
  if (s == kPending) return std::vector<RunStatus>{};
  if (s == kRunning) return std::vector<RunStatus>{RunStatus::kRunning};
  if (s == kNeedsRetry) return std::vector<RunStatus>{RunStatus::kRetrying};
  if (s == kStopped) {
    return std::vector<RunStatus>{RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kStopped,
                                  RunStatus::kLost};
  }
  return InvalidArgument(fmt::format("invalid status [{}]", s));
}

// --- definitions ---

json::object DefinitionJson(const Definition& d) {
  json::object o;
  o["env"] = EnvList(d.env);
  o["definition_id"] = d.name;
  if (!d.group.empty()) o["group_name"] = d.group;
  o["alias"] = d.name;
  if (std::string command = CommandOf(d); !command.empty()) o["command"] = command;
  o["image"] = d.image;
  if (d.resources.memory_bytes > 0) o["memory"] = Megabytes(d.resources.memory_bytes);
  if (d.resources.gpu > 0) o["gpu"] = d.resources.gpu;  // ExecutableResources: memory, gpu, cpu
  if (d.resources.cpu_millis > 0) o["cpu"] = d.resources.cpu_millis;
  if (d.adapt.rightsizing == "apply") o["adaptive_resource_allocation"] = true;
  if (d.adapt.rightsizing == "off") o["adaptive_resource_allocation"] = false;
  o["ports"] = json::array();
  o["tags"] = TagsOf(d);
  return o;
}

namespace {

// The fields Definition.UpdateWith copies when they are set; `create` reads them for a new one.
Status ApplyDefinitionFields(const json::object& o, Definition& def, bool create) {
  RETURN_IF_ERROR(NoPorts(o));
  ASSIGN_OR_RETURN(std::optional<int64_t> gpu, GpuField(o));
  ASSIGN_OR_RETURN(std::string image, StringField(o, "image"));
  ASSIGN_OR_RETURN(std::string group, StringField(o, "group_name"));
  ASSIGN_OR_RETURN(std::string command, StringField(o, "command"));
  ASSIGN_OR_RETURN(std::string task_type, StringField(o, "task_type"));
  (void)task_type;  // Flotilla's is always "task"
  ASSIGN_OR_RETURN(std::optional<int64_t> memory, IntField(o, "memory"));
  ASSIGN_OR_RETURN(std::optional<int64_t> cpu, IntField(o, "cpu"));
  ASSIGN_OR_RETURN(std::optional<bool> ara, BoolField(o, "adaptive_resource_allocation"));
  ASSIGN_OR_RETURN(auto env, EnvField(o));
  if (!image.empty() || create) def.image = image;
  if (!group.empty()) def.group = group;
  if (!command.empty()) {
    def.command = command;
    def.args.clear();
  }
  if (memory) {
    RETURN_IF_ERROR(CheckMemory(*memory, "memory"));
    def.resources.memory_bytes = *memory * kMegabyte;
  }
  if (cpu) def.resources.cpu_millis = *cpu;
  if (gpu) def.resources.gpu = *gpu;  // resources.gpu: nvidia.com/gpu per container
  if (ara) def.adapt.rightsizing = *ara ? "apply" : "off";
  if (env) {
    for (const auto& [name, value] : *env) def.secret_env.erase(name);
    def.env = std::move(*env);
  }
  return ApplyTags(o, def);
}

}  // namespace

Result<Definition> DefinitionFromCreate(const json::value& body) {
  if (!body.is_object()) {
    return InvalidArgument(
        "json: cannot unmarshal the body into a task definition; send a JSON object, e.g. "
        R"({"alias":"hello","group_name":"science","image":"ubuntu:22.04","command":"echo hi"})");
  }
  const json::object& o = body.as_object();
  ASSIGN_OR_RETURN(std::string alias, StringField(o, "alias"));
  ASSIGN_OR_RETURN(std::string image, StringField(o, "image"));
  // Definition.IsValid, its reasons joined by newlines.
  std::string reasons;
  if (image.empty()) reasons += "string [image] must be specified";
  if (alias.empty())
    reasons += std::string(reasons.empty() ? "" : "\n") + "string [alias] must be specified";
  if (!reasons.empty()) return InvalidArgument(reasons);
  Definition def;
  def.name = alias;
  RETURN_IF_ERROR(ApplyDefinitionFields(o, def, /*create=*/true));
  if (auto st = ValidateName(alias); !st.ok()) {
    return InvalidArgument(fmt::format("alias '{}' is also the task's name in Tugboat, and {}",
                                       alias, st.error().message()));
  }
  return def;
}

Result<Definition> DefinitionFromUpdate(const json::value& body, Definition current) {
  if (!body.is_object()) {
    return InvalidArgument(
        "json: cannot unmarshal the body into a task definition; send a JSON object with the "
        R"(fields to change, e.g. {"image":"ubuntu:24.04"})");
  }
  const json::object& o = body.as_object();
  ASSIGN_OR_RETURN(std::string alias, StringField(o, "alias"));
  if (!alias.empty() && alias != current.name) {
    return InvalidArgument(fmt::format(
        "alias cannot change from '{}' to '{}': it is the task's name in Tugboat; create a task "
        "with the new alias and delete this one",
        current.name, alias));
  }
  RETURN_IF_ERROR(ApplyDefinitionFields(o, current, /*create=*/false));
  return current;
}

// --- runs ---

std::string GoTime(Micros t) {
  std::string s = FormatTimestamp(t);  // "2026-11-24T10:00:00.000000Z"
  auto dot = s.find('.');
  if (dot == std::string::npos) return s;
  size_t end = s.size() - 1;  // the 'Z'
  size_t last = end;
  while (last > dot + 1 && s[last - 1] == '0') --last;
  if (last == dot + 1) last = dot;  // no fraction left: drop the dot too
  return s.substr(0, last) + "Z";
}

json::object RunJson(const Run& run, const EngineContext& engines) {
  const Definition& spec = run.spec;
  const Attempt* last = run.attempts.empty() ? nullptr : &run.attempts.back();
  const bool ended = IsTerminal(run.status);
  json::object o;
  o["instance"] = json::object{{"dns_name", ""}, {"instance_id", ""}};
  o["pod_events"] = json::array();
  o["cloudtrail_notifications"] = json::object{{"Records", nullptr}};
  o["spark_extension"] = json::object();
  o["run_id"] = run.id;
  o["definition_id"] = run.definition;
  o["alias"] = run.definition;
  o["image"] = spec.image;
  o["cluster"] = ClusterOf(run, engines);
  if (ended) {
    // Flotilla's success is STOPPED with exit code 0 (getEnhancedRunStatus in its UI); a run
    // stopped or lost without a code gets 1, as its terminate worker writes.
    int64_t code = 1;
    if (run.status == RunStatus::kSucceeded) {
      code = 0;
    } else if (run.outcome && run.outcome->exit_code) {
      code = *run.outcome->exit_code;
      if (code == 0) code = 1;  // ended unsuccessfully whatever the process said
    }
    o["exit_code"] = code;
  }
  o["status"] = StatusOf(run.status);
  if (run.created_at > 0) o["queued_at"] = GoTime(run.created_at);
  if (run.started_at > 0) o["started_at"] = GoTime(run.started_at);
  if (ended && run.ended_at > 0) o["finished_at"] = GoTime(run.ended_at);
  o["group_name"] = run.group;
  if (!run.owner.empty()) o["user"] = run.owner;
  o["task_type"] = "task";
  std::map<std::string, std::string> env = run.overrides.env;
  // Flotilla's only parent link is this variable (services/execution.go terminateWorker); a run
  // submitted with API v1's parent_run_id shows it too.
  if (!run.parent_run_id.empty()) env.emplace(kParentEnv, run.parent_run_id);
  o["env"] = EnvList(env);
  if (std::string command = CommandOf(spec); !command.empty()) o["command"] = command;
  if (std::string hash = Label(spec, kCommandHashLabel); !hash.empty()) o["command_hash"] = hash;
  const Resources& res = last != nullptr ? last->resources : spec.resources;
  if (res.memory_bytes > 0) {
    o["memory"] = Megabytes(res.memory_bytes);
    o["memory_limit"] = Megabytes(res.memory_bytes);  // Tugboat requests its limit
  }
  if (res.cpu_millis > 0) {
    o["cpu"] = res.cpu_millis;
    o["cpu_limit"] = res.cpu_millis;
  }
  if (const int64_t gpu = res.gpu > 0 ? res.gpu : spec.resources.gpu; gpu > 0) o["gpu"] = gpu;
  if (ended && run.outcome) {
    const Outcome& out = *run.outcome;
    o["exit_reason"] =
        run.status == RunStatus::kSucceeded && !out.message.empty() ? out.message : out.reason;
  }
  o["engine"] = spec.kind == "spark" ? "eks-spark" : "eks";
  std::string_view lifecycle =
      last != nullptr ? Lifecycle(spec.kind == "spark" ? last->placement.executor_capacity
                                                       : last->placement.capacity)
                      : Lifecycle(spec.adapt.capacity);
  if (!lifecycle.empty()) o["node_lifecycle"] = lifecycle;
  if (last != nullptr && last->peak_memory_bytes > 0) {
    o["max_memory_used"] = Megabytes(last->peak_memory_bytes);
  }
  o["executable_id"] = run.definition;
  if (spec.parameters.empty()) {
    o["executable_type"] = "task_definition";
  } else {
    // A template run (services/execution.go constructRunFromTemplate): its payload, defaults
    // filled in, as execution_request_custom.template_payload.
    o["executable_type"] = "template";
    json::value payload = json::object();
    if (!run.overrides.parameters.empty()) {
      boost::system::error_code ec;
      json::value v = json::parse(run.overrides.parameters, ec);
      if (!ec && v.is_object()) payload = std::move(v);
    }
    o["execution_request_custom"] = json::object{{"template_payload", std::move(payload)}};
  }
  const int attempts = last != nullptr ? static_cast<int>(run.attempts.size()) : run.attempt_count;
  if (attempts > 0) o["attempt_count"] = attempts;
  if (spec.timeout_seconds > 0) o["active_deadline_seconds"] = spec.timeout_seconds;
  std::string description = Label(spec, kDescriptionLabel);
  o["description"] = description.empty() ? run.definition : description;
  if (std::string key = Label(spec, kIdempotenceLabel); !key.empty()) o["idempotence_key"] = key;
  if (std::string arch = Label(spec, kArchLabel); !arch.empty()) o["arch"] = arch;
  json::object labels;
  for (const auto& [k, v] : spec.labels) {
    if (k.rfind(kLabelPrefix, 0) != 0) labels[k] = v;
  }
  if (!labels.empty()) o["labels"] = std::move(labels);
  return o;
}

Result<ExecuteRequest> ParseExecute(const json::value& body) {
  if (!body.is_object()) {
    return InvalidArgument(
        "json: cannot unmarshal the body into an execution request; send a JSON object, e.g. "
        R"({"run_tags":{"owner_id":"ada"},"env":[{"name":"K","value":"v"}]})");
  }
  const json::object& o = body.as_object();
  ExecuteRequest r;
  if (const json::value* tags = Field(o, "run_tags"); tags != nullptr) {
    if (!tags->is_object()) {
      return InvalidArgument(R"(json: cannot unmarshal run_tags: send {"owner_id":"ada"})");
    }
    ASSIGN_OR_RETURN(r.owner_id, StringField(tags->as_object(), "owner_id"));
  }
  if (r.owner_id.empty()) {
    return InvalidArgument("run_tags must exist in body and contain [owner_id]");
  }
  ASSIGN_OR_RETURN(std::string engine, StringField(o, "engine"));
  const json::value* spark = Field(o, "spark_extension");
  if (engine == "eks-spark" && spark == nullptr) {
    return Internal("spark_extension can't be nil, when using eks-spark engine type");
  }
  if (spark != nullptr) {
    return InvalidArgument(
        "spark_extension (Spark on EMR) has no equivalent in the v6 API of Tugboat; define a "
        "kind: spark definition with API v1 (docs/definitions.md) and execute that");
  }
  if (!engine.empty() && engine != "eks" && engine != "ecs") {
    return InvalidArgument(
        fmt::format("engine '{}' is not one Flotilla runs tasks on; use eks", engine));
  }
  RETURN_IF_ERROR(ParseLaunchFields(o, r));
  return r;
}

Status ParseLaunchFields(const json::object& o, ExecuteRequest& r) {
  ASSIGN_OR_RETURN(std::string lifecycle, StringField(o, "node_lifecycle"));
  if (lifecycle == "spot") {
    r.capacity = std::string(kSpot);
  } else if (lifecycle == "ondemand") {
    r.capacity = std::string(kOnDemand);
  } else if (!lifecycle.empty() || Field(o, "node_lifecycle") != nullptr) {
    return InvalidArgument("Nodelifecyle must be [normal, spot]");  // sic, endpoints.go
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> gpu, GpuField(o));
  // services/execution.go sends gpu > 0 to its GPU cluster; Tugboat asks for nvidia.com/gpu
  // (resources.gpu), and the planner and engine place it.
  if (gpu && *gpu > 0) r.overrides.resources.gpu = *gpu;
  ASSIGN_OR_RETURN(r.command, StringField(o, "command"));
  ASSIGN_OR_RETURN(std::optional<int64_t> memory, IntField(o, "memory"));
  ASSIGN_OR_RETURN(std::optional<int64_t> cpu, IntField(o, "cpu"));
  ASSIGN_OR_RETURN(std::optional<int64_t> deadline, IntField(o, "active_deadline_seconds"));
  if (memory && *memory != 0) {
    RETURN_IF_ERROR(CheckMemory(*memory, "memory"));
    r.overrides.resources.memory_bytes = *memory * kMegabyte;
  }
  if (cpu && *cpu != 0) {
    if (*cpu < 0) return InvalidArgument("cpu must be positive: millicores, e.g. cpu: 500");
    r.overrides.resources.cpu_millis = *cpu;
  }
  if (deadline && *deadline != 0) {
    if (*deadline < 0) {
      return InvalidArgument("active_deadline_seconds must be positive, e.g. 3600");
    }
    r.overrides.timeout_seconds = *deadline;
  }
  ASSIGN_OR_RETURN(auto env, EnvField(o));
  if (env) r.overrides.env = std::move(*env);
  ASSIGN_OR_RETURN(std::string description, StringField(o, "description"));
  ASSIGN_OR_RETURN(std::string command_hash, StringField(o, "command_hash"));
  ASSIGN_OR_RETURN(r.idempotence_key, StringField(o, "idempotence_key"));
  ASSIGN_OR_RETURN(std::string arch, StringField(o, "arch"));
  ASSIGN_OR_RETURN(std::string cluster, StringField(o, "cluster"));
  (void)cluster;  // Flotilla overrides it with its configured cluster; so does Tugboat's planner
  if (const json::value* labels = Field(o, "labels"); labels != nullptr) {
    if (!labels->is_object()) {
      return InvalidArgument(R"(json: cannot unmarshal labels: send a map, e.g. {"team":"ds"})");
    }
    for (const auto& kv : labels->as_object()) {
      if (!kv.value().is_string()) {
        return InvalidArgument(fmt::format(
            "json: cannot unmarshal labels: the value of '{}' must be a string", kv.key()));
      }
      const std::string key(kv.key());
      if (key.rfind(kLabelPrefix, 0) == 0) {
        return InvalidArgument(fmt::format(
            "label '{}': labels starting with {} hold Flotilla's own fields in Tugboat; "
            "choose another name",
            key, kLabelPrefix));
      }
      r.labels[key] = std::string(kv.value().as_string());
    }
  }
  if (!description.empty()) r.labels[kDescriptionLabel] = description;
  if (!command_hash.empty()) r.labels[kCommandHashLabel] = command_hash;
  if (!r.idempotence_key.empty()) r.labels[kIdempotenceLabel] = r.idempotence_key;
  if (!arch.empty()) {
    // eks_adapter.go constructAffinity: arm64, or amd64 for anything else.
    r.labels[kArchLabel] = arch;
    r.node_selector["kubernetes.io/arch"] = arch == "arm64" ? "arm64" : "amd64";
  }
  r.labels[kOwnerIdLabel] = r.owner_id;
  return OkStatus();
}

}  // namespace tug::flotilla
