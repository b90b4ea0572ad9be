// The storage encoding shared by every Store backend (see encoding.h).
#include "store/encoding.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"

namespace tug::store {

int64_t UsdToNanos(double usd) { return std::llround(usd * 1e9); }
double NanosToUsd(int64_t nanos) { return static_cast<double>(nanos) / 1e9; }

namespace json = boost::json;
Error Corrupt(std::string_view what, std::string_view why) {
  return Internal(
      fmt::format("stored {} is unreadable ({}); restore the database from a backup "
                  "or report a bug",
                  what, why));
}

namespace {

// Typed readers over a stored JSON object: a missing key keeps the default, a wrong type is an
// error (the file was damaged or written by something else).
class Fields {
 public:
  Fields(const json::object& o, std::string_view what) : o_(o), what_(what) {}

  Status Str(std::string_view key, std::string& out) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_string()) return Corrupt(what_, fmt::format("'{}' is not a string", key));
    out.assign(v->get_string().data(), v->get_string().size());
    return OkStatus();
  }
  Status Int(std::string_view key, int64_t& out) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_int64()) return Corrupt(what_, fmt::format("'{}' is not an integer", key));
    out = v->get_int64();
    return OkStatus();
  }
  Status Int(std::string_view key, int& out) const {
    int64_t wide = out;
    RETURN_IF_ERROR(Int(key, wide));
    if (wide < INT32_MIN || wide > INT32_MAX) {
      return Corrupt(what_, fmt::format("'{}' is out of range", key));
    }
    out = static_cast<int>(wide);
    return OkStatus();
  }
  Status Bool(std::string_view key, bool& out) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_bool()) return Corrupt(what_, fmt::format("'{}' is not a boolean", key));
    out = v->get_bool();
    return OkStatus();
  }
  // Written as shortest round-trip text (see rows.h); a JSON number is accepted too.
  Status Double(std::string_view key, double& out) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) return OkStatus();
    if (v->is_double()) {
      out = v->get_double();
      return OkStatus();
    }
    if (v->is_int64()) {
      out = static_cast<double>(v->get_int64());
      return OkStatus();
    }
    if (!v->is_string()) return Corrupt(what_, fmt::format("'{}' is not a number", key));
    const json::string& text = v->get_string();
    double parsed = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Corrupt(what_, fmt::format("'{}' is not a number", key));
    }
    out = parsed;
    return OkStatus();
  }
  // The nested object at `key`; nullptr when absent.
  Result<const json::object*> Object(std::string_view key) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) return Corrupt(what_, fmt::format("'{}' is not an object", key));
    return &v->get_object();
  }
  std::string_view what() const { return what_; }
  Status Map(std::string_view key, std::map<std::string, std::string>& out) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_object()) return Corrupt(what_, fmt::format("'{}' is not an object", key));
    for (const auto& kv : v->get_object()) {
      if (!kv.value().is_string()) {
        return Corrupt(what_,
                       fmt::format("'{}.{}' is not a string", key, std::string_view(kv.key())));
      }
      out.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
    }
    return OkStatus();
  }
  Status List(std::string_view key, std::vector<std::string>& out) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_array()) return Corrupt(what_, fmt::format("'{}' is not a list", key));
    for (const auto& x : v->get_array()) {
      if (!x.is_string()) return Corrupt(what_, fmt::format("'{}' has a non-string item", key));
      out.emplace_back(x.get_string());
    }
    return OkStatus();
  }

 private:
  const json::object& o_;
  std::string_view what_;
};

json::object StringMap(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

json::array StringList(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& x : v) a.emplace_back(x);
  return a;
}

std::string DoubleText(double d) { return fmt::format("{}", d); }

json::object RoleObject(const SparkRole& r) {
  json::object o;
  o["cpu_millis"] = r.cpu_millis;
  o["memory_bytes"] = r.memory_bytes;
  o["memory_overhead_bytes"] = r.memory_overhead_bytes;
  return o;
}

Status ReadRole(const Fields& parent, std::string_view key, SparkRole& r) {
  ASSIGN_OR_RETURN(const json::object* o, parent.Object(key));
  if (o == nullptr) return OkStatus();
  Fields f(*o, parent.what());
  RETURN_IF_ERROR(f.Int("cpu_millis", r.cpu_millis));
  RETURN_IF_ERROR(f.Int("memory_bytes", r.memory_bytes));
  return f.Int("memory_overhead_bytes", r.memory_overhead_bytes);
}

