#include "core/json.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/quantity.h"

namespace json = boost::json;

namespace tug {
namespace {

json::value Time(Micros t) {
  if (t == 0) return nullptr;
  return json::string(FormatTimestamp(t));
}

// A memory size that means exactly what it says when sent back: "64Mi", else "5G" (decimal
// units), else the bytes ("5000000001"). FormatMemory's "4.7Gi" is for reading; a definition
// printed with it and applied again would change size.
json::value ExactMemory(int64_t bytes) {
  std::string text = FormatMemory(bytes);
  if (text.find('.') == std::string::npos) return json::string(text);
  static constexpr std::pair<int64_t, const char*> kDecimal[] = {
      {1'000'000'000'000, "T"}, {1'000'000'000, "G"}, {1'000'000, "M"}, {1'000, "k"}};
  for (const auto& [size, unit] : kDecimal) {
    if (bytes % size == 0) return json::string(fmt::format("{}{}", bytes / size, unit));
  }
  return json::string(std::to_string(bytes));
}

json::object StringMap(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

// Field readers: each returns an error naming the field.
class Reader {
 public:
  Reader(const json::value& v, std::string what) : what_(std::move(what)) {
    if (v.is_object()) obj_ = &v.get_object();
  }
  bool is_object() const { return obj_ != nullptr; }
  Status NotObject() const {
    return InvalidArgument(fmt::format("{} must be a JSON object", what_));
  }
  const json::value* Get(std::string_view key) const {
    if (obj_ == nullptr) return nullptr;
    const json::value* v = obj_->if_contains(key);
    if (v != nullptr && v->is_null()) return nullptr;
    return v;
  }
  Status OnlyKeys(std::initializer_list<std::string_view> keys) const {
    if (obj_ == nullptr) return OkStatus();
    for (const auto& kv : *obj_) {
      bool known = false;
      for (auto k : keys) known = known || kv.key() == k;
      if (!known) {
        std::string list;
        for (auto k : keys) {
          if (!list.empty()) list += ", ";
          list += k;
        }
        return InvalidArgument(fmt::format("{}: unknown field '{}'; known fields are {}", what_,
                                           std::string_view(kv.key()), list));
      }
    }
    return OkStatus();
  }
  Status String(std::string_view key, std::string& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_string()) {
      return InvalidArgument(fmt::format("{}: '{}' must be a string", what_, key));
    }
    out = std::string(v->get_string());
    return OkStatus();
  }
  Status Int(std::string_view key, int64_t& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (v->is_int64()) {
      out = v->get_int64();
    } else if (v->is_uint64() && v->get_uint64() <= INT64_MAX) {
      out = static_cast<int64_t>(v->get_uint64());
    } else {
      return InvalidArgument(fmt::format("{}: '{}' must be an integer", what_, key));
    }
    return OkStatus();
  }
  Status Int(std::string_view key, int& out) const {
    int64_t wide = out;
    RETURN_IF_ERROR(Int(key, wide));
    if (wide < INT32_MIN || wide > INT32_MAX) {
      return InvalidArgument(fmt::format("{}: '{}' is out of range", what_, key));
    }
    out = static_cast<int>(wide);
    return OkStatus();
  }
  Status Bool(std::string_view key, bool& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_bool())
      return InvalidArgument(fmt::format("{}: '{}' must be true or false", what_, key));
    out = v->get_bool();
    return OkStatus();
  }
  Status Double(std::string_view key, double& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_number()) {
      return InvalidArgument(fmt::format("{}: '{}' must be a number", what_, key));
    }
    out = v->to_number<double>();
    return OkStatus();
  }
  Status Duration(std::string_view key, int64_t& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (v->is_string()) {
      auto secs = ParseDuration(v->get_string());
      if (!secs.ok()) {
        return InvalidArgument(fmt::format("{}: {}: {}", what_, key, secs.error().message()));
      }
      out = *secs;
      return OkStatus();
    }
    RETURN_IF_ERROR(Int(key, out));
    if (out <= 0) {
      return InvalidArgument(fmt::format("{}: {} must be positive, e.g. 10m", what_, key));
    }
    return OkStatus();
  }
  Status StringList(std::string_view key, std::vector<std::string>& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_array()) {
      return InvalidArgument(fmt::format("{}: '{}' must be a list of strings", what_, key));
    }
    for (const auto& x : v->get_array()) {
      if (x.is_string()) {
        out.emplace_back(x.get_string());
      } else if (x.is_number()) {
        out.push_back(json::serialize(x));  // YAML: args: [1000]
      } else {
        return InvalidArgument(fmt::format("{}: '{}' items must be strings", what_, key));
      }
    }
    return OkStatus();
  }
  Status Time(std::string_view key, Micros& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_string()) {
      return InvalidArgument(fmt::format("{}: '{}' must be an RFC 3339 time", what_, key));
    }
    ASSIGN_OR_RETURN(out, ParseTimestamp(std::string(v->get_string())));
    return OkStatus();
  }
  Status Map(std::string_view key, std::map<std::string, std::string>& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_object()) {
      return InvalidArgument(fmt::format(
          "{}: '{}' must be a map of names to strings, e.g. {{\"K\": \"v\"}}", what_, key));
    }
    for (const auto& kv : v->get_object()) {
      const json::value& x = kv.value();
      if (x.is_string()) {
        out[std::string(kv.key())] = std::string(x.get_string());
      } else if (x.is_int64() || x.is_uint64() || x.is_double() || x.is_bool()) {
        // YAML users write FOO: 1; keep its text.
        out[std::string(kv.key())] = json::serialize(x);
      } else {
        return InvalidArgument(
            fmt::format("{}: {}.{} must be a string", what_, key, std::string_view(kv.key())));
      }
    }
    return OkStatus();
  }
  // A size given as a number or a human string.
  Status Quantity(std::string_view key, int64_t& out, Result<int64_t> (*parse)(std::string_view),
                  double number_scale) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (v->is_string()) {
      auto r = parse(v->get_string());
      if (!r.ok()) return InvalidArgument(fmt::format("{}: {}", what_, r.error().message()));
      out = *r;
      return OkStatus();
    }
    double d = 0;
    if (v->is_int64())
      d = static_cast<double>(v->get_int64());
    else if (v->is_uint64())
      d = static_cast<double>(v->get_uint64());
    else if (v->is_double())
      d = v->get_double();
    else
      return InvalidArgument(
          fmt::format("{}: '{}' must be a number or a string like \"512Mi\"", what_, key));
    if (d <= 0) {
      return InvalidArgument(fmt::format("{}: '{}' must be positive (got {})", what_, key, d));
    }
    if (d * number_scale > 9e18)
      return InvalidArgument(fmt::format("{}: '{}' is too large", what_, key));
    out = static_cast<int64_t>(d * number_scale);
    return OkStatus();
  }
  const std::string& what() const { return what_; }

 private:
  const json::object* obj_ = nullptr;
  std::string what_;
};

}  // namespace

