// Server configuration: the `clusters:` list (one Kubernetes cluster each).
#include <charconv>
#include <cstdlib>
#include <system_error>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/quantity.h"
#include "server/config.h"

namespace json = boost::json;

namespace tug::server {
namespace {

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
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
    } else {
      return InvalidArgument(fmt::format(
          "{}: unknown key '{}'; known keys: name, kubeconfig, context, in_cluster, namespace, "
          "capacity_label, spot_value, on_demand_value, service_account, qps, burst, pod_linger, "
          "pending_timeout, image_pull_grace, unknown_pods, prune_events, watch_nodes, "
          "scheduler_name",
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
