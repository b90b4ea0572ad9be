#include "engine/kubernetes/pod.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>
#include <boost/json.hpp>

namespace tug::engine::kubernetes {
namespace json = boost::json;

namespace {

std::string Str(const json::value* v) {
  if (v != nullptr && v->is_string()) return std::string(v->get_string());
  return {};
}

const json::value* At(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view k : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

// Waiting reasons that never resolve by themselves.
bool FatalWaiting(const std::string& reason) {
  return reason == "InvalidImageName" || reason == "CreateContainerConfigError" ||
         reason == "CreateContainerError" || reason == "RunContainerError";
}

}  // namespace

std::string StringAt(const json::value& v, std::initializer_list<std::string_view> path) {
  return Str(At(v, path));
}

std::string Quantity(int64_t bytes) {
  constexpr int64_t kKi = 1024;
  for (auto [unit, size] : {std::pair{"Gi", kKi * kKi * kKi}, {"Mi", kKi * kKi}, {"Ki", kKi}}) {
    if (bytes % size == 0) return std::to_string(bytes / size) + unit;
  }
  return std::to_string(bytes);
}

std::string PodName(const std::string& attempt_id) {
  std::string out = "tug-";
  for (char c : attempt_id) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) ? l : '-';
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string LabelValue(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    out += ok ? c : '-';
  }
  if (out.size() > 63) out.resize(63);
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  while (!out.empty() && !alnum(out.back())) out.pop_back();
  while (!out.empty() && !alnum(out.front())) out.erase(out.begin());
  return out;
}

Status CheckSecretsByReference(const LaunchSpec& spec, std::string_view engine) {
  for (const auto& [name, secret] : spec.secret_env) {
    if (secret.from_secret()) continue;
    return FailedPrecondition(fmt::format(
        "env '{}' has an inline secret value, which the {} engine does not copy into pods; "
        "store it in a Kubernetes Secret (kubectl create secret generic NAME "
        "--from-literal=KEY=...) and reference it: {{valueFrom: {{secretKeyRef: {{name: NAME, "
        "key: KEY}}}}}}",
        name, engine));
  }
  return OkStatus();
}

int64_t ShmBytes(const Resources& resources) {
  constexpr int64_t kMi = int64_t{1} << 20;
  if (resources.memory_bytes > 0)
    return std::max<int64_t>(kMi, resources.memory_bytes / 2 / kMi * kMi);
  return std::max<int64_t>(1, resources.gpu) * (int64_t{1} << 30);
}

json::value BuildPod(const LaunchSpec& spec, const PodSettings& settings) {
  const int64_t gpu = spec.resources.gpu;
  json::object labels{{kLabelManaged, "true"},
                      {kLabelRun, LabelValue(spec.run_id)},
                      {kLabelAttempt, LabelValue(spec.attempt_id)},
                      {kLabelDefinition, LabelValue(spec.definition)},
                      {kLabelComponent, "main"}};
  json::object meta{{"name", PodName(spec.attempt_id)},
                    {"namespace", settings.namespace_},
                    {"labels", std::move(labels)},
                    {"annotations", json::object{{kAnnotationAttempt, spec.attempt_id}}}};

  json::object container{{"name", kContainerName}, {"image", spec.image}};
  json::array command;
  for (const auto& a : spec.argv) command.emplace_back(a);
  container["command"] = std::move(command);
  if (!spec.env.empty() || !spec.secret_env.empty()) {
    json::array env;
    for (const auto& [k, v] : spec.env) env.push_back(json::object{{"name", k}, {"value", v}});
    // Secrets by reference only: the kubelet reads the Secret, so its value is never in the
    // pod spec (or in a dry run's preview). Inline secret values are refused before launch
    // (CheckSecretsByReference).
    for (const auto& [k, v] : spec.secret_env) {
      if (!v.from_secret()) continue;
      env.push_back(json::object{
          {"name", k},
          {"valueFrom", json::object{{"secretKeyRef", json::object{{"name", v.secret_name},
                                                                   {"key", v.secret_key}}}}}});
    }
    container["env"] = std::move(env);
  }
  if (!spec.working_dir.empty()) container["workingDir"] = spec.working_dir;
  if (!spec.kubernetes.image_pull_policy.empty()) {
    container["imagePullPolicy"] = spec.kubernetes.image_pull_policy;
  }
  json::object requests;
  json::object limits;
  if (spec.resources.memory_bytes > 0) {
    // Request = limit: the pod gets what it is sized for, and an OOM is its own, not a
    // neighbour's (Guaranteed memory).
    requests["memory"] = Quantity(spec.resources.memory_bytes);
    limits["memory"] = Quantity(spec.resources.memory_bytes);
  }
  if (spec.resources.cpu_millis > 0) {
    requests["cpu"] = fmt::format("{}m", spec.resources.cpu_millis);
  }
  if (gpu > 0) {
    // An extended resource: the limit alone (its request defaults to it and may not differ).
    limits[kGpuResource] = std::to_string(gpu);
    // CUDA/NCCL and PyTorch data loaders share memory through /dev/shm, which is 64Mi in a
    // container unless a memory-backed volume replaces it.
    container["volumeMounts"] =
        json::array{json::object{{"name", "dshm"}, {"mountPath", "/dev/shm"}}};
  }
  json::object resources;
  if (!requests.empty()) resources["requests"] = std::move(requests);
  if (!limits.empty()) resources["limits"] = std::move(limits);
  if (!resources.empty()) container["resources"] = std::move(resources);

  json::object pod_spec{{"restartPolicy", "Never"}};
  pod_spec["containers"] = json::array{std::move(container)};
  // Fast stop: the platform already gives the job its grace on Stop.
  pod_spec["terminationGracePeriodSeconds"] = 30;
  if (spec.timeout_seconds > 0) pod_spec["activeDeadlineSeconds"] = spec.timeout_seconds;
  std::string sa = spec.kubernetes.service_account.empty() ? settings.default_service_account
                                                           : spec.kubernetes.service_account;
  if (!sa.empty()) pod_spec["serviceAccountName"] = sa;
  if (!settings.scheduler_name.empty()) pod_spec["schedulerName"] = settings.scheduler_name;
  if (!spec.kubernetes.image_pull_secrets.empty()) {
    json::array secrets;
    for (const auto& s : spec.kubernetes.image_pull_secrets) {
      secrets.push_back(json::object{{"name", s}});
    }
    pod_spec["imagePullSecrets"] = std::move(secrets);
  }
  std::map<std::string, std::string> node_selector = spec.kubernetes.node_selector;
  std::vector<Toleration> tolerations = spec.kubernetes.tolerations;
  if (gpu > 0) {
    for (const auto& [k, v] : settings.gpu_node_selector) node_selector.emplace(k, v);
    for (const Toleration& t : settings.gpu_tolerations) {
      if (std::find(tolerations.begin(), tolerations.end(), t) == tolerations.end()) {
        tolerations.push_back(t);
      }
    }
    pod_spec["volumes"] = json::array{json::object{
        {"name", "dshm"},
        {"emptyDir",
         json::object{{"medium", "Memory"}, {"sizeLimit", Quantity(ShmBytes(spec.resources))}}}}};
  }
  if (!node_selector.empty()) {
    json::object sel;
    for (const auto& [k, v] : node_selector) sel[k] = v;
    pod_spec["nodeSelector"] = std::move(sel);
  }
  if (!tolerations.empty()) {
    json::array tols;
    for (const Toleration& t : tolerations) {
      json::object o{{"operator", t.op}};
      if (!t.key.empty()) o["key"] = t.key;
      if (!t.value.empty()) o["value"] = t.value;
      if (!t.effect.empty()) o["effect"] = t.effect;
      tols.emplace_back(std::move(o));
    }
    pod_spec["tolerations"] = std::move(tols);
  }
  const std::string& cap = spec.placement.capacity;
  if (!settings.capacity_label.empty() && (cap == kSpot || cap == kOnDemand)) {
    const std::string& value = cap == kSpot ? settings.spot_value : settings.on_demand_value;
    json::object expr{{"key", settings.capacity_label},
                      {"operator", "In"},
                      {"values", json::array{json::value(value)}}};
    json::object term{{"matchExpressions", json::array{std::move(expr)}}};
    pod_spec["affinity"] = json::object{
        {"nodeAffinity",
         json::object{{"requiredDuringSchedulingIgnoredDuringExecution",
                       json::object{{"nodeSelectorTerms", json::array{std::move(term)}}}}}}};
  }
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(pod_spec)}};
}

