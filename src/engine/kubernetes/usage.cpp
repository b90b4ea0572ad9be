#include "engine/kubernetes/usage.h"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/quantity.h"
#include "engine/kubernetes/pod.h"

namespace tug::engine::kubernetes {
namespace json = boost::json;

namespace {

const json::array* ArrayAt(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view k : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(k);
    if (cur == nullptr) return nullptr;
  }
  return cur->is_array() ? &cur->get_array() : nullptr;
}

// "0", "0.0": the one amount the user-facing parsers (which want a positive size) refuse.
bool IsZero(std::string_view q) {
  if (q.empty()) return false;
  for (char c : q) {
    if (c != '0' && c != '.') return false;
  }
  return true;
}

}  // namespace

Result<int64_t> ParseCpuUsage(std::string_view q) {
  size_t i = 0;
  bool digit = false;
  bool dot = false;
  for (; i < q.size(); ++i) {
    if (q[i] >= '0' && q[i] <= '9') {
      digit = true;
    } else if (q[i] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  std::string_view suffix = q.substr(i);
  long double per_milli = 0;  // how many units make a millicore
  if (suffix == "n") {
    per_milli = 1e6L;
  } else if (suffix == "u") {
    per_milli = 1e3L;
  } else if (suffix == "m") {
    per_milli = 1;
  } else if (suffix.empty()) {
    per_milli = 1e-3L;
  }
  if (!digit || per_milli == 0) {
    return InvalidArgument(fmt::format("cpu usage '{}' is not a quantity", q));
  }
  long double value = std::strtold(std::string(q.substr(0, i)).c_str(), nullptr) / per_milli;
  if (value > 1e15L) return InvalidArgument(fmt::format("cpu usage '{}' is too large", q));
  return static_cast<int64_t>(std::llround(value));
}

Result<int64_t> ParseMemoryUsage(std::string_view q) {
  if (IsZero(q)) return 0;
  auto bytes = ParseMemory(q);
  if (!bytes.ok()) return InvalidArgument(fmt::format("memory usage '{}' is not a quantity", q));
  return *bytes;
}

Result<PodMetricsSample> ReadPodMetrics(const json::value& item) {
  PodMetricsSample s;
  s.pod = StringAt(item, {"metadata", "name"});
  if (s.pod.empty()) return InvalidArgument("a PodMetrics object has no metadata.name");
  s.timestamp = ParseTime(StringAt(item, {"timestamp"}));
  const json::array* containers = ArrayAt(item, {"containers"});
  if (containers == nullptr) {
    return InvalidArgument(fmt::format("PodMetrics of pod {} has no containers list", s.pod));
  }
  for (const json::value& c : *containers) {
    const std::string cpu = StringAt(c, {"usage", "cpu"});
    const std::string memory = StringAt(c, {"usage", "memory"});
    auto millis = ParseCpuUsage(cpu);
    auto bytes = ParseMemoryUsage(memory);
    if (!millis.ok() || !bytes.ok()) {
      return InvalidArgument(
          fmt::format("PodMetrics of pod {}: container {} has usage cpu '{}'"
                      " memory '{}'",
                      s.pod, StringAt(c, {"name"}), cpu, memory));
    }
    s.cpu_millis += *millis;
    s.memory_bytes += *bytes;
  }
  return s;
}

PodLimits LimitsOf(const json::value& pod) {
  PodLimits out;
  const json::array* containers = ArrayAt(pod, {"spec", "containers"});
  if (containers == nullptr || containers->empty()) return out;
  bool all_memory = true;
  bool all_cpu = true;
  for (const json::value& c : *containers) {
    auto bytes = ParseMemory(StringAt(c, {"resources", "limits", "memory"}));
    auto millis = ParseCpu(StringAt(c, {"resources", "limits", "cpu"}));
    all_memory = all_memory && bytes.ok();
    all_cpu = all_cpu && millis.ok();
    if (bytes.ok()) out.memory_bytes += *bytes;
    if (millis.ok()) out.cpu_millis += *millis;
  }
  if (!all_memory) out.memory_bytes = 0;
  if (!all_cpu) out.cpu_millis = 0;
  return out;
}

bool ServesPodMetrics(const json::value& resource_list) {
  const json::array* resources = ArrayAt(resource_list, {"resources"});
  if (resources == nullptr) return false;
  for (const json::value& r : *resources) {
    if (StringAt(r, {"name"}) == "pods") return true;
  }
  return false;
}

std::vector<Update> UsageUpdates(const std::vector<PodMetricsSample>& samples,
                                 const std::map<std::string, UsagePod>& pods, Micros now) {
  struct Reading {
    Micros timestamp = 0;
    UsageReading reading;
  };
  // attempt → component → reading, and the attempt's start.
  std::map<std::string, std::map<std::string, Reading>> by_attempt;
  std::map<std::string, Micros> started;
  for (const PodMetricsSample& s : samples) {
    auto p = pods.find(s.pod);
    if (p == pods.end()) continue;
    const UsagePod& pod = p->second;
    auto& components = by_attempt[pod.attempt_id];
    auto [it, fresh] = components.try_emplace(pod.component);
    if (!fresh && it->second.timestamp >= s.timestamp) continue;
    it->second.timestamp = s.timestamp;
    it->second.reading = UsageReading{pod.component, s.memory_bytes, s.cpu_millis,
                                      pod.limits.memory_bytes, pod.limits.cpu_millis};
    started[pod.attempt_id] = pod.started_at;
  }
  std::vector<Update> out;
  for (auto& [attempt_id, components] : by_attempt) {
    Update u;
    u.kind = Update::Kind::kUsage;
    u.attempt_id = attempt_id;
    u.started_at = started[attempt_id];
    for (auto& [name, r] : components) {
      u.at = std::max(u.at, r.timestamp);
      u.usage.push_back(std::move(r.reading));
    }
    if (u.at == 0) u.at = now;
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace tug::engine::kubernetes
