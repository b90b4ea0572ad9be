// Server configuration: the `queues:` list and `queue_capacity:` (team queues, src/queue).
#include <charconv>
#include <cmath>
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

Status WholeNumber(const std::string& what, const std::string& text, int64_t& out) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 0) {
    return InvalidArgument(fmt::format("{} '{}' must be a whole number >= 0", what, text));
  }
  out = n;
  return OkStatus();
}

// cpu / memory / gpu of a quota-like map, into `v`; `max_running` too when `running` is set.
Status ParseAmounts(const json::value& section, const std::string& what, queue::Vec& v,
                    int64_t* running) {
  if (!section.is_object()) {
    return InvalidArgument(fmt::format("{} must be a map, e.g. {{cpu: 8, memory: 32Gi}}", what));
  }
  for (const auto& kv : section.as_object()) {
    const std::string key(kv.key());
    const std::string text = Text(kv.value());
    const std::string field = what + "." + key;
    if (key == "cpu") {
      auto c = ParseCpu(text);
      if (!c.ok())
        return InvalidArgument(fmt::format("{} '{}' must be CPUs, e.g. 8 or 500m", field, text));
      v.cpu_millis = *c;
    } else if (key == "memory") {
      auto m = ParseMemory(text);
      if (!m.ok())
        return InvalidArgument(fmt::format("{} '{}' must be a size, e.g. 32Gi", field, text));
      v.memory_bytes = *m;
    } else if (key == "gpu") {
      RETURN_IF_ERROR(WholeNumber(field, text, v.gpu));
    } else if (key == "max_running" && running != nullptr) {
      RETURN_IF_ERROR(WholeNumber(field, text, *running));
    } else {
      return InvalidArgument(
          fmt::format("{}: unknown key '{}'; known keys: {}", what, key,
                      running != nullptr ? "max_running, cpu, memory, gpu" : "cpu, memory, gpu"));
    }
  }
  return OkStatus();
}

Status ParseQueue(const json::value& v, const std::string& what, queue::QueueSpec& q) {
  if (!v.is_object()) {
    return InvalidArgument(what + " must be a map, e.g. {name: team-a, cpu: 40, memory: 160Gi}");
  }
  for (const auto& kv : v.as_object()) {
    const std::string key(kv.key());
    const std::string text = Text(kv.value());
    const std::string field = what + "." + key;
    if (key == "name") {
      q.name = text;
    } else if (key == "weight") {
      char* end = nullptr;
      q.weight = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || !(q.weight > 0) || !std::isfinite(q.weight)) {
        return InvalidArgument(fmt::format("{} '{}' must be a number above 0", field, text));
      }
    } else if (key == "priority") {
      int n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return InvalidArgument(fmt::format("{} '{}' must be a whole number", field, text));
      }
      q.priority = n;
    } else if (key == "max_running" || key == "cpu" || key == "memory" || key == "gpu") {
      json::object one;
      one[key] = kv.value();
      RETURN_IF_ERROR(ParseAmounts(one, what, q.limits.quota, &q.limits.max_running));
    } else if (key == "per_user") {
      RETURN_IF_ERROR(
          ParseAmounts(kv.value(), field, q.user_limits.quota, &q.user_limits.max_running));
    } else if (key == "cohort") {
      q.cohort = text;
    } else if (key == "borrowing_limit") {
      RETURN_IF_ERROR(ParseAmounts(kv.value(), field, q.borrowing_limit, nullptr));
    } else {
      return InvalidArgument(fmt::format(
          "{}: unknown key '{}'; known keys: name, weight, priority, max_running, cpu, memory, "
          "gpu, per_user, cohort, borrowing_limit",
          what, key));
    }
  }
  if (q.name.empty()) return InvalidArgument(what + " needs a name, e.g. name: team-a");
  return OkStatus();
}

}  // namespace

Status ApplyQueuesYaml(Config& config, const json::value& section, const std::string& source) {
  if (!section.is_array()) {
    return InvalidArgument(fmt::format(
        "{}: queues must be a list, e.g. [{{name: team-a, cpu: 40, memory: 160Gi}}]", source));
  }
  std::vector<queue::QueueSpec> queues;
  size_t i = 0;
  for (const auto& item : section.as_array()) {
    queue::QueueSpec q;
    RETURN_IF_ERROR(ParseQueue(item, fmt::format("{}: queues[{}]", source, i++), q));
    queues.push_back(std::move(q));
  }
  if (Status st = queue::ValidateQueues(queues); !st.ok()) {
    return InvalidArgument(fmt::format("{}: queues: {}", source, st.error().message()));
  }
  config.queues = std::move(queues);
  return OkStatus();
}

Status ApplyQueueCapacityYaml(Config& config, const json::value& section,
                              const std::string& source) {
  queue::Vec v;
  RETURN_IF_ERROR(ParseAmounts(section, source + ": queue_capacity", v, nullptr));
  config.queue_capacity = v;
  return OkStatus();
}

}  // namespace tug::server
