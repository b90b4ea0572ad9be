#include "server/config.h"

#include <charconv>
#include <cstdlib>
#include <regex>

#include <unistd.h>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/quantity.h"
#include "core/yaml.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace json = boost::json;

namespace tug::server {
namespace {

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

// One setter per key, shared by YAML and environment variables.
struct Key {
  const char* yaml_path;  // "engine.cgroup"
  const char* env;        // "TUG_CGROUP"
  Status (*set)(Config&, const std::string&);
};

Status SetInt(int64_t& out, const std::string& v, const char* what, int64_t lo, int64_t hi) {
  bool ok = !v.empty() && v.size() <= 12 && v.find_first_not_of("0123456789") == std::string::npos;
  int64_t n = ok ? std::stoll(v) : 0;
  if (!ok || n < lo || n > hi) {
    return InvalidArgument(
        fmt::format("{} '{}' must be a whole number from {} to {}", what, v, lo, hi));
  }
  out = n;
  return OkStatus();
}

Status HttpUrl(const std::string& v) {
  if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
    return InvalidArgument(fmt::format("'{}' must be an http(s) URL", v));
  }
  return OkStatus();
}

const Key kKeys[] = {
    {"emr.virtual_cluster_id", "TUG_EMR_VIRTUAL_CLUSTER_ID",
     [](Config& c, const std::string& v) -> Status {
       c.emr.virtual_cluster_id = v;
       return OkStatus();
     }},
    {"emr.execution_role_arn", "TUG_EMR_EXECUTION_ROLE_ARN",
     [](Config& c, const std::string& v) -> Status {
       c.emr.execution_role_arn = v;
       return OkStatus();
     }},
    {"emr.region", "TUG_EMR_REGION",
     [](Config& c, const std::string& v) -> Status {
       c.emr.region = v;
       return OkStatus();
     }},
    {"emr.endpoint", "TUG_EMR_ENDPOINT",
     [](Config& c, const std::string& v) -> Status {
       RETURN_IF_ERROR(HttpUrl(v));
       c.emr.endpoint = v;
       return OkStatus();
     }},
    {"emr.s3_endpoint", "TUG_EMR_S3_ENDPOINT",
     [](Config& c, const std::string& v) -> Status {
       RETURN_IF_ERROR(HttpUrl(v));
       c.emr.s3_endpoint = v;
       return OkStatus();
     }},
    {"emr.default_release_label", "TUG_EMR_DEFAULT_RELEASE_LABEL",
     [](Config& c, const std::string& v) -> Status {
       c.emr.default_release_label = v;
       return OkStatus();
     }},
    {"emr.log_bucket", "TUG_EMR_LOG_BUCKET",
     [](Config& c, const std::string& v) -> Status {
       c.emr.log_bucket = v;
       return OkStatus();
     }},
    {"emr.log_prefix", "TUG_EMR_LOG_PREFIX",
     [](Config& c, const std::string& v) -> Status {
       c.emr.log_prefix = v;
       while (!c.emr.log_prefix.empty() && c.emr.log_prefix.front() == '/') {
         c.emr.log_prefix.erase(0, 1);
       }
       if (!c.emr.log_prefix.empty() && c.emr.log_prefix.back() != '/') c.emr.log_prefix += '/';
       return OkStatus();
     }},
    {"emr.capacity_label", "",
     [](Config& c, const std::string& v) -> Status {
       c.emr.capacity_label = v;
       return OkStatus();
     }},
    {"emr.spot_value", "",
     [](Config& c, const std::string& v) -> Status {
       c.emr.spot_value = v;
       return OkStatus();
     }},
    {"emr.on_demand_value", "",
     [](Config& c, const std::string& v) -> Status {
       c.emr.on_demand_value = v;
       return OkStatus();
     }},
    {"emr.poll_interval", "TUG_EMR_POLL_INTERVAL",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.emr.poll_interval_seconds, ParseDuration(v));
       if (c.emr.poll_interval_seconds < 1) {
         return InvalidArgument("emr.poll_interval must be at least 1s");
       }
       return OkStatus();
     }},
    {"spark.engine", "TUG_SPARK_ENGINE",
     [](Config& c, const std::string& v) -> Status {
       if (v != "spark" && v != "emr-on-eks") {
         return InvalidArgument(fmt::format("spark.engine '{}' is unknown; use spark or emr-on-eks", v));
       }
       c.spark_engine = v;
       return OkStatus();
     }},
    {"logs.store", "TUG_LOGS_STORE",
     [](Config& c, const std::string& v) -> Status {
       if (v != "fs" && v != "s3") {
         return InvalidArgument(fmt::format("logs.store '{}' is unknown; use fs or s3", v));
       }
       c.logs.store = v;
       return OkStatus();
     }},
    {"logs.bucket", "TUG_LOGS_BUCKET",
     [](Config& c, const std::string& v) -> Status {
       c.logs.bucket = v;
       return OkStatus();
     }},
    {"logs.prefix", "TUG_LOGS_PREFIX",
     [](Config& c, const std::string& v) -> Status {
       c.logs.prefix = v;
       return OkStatus();
     }},
    {"logs.region", "TUG_LOGS_REGION",
     [](Config& c, const std::string& v) -> Status {
       c.logs.region = v;
       return OkStatus();
     }},
    {"logs.endpoint", "TUG_LOGS_ENDPOINT",
     [](Config& c, const std::string& v) -> Status {
       if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
         return InvalidArgument(fmt::format("logs.endpoint '{}' must be an http(s) URL", v));
       }
       c.logs.endpoint = v;
       return OkStatus();
     }},
    {"listen", "TUG_LISTEN",
     [](Config& c, const std::string& v) -> Status {
       c.listen = v;
       return OkStatus();
     }},
    {"data_dir", "TUG_DATA_DIR",
     [](Config& c, const std::string& v) -> Status {
       c.data_dir = v;
       return OkStatus();
     }},
    {"log_level", "TUG_LOG_LEVEL",
     [](Config& c, const std::string& v) -> Status {
       if (v != "debug" && v != "info" && v != "warn" && v != "error") {
         return Status(InvalidArgument(
             fmt::format("log_level '{}' is unknown; use debug, info, warn or error", v)));
       }
       c.log_level = v;
       return OkStatus();
     }},
    {"store.driver", "TUG_STORE",
     [](Config& c, const std::string& v) -> Status {
       if (v != "sqlite" && v != "postgres") {
         return Status(InvalidArgument(
             fmt::format("store driver '{}' is not available; use sqlite or postgres", v)));
       }
       c.store_driver = v;
       return OkStatus();
     }},
    // Setting a URL selects PostgreSQL: TUG_DATABASE_URL=postgres://... is enough.
    {"store.url", "TUG_DATABASE_URL",
     [](Config& c, const std::string& v) -> Status {
       if (v.empty()) return OkStatus();
       if (v.rfind("postgres://", 0) != 0 && v.rfind("postgresql://", 0) != 0) {
         return Status(InvalidArgument(fmt::format(
             "store.url '{}' is not a PostgreSQL URL; use postgres://user:password@host:5432/db",
             RedactUrl(v))));
       }
       c.database_url = v;
       c.store_driver = "postgres";
       return OkStatus();
     }},
    {"store.pool_size", "TUG_DATABASE_POOL",
     [](Config& c, const std::string& v) -> Status {
       int64_t n = 0;
       RETURN_IF_ERROR(SetInt(n, v, "store.pool_size", 1, 256));
       c.database_pool_size = static_cast<int>(n);
       return OkStatus();
     }},
    {"ui.dir", "TUG_UI_DIR",
     [](Config& c, const std::string& v) -> Status {
       c.ui_dir = v;
       return OkStatus();
     }},
    {"retention", "TUG_RETENTION",
     [](Config& c, const std::string& v) -> Status {
       if (v == "0" || v == "forever") {
         c.retention_seconds = 0;
         return OkStatus();
       }
       ASSIGN_OR_RETURN(c.retention_seconds, ParseDuration(v));
       if (c.retention_seconds < 3600) {
         return Status(InvalidArgument(fmt::format(
             "retention '{}' is shorter than an hour; use e.g. 30d, or 0 to keep runs forever",
             v)));
       }
       return OkStatus();
     }},
    {"store.path", "TUG_DATABASE_PATH",
     [](Config& c, const std::string& v) -> Status {
       c.database_path = v;
       return OkStatus();
     }},
    {"store.synchronous", "TUG_SQLITE_SYNCHRONOUS",
     [](Config& c, const std::string& v) -> Status {
       if (v != "normal" && v != "full") {
         return Status(InvalidArgument(
             fmt::format("store.synchronous '{}' is unknown; use normal or full", v)));
       }
       c.sqlite_synchronous_full = v == "full";
       return OkStatus();
     }},
    {"engine.driver", "TUG_ENGINE",
     [](Config& c, const std::string& v) -> Status {
       if (v != "local" && v != "kubernetes") {
         return Status(InvalidArgument(
             fmt::format("engine '{}' is not available; use local or kubernetes", v)));
       }
       c.engine = v;
       return OkStatus();
     }},
    {"engine.cgroup", "TUG_CGROUP",
     [](Config& c, const std::string& v) -> Status {
       if (v != "auto" && v != "v1" && v != "v2" && v != "none") {
         return Status(InvalidArgument(
             fmt::format("engine.cgroup '{}' is unknown; use auto, v2, v1 or none", v)));
       }
       c.cgroup_mode = v;
       return OkStatus();
     }},
    {"engine.shim", "TUG_SHIM",
     [](Config& c, const std::string& v) -> Status {
       if (v.empty() || v.front() != '/') {
         return Status(InvalidArgument(fmt::format(
             "engine.shim '{}' must be an absolute path to the tug-shim executable", v)));
       }
       c.shim_path = v;
       return OkStatus();
     }},
    {"engine.state_dir", "TUG_STATE_DIR",
     [](Config& c, const std::string& v) -> Status {
       if (v.empty() || v.front() != '/') {
         return Status(InvalidArgument(
             fmt::format("engine.state_dir '{}' must be an absolute directory path", v)));
       }
       c.state_dir = v;
       return OkStatus();
     }},
    {"engine.stop_grace", "TUG_STOP_GRACE",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.stop_grace_seconds, ParseDuration(v));
       return OkStatus();
     }},
    {"engine.usage_interval", "TUG_USAGE_INTERVAL",
     [](Config& c, const std::string& v) -> Status {
       if (v == "0") {
         c.usage_interval_seconds = 0;
         return OkStatus();
       }
       ASSIGN_OR_RETURN(c.usage_interval_seconds, ParseDuration(v));
       return OkStatus();
     }},
    {"engine.kube_usage_interval", "TUG_KUBE_USAGE_INTERVAL",
     [](Config& c, const std::string& v) -> Status {
       if (v == "0") {
         c.kube_usage_interval_seconds = 0;
         return OkStatus();
       }
       ASSIGN_OR_RETURN(c.kube_usage_interval_seconds, ParseDuration(v));
       return OkStatus();
     }},
    {"limits.max_memory", "TUG_MAX_MEMORY",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.limits.max_memory_bytes, ParseMemory(v));
       return OkStatus();
     }},
    {"limits.max_cpu", "TUG_MAX_CPU",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.limits.max_cpu_millis, ParseCpu(v));
       return OkStatus();
     }},
    {"limits.max_timeout", "TUG_MAX_TIMEOUT",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.limits.max_timeout_seconds, ParseDuration(v));
       return OkStatus();
     }},
    {"limits.max_executors", "TUG_MAX_EXECUTORS",
     [](Config& c, const std::string& v) -> Status {
       int n = 0;
       auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
       if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 100000) {
         return InvalidArgument("must be a whole number of executors between 1 and 100000");
       }
       c.limits.max_executors = n;
       return OkStatus();
     }},
    {"adapt.climate_threshold", "TUG_CLIMATE_THRESHOLD",
     [](Config& c, const std::string& v) -> Status {
       char* end = nullptr;
       double x = std::strtod(v.c_str(), &end);
       if (end == v.c_str() || *end != '\0' || !(x >= 0 && x <= 1)) {
         return InvalidArgument("must be a spot interruption rate between 0 and 1, e.g. 0.2");
       }
       c.climate_threshold = x;
       return OkStatus();
     }},
    {"limits.max_body", "TUG_MAX_BODY",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.max_body_bytes, ParseMemory(v));
       return OkStatus();
     }},
    {"http.threads", "TUG_HTTP_THREADS",
     [](Config& c, const std::string& v) -> Status {
       int64_t n = 0;
       RETURN_IF_ERROR(SetInt(n, v, "http.threads", 1, 64));
       c.http_threads = static_cast<int>(n);
       return OkStatus();
     }},
    {"dispatcher.enabled", "TUG_DISPATCH",
     [](Config& c, const std::string& v) -> Status {
       if (v != "true" && v != "false") {
         return Status(
             InvalidArgument(fmt::format("dispatcher.enabled '{}' must be true or false", v)));
       }
       c.dispatch = v == "true";
       return OkStatus();
     }},
    {"usage.source", "TUG_USAGE_SOURCE",
     [](Config& c, const std::string& v) -> Status {
       if (v != "metrics-api" && v != "prometheus") {
         return InvalidArgument(
             fmt::format("usage.source '{}' is unknown; use metrics-api or prometheus", v));
       }
       c.usage_source = v;
       return OkStatus();
     }},
    // Setting the URL selects Prometheus, as store.url selects PostgreSQL.
    {"usage.prometheus_url", "TUG_PROMETHEUS_URL",
     [](Config& c, const std::string& v) -> Status {
       if (v.empty()) return OkStatus();
       if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
         return InvalidArgument(fmt::format(
             "usage.prometheus_url '{}' must be an http(s) URL, e.g. "
             "http://prometheus.monitoring:9090",
             RedactUrl(v)));
       }
       c.prometheus_url = v;
       c.usage_source = "prometheus";
       return OkStatus();
     }},
    {"usage.prometheus_rate_window", "",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.prometheus_rate_window_seconds, ParseDuration(v));
       if (c.prometheus_rate_window_seconds < 1) {
         return InvalidArgument("usage.prometheus_rate_window must be at least 1s, e.g. 2m");
       }
       return OkStatus();
     }},
    {"kubernetes.scheduler_name", "TUG_KUBE_SCHEDULER_NAME",
     [](Config& c, const std::string& v) -> Status {
       RETURN_IF_ERROR(CheckSchedulerName(v, "kubernetes.scheduler_name"));
       c.kube_scheduler_name = v;
       return OkStatus();
     }},
    {"spark.master", "TUG_SPARK_MASTER",
     [](Config& c, const std::string& v) -> Status {
       if (v.rfind("k8s://", 0) != 0) {
         return InvalidArgument(
             "must be a k8s:// URL, e.g. k8s://https://kubernetes.default.svc:443");
       }
       c.spark.master = v;
       return OkStatus();
     }},
    {"spark.spark_submit", "",
     [](Config& c, const std::string& v) -> Status {
       c.spark.spark_submit = v;
       return OkStatus();
     }},
    {"spark.event_log_dir", "TUG_SPARK_EVENT_LOG_DIR",
     [](Config& c, const std::string& v) -> Status {
       c.spark.event_log_dir = v;
       return OkStatus();
     }},
    {"spark.history_url", "TUG_SPARK_HISTORY_URL",
     [](Config& c, const std::string& v) -> Status {
       if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
         return InvalidArgument("must be an http(s) URL, e.g. http://spark-history:18080");
       }
       c.spark.history_url = v;
       while (!c.spark.history_url.empty() && c.spark.history_url.back() == '/') {
         c.spark.history_url.pop_back();
       }
       return OkStatus();
     }},
    {"spark.submit_service_account", "",
     [](Config& c, const std::string& v) -> Status {
       c.spark.submit_service_account = v;
       return OkStatus();
     }},
    {"spark.driver_service_account", "",
     [](Config& c, const std::string& v) -> Status {
       c.spark.driver_service_account = v;
       return OkStatus();
     }},
    {"spark.controller_memory", "",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.spark.controller_memory_bytes, ParseMemory(v));
       return OkStatus();
     }},
    {"spark.controller_cpu", "",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.spark.controller_cpu_millis, ParseCpu(v));
       return OkStatus();
     }},
    {"spark.ui_port", "",
     [](Config& c, const std::string& v) -> Status {
       return SetInt(c.spark.ui_port, v, "spark.ui_port", 1, 65535);
     }},
    {"spark.ui_access", "TUG_SPARK_UI_ACCESS",
     [](Config& c, const std::string& v) -> Status {
       if (v != "auto" && v != "direct" && v != "apiserver") {
         return InvalidArgument("must be auto, direct or apiserver");
       }
       c.spark.ui_access = v;
       return OkStatus();
     }},
    {"spark.decommission_on_spot", "",
     [](Config& c, const std::string& v) -> Status {
       if (v != "true" && v != "false") return InvalidArgument("must be true or false");
       c.spark.decommission_on_spot = v == "true";
       return OkStatus();
     }},
    {"spark.component_log_cap", "",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.spark.component_log_cap_bytes, ParseMemory(v));
       return OkStatus();
     }},
    {"spark.attempt_log_cap", "",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.spark.attempt_log_cap_bytes, ParseMemory(v));
       return OkStatus();
     }},
    {"flotilla_v6", "TUG_FLOTILLA_V6",
     [](Config& c, const std::string& v) -> Status {
       if (v != "true" && v != "false") {
         return InvalidArgument(fmt::format("flotilla_v6 '{}' must be true or false", v));
       }
       c.flotilla_v6 = v == "true";
       return OkStatus();
     }},
    {"dispatcher.lease", "TUG_LEASE",
     [](Config& c, const std::string& v) -> Status {
       ASSIGN_OR_RETURN(c.lease_seconds, ParseDuration(v));
       return OkStatus();
     }},
    {"dispatcher.launch_workers", "TUG_LAUNCH_WORKERS",
     [](Config& c, const std::string& v) -> Status {
       int64_t n = 0;
       RETURN_IF_ERROR(SetInt(n, v, "dispatcher.launch_workers", 1, 256));
       c.launch_workers = static_cast<int>(n);
       return OkStatus();
     }},
};