json::object ToJson(const SparkRole& r, bool driver, const SparkResources& all) {
  json::object o;
  if (r.cpu_millis > 0) o["cores"] = FormatCpu(r.cpu_millis);
  if (r.memory_bytes > 0) o["memory"] = ExactMemory(r.memory_bytes);
  if (r.memory_overhead_bytes > 0) o["memoryOverhead"] = ExactMemory(r.memory_overhead_bytes);
  if (driver) {
    if (all.max_result_size_bytes > 0) o["maxResultSize"] = ExactMemory(all.max_result_size_bytes);
  } else {
    if (all.instances > 0) o["instances"] = all.instances;
    if (all.min_executors > 0) o["min"] = all.min_executors;
    if (all.max_executors > 0) o["max"] = all.max_executors;
    if (all.dynamic_allocation) o["dynamicAllocation"] = true;
  }
  return o;
}

Status SparkRoleFromJson(const json::value& v, const std::string& what, bool driver,
                         SparkRole& role, SparkResources& all) {
  Reader r(v, what);
  if (!r.is_object()) return r.NotObject();
  if (driver) {
    RETURN_IF_ERROR(r.OnlyKeys({"cores", "memory", "memoryOverhead", "maxResultSize"}));
    RETURN_IF_ERROR(r.Quantity("maxResultSize", all.max_result_size_bytes, &ParseMemory, 1.0));
  } else {
    RETURN_IF_ERROR(r.OnlyKeys(
        {"cores", "memory", "memoryOverhead", "instances", "min", "max", "dynamicAllocation"}));
    RETURN_IF_ERROR(r.Int("instances", all.instances));
    RETURN_IF_ERROR(r.Int("min", all.min_executors));
    RETURN_IF_ERROR(r.Int("max", all.max_executors));
    RETURN_IF_ERROR(r.Bool("dynamicAllocation", all.dynamic_allocation));
  }
  RETURN_IF_ERROR(r.Quantity("cores", role.cpu_millis, &ParseCpu, 1000.0));
  RETURN_IF_ERROR(r.Quantity("memory", role.memory_bytes, &ParseMemory, 1.0));
  RETURN_IF_ERROR(r.Quantity("memoryOverhead", role.memory_overhead_bytes, &ParseMemory, 1.0));
  return OkStatus();
}

