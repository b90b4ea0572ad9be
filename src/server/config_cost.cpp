// Server configuration: the `cost:` section (price book, share basis, metrics' label cap).
#include <cmath>
#include <cstdlib>

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

// A price or rate: a plain number >= 0 ("0.768"; YAML may hand it over typed or as text).
Result<double> Money(const json::value& v, const std::string& what) {
  const std::string text = Text(v);
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(d) || d < 0) {
    return InvalidArgument(
        fmt::format("{} '{}' must be a number >= 0 (dollars per hour, e.g. 0.768)", what, text));
  }
  return d;
}

Result<bool> Bool(const json::value& v, const std::string& what) {
  const std::string text = Text(v);
  if (text == "true") return true;
  if (text == "false") return false;
  return InvalidArgument(fmt::format("{} '{}' must be true or false", what, text));
}

Status ParseNodeType(const json::value& v, const std::string& what, double spot_fraction,
                     cost::NodePrice& out) {
  if (!v.is_object()) {
    return InvalidArgument(fmt::format(
        "{} must be a map like {{type: m5.4xlarge, cpu: 15750m, memory: 57Gi, on_demand: 0.768, "
        "spot: 0.27}}",
        what));
  }
  bool spot_set = false;
  for (const auto& kv : v.as_object()) {
    const std::string key(kv.key());
    const std::string where = what + "." + key;
    if (key == "type") {
      out.type = Text(kv.value());
    } else if (key == "cpu") {
      auto cpu = ParseCpu(Text(kv.value()));
      if (!cpu.ok()) {
        return InvalidArgument(fmt::format(
            "{} '{}' must be the allocatable cpu, e.g. 15750m or 15.75", where, Text(kv.value())));
      }
      out.cpu_millis = *cpu;
    } else if (key == "memory") {
      auto mem = ParseMemory(Text(kv.value()));
      if (!mem.ok()) {
        return InvalidArgument(fmt::format("{} '{}' must be the allocatable memory, e.g. 57Gi",
                                           where, Text(kv.value())));
      }
      out.memory_bytes = *mem;
    } else if (key == "on_demand") {
      ASSIGN_OR_RETURN(out.on_demand_hourly, Money(kv.value(), where));
    } else if (key == "spot") {
      ASSIGN_OR_RETURN(out.spot_hourly, Money(kv.value(), where));
      spot_set = true;
    } else if (key == "gpus") {
      const std::string text = Text(kv.value());
      char* end = nullptr;
      const long n = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || end != text.c_str() + text.size() || n < 0 || n > 64) {
        return InvalidArgument(
            fmt::format("{} '{}' must be the node's GPU count, 0 to 64", where, text));
      }
      out.gpus = n;
    } else {
      return InvalidArgument(fmt::format(
          "{} is not a node type key; use type, cpu, memory, gpus, on_demand and spot", where));
    }
  }
  // Without a spot price, spot is the book's fraction of on-demand.
  if (!spot_set) out.spot_hourly = out.on_demand_hourly * spot_fraction;
  return OkStatus();
}

Status ParseEngine(const json::value& v, const std::string& what, cost::EnginePrice& out) {
  if (!v.is_object()) {
    return InvalidArgument(fmt::format(
        "{} must be a map: {{node_type: m5.4xlarge}} or {{cpu_hourly: 0.04, gib_hourly: 0.005}}",
        what));
  }
  for (const auto& kv : v.as_object()) {
    const std::string key(kv.key());
    const std::string where = what + "." + key;
    if (key == "node_type") {
      out.node_type = Text(kv.value());
    } else if (key == "cpu_hourly") {
      ASSIGN_OR_RETURN(out.cpu_hourly, Money(kv.value(), where));
    } else if (key == "gib_hourly") {
      ASSIGN_OR_RETURN(out.gib_hourly, Money(kv.value(), where));
    } else if (key == "gpu_hourly") {
      ASSIGN_OR_RETURN(out.gpu_hourly, Money(kv.value(), where));
    } else {
      return InvalidArgument(fmt::format(
          "{} is not an engine price key; use node_type, or cpu_hourly, gib_hourly and gpu_hourly",
          where));
    }
  }
  return OkStatus();
}

}  // namespace