Status Walk(Config& config, const json::object& obj, const std::string& prefix,
            const std::string& source) {
  for (const auto& kv : obj) {
    std::string path =
        prefix.empty() ? std::string(kv.key()) : prefix + "." + std::string(kv.key());
    if (path == "clusters") {
      RETURN_IF_ERROR(ApplyClustersYaml(config, kv.value(), source));
      continue;
    }
    if (path == "auth") {
      RETURN_IF_ERROR(ApplyAuthYaml(config.auth, kv.value(), source));
      continue;
    }
    if (path == "emr.release_labels") {
      // Spark version → EMR release label; a file's map replaces what came before.
      if (!kv.value().is_object()) {
        return InvalidArgument(fmt::format(
            "{}: emr.release_labels must map Spark versions to EMR release labels, e.g. "
            "{{\"3.5\": emr-7.1.0-latest}}",
            source));
      }
      config.emr.release_labels.clear();
      for (const auto& v : kv.value().as_object()) {
        if (!v.value().is_string() || v.value().as_string().empty()) {
          return InvalidArgument(fmt::format(
              "{}: emr.release_labels.{} must be an EMR release label, e.g. emr-7.1.0-latest",
              source, std::string(v.key())));
        }
        config.emr.release_labels[std::string(v.key())] = std::string(v.value().as_string());
      }
      continue;
    }
    if (path == "spark.versions") {
      // Version → image; a file's map replaces the defaults.
      if (!kv.value().is_object() || kv.value().as_object().empty()) {
        return InvalidArgument(fmt::format(
            "{}: spark.versions must map versions to images, e.g. {{\"3.5\": apache/spark:3.5.1}}",
            source));
      }
      config.spark.versions.clear();
      for (const auto& v : kv.value().as_object()) {
        std::string image = Text(v.value());
        if (!v.value().is_string() || image.empty()) {
          return InvalidArgument(fmt::format("{}: spark.versions.{} must be an image name", source,
                                             std::string(v.key())));
        }
        config.spark.versions[std::string(v.key())] = image;
      }
      continue;
    }
    if (kv.value().is_object()) {
      RETURN_IF_ERROR(Walk(config, kv.value().as_object(), path, source));
      continue;
    }
    const Key* key = nullptr;
    for (const auto& k : kKeys) {
      if (path == k.yaml_path) key = &k;
    }
    if (key == nullptr) {
      std::string known;
      for (const auto& k : kKeys) known += std::string(known.empty() ? "" : ", ") + k.yaml_path;
      return InvalidArgument(
          fmt::format("{}: unknown key '{}'; known keys: {}", source, path, known));
    }
    if (auto st = key->set(config, Text(kv.value())); !st.ok()) {
      return InvalidArgument(fmt::format("{}: {}: {}", source, path, st.error().message()));
    }
  }
  return OkStatus();
}

}  // namespace