std::string CapacityOf(const json::value& pod, const PodSettings& settings) {
  auto named = [&](const std::string& value) -> std::string {
    if (value == settings.spot_value) return std::string(kSpot);
    if (value == settings.on_demand_value) return std::string(kOnDemand);
    return "";
  };
  if (settings.capacity_label.empty()) return "";
  std::string v = StringAt(pod, {"spec", "nodeSelector", settings.capacity_label});
  if (!v.empty()) return named(v);
  const json::value* terms =
      At(pod, {"spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
               "nodeSelectorTerms"});
  if (terms == nullptr || !terms->is_array()) return "";
  for (const auto& term : terms->get_array()) {
    const json::value* exprs = At(term, {"matchExpressions"});
    if (exprs == nullptr || !exprs->is_array()) continue;
    for (const auto& e : exprs->get_array()) {
      if (StringAt(e, {"key"}) != settings.capacity_label || StringAt(e, {"operator"}) != "In") {
        continue;
      }
      const json::value* values = At(e, {"values"});
      if (values != nullptr && values->is_array() && values->get_array().size() == 1 &&
          values->get_array()[0].is_string()) {
        return named(std::string(values->get_array()[0].get_string()));
      }
    }
  }
  return "";
}

Micros ParseTime(std::string_view t) {
  // 2026-11-24T10:11:12Z or 2026-11-24T10:11:12.123456789Z (UTC only, as the API server writes).
  if (t.size() < 20) return 0;
  std::tm tm{};
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (y < 0 || mo < 1 || d < 1 || h < 0 || mi < 0 || s < 0 || t[4] != '-' || t[10] != 'T') {
    return 0;
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  Micros out = static_cast<Micros>(timegm(&tm)) * kMicrosPerSecond;
  size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    ++i;
    Micros frac = 0;
    int digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      if (digits < 6) {
        frac = frac * 10 + (t[i] - '0');
        ++digits;
      }
      ++i;
    }
    while (digits < 6) {
      frac *= 10;
      ++digits;
    }
    out += frac;
  }
  return out;
}