json::object SparkResourcesObject(const SparkResources& s) {
  json::object o;
  o["driver"] = RoleObject(s.driver);
  o["executor"] = RoleObject(s.executor);
  o["instances"] = s.instances;
  o["min_executors"] = s.min_executors;
  o["max_executors"] = s.max_executors;
  o["dynamic_allocation"] = s.dynamic_allocation;
  o["max_result_size_bytes"] = s.max_result_size_bytes;
  return o;
}

Status ReadSparkResources(const Fields& f, SparkResources& s) {
  RETURN_IF_ERROR(ReadRole(f, "driver", s.driver));
  RETURN_IF_ERROR(ReadRole(f, "executor", s.executor));
  RETURN_IF_ERROR(f.Int("instances", s.instances));
  RETURN_IF_ERROR(f.Int("min_executors", s.min_executors));
  RETURN_IF_ERROR(f.Int("max_executors", s.max_executors));
  RETURN_IF_ERROR(f.Bool("dynamic_allocation", s.dynamic_allocation));
  return f.Int("max_result_size_bytes", s.max_result_size_bytes);
}

// The Spark sizes nested at `key` of a spec or overrides object, if present.
Status ReadNestedSparkResources(const Fields& parent, std::string_view key, SparkResources& s) {
  ASSIGN_OR_RETURN(const json::object* o, parent.Object(key));
  if (o == nullptr) return OkStatus();
  return ReadSparkResources(Fields(*o, parent.what()), s);
}

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Corrupt(what, ec.message());
  if (!v.is_object()) return Corrupt(what, "not a JSON object");
  return std::move(v.get_object());
}

}  // namespace

std::string EncodeSpec(const Definition& d) {
  json::object o;
  o["name"] = d.name;
  o["version"] = d.version;
  o["kind"] = d.kind;
  o["description"] = d.description;
  o["image"] = d.image;
  o["command"] = d.command;
  json::array args;
  for (const auto& a : d.args) args.emplace_back(a);
  o["args"] = std::move(args);
  o["env"] = StringMap(d.env);
  // Only when there are any, so specs stored before secrets existed encode the same.
  if (!d.secret_env.empty()) {
    json::object secrets;
    for (const auto& [k, v] : d.secret_env) {
      secrets[k] = json::object{
          {"value", v.value}, {"secret_name", v.secret_name}, {"secret_key", v.secret_key}};
    }
    o["secret_env"] = std::move(secrets);
  }
  o["working_dir"] = d.working_dir;
  o["memory_bytes"] = d.resources.memory_bytes;
  o["cpu_millis"] = d.resources.cpu_millis;
  // Only when set, so specs stored before GPUs existed encode the same.
  if (d.resources.gpu > 0) o["gpu"] = d.resources.gpu;
  o["timeout_seconds"] = d.timeout_seconds;
  o["max_attempts"] = d.retry.max_attempts;
  o["max_infra_retries"] = d.retry.max_infra_retries;
  o["backoff"] = json::object{{"initial_seconds", d.retry.backoff.initial_seconds},
                              {"max_seconds", d.retry.backoff.max_seconds},
                              {"multiplier", DoubleText(d.retry.backoff.multiplier)}};
  o["adapt"] = json::object{{"memory_factor", DoubleText(d.adapt.memory_factor)},
                            {"max_memory_bytes", d.adapt.max_memory_bytes},
                            {"executor_factor", DoubleText(d.adapt.executor_factor)},
                            {"max_executors", d.adapt.max_executors},
                            {"rightsizing", d.adapt.rightsizing},
                            {"capacity", d.adapt.capacity},
                            {"critical", d.adapt.critical}};
  // Container jobs (most of them) carry no Spark keys at all.
  if (!(d.spark == SparkSpec{})) {
    o["spark"] = json::object{{"version", d.spark.version},
                              {"main", d.spark.main},
                              {"main_class", d.spark.main_class},
                              {"args", StringList(d.spark.args)},
                              {"conf", StringMap(d.spark.conf)}};
    json::object& sp = o["spark"].as_object();
    if (!d.spark.py_files.empty()) sp["py_files"] = StringList(d.spark.py_files);
    if (!d.spark.jars.empty()) sp["jars"] = StringList(d.spark.jars);
    if (!d.spark.files.empty()) sp["files"] = StringList(d.spark.files);
  }
  if (!d.resources.spark.empty()) o["spark_resources"] = SparkResourcesObject(d.resources.spark);
  if (!d.engine.empty()) o["engine"] = d.engine;
  if (!d.cluster.empty()) o["cluster"] = d.cluster;
  if (!d.kubernetes.empty()) o["kubernetes"] = ToJson(d.kubernetes);
  o["labels"] = StringMap(d.labels);
  // Only when declared, so specs stored before templates existed encode the same.
  if (!d.parameters.empty()) o["parameters"] = d.parameters;
  o["created_at"] = d.created_at;
  if (!d.queue.empty()) o["queue"] = d.queue;
  if (d.priority != 0) o["priority"] = d.priority;
  return json::serialize(o);
}