// A scheduler name as Kubernetes takes it for spec.schedulerName (a DNS-1123 subdomain).
Status CheckSchedulerName(const std::string& v, const std::string& what) {
  bool ok = !v.empty() && v.size() <= 253 && v.front() != '-' && v.front() != '.' &&
            v.back() != '-' && v.back() != '.' &&
            v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") == std::string::npos;
  if (!ok) {
    return InvalidArgument(fmt::format(
        "{} '{}' must be a scheduler's name: lower-case letters, digits, '-' and '.', e.g. "
        "tugboat-binpack",
        what, v));
  }
  return OkStatus();
}

std::string Config::host() const { return listen.substr(0, listen.rfind(':')); }

uint16_t Config::port() const {
  return static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
}

Config DefaultConfig() {
  Config c;
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) {
    c.limits.max_memory_bytes = static_cast<int64_t>(pages) * page_size;
  }
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) c.limits.max_cpu_millis = static_cast<int64_t>(cpus) * 1000;
  return c;
}

Status ApplyYaml(Config& config, const std::string& yaml_text, const std::string& source_name) {
  ASSIGN_OR_RETURN(auto docs, YamlToJson(yaml_text));
  if (docs.empty()) return OkStatus();
  if (docs.size() > 1 || !docs[0].is_object()) {
    return InvalidArgument(fmt::format("{}: the config must be one YAML map", source_name));
  }
  return Walk(config, docs[0].as_object(), "", source_name);
}

