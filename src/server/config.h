#pragma once
/// Server configuration: defaults < YAML file < TUG_* environment < command-line flags.
/// Every key is documented in docs/configuration.md.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace tug::server {

/// One Kubernetes cluster the server runs pods on (its engine is "kubernetes:<name>").
struct ClusterConfig {
  std::string name = "default";
  std::string kubeconfig;  // path; empty with in_cluster: the service account's credentials
  std::string context;     // "" = the kubeconfig's current-context
  bool in_cluster = false;
  std::string namespace_ = "default";
  std::string capacity_label = "karpenter.sh/capacity-type";
  std::string spot_value = "spot";
  std::string on_demand_value = "on-demand";
  std::string service_account;  // pods' default service account
  double qps = 50;              // client-side limiter
  int64_t burst = 100;
  int64_t pod_linger_seconds = 0;
  int64_t pending_timeout_seconds = 600;
  int64_t image_pull_grace_seconds = 120;
  std::string unknown_pods = "keep";  // keep | delete
  bool prune_events = false;
  bool watch_nodes = true;
};

/// Spark on Kubernetes (the spark engine, one per cluster: "spark:<cluster>").
struct SparkConfig {
  /// Spark version → image; several live side by side. Defaults: Apache's images for 3.3-3.5.
  std::map<std::string, std::string> versions = {
      {"3.3", "apache/spark:3.3.3"}, {"3.4", "apache/spark:3.4.3"}, {"3.5", "apache/spark:3.5.1"}};
  std::string master = "k8s://https://kubernetes.default.svc:443";
  std::string spark_submit = "/opt/spark/bin/spark-submit";
  std::string event_log_dir;  // "" : event logging off
  std::string history_url;    // e.g. http://spark-history:18080 ("" : no redirect after the end)
  std::string submit_service_account = "tugboat-spark-submit";
  std::string driver_service_account = "spark";
  int64_t controller_memory_bytes = int64_t{1} << 30;
  int64_t controller_cpu_millis = 500;
  int64_t ui_port = 4040;
  /// How the proxy reaches a live driver UI: direct (pod IP; Tugboat runs in the cluster),
  /// apiserver (the API server's pod proxy; Tugboat runs outside), auto (direct with in_cluster).
  std::string ui_access = "auto";
  bool decommission_on_spot = true;
  int64_t component_log_cap_bytes = int64_t{256} << 20;
  int64_t attempt_log_cap_bytes = int64_t{2} << 30;
};

/// `url` with its password replaced by "***", for logs and messages.
std::string RedactUrl(const std::string& url);

/// Where logs are kept: "fs" (files under <data_dir>/logs, the default) or "s3" (an S3 bucket,
/// with <data_dir>/logs as the local spool live writers append to).
struct LogsConfig {
  std::string store = "fs";
  std::string bucket;
  std::string prefix = "tug/logs/";
  std::string region = "us-east-1";
  /// Empty: https://s3.<region>.amazonaws.com; set for S3-compatible stores and tests.
  std::string endpoint;
};

struct Config {
  LogsConfig logs;
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = ".tug";
  /// Serve the web UI from this directory (a Vite build) instead of the copy in the binary.
  std::string ui_dir;
  std::string log_level = "info";
  // store
  std::string store_driver = "sqlite";
  std::string database_path;  // default <data_dir>/tug.db
  bool sqlite_synchronous_full = false;
  /// PostgreSQL (store_driver "postgres"): a libpq URL, postgres://user:pass@host:port/db.
  std::string database_url;
  int database_pool_size = 8;
  /// Ended runs (with their logs) are deleted after this long; 0 keeps them forever.
  int64_t retention_seconds = 0;
  // engine
  std::string engine = "local";  // default engine: local | kubernetes
  std::vector<ClusterConfig> clusters;
  SparkConfig spark;
  std::string cgroup_mode = "auto";  // auto | v2 | v1 | none
  /// The local engine's per-attempt supervisor; empty: `tug-shim` beside the `tug` binary.
  std::string shim_path;
  /// The local engine's attempt state (one small directory per running attempt); empty:
  /// <data_dir>/engine.
  std::string state_dir;
  int64_t stop_grace_seconds = 10;
  /// How often engines sample running attempts' memory and CPU (0: never): the local engine
  /// reads cgroups, the Kubernetes engines list metrics.k8s.io pod metrics.
  int64_t usage_interval_seconds = 2;
  int64_t kube_usage_interval_seconds = 15;
  // limits
  Limits limits;
  /// Spot interruption rate above which the planner moves executors to on-demand.
  double climate_threshold = 0.2;
  int64_t max_body_bytes = 1 << 20;
  // http
  int http_threads = 2;
  // dispatcher
  int64_t lease_seconds = 30;
  bool dispatch = true;
  /// Claimed attempts launched at a time.
  int launch_workers = 8;

  /// Host and port of `listen`.
  std::string host() const;
  uint16_t port() const;
};

/// Defaults that depend on the machine: max memory = physical memory, max cpu = cores.
Config DefaultConfig();
/// Applies a YAML file's contents (unknown keys are errors that name the key).
[[nodiscard]] Status ApplyYaml(Config& config, const std::string& yaml_text,
                               const std::string& source_name);
/// Applies TUG_* variables from env (e.g. the process environment).
[[nodiscard]] Status ApplyEnv(Config& config, const std::map<std::string, std::string>& env);
/// Checks the final config (listen address, loopback-only while auth is off, paths...).
[[nodiscard]] Status ValidateConfig(Config& config);
/// The process environment as a map.
std::map<std::string, std::string> ProcessEnv();

}  // namespace tug::server
