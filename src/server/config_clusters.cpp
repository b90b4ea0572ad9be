// Server configuration: the `clusters:` list (one Kubernetes cluster each).
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <system_error>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "core/quantity.h"
#include "server/config.h"

namespace json = boost::json;

namespace tug::server {
namespace {

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

// A label key as Kubernetes takes it: an optional DNS prefix and '/', then a name of at most 63
// characters of [A-Za-z0-9._-] that starts and ends alphanumeric.
bool LabelKeyOk(const std::string& key) {
  const size_t slash = key.rfind('/');
  const std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  if (slash != std::string::npos && (slash == 0 || slash > 253)) return false;
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char ch : name) {
    if (!alnum(ch) && ch != '-' && ch != '_' && ch != '.') return false;
  }
  return true;
}

bool LabelValueOk(const std::string& value) {
  if (value.size() > 63) return false;
  for (char ch : value) {
    if (std::isalnum(static_cast<unsigned char>(ch)) == 0 && ch != '-' && ch != '_' && ch != '.') {
      return false;
    }
  }
  return true;
}

// gpu: {node_selector: {label: value}, tolerations: [{key, operator, value, effect}]}
Status ParseGpu(const json::value& v, const std::string& what, ClusterConfig& c) {
  if (!v.is_object()) {
    return InvalidArgument(fmt::format(
        "{} must be a map, e.g. {{node_selector: {{nvidia.com/gpu.present: \"true\"}}, "
        "tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]}}",
        what));
  }
  for (const auto& kv : v.as_object()) {
    if (kv.key() != "node_selector" && kv.key() != "tolerations") {
      return InvalidArgument(fmt::format(
          "{}: unknown key '{}'; known keys: node_selector, tolerations", what, kv.key()));
    }
  }
  ASSIGN_OR_RETURN(KubernetesSpec k, KubernetesFromJson(v, what));
  for (const auto& [key, value] : k.node_selector) {
    if (!LabelKeyOk(key)) {
      return InvalidArgument(fmt::format(
          "{}.node_selector: '{}' is not a label key; use e.g. nvidia.com/gpu.present", what, key));
    }
    if (!LabelValueOk(value)) {
      return InvalidArgument(
          fmt::format("{}.node_selector: value '{}' of '{}' is not a label value (at most 63 of "
                      "A-Z a-z 0-9 . _ -)",
                      what, value, key));
    }
  }
  for (const Toleration& t : k.tolerations) {
    if (t.op != "Equal" && t.op != "Exists") {
      return InvalidArgument(
          fmt::format("{}.tolerations: operator '{}' must be Equal or Exists", what, t.op));
    }
    if (t.op == "Exists" && !t.value.empty()) {
      return InvalidArgument(
          fmt::format("{}.tolerations: operator Exists takes no value (key '{}')", what, t.key));
    }
    if (t.op == "Equal" && t.key.empty()) {
      return InvalidArgument(fmt::format("{}.tolerations: operator Equal needs a key", what));
    }
    if (!t.effect.empty() && t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" &&
        t.effect != "NoExecute") {
      return InvalidArgument(fmt::format(
          "{}.tolerations: effect '{}' must be NoSchedule, PreferNoSchedule or NoExecute", what,
          t.effect));
    }
  }
  c.gpu_node_selector = std::move(k.node_selector);
  c.gpu_tolerations = std::move(k.tolerations);
  return OkStatus();
}

Status ParseCluster(const json::value& v, const std::string& what, ClusterConfig& c) {
  if (!v.is_object()) return InvalidArgument(what + " must be a map with at least a name");
  for (const auto& kv : v.as_object()) {
    const std::string key(kv.key());
    const std::string text = Text(kv.value());
    auto bad = [&](std::string_view why) {
      return InvalidArgument(fmt::format("{}.{} '{}' {}", what, key, text, why));
    };
    auto boolean = [&](bool& out) -> Status {
      if (text != "true" && text != "false") return bad("must be true or false");
      out = text == "true";
      return OkStatus();
    };
    auto duration = [&](int64_t& out) -> Status {
      if (text == "0" || text == "0s") {
        out = 0;
        return OkStatus();
      }
      auto d = ParseDuration(text);
      if (!d.ok()) return bad("must be a duration, e.g. 30s or 10m");
      out = *d;
      return OkStatus();
    };
    if (key == "name") {
      c.name = text;
    } else if (key == "kubeconfig") {
      c.kubeconfig = text;
    } else if (key == "context") {
      c.context = text;
    } else if (key == "in_cluster") {
      RETURN_IF_ERROR(boolean(c.in_cluster));
    } else if (key == "namespace") {
      c.namespace_ = text;
    } else if (key == "capacity_label") {
      c.capacity_label = text;
    } else if (key == "spot_value") {
      c.spot_value = text;
    } else if (key == "on_demand_value") {
      c.on_demand_value = text;
    } else if (key == "service_account") {
      c.service_account = text;
    } else if (key == "qps") {
      char* end = nullptr;
      c.qps = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || c.qps < 0) return bad("must be a number >= 0");
    } else if (key == "burst") {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 100000) {
        return bad("must be a whole number from 1 to 100000");
      }
      c.burst = n;
    } else if (key == "pod_linger") {
      RETURN_IF_ERROR(duration(c.pod_linger_seconds));
    } else if (key == "pending_timeout") {
      RETURN_IF_ERROR(duration(c.pending_timeout_seconds));
    } else if (key == "image_pull_grace") {
      RETURN_IF_ERROR(duration(c.image_pull_grace_seconds));
    } else if (key == "unknown_pods") {
      if (text != "keep" && text != "delete") return bad("must be keep or delete");
      c.unknown_pods = text;
    } else if (key == "prune_events") {
      RETURN_IF_ERROR(boolean(c.prune_events));
    } else if (key == "watch_nodes") {
      RETURN_IF_ERROR(boolean(c.watch_nodes));
    } else if (key == "scheduler_name") {
      RETURN_IF_ERROR(CheckSchedulerName(text, what + ".scheduler_name"));
      c.scheduler_name = text;
    } else if (key == "gpu") {
      RETURN_IF_ERROR(ParseGpu(kv.value(), what + ".gpu", c));
    } else {
      return InvalidArgument(fmt::format(
          "{}: unknown key '{}'; known keys: name, kubeconfig, context, in_cluster, namespace, "
          "capacity_label, spot_value, on_demand_value, service_account, qps, burst, pod_linger, "
          "pending_timeout, image_pull_grace, unknown_pods, prune_events, watch_nodes, "
          "scheduler_name, gpu",
          what, key));
    }
  }
  if (c.kubeconfig.empty() && !c.in_cluster) {
    return InvalidArgument(
        fmt::format("{} ('{}') needs kubeconfig: PATH or in_cluster: true", what, c.name));
  }
  return OkStatus();
}

}  // namespace

Status ApplyClustersYaml(Config& config, const json::value& section, const std::string& source) {
  if (!section.is_array()) {
    return InvalidArgument(fmt::format(
        "{}: clusters must be a list, e.g. [{{name: prod, kubeconfig: ~/.kube/config}}]", source));
  }
  config.clusters.clear();
  size_t i = 0;
  for (const auto& item : section.as_array()) {
    ClusterConfig c;
    RETURN_IF_ERROR(ParseCluster(item, fmt::format("{}: clusters[{}]", source, i++), c));
    config.clusters.push_back(std::move(c));
  }
  return OkStatus();
}

}  // namespace tug::server
