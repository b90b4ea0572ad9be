// The table of config keys: one setter per key, shared by YAML files and environment
// variables (config.cpp walks files and the environment with it).
#include "server/config_keys.h"

#include <charconv>

#include <fmt/format.h>

#include "core/quantity.h"

namespace tug::server {
namespace {

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

const ConfigKey kKeys[] = {
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
    {"emr.cluster", "TUG_EMR_CLUSTER",
     [](Config& c, const std::string& v) -> Status {
       c.emr.cluster = v;
       return OkStatus();
     }},
    {"emr.namespace", "TUG_EMR_NAMESPACE",
     [](Config& c, const std::string& v) -> Status {
       c.emr.namespace_ = v;
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
    {"idempotency_retention", "TUG_IDEMPOTENCY_RETENTION",
     [](Config& c, const std::string& v) -> Status {
       auto seconds = ParseDuration(v);
       if (!seconds.ok() || *seconds < 60 || *seconds > int64_t{365} * 86400) {
         return Status(InvalidArgument(fmt::format(
             "idempotency_retention '{}' must be a duration from 1m to 365d, e.g. 7d", v)));
       }
       c.idempotency_retention_seconds = *seconds;
       return OkStatus();
     }},
    {"advertise_url", "TUG_ADVERTISE_URL",
     [](Config& c, const std::string& v) -> Status {
       if ((v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) || v.size() <= 8 ||
           v.find_first_of(" \t\r\n") != std::string::npos) {
         return Status(InvalidArgument(fmt::format(
             "advertise_url '{}' must be the http(s) URL jobs reach this server at, e.g. "
             "http://tug.example.com:8080",
             v)));
       }
       c.advertise_url = v;
       while (c.advertise_url.size() > 8 && c.advertise_url.back() == '/') {
         c.advertise_url.pop_back();
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
    {"engine.shim_launcher", "TUG_SHIM_LAUNCHER",
     [](Config& c, const std::string& v) -> Status {
       return SetBool(c.shim_launcher, v, "engine.shim_launcher");
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
    {"limits.max_gpu", "TUG_MAX_GPU",
     [](Config& c, const std::string& v) -> Status {
       return SetInt(c.limits.max_gpu, v, "limits.max_gpu", 0, 1024);
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
       return SetBool(c.dispatch, v, "dispatcher.enabled");
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
    {"spark.gpu_discovery_script", "",
     [](Config& c, const std::string& v) -> Status {
       if (v.empty() || v.front() != '/') {
         return InvalidArgument("must be an absolute path in the Spark image");
       }
       c.spark.gpu_discovery_script = v;
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
       return SetBool(c.flotilla_v6, v, "flotilla_v6");
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

}  // namespace

std::span<const ConfigKey> ConfigKeys() { return kKeys; }

Status SetBool(bool& out, const std::string& v, const std::string& what) {
  if (v != "true" && v != "false") {
    return InvalidArgument(fmt::format("{} '{}' must be true or false", what, v));
  }
  out = v == "true";
  return OkStatus();
}

}  // namespace tug::server