Status ApplyEnv(Config& config, const std::map<std::string, std::string>& env) {
  // TUG_KUBECONFIG: one cluster named "default" from that kubeconfig (when the file configured
  // none); TUG_KUBE_NAMESPACE its namespace.
  if (auto it = env.find("TUG_KUBECONFIG"); it != env.end() && !it->second.empty()) {
    if (config.clusters.empty()) config.clusters.emplace_back();
    config.clusters.front().kubeconfig = it->second;
  }
  if (auto it = env.find("TUG_KUBE_NAMESPACE"); it != env.end() && !it->second.empty()) {
    if (config.clusters.empty()) {
      return InvalidArgument("TUG_KUBE_NAMESPACE needs a cluster (TUG_KUBECONFIG or clusters:)");
    }
    config.clusters.front().namespace_ = it->second;
  }
  RETURN_IF_ERROR(ApplyAuthEnv(config.auth, env));
  // The EMR region: the SDKs' variables when the config names none.
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (auto it = env.find(name); config.emr.region.empty() && it != env.end()) {
      config.emr.region = it->second;
    }
  }
  for (const auto& k : kKeys) {
    if (*k.env == '\0') continue;  // file only
    auto it = env.find(k.env);
    if (it == env.end() || it->second.empty()) continue;
    if (auto st = k.set(config, it->second); !st.ok()) {
      return InvalidArgument(fmt::format("{}: {}", k.env, st.error().message()));
    }
  }
  return OkStatus();
}

