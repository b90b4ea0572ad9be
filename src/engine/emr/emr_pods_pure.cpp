// The pure parts of the emr-on-eks pod watcher (emr_pods.h): which component an EMR pod is and
// whose container counts, live logs settled against EMR's S3 copy, the pods' last states merged
// into the end, and the timeline budget.
#include <algorithm>
#include <cstdio>
#include <regex>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "engine/emr/emr_pods.h"
#include "engine/kubernetes/pod.h"

namespace tug::engine::emr {
namespace json = boost::json;
using kubernetes::StringAt;

std::string EmrPodComponent(const json::value& pod) {
  const std::string role = StringAt(pod, {"metadata", "labels", kLabelSparkRole});
  const std::string emr = StringAt(pod, {"metadata", "labels", kLabelEmrComponent});
  if (role == "driver") return "driver";
  if (role == "executor") {
    std::string id = StringAt(pod, {"metadata", "labels", kLabelSparkExecId});
    if (id.empty()) {
      static const std::regex kExec(".*-exec-([0-9]+)$");
      std::smatch m;
      const std::string name = StringAt(pod, {"metadata", "name"});
      if (std::regex_match(name, m, kExec)) id = m[1].str();
    }
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return "";
    return "executor-" + id;
  }
  if (!role.empty()) return "";
  if (emr == "job.submitter" || emr == "controller" || emr.empty()) return "controller";
  return "";
}

std::string EmrPodContainer(const json::value& pod, const std::string& component) {
  const json::value* spec = pod.is_object() ? pod.as_object().if_contains("spec") : nullptr;
  const json::value* list =
      spec != nullptr && spec->is_object() ? spec->as_object().if_contains("containers") : nullptr;
  if (list == nullptr || !list->is_array()) return "";
  std::string want = component == "driver"                        ? "spark-kubernetes-driver"
                     : kubernetes::IsExecutorComponent(component) ? "spark-kubernetes-executor"
                                                                  : "";
  std::string first;
  std::string first_not_sidecar;
  for (const auto& c : list->as_array()) {
    std::string name = StringAt(c, {"name"});
    if (name.empty()) continue;
    if (!want.empty() && name == want) return name;
    if (first.empty()) first = name;
    if (first_not_sidecar.empty() && name.find("fluentd") == std::string::npos) {
      first_not_sidecar = name;
    }
  }
  return first_not_sidecar.empty() ? first : first_not_sidecar;
}

std::vector<std::string> SettleLiveLogs(logs::LogStore& logs, const std::string& run_id,
                                        const std::string& attempt_id,
                                        const std::vector<std::string>& imported) {
  std::vector<std::string> kept;
  auto names = logs.Components(run_id, attempt_id);
  if (!names.ok()) return kept;
  const std::string prefix = kLivePrefix;
  for (const std::string& name : *names) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string component = name.substr(prefix.size());
    auto live = logs.PathFor(run_id, attempt_id, name);
    if (!live.ok()) continue;
    if (std::find(imported.begin(), imported.end(), component) != imported.end()) {
      std::remove(live->c_str());
      continue;
    }
    auto final_path = logs.PathFor(run_id, attempt_id, component);
    if (!final_path.ok()) continue;
    if (std::rename(live->c_str(), final_path->c_str()) == 0) kept.push_back(component);
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

void ApplyPodStates(Update& u, const std::vector<ComponentStatus>& pods, bool user_error) {
  auto find = [&](const std::string& name) -> ComponentStatus* {
    for (ComponentStatus& c : u.components) {
      if (c.name == name) return &c;
    }
    return nullptr;
  };
  for (const ComponentStatus& p : pods) {
    if (p.name == "controller") {
      if (ComponentStatus* c = find("controller")) {
        c->pod = p.pod;
        c->node = p.node;
        c->started_at = p.started_at;
        if (!c->exit_code) c->exit_code = p.exit_code;
      } else {
        u.components.push_back(p);
      }
      continue;
    }
    if (p.name == "driver") {
      ComponentStatus merged = p;
      if (ComponentStatus* c = find("driver")) {
        if (!merged.exit_code) merged.exit_code = c->exit_code;
        if (merged.reason.empty()) merged.reason = c->reason;
        if (merged.state == "pending" || merged.state == "running") merged.state = c->state;
        if (merged.ended_at == 0) merged.ended_at = c->ended_at;
        *c = merged;
      } else {
        u.components.push_back(merged);
      }
      const bool platform = !p.reason.empty() && p.reason != "Error" && p.reason != "Completed" &&
                            p.reason != "Deleted";
      if (user_error && p.state == "failed" && platform) {
        u.outcome.reason = p.reason;
        if (p.exit_code && *p.exit_code != 0) u.outcome.exit_code = p.exit_code;
        u.outcome.message += fmt::format("; driver pod {}: {}{}", p.pod, p.reason,
                                         p.message.empty() ? "" : " (" + p.message + ")");
      }
      continue;
    }
    u.components.push_back(p);
  }
}

std::optional<std::string> TimelineBudget::Admit(const std::string& key, std::string text) {
  if (capped_ || seen_.count(key) > 0) return std::nullopt;
  if (seen_.size() >= limit_) {
    capped_ = true;
    return fmt::format(
        "further pod notes and Kubernetes events of this job run are not shown (limit {})", limit_);
  }
  seen_.insert(key);
  return text;
}

}  // namespace tug::engine::emr