Result<Definition> DecodeSpec(std::string_view text) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(text, "definition spec"));
  Fields f(o, "definition spec");
  Definition d;
  RETURN_IF_ERROR(f.Str("name", d.name));
  RETURN_IF_ERROR(f.Int("version", d.version));
  RETURN_IF_ERROR(f.Str("kind", d.kind));
  RETURN_IF_ERROR(f.Str("description", d.description));
  RETURN_IF_ERROR(f.Str("image", d.image));
  RETURN_IF_ERROR(f.Str("command", d.command));
  RETURN_IF_ERROR(f.List("args", d.args));
  RETURN_IF_ERROR(f.Map("env", d.env));
  ASSIGN_OR_RETURN(const json::object* secrets, f.Object("secret_env"));
  if (secrets != nullptr) {
    for (const auto& kv : *secrets) {
      if (!kv.value().is_object()) return Corrupt("definition spec", "secret_env entry");
      Fields e(kv.value().get_object(), "definition spec");
      SecretEnv v;
      RETURN_IF_ERROR(e.Str("value", v.value));
      RETURN_IF_ERROR(e.Str("secret_name", v.secret_name));
      RETURN_IF_ERROR(e.Str("secret_key", v.secret_key));
      d.secret_env[std::string(kv.key())] = std::move(v);
    }
  }
  RETURN_IF_ERROR(f.Str("working_dir", d.working_dir));
  RETURN_IF_ERROR(f.Str("queue", d.queue));
  RETURN_IF_ERROR(f.Int("priority", d.priority));
  RETURN_IF_ERROR(f.Int("memory_bytes", d.resources.memory_bytes));
  RETURN_IF_ERROR(f.Int("cpu_millis", d.resources.cpu_millis));
  RETURN_IF_ERROR(f.Int("gpu", d.resources.gpu));
  RETURN_IF_ERROR(f.Int("timeout_seconds", d.timeout_seconds));
  RETURN_IF_ERROR(f.Int("max_attempts", d.retry.max_attempts));
  RETURN_IF_ERROR(f.Int("max_infra_retries", d.retry.max_infra_retries));
  ASSIGN_OR_RETURN(const json::object* backoff, f.Object("backoff"));
  if (backoff != nullptr) {
    Fields b(*backoff, "definition spec");
    RETURN_IF_ERROR(b.Int("initial_seconds", d.retry.backoff.initial_seconds));
    RETURN_IF_ERROR(b.Int("max_seconds", d.retry.backoff.max_seconds));
    RETURN_IF_ERROR(b.Double("multiplier", d.retry.backoff.multiplier));
  }
  ASSIGN_OR_RETURN(const json::object* adapt, f.Object("adapt"));
  if (adapt != nullptr) {
    Fields a(*adapt, "definition spec");
    RETURN_IF_ERROR(a.Double("memory_factor", d.adapt.memory_factor));
    RETURN_IF_ERROR(a.Int("max_memory_bytes", d.adapt.max_memory_bytes));
    RETURN_IF_ERROR(a.Double("executor_factor", d.adapt.executor_factor));
    RETURN_IF_ERROR(a.Int("max_executors", d.adapt.max_executors));
    RETURN_IF_ERROR(a.Str("rightsizing", d.adapt.rightsizing));
    RETURN_IF_ERROR(a.Str("capacity", d.adapt.capacity));
    RETURN_IF_ERROR(a.Bool("critical", d.adapt.critical));
  }
  ASSIGN_OR_RETURN(const json::object* spark, f.Object("spark"));
  if (spark != nullptr) {
    Fields sp(*spark, "definition spec");
    RETURN_IF_ERROR(sp.Str("version", d.spark.version));
    RETURN_IF_ERROR(sp.Str("main", d.spark.main));
    RETURN_IF_ERROR(sp.Str("main_class", d.spark.main_class));
    RETURN_IF_ERROR(sp.List("args", d.spark.args));
    RETURN_IF_ERROR(sp.Map("conf", d.spark.conf));
    RETURN_IF_ERROR(sp.List("py_files", d.spark.py_files));
    RETURN_IF_ERROR(sp.List("jars", d.spark.jars));
    RETURN_IF_ERROR(sp.List("files", d.spark.files));
  }
  RETURN_IF_ERROR(ReadNestedSparkResources(f, "spark_resources", d.resources.spark));
  RETURN_IF_ERROR(f.Str("engine", d.engine));
  RETURN_IF_ERROR(f.Str("cluster", d.cluster));
  ASSIGN_OR_RETURN(const json::object* kube, f.Object("kubernetes"));
  if (kube != nullptr) {
    auto k = KubernetesFromJson(*kube, "definition spec: kubernetes");
    if (!k.ok()) return Corrupt("definition spec", k.error().message());
    d.kubernetes = *k;
  }
  RETURN_IF_ERROR(f.Map("labels", d.labels));
  RETURN_IF_ERROR(f.Str("parameters", d.parameters));
  RETURN_IF_ERROR(f.Int("created_at", d.created_at));
  return d;
}