Status ValidateEmr(const EmrConfig& emr) {
  if (!emr.enabled()) return OkStatus();
  static const std::regex kClusterId("[0-9a-z]{1,64}");
  // The service model's IAMRoleArn pattern.
  static const std::regex kRoleArn(
      R"(arn:(aws[a-zA-Z0-9-]*):iam::(\d{12})?:(role((/)|(/[!-\x7F]+/))[\w+=,.@-]+))");
  static const std::regex kRelease(R"(emr-\d+\.\d+\.\d+(-latest|-\d{8})?)");
  static const std::regex kBucket("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  if (emr.virtual_cluster_id.empty()) {
    return InvalidArgument(
        "emr.virtual_cluster_id is not set: name the EMR virtual cluster jobs run on (`aws "
        "emr-containers list-virtual-clusters` shows its id)");
  }
  if (!std::regex_match(emr.virtual_cluster_id, kClusterId)) {
    return InvalidArgument(fmt::format(
        "emr.virtual_cluster_id '{}' is not a virtual cluster id: lower-case letters and digits, "
        "as `aws emr-containers list-virtual-clusters` prints it",
        emr.virtual_cluster_id));
  }
  if (emr.execution_role_arn.empty()) {
    return InvalidArgument(
        "emr.execution_role_arn is not set: name the IAM role the jobs run as, e.g. "
        "arn:aws:iam::123456789012:role/emr-on-eks-jobs");
  }
  if (!std::regex_match(emr.execution_role_arn, kRoleArn)) {
    return InvalidArgument(
        fmt::format("emr.execution_role_arn '{}' is not an IAM role ARN; it looks like "
                    "arn:aws:iam::123456789012:role/emr-on-eks-jobs",
                    emr.execution_role_arn));
  }
  if (emr.region.empty()) {
    return InvalidArgument(
        "emr.region is not set (nor AWS_REGION): name the virtual cluster's region");
  }
  if (emr.release_labels.empty() && emr.default_release_label.empty()) {
    return InvalidArgument(
        "emr needs release labels: map Spark versions to EMR releases under emr.release_labels, "
        "e.g. {\"3.5\": emr-7.1.0-latest}, or set emr.default_release_label");
  }
  auto labels = emr.release_labels;
  if (!emr.default_release_label.empty()) labels["default"] = emr.default_release_label;
  for (const auto& [version, label] : labels) {
    if (!std::regex_match(label, kRelease)) {
      return InvalidArgument(fmt::format(
          "emr release label '{}' (for {}) is not one: EMR's look like emr-7.1.0-latest or "
          "emr-6.15.0-20240105",
          label, version));
    }
  }
  if (emr.log_bucket.empty()) {
    return InvalidArgument(
        "emr.log_bucket is not set: EMR writes the driver and executor logs there and tug reads "
        "them back into the run's logs; name a bucket the execution role may write and tug may "
        "read");
  }
  if (!std::regex_match(emr.log_bucket, kBucket)) {
    return InvalidArgument(fmt::format(
        "emr.log_bucket '{}' is not an S3 bucket name (3-63 lower-case letters, digits, '.', "
        "'-'); give the name without s3://",
        emr.log_bucket));
  }
  return OkStatus();
}