Micros EventTime(const json::value& event) {
  for (const char* key : {"lastTimestamp", "eventTime", "firstTimestamp"}) {
    if (Micros at = ParseTime(StringAt(event, {key})); at != 0) return at;
  }
  return 0;
}

PodState ReadPod(const json::value& pod, std::string_view container) {
  PodState st;
  st.attempt_id = StringAt(pod, {"metadata", "annotations", kAnnotationAttempt});
  st.node_name = StringAt(pod, {"spec", "nodeName"});
  const std::string phase = StringAt(pod, {"status", "phase"});
  const std::string pod_reason = StringAt(pod, {"status", "reason"});
  const std::string pod_message = StringAt(pod, {"status", "message"});

  // The main container's status.
  const json::value* cs = nullptr;
  bool by_name = false;
  if (const json::value* list = At(pod, {"status", "containerStatuses"});
      list != nullptr && list->is_array()) {
    for (const auto& c : list->get_array()) {
      if (StringAt(c, {"name"}) == container) cs = &c;
    }
    by_name = cs != nullptr;
    if (cs == nullptr && !list->get_array().empty()) cs = &list->get_array()[0];
  }
  bool scheduler_spoke = false;  // a PodScheduled condition, either way
  if (const json::value* conds = At(pod, {"status", "conditions"});
      conds != nullptr && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      const std::string type = StringAt(c, {"type"});
      scheduler_spoke = scheduler_spoke || type == "PodScheduled";
      if (type == "DisruptionTarget" && StringAt(c, {"status"}) == "True") {
        st.disruption = true;
        st.disruption_message = StringAt(c, {"message"});
        if (st.disruption_message.empty()) st.disruption_message = StringAt(c, {"reason"});
      }
      if (type == "PodScheduled" && StringAt(c, {"status"}) == "False") {
        st.waiting_reason = StringAt(c, {"reason"});
        st.waiting_message = StringAt(c, {"message"});
      }
    }
  }
  const std::string scheduler = StringAt(pod, {"spec", "schedulerName"});
  if (st.node_name.empty() && !scheduler_spoke && (phase.empty() || phase == "Pending") &&
      !scheduler.empty() && scheduler != "default-scheduler") {
    st.unassigned_scheduler = scheduler;
  }
  const json::value* running = cs != nullptr ? At(*cs, {"state", "running"}) : nullptr;
  const json::value* terminated = cs != nullptr ? At(*cs, {"state", "terminated"}) : nullptr;
  const json::value* waiting = cs != nullptr ? At(*cs, {"state", "waiting"}) : nullptr;
  if (running != nullptr) st.started_at = ParseTime(StringAt(*running, {"startedAt"}));
  if (terminated != nullptr && st.started_at == 0) {
    st.started_at = ParseTime(StringAt(*terminated, {"startedAt"}));
  }
  if (waiting != nullptr) {
    std::string r = StringAt(*waiting, {"reason"});
    if (!r.empty() && r != "ContainerCreating" && r != "PodInitializing") {
      st.waiting_reason = r;
      st.waiting_message = StringAt(*waiting, {"message"});
      st.waiting_fatal = FatalWaiting(r);
    }
  }

  auto end = [&](AttemptStatus status, std::optional<int> code, std::string reason,
                 std::string message) {
    st.phase = PodState::Phase::kEnded;
    st.status = status;
    st.outcome.exit_code = code;
    st.outcome.reason = std::move(reason);
    st.outcome.message = std::move(message);
    if (terminated != nullptr) st.ended_at = ParseTime(StringAt(*terminated, {"finishedAt"}));
  };

  if (phase == "Succeeded") {
    end(AttemptStatus::kSucceeded, 0, std::string(reason::kCompleted), "");
    return st;
  }
  // The named container ended while another one (a sidecar) keeps the pod Running: the
  // container's end is the pod's, read as the Failed/Succeeded phase below would.
  std::string effective = phase;
  if (phase == "Running" && by_name && terminated != nullptr) {
    const json::value* ec = At(*terminated, {"exitCode"});
    bool ok = ec != nullptr && ec->is_int64() && ec->get_int64() == 0;
    effective = ok ? "Succeeded" : "Failed";
  }
  if (effective == "Succeeded" && phase != "Succeeded") {
    end(AttemptStatus::kSucceeded, 0, std::string(reason::kCompleted), "");
    return st;
  }
  if (effective == "Failed") {
    if (pod_reason == "DeadlineExceeded") {
      end(AttemptStatus::kFailed, std::nullopt, std::string(reason::kDeadlineExceeded),
          pod_message.empty() ? "the pod ran past its activeDeadlineSeconds" : pod_message);
      return st;
    }
    if (pod_reason == "Evicted") {
      end(AttemptStatus::kFailed, std::nullopt, "Evicted", pod_message);
      return st;
    }
    if (pod_reason == "NodeLost" || pod_reason == "Shutdown" || pod_reason == "NodeShutdown" ||
        pod_reason == "Terminated" || pod_reason == "Preempting" || st.disruption) {
      std::string msg = !pod_message.empty() ? pod_message : st.disruption_message;
      end(AttemptStatus::kFailed, std::nullopt, "NodeLost",
          msg.empty() ? "the pod's node went away" : msg);
      if (terminated != nullptr) {
        int code = static_cast<int>(At(*terminated, {"exitCode"}) != nullptr &&
                                            At(*terminated, {"exitCode"})->is_int64()
                                        ? At(*terminated, {"exitCode"})->get_int64()
                                        : 0);
        if (code != 0) st.outcome.exit_code = code;
      }
      return st;
    }
    if (terminated != nullptr) {
      const json::value* ec = At(*terminated, {"exitCode"});
      std::optional<int> code;
      if (ec != nullptr && ec->is_int64()) code = static_cast<int>(ec->get_int64());
      std::string r = StringAt(*terminated, {"reason"});
      std::string msg = StringAt(*terminated, {"message"});
      if (r.empty()) r = std::string(reason::kError);
      if (r == "OOMKilled" && msg.empty()) {
        msg = "the container exceeded its memory limit and was OOM-killed by the kernel";
      }
      if (msg.empty() && code.has_value()) msg = fmt::format("exit code {}", *code);
      end(AttemptStatus::kFailed, code, r, msg);
      return st;
    }
    end(AttemptStatus::kFailed, std::nullopt, pod_reason.empty() ? "Failed" : pod_reason,
        pod_message.empty() ? "the pod failed without a container status" : pod_message);
    return st;
  }
  if (phase == "Running") {
    st.phase = PodState::Phase::kRunning;
    return st;
  }
  // Pending (or Unknown): a waiting reason that never resolves ends the attempt now.
  if (st.waiting_fatal) {
    end(AttemptStatus::kFailed, std::nullopt, st.waiting_reason, st.waiting_message);
  }
  return st;
}

}  // namespace tug::engine::kubernetes