std::string EncodeOverrides(const RunOverrides& ov) {
  json::object o;
  o["env"] = StringMap(ov.env);
  o["memory_bytes"] = ov.resources.memory_bytes;
  o["cpu_millis"] = ov.resources.cpu_millis;
  if (ov.resources.gpu > 0) o["gpu"] = ov.resources.gpu;
  o["timeout_seconds"] = ov.timeout_seconds;
  if (!ov.engine.empty()) o["engine"] = ov.engine;
  if (!ov.parameters.empty()) o["parameters"] = ov.parameters;
  if (!ov.resources.spark.empty()) o["spark_resources"] = SparkResourcesObject(ov.resources.spark);
  return json::serialize(o);
}

Result<RunOverrides> DecodeOverrides(std::string_view text) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(text, "run overrides"));
  Fields f(o, "run overrides");
  RunOverrides ov;
  RETURN_IF_ERROR(f.Map("env", ov.env));
  RETURN_IF_ERROR(f.Int("memory_bytes", ov.resources.memory_bytes));
  RETURN_IF_ERROR(f.Int("cpu_millis", ov.resources.cpu_millis));
  RETURN_IF_ERROR(f.Int("gpu", ov.resources.gpu));
  RETURN_IF_ERROR(f.Int("timeout_seconds", ov.timeout_seconds));
  RETURN_IF_ERROR(f.Str("engine", ov.engine));
  RETURN_IF_ERROR(f.Str("parameters", ov.parameters));
  RETURN_IF_ERROR(ReadNestedSparkResources(f, "spark_resources", ov.resources.spark));
  return ov;
}

std::string EncodeSparkResources(const SparkResources& spark) {
  if (spark.empty()) return {};
  return json::serialize(SparkResourcesObject(spark));
}

Result<SparkResources> DecodeSparkResources(std::string_view text) {
  SparkResources s;
  if (text.empty()) return s;
  ASSIGN_OR_RETURN(json::object o, ParseObject(text, "attempt spark resources"));
  RETURN_IF_ERROR(ReadSparkResources(Fields(o, "attempt spark resources"), s));
  return s;
}

std::string EncodeGroups(const std::vector<std::string>& groups) {
  json::array a;
  for (const auto& g : groups) a.emplace_back(g);
  return json::serialize(a);
}

Result<std::vector<std::string>> DecodeGroups(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return Corrupt("token groups", text);
  for (const auto& g : v.as_array()) {
    if (!g.is_string()) return Corrupt("token groups", text);
    out.emplace_back(g.as_string());
  }
  return out;
}

std::string DescribeEnd(AttemptStatus status, const Outcome& outcome) {
  std::string text = outcome.reason.empty() ? std::string(ToString(status)) : outcome.reason;
  if (outcome.exit_code) text += fmt::format(" (exit {})", *outcome.exit_code);
  if (!outcome.message.empty()) text += ": " + outcome.message;
  return text;
}

}  // namespace tug::store