json::value ToJson(const Resources& r) {
  json::object o;
  if (r.cpu_millis > 0) o["cpu"] = FormatCpu(r.cpu_millis);
  if (r.memory_bytes > 0) o["memory"] = r.memory_bytes;
  if (!r.spark.empty()) {
    o["spark"] = json::object{{"driver", ToJson(r.spark.driver, true, r.spark)},
                              {"executor", ToJson(r.spark.executor, false, r.spark)}};
  }
  return o;
}

Result<Resources> ResourcesFromJson(const json::value& v) {
  Reader r(v, "resources");
  if (!r.is_object()) return r.NotObject().take_error();
  RETURN_IF_ERROR(r.OnlyKeys({"cpu", "memory", "spark"}));
  Resources out;
  RETURN_IF_ERROR(r.Quantity("memory", out.memory_bytes, &ParseMemory, 1.0));
  RETURN_IF_ERROR(r.Quantity("cpu", out.cpu_millis, &ParseCpu, 1000.0));
  if (const json::value* sp = r.Get("spark")) {
    Reader sr(*sp, "resources.spark");
    if (!sr.is_object()) return sr.NotObject().take_error();
    RETURN_IF_ERROR(sr.OnlyKeys({"driver", "executor"}));
    if (const json::value* d = sr.Get("driver")) {
      RETURN_IF_ERROR(
          SparkRoleFromJson(*d, "resources.spark.driver", true, out.spark.driver, out.spark));
    }
    if (const json::value* e = sr.Get("executor")) {
      RETURN_IF_ERROR(
          SparkRoleFromJson(*e, "resources.spark.executor", false, out.spark.executor, out.spark));
    }
  }
  return out;
}

json::value ToJson(const KubernetesSpec& k) {
  json::object o;
  if (!k.service_account.empty()) o["service_account"] = k.service_account;
  if (!k.image_pull_policy.empty()) o["image_pull_policy"] = k.image_pull_policy;
  if (!k.image_pull_secrets.empty()) {
    json::array a;
    for (const auto& s : k.image_pull_secrets) a.emplace_back(s);
    o["image_pull_secrets"] = std::move(a);
  }
  if (!k.node_selector.empty()) o["node_selector"] = StringMap(k.node_selector);
  if (!k.tolerations.empty()) {
    json::array a;
    for (const Toleration& t : k.tolerations) {
      json::object x{{"operator", t.op}};
      if (!t.key.empty()) x["key"] = t.key;
      if (!t.value.empty()) x["value"] = t.value;
      if (!t.effect.empty()) x["effect"] = t.effect;
      a.emplace_back(std::move(x));
    }
    o["tolerations"] = std::move(a);
  }
  return o;
}

