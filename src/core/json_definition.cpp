// JSON mapping of definitions as users write them: resources (with Spark's), the kubernetes
// section, and the definition itself (the rest of core/json.h is in json.cpp).
#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "core/json_internal.h"
#include "core/quantity.h"

namespace json = boost::json;

namespace tug {

using json_internal::ExactMemory;
using json_internal::Reader;
using json_internal::StringMap;
using json_internal::Time;

namespace {

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

}  // namespace

json::value ToJson(const Resources& r) {
  json::object o;
  if (r.cpu_millis > 0) o["cpu"] = FormatCpu(r.cpu_millis);
  if (r.memory_bytes > 0) o["memory"] = r.memory_bytes;
  if (r.gpu > 0) o["gpu"] = r.gpu;
  if (!r.spark.empty()) {
    o["spark"] = json::object{{"driver", ToJson(r.spark.driver, true, r.spark)},
                              {"executor", ToJson(r.spark.executor, false, r.spark)}};
  }
  return o;
}

Result<Resources> ResourcesFromJson(const json::value& v) {
  Reader r(v, "resources");
  if (!r.is_object()) return r.NotObject().take_error();
  RETURN_IF_ERROR(r.OnlyKeys({"cpu", "memory", "gpu", "spark"}));
  Resources out;
  if (const json::value* g = r.Get("gpu"); g != nullptr && !g->is_int64() && !g->is_uint64()) {
    return InvalidArgument("resources: 'gpu' must be a whole number of GPUs, e.g. {\"gpu\": 1}");
  }
  RETURN_IF_ERROR(r.Int("gpu", out.gpu));
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

namespace {

// env: plain values as strings, secrets as {"secret": true} (the value never leaves the server)
// or their Kubernetes Secret reference.
json::object EnvJson(const Definition& d) {
  json::object o = StringMap(d.env);
  for (const auto& [k, v] : d.secret_env) {
    if (v.from_secret()) {
      o[k] = json::object{
          {"valueFrom", json::object{{"secretKeyRef", json::object{{"name", v.secret_name},
                                                                   {"key", v.secret_key}}}}}};
    } else {
      o[k] = json::object{{"secret", true}};
    }
  }
  return o;
}

// env: NAME: value (a string; YAML numbers and booleans keep their text), or a secret:
// {secret: true, value: ...}, {valueFrom: {secretKeyRef: {name, key}}}, or {secret: true} alone
// (what GET answers: keep the stored value). Messages never repeat a value.
Status ReadEnv(const Reader& named, Definition& d) {
  const json::value* env = named.Get("env");
  if (env == nullptr) return OkStatus();
  if (!env->is_object()) {
    return InvalidArgument(fmt::format(
        R"({}: 'env' must be a map of names to strings, e.g. {{"K": "v"}})", named.what()));
  }
  for (const auto& kv : env->get_object()) {
    const std::string name(kv.key());
    const json::value& x = kv.value();
    if (x.is_string()) {
      d.env[name] = std::string(x.get_string());
      continue;
    }
    if (x.is_int64() || x.is_uint64() || x.is_double() || x.is_bool()) {
      d.env[name] = json::serialize(x);  // YAML users write FOO: 1; keep its text
      continue;
    }
    const std::string what = fmt::format("{}: env.{}", named.what(), name);
    if (!x.is_object()) {
      return InvalidArgument(fmt::format(
          "{} must be a string, or a secret: {{secret: true, value: ...}} or {{valueFrom: "
          "{{secretKeyRef: {{name: ..., key: ...}}}}}}",
          what));
    }
    Reader r(x, what);
    RETURN_IF_ERROR(r.OnlyKeys({"secret", "value", "valueFrom"}));
    bool secret = true;
    RETURN_IF_ERROR(r.Bool("secret", secret));
    if (!secret) {
      return InvalidArgument(
          fmt::format("{}: secret: false is a plain value; write it as NAME: value", what));
    }
    SecretEnv s;
    if (const json::value* value = r.Get("value")) {
      if (!value->is_string() && !value->is_number() && !value->is_bool()) {
        return InvalidArgument(fmt::format("{}: 'value' must be a string", what));
      }
      s.value = value->is_string() ? std::string(value->get_string()) : json::serialize(*value);
      if (s.value.empty()) {
        return InvalidArgument(fmt::format("{}: the secret 'value' is empty", what));
      }
    }
    if (const json::value* from = r.Get("valueFrom")) {
      Reader f(*from, what + ".valueFrom");
      if (!f.is_object()) return f.NotObject();
      RETURN_IF_ERROR(f.OnlyKeys({"secretKeyRef"}));
      const json::value* ref = f.Get("secretKeyRef");
      if (ref == nullptr || !ref->is_object()) {
        return InvalidArgument(
            fmt::format("{}.valueFrom needs secretKeyRef: {{name: SECRET, key: KEY}}", what));
      }
      Reader k(*ref, what + ".valueFrom.secretKeyRef");
      RETURN_IF_ERROR(k.OnlyKeys({"name", "key"}));
      RETURN_IF_ERROR(k.String("name", s.secret_name));
      RETURN_IF_ERROR(k.String("key", s.secret_key));
      if (s.secret_name.empty() || s.secret_key.empty()) {
        return InvalidArgument(
            fmt::format("{}.valueFrom.secretKeyRef needs the Secret's name and key", what));
      }
      if (!s.value.empty()) {
        return InvalidArgument(fmt::format("{}: give either a value or valueFrom, not both", what));
      }
    }
    d.secret_env[name] = std::move(s);
  }
  return OkStatus();
}

}  // namespace

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
  if (!d.env.empty() || !d.secret_env.empty()) o["env"] = EnvJson(d);
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
  if (!d.parameters.empty()) {
    boost::system::error_code ec;
    json::value schema = json::parse(d.parameters, ec);
    if (!ec) o["parameters"] = std::move(schema);
  }
  if (d.created_at != 0) o["created_at"] = Time(d.created_at);
  if (!d.owner.empty()) o["owner"] = d.owner;
  if (!d.group.empty()) o["group"] = d.group;
  if (!d.queue.empty()) o["queue"] = d.queue;
  if (d.priority != 0) o["priority"] = d.priority;
  return o;
}

Result<Definition> DefinitionFromJson(const json::value& v) {
  Reader r(v, "definition");
  if (!r.is_object()) return r.NotObject().take_error();
  RETURN_IF_ERROR(
      r.OnlyKeys({"name",  "version",     "kind",      "description", "image",  "command",
                  "env",   "working_dir", "resources", "timeout",     "retry",  "adapt",
                  "spark", "engine",      "cluster",   "kubernetes",  "labels", "created_at",
                  "owner", "group",       "queue",     "priority", "parameters"}));
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
  RETURN_IF_ERROR(ReadEnv(named, d));
  RETURN_IF_ERROR(named.String("working_dir", d.working_dir));
  RETURN_IF_ERROR(named.String("owner", d.owner));
  RETURN_IF_ERROR(named.String("group", d.group));
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
  RETURN_IF_ERROR(named.String("queue", d.queue));
  int64_t priority = 0;
  RETURN_IF_ERROR(named.Int("priority", priority));
  if (priority < -1000 || priority > 1000) {
    return InvalidArgument(
        fmt::format("{}: priority {} is out of range; use a whole number from -1000 to 1000",
                    named.what(), priority));
  }
  d.priority = static_cast<int>(priority);
  if (const json::value* k = named.Get("kubernetes")) {
    auto parsed = KubernetesFromJson(*k, named.what() + ": kubernetes");
    if (!parsed.ok()) return std::move(parsed).take_error();
    d.kubernetes = *parsed;
  }
  RETURN_IF_ERROR(named.Map("labels", d.labels));
  if (const json::value* p = named.Get("parameters")) {
    // Checked as a JSON Schema when the definition is applied (src/templates).
    if (!p->is_object()) {
      return InvalidArgument(fmt::format(
          "{}: parameters must be a JSON Schema object, e.g. {{type: object, properties: {{count: "
          "{{type: integer}}}}}}",
          named.what()));
    }
    d.parameters = json::serialize(*p);
  }
  RETURN_IF_ERROR(named.Time("created_at", d.created_at));
  return d;
}

}  // namespace tug