Status ValidateConfig(Config& config) {
  if (config.logs.store == "s3" && config.logs.bucket.empty()) {
    return InvalidArgument("logs.store is s3 but logs.bucket is not set; name the bucket");
  }
  size_t colon = config.listen.rfind(':');
  bool port_ok = colon != std::string::npos && colon + 1 < config.listen.size() &&
                 config.listen.size() - colon - 1 <= 5 &&
                 config.listen.find_first_not_of("0123456789", colon + 1) == std::string::npos;
  if (!port_ok || std::stoi(config.listen.substr(colon + 1)) > 65535) {
    return InvalidArgument(
        fmt::format("listen '{}' must be HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free port)",
                    config.listen));
  }
  std::string host = config.host();
  RETURN_IF_ERROR(ValidateAuth(config.auth, host));
  if (host == "localhost") config.listen = "127.0.0.1:" + config.listen.substr(colon + 1);
  if (config.data_dir.empty()) return InvalidArgument("data_dir must not be empty");
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const std::string& n = config.clusters[i].name;
    if (ValidateName(n).ok() == false) {
      return InvalidArgument(
          fmt::format("clusters[{}]: name '{}' must be lower-case letters, digits and '-'", i, n));
    }
    for (size_t j = 0; j < i; ++j) {
      if (config.clusters[j].name == n) {
        return InvalidArgument(fmt::format("clusters: the name '{}' is used twice", n));
      }
    }
    // kubernetes.scheduler_name is the default of clusters that name no scheduler of their own.
    if (config.clusters[i].scheduler_name.empty()) {
      config.clusters[i].scheduler_name = config.kube_scheduler_name;
    }
  }
  if (config.engine == "kubernetes" && config.clusters.empty()) {
    return InvalidArgument(
        "engine.driver kubernetes needs a cluster: add clusters: [{name, kubeconfig}] or set "
        "TUG_KUBECONFIG");
  }
  RETURN_IF_ERROR(ValidateEmr(config.emr));
  if (config.spark_engine == "emr-on-eks" && !config.emr.enabled()) {
    return InvalidArgument(
        "spark.engine emr-on-eks needs the emr section: emr.virtual_cluster_id, "
        "emr.execution_role_arn, emr.release_labels and emr.log_bucket (see docs/emr.md)");
  }
  if (config.usage_source == "prometheus" && config.prometheus_url.empty()) {
    return InvalidArgument(
        "usage.source prometheus needs its address: set usage.prometheus_url or "
        "TUG_PROMETHEUS_URL, e.g. http://prometheus.monitoring:9090");
  }
  if (config.database_path.empty()) config.database_path = config.data_dir + "/tug.db";
  if (config.store_driver == "postgres" && config.database_url.empty()) {
    return InvalidArgument(
        "store.driver postgres needs a database: set store.url or TUG_DATABASE_URL to "
        "postgres://user:password@host:5432/db");
  }
  return OkStatus();
}

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t at = url.find('@', scheme + 3);
  const size_t slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::map<std::string, std::string> ProcessEnv() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

}  // namespace tug::server