Result<KubernetesSpec> KubernetesFromJson(const json::value& v, const std::string& what) {
  Reader r(v, what);
  if (!r.is_object()) return r.NotObject().take_error();
  RETURN_IF_ERROR(r.OnlyKeys({"service_account", "image_pull_policy", "image_pull_secrets",
                              "node_selector", "tolerations"}));
  KubernetesSpec k;
  RETURN_IF_ERROR(r.String("service_account", k.service_account));
  RETURN_IF_ERROR(r.String("image_pull_policy", k.image_pull_policy));
  RETURN_IF_ERROR(r.StringList("image_pull_secrets", k.image_pull_secrets));
  RETURN_IF_ERROR(r.Map("node_selector", k.node_selector));
  if (const json::value* ts = r.Get("tolerations")) {
    if (!ts->is_array()) {
      return InvalidArgument(fmt::format(
          "{}: tolerations must be a list, e.g. [{{key: dedicated, value: spark, effect: "
          "NoSchedule}}]",
          what));
    }
    for (const auto& tv : ts->get_array()) {
      Reader tr(tv, what + ".tolerations");
      if (!tr.is_object()) return tr.NotObject().take_error();
      RETURN_IF_ERROR(tr.OnlyKeys({"key", "operator", "value", "effect"}));
      Toleration t;
      RETURN_IF_ERROR(tr.String("key", t.key));
      RETURN_IF_ERROR(tr.String("operator", t.op));
      RETURN_IF_ERROR(tr.String("value", t.value));
      RETURN_IF_ERROR(tr.String("effect", t.effect));
      k.tolerations.push_back(std::move(t));
    }
  }
  return k;
}

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

json::value ToJson(const Definition& d) {
  json::object o;
  o["name"] = d.name;
  if (d.version > 0) o["version"] = d.version;
  o["kind"] = d.kind;
  if (!d.description.empty()) o["description"] = d.description;
  if (!d.image.empty()) o["image"] = d.image;
  if (!d.args.empty()) {
    json::array a;
    for (const auto& s : d.args) a.emplace_back(s);
    o["command"] = std::move(a);
  } else {
    o["command"] = d.command;
  }
  if (!d.env.empty()) o["env"] = StringMap(d.env);
  if (!d.working_dir.empty()) o["working_dir"] = d.working_dir;
  o["resources"] = ToJson(d.resources);
  if (d.timeout_seconds > 0) o["timeout"] = FormatDuration(d.timeout_seconds);
  o["retry"] = json::object{
      {"max_attempts", d.retry.max_attempts},
      {"max_infra_retries", d.retry.max_infra_retries},
      {"backoff", json::object{{"initial", FormatDuration(d.retry.backoff.initial_seconds)},
                               {"max", FormatDuration(d.retry.backoff.max_seconds)},
                               {"multiplier", d.retry.backoff.multiplier}}}};
  json::object adapt{{"memory_factor", d.adapt.memory_factor},
                     {"executor_factor", d.adapt.executor_factor},
                     {"rightsizing", d.adapt.rightsizing},
                     {"capacity", d.adapt.capacity},
                     {"critical", d.adapt.critical}};
  if (d.adapt.max_memory_bytes > 0) adapt["max_memory"] = ExactMemory(d.adapt.max_memory_bytes);
  if (d.adapt.max_executors > 0) adapt["max_executors"] = d.adapt.max_executors;
  o["adapt"] = std::move(adapt);
  if (d.kind == "spark" || !(d.spark == SparkSpec{})) {
    json::object sp;
    sp["version"] = d.spark.version;
    sp["main"] = d.spark.main;
    if (!d.spark.main_class.empty()) sp["main_class"] = d.spark.main_class;
    json::array args;
    for (const auto& a : d.spark.args) args.emplace_back(a);
    sp["args"] = std::move(args);
    sp["conf"] = StringMap(d.spark.conf);
    auto list = [&](const char* key, const std::vector<std::string>& v) {
      if (v.empty()) return;
      json::array a;
      for (const auto& x : v) a.emplace_back(x);
      sp[key] = std::move(a);
    };
    list("py_files", d.spark.py_files);
    list("jars", d.spark.jars);
    list("files", d.spark.files);
    sp["driver"] = ToJson(d.resources.spark.driver, true, d.resources.spark);
    sp["executor"] = ToJson(d.resources.spark.executor, false, d.resources.spark);
    o["spark"] = std::move(sp);
  }
  if (!d.engine.empty()) o["engine"] = d.engine;
  if (!d.cluster.empty()) o["cluster"] = d.cluster;
  if (!d.kubernetes.empty()) o["kubernetes"] = ToJson(d.kubernetes);
  if (!d.labels.empty()) o["labels"] = StringMap(d.labels);
  if (d.created_at != 0) o["created_at"] = Time(d.created_at);
  return o;
}