Status ApplyCostYaml(CostConfig& c, const json::value& section, const std::string& source) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(fmt::format("{}: {}", source, why));
  };
  if (!section.is_object()) return bad("cost must be a map (see docs/configuration.md#cost)");
  const json::object& o = section.as_object();
  // spot_fraction first: node types without a spot price are priced with it.
  if (const json::value* f = o.if_contains("spot_fraction")) {
    auto v = Money(*f, "cost.spot_fraction");
    if (!v.ok()) return bad(v.error().message());
    c.book.spot_fraction = *v;
  }
  const bool flat = o.contains("cpu_hourly") || o.contains("gib_hourly");
  if (flat && o.contains("node_types")) {
    return bad(
        "cost sets both node_types and cpu_hourly/gib_hourly; keep one (flat rates for one "
        "engine go under cost.engines.<engine>)");
  }
  if (flat) {
    // Flat rates for every engine without an entry: the node types no longer apply.
    c.book.types.clear();
    c.book.default_type.clear();
  }
  for (const auto& kv : o) {
    const std::string key(kv.key());
    const std::string what = "cost." + key;
    Status st = OkStatus();
    if (key == "enabled") {
      auto v = Bool(kv.value(), what);
      if (v.ok()) c.enabled = *v;
      st = v.ok() ? OkStatus() : Status(v.error());
    } else if (key == "currency") {
      c.currency = Text(kv.value());
      if (c.currency.empty()) st = InvalidArgument("cost.currency is empty; e.g. USD");
    } else if (key == "basis") {
      auto b = cost::ParseShareBasis(Text(kv.value()));
      if (b.ok()) c.basis = *b;
      st = b.ok() ? OkStatus() : Status(b.error());
    } else if (key == "spot_fraction") {
      continue;  // read above
    } else if (key == "node_types") {
      if (!kv.value().is_array()) {
        return bad("cost.node_types must be a list of {type, cpu, memory, on_demand, spot}");
      }
      // A file's list replaces the built-in one; the default type is then its first unless
      // cost.default_type names another.
      c.book.types.clear();
      if (!o.contains("default_type")) c.book.default_type.clear();
      for (size_t i = 0; i < kv.value().as_array().size() && st.ok(); ++i) {
        cost::NodePrice n;
        st = ParseNodeType(kv.value().as_array()[i], fmt::format("cost.node_types[{}]", i),
                           c.book.spot_fraction, n);
        c.book.types.push_back(std::move(n));
      }
    } else if (key == "default_type") {
      c.book.default_type = Text(kv.value());
    } else if (key == "cpu_hourly") {
      auto v = Money(kv.value(), what);
      if (v.ok()) c.book.cpu_hourly = *v;
      st = v.ok() ? OkStatus() : Status(v.error());
    } else if (key == "gib_hourly") {
      auto v = Money(kv.value(), what);
      if (v.ok()) c.book.gib_hourly = *v;
      st = v.ok() ? OkStatus() : Status(v.error());
    } else if (key == "gpu_hourly") {
      auto v = Money(kv.value(), what);
      if (v.ok()) c.book.gpu_hourly = *v;
      st = v.ok() ? OkStatus() : Status(v.error());
    } else if (key == "engines") {
      if (!kv.value().is_object()) {
        return bad(
            "cost.engines must map engine names (local, kubernetes, spark, emr-on-eks) to "
            "{node_type} or {cpu_hourly, gib_hourly}");
      }
      // A file's map replaces the built-in one (the local engine's flat rates).
      c.book.engines.clear();
      for (const auto& e : kv.value().as_object()) {
        cost::EnginePrice p;
        st = ParseEngine(e.value(), "cost.engines." + std::string(e.key()), p);
        if (!st.ok()) break;
        c.book.engines[std::string(e.key())] = std::move(p);
      }
    } else if (key == "metrics_series") {
      const std::string text = Text(kv.value());
      char* end = nullptr;
      const long n = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || end != text.c_str() + text.size() || n < 1 || n > 100000) {
        st = InvalidArgument(
            fmt::format("cost.metrics_series '{}' must be a whole number from 1 to 100000", text));
      } else {
        c.metrics_series = static_cast<int>(n);
      }
    } else {
      return bad(fmt::format(
          "cost.{} is not a cost key; use enabled, currency, basis, node_types, default_type, "
          "spot_fraction, cpu_hourly, gib_hourly, gpu_hourly, engines or metrics_series",
          key));
    }
    if (!st.ok()) return bad(st.error().message());
  }
  return OkStatus();
}

Status ApplyCostEnv(CostConfig& c, const std::map<std::string, std::string>& env) {
  if (auto it = env.find("TUG_COST_ENABLED"); it != env.end()) {
    auto v = Bool(json::value(it->second), "TUG_COST_ENABLED");
    if (!v.ok()) return v.error();
    c.enabled = *v;
  }
  if (auto it = env.find("TUG_COST_BASIS"); it != env.end()) {
    auto b = cost::ParseShareBasis(it->second);
    if (!b.ok()) {
      return InvalidArgument(
          fmt::format("TUG_COST_BASIS '{}' is not known; use requested or used", it->second));
    }
    c.basis = *b;
  }
  if (auto it = env.find("TUG_COST_CURRENCY"); it != env.end() && !it->second.empty()) {
    c.currency = it->second;
  }
  return OkStatus();
}

Status ValidateCost(const CostConfig& c) {
  if (!c.enabled) return OkStatus();
  RETURN_IF_ERROR(cost::Validate(c.book));
  if (c.book.empty()) {
    return InvalidArgument(
        "cost has no prices: set cost.node_types, cost.cpu_hourly/gib_hourly or cost.engines, "
        "or turn it off with cost.enabled: false");
  }
  return OkStatus();
}

}  // namespace tug::server