Result<Definition> DefinitionFromJson(const json::value& v) {
  Reader r(v, "definition");
  if (!r.is_object()) return r.NotObject().take_error();
  RETURN_IF_ERROR(r.OnlyKeys({"name", "version", "kind", "description", "image", "command", "env",
                              "working_dir", "resources", "timeout", "retry", "adapt", "spark",
                              "engine", "cluster", "kubernetes", "labels", "created_at"}));
  Definition d;
  RETURN_IF_ERROR(r.String("name", d.name));
  Reader named(v, d.name.empty() ? std::string("definition") : "definition '" + d.name + "'");
  RETURN_IF_ERROR(named.Int("version", d.version));
  RETURN_IF_ERROR(named.String("kind", d.kind));
  RETURN_IF_ERROR(named.String("description", d.description));
  RETURN_IF_ERROR(named.String("image", d.image));
  if (const json::value* c = named.Get("command")) {
    if (c->is_string()) {
      d.command = std::string(c->get_string());
    } else if (c->is_array()) {
      for (const auto& x : c->get_array()) {
        if (!x.is_string()) {
          return InvalidArgument(
              fmt::format("{}: command list items must be strings", named.what()));
        }
        d.args.emplace_back(x.get_string());
      }
      if (d.args.empty()) {
        return InvalidArgument(fmt::format("{}: command list is empty", named.what()));
      }
    } else {
      return InvalidArgument(fmt::format(
          "{}: command must be a string (run by /bin/sh -c) or a list of strings", named.what()));
    }
  }
  RETURN_IF_ERROR(named.Map("env", d.env));
  RETURN_IF_ERROR(named.String("working_dir", d.working_dir));
  if (const json::value* res = named.Get("resources")) {
    auto parsed = ResourcesFromJson(*res);
    if (!parsed.ok()) {
      return InvalidArgument(fmt::format("{}: {}", named.what(), parsed.error().message()));
    }
    d.resources = *parsed;
  }
  if (const json::value* t = named.Get("timeout")) {
    if (t->is_string()) {
      auto secs = ParseDuration(t->get_string());
      if (!secs.ok()) {
        return InvalidArgument(
            fmt::format("{}: timeout: {}", named.what(), secs.error().message()));
      }
      d.timeout_seconds = *secs;
    } else {
      RETURN_IF_ERROR(named.Int("timeout", d.timeout_seconds));
      if (d.timeout_seconds <= 0) {
        return InvalidArgument(fmt::format("{}: timeout must be positive, e.g. 10m", named.what()));
      }
    }
  }
  if (const json::value* rt = named.Get("retry")) {
    Reader rr(*rt, named.what() + ": retry");
    if (!rr.is_object()) return rr.NotObject().take_error();
    RETURN_IF_ERROR(rr.OnlyKeys({"max_attempts", "max_infra_retries", "backoff"}));
    RETURN_IF_ERROR(rr.Int("max_attempts", d.retry.max_attempts));
    RETURN_IF_ERROR(rr.Int("max_infra_retries", d.retry.max_infra_retries));
    if (const json::value* b = rr.Get("backoff")) {
      Reader br(*b, named.what() + ": retry.backoff");
      if (!br.is_object()) return br.NotObject().take_error();
      RETURN_IF_ERROR(br.OnlyKeys({"initial", "max", "multiplier"}));
      RETURN_IF_ERROR(br.Duration("initial", d.retry.backoff.initial_seconds));
      RETURN_IF_ERROR(br.Duration("max", d.retry.backoff.max_seconds));
      RETURN_IF_ERROR(br.Double("multiplier", d.retry.backoff.multiplier));
    }
  }
  if (const json::value* ad = named.Get("adapt")) {
    Reader ar(*ad, named.what() + ": adapt");
    if (!ar.is_object()) return ar.NotObject().take_error();
    RETURN_IF_ERROR(ar.OnlyKeys({"memory_factor", "max_memory", "executor_factor", "max_executors",
                                 "rightsizing", "capacity", "critical"}));
    RETURN_IF_ERROR(ar.Double("memory_factor", d.adapt.memory_factor));
    RETURN_IF_ERROR(ar.Quantity("max_memory", d.adapt.max_memory_bytes, &ParseMemory, 1.0));
    RETURN_IF_ERROR(ar.Double("executor_factor", d.adapt.executor_factor));
    RETURN_IF_ERROR(ar.Int("max_executors", d.adapt.max_executors));
    RETURN_IF_ERROR(ar.String("rightsizing", d.adapt.rightsizing));
    RETURN_IF_ERROR(ar.String("capacity", d.adapt.capacity));
    RETURN_IF_ERROR(ar.Bool("critical", d.adapt.critical));
  }
  if (const json::value* sp = named.Get("spark")) {
    Reader sr(*sp, named.what() + ": spark");
    if (!sr.is_object()) return sr.NotObject().take_error();
    RETURN_IF_ERROR(sr.OnlyKeys({"version", "main", "main_class", "args", "conf", "py_files",
                                 "jars", "files", "driver", "executor"}));
    if (const json::value* ver = sr.Get("version"); ver != nullptr && ver->is_number()) {
      // YAML: version: 3.5 arrives as a number; keep what was written ("3.0", not "3").
      d.spark.version =
          ver->is_double() ? fmt::format("{}", ver->get_double()) : json::serialize(*ver);
      if (d.spark.version.find('.') == std::string::npos) d.spark.version += ".0";
    } else {
      RETURN_IF_ERROR(sr.String("version", d.spark.version));
    }
    RETURN_IF_ERROR(sr.String("main", d.spark.main));
    RETURN_IF_ERROR(sr.String("main_class", d.spark.main_class));
    RETURN_IF_ERROR(sr.StringList("args", d.spark.args));
    RETURN_IF_ERROR(sr.Map("conf", d.spark.conf));
    RETURN_IF_ERROR(sr.StringList("py_files", d.spark.py_files));
    RETURN_IF_ERROR(sr.StringList("jars", d.spark.jars));
    RETURN_IF_ERROR(sr.StringList("files", d.spark.files));
    if (const json::value* dr = sr.Get("driver")) {
      RETURN_IF_ERROR(SparkRoleFromJson(*dr, named.what() + ": spark.driver", true,
                                        d.resources.spark.driver, d.resources.spark));
    }
    if (const json::value* ex = sr.Get("executor")) {
      RETURN_IF_ERROR(SparkRoleFromJson(*ex, named.what() + ": spark.executor", false,
                                        d.resources.spark.executor, d.resources.spark));
    }
  }
  RETURN_IF_ERROR(named.String("engine", d.engine));
  RETURN_IF_ERROR(named.String("cluster", d.cluster));
  if (const json::value* k = named.Get("kubernetes")) {
    auto parsed = KubernetesFromJson(*k, named.what() + ": kubernetes");
    if (!parsed.ok()) return std::move(parsed).take_error();
    d.kubernetes = *parsed;
  }
  RETURN_IF_ERROR(named.Map("labels", d.labels));
  RETURN_IF_ERROR(named.Time("created_at", d.created_at));
  return d;
}

json::value ToJson(const RunOverrides& o) {
  json::object out;
  if (!o.env.empty()) out["env"] = StringMap(o.env);
  if (o.resources.memory_bytes > 0 || o.resources.cpu_millis > 0) {
    out["resources"] = ToJson(o.resources);
  }
  if (o.timeout_seconds > 0) out["timeout"] = FormatDuration(o.timeout_seconds);
  return out;
}

Result<RunOverrides> OverridesFromJson(const json::value& v) {
  Reader r(v, "run");
  if (!r.is_object()) return r.NotObject().take_error();
  RETURN_IF_ERROR(r.OnlyKeys({"env", "resources", "timeout"}));
  RunOverrides o;
  RETURN_IF_ERROR(r.Map("env", o.env));
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
  o["definition"] = r.definition;
  o["definition_version"] = r.definition_version;
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
  int64_t attempt_count = 0;
  RETURN_IF_ERROR(r.Int("attempt_count", attempt_count));
  run.attempt_count = static_cast<int>(attempt_count);
  RETURN_IF_ERROR(r.String("failure_class", run.last_failure_class));
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
