#pragma once
/// Server configuration: defaults < YAML file < TUG_* environment < command-line flags.
/// Every key is documented in docs/configuration.md.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/model.h"
#include "cost/pricing.h"
#include "queue/queue.h"

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
  /// Pods' spec.schedulerName ("": kubernetes.scheduler_name, else the default scheduler).
  std::string scheduler_name;
  /// GPU runs (resources.gpu > 0): added to their pods' node selector and tolerations, to land
  /// on the GPU node group (`gpu: {node_selector: {...}, tolerations: [...]}`).
  std::map<std::string, std::string> gpu_node_selector;
  std::vector<Toleration> gpu_tolerations;
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
  /// GPU executors: the script Spark runs in each executor to find its GPUs' addresses
  /// (spark.executor.resource.gpu.discoveryScript; the one Spark's images ship by default).
  std::string gpu_discovery_script = "/opt/spark/examples/src/main/scripts/getGpusResources.sh";
  int64_t component_log_cap_bytes = int64_t{256} << 20;
  int64_t attempt_log_cap_bytes = int64_t{2} << 30;
};

/// Authentication and authorization (src/auth; docs/configuration.md#authentication). Off unless
/// `enabled` or an OIDC issuer is set; a server listening beyond loopback refuses to start
/// without it.
struct AuthConfig {
  /// Bearer tokens from the store (`tug token create`).
  bool enabled = false;
  /// "group": callers see their groups' runs and definitions; "all": every signed-in caller may
  /// read everything (still acting only on its groups').
  std::string visibility = "group";
  /// At start: register the token in this file as an admin token, or, when the file does not
  /// exist, make one and write it there (mode 0600). "" : none.
  std::string bootstrap_token_file;
  /// The append-only audit log (JSON lines); "" : <data_dir>/audit.log. Written whether or not
  /// authentication is on.
  std::string audit_log;
  /// How long `tug token create` tokens live unless the request says (0: forever).
  int64_t token_ttl_seconds = int64_t{90} * 86400;
  // OIDC (an identity provider's JWTs); on when `oidc_issuer` is set.
  std::string oidc_issuer;
  std::vector<std::string> oidc_audiences;
  std::string oidc_jwks_url;
  std::string oidc_jwks_file;
  std::string oidc_user_claim = "sub";
  std::string oidc_groups_claim = "groups";
  std::vector<std::string> oidc_admin_groups;
  std::vector<std::string> oidc_user_groups;
  std::vector<std::string> oidc_viewer_groups;
  std::string oidc_default_role = "viewer";  // viewer | user | none
  int64_t oidc_clock_skew_seconds = 60;
  /// For the web UI's sign-in (authorization code + PKCE); the client id is also an accepted
  /// audience.
  std::string oidc_client_id;
  std::string oidc_authorization_endpoint;
  std::string oidc_token_endpoint;
  std::string oidc_scopes = "openid profile email";

  bool oidc() const { return !oidc_issuer.empty(); }
  bool on() const { return enabled || oidc(); }
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

/// EMR on EKS (the emr-on-eks engine, docs/emr.md): on as soon as any of its keys is set, and
/// then every required one is checked at startup.
struct EmrConfig {
  std::string virtual_cluster_id;
  std::string execution_role_arn;
  /// The virtual cluster's region; "" : AWS_REGION / AWS_DEFAULT_REGION.
  std::string region;
  /// emr-containers endpoint; "" : https://emr-containers.<region>.amazonaws.com (tests, VPC
  /// endpoints set it).
  std::string endpoint;
  /// Where EMR's logs are read from; "" : https://s3.<region>.amazonaws.com.
  std::string s3_endpoint;
  /// Spark version ("3.5") → EMR release label ("emr-7.1.0-latest").
  std::map<std::string, std::string> release_labels;
  std::string default_release_label;
  /// s3://<log_bucket>/<log_prefix>: EMR's monitoringConfiguration, read back into the logs.
  std::string log_bucket;
  std::string log_prefix = "emr-on-eks/";
  std::string capacity_label = "eks.amazonaws.com/capacityType";
  std::string spot_value = "SPOT";
  std::string on_demand_value = "ON_DEMAND";
  /// DescribeJobRun: the first delay and after every change (doubling while nothing changes).
  int64_t poll_interval_seconds = 5;
  /// The EKS cluster the virtual cluster lives on, by its name under `clusters:` (its
  /// kubeconfig and client are reused): the job runs' pods are watched there for pod events,
  /// live logs and pod status evidence. "" : pods are not watched.
  std::string cluster;
  /// The virtual cluster's namespace on it; "" : that cluster's namespace.
  std::string namespace_;

  bool enabled() const {
    return !virtual_cluster_id.empty() || !execution_role_arn.empty() || !release_labels.empty() ||
           !default_release_label.empty() || !log_bucket.empty() || !endpoint.empty() ||
           !cluster.empty() || !namespace_.empty();
  }
  std::string log_uri() const { return "s3://" + log_bucket + "/" + log_prefix; }
};

/// Cost per run (src/cost; docs/configuration.md#cost): how ended attempts are priced.
struct CostConfig {
  bool enabled = true;
  /// What the prices are in; shown beside every figure (the API's cost.currency).
  std::string currency = "USD";
  cost::ShareBasis basis = cost::ShareBasis::kRequested;
  /// Node types (m5.4xlarge for the cluster engines) and flat rates for the local engine.
  cost::PriceBook book = cost::ServerDefaultPriceBook();
  /// The cost counters' (definition, owner) label sets; further pairs count as "_other".
  int metrics_series = 1000;
};

struct Config {
  LogsConfig logs;
  CostConfig cost;
  EmrConfig emr;
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
  /// How long an idempotency key of POST /api/v1/runs names its run (a repeat within it
  /// returns that run); expired keys are free again and purged by retention housekeeping.
  int64_t idempotency_retention_seconds = int64_t{7} * 86400;
  /// The server's URL as jobs reach it, given to every run as TUG_SERVER ("": derived from
  /// `listen`, with this host's name for a wildcard address).
  std::string advertise_url;
  // engine
  std::string engine = "local";  // default engine: local | kubernetes
  /// The engine of Spark definitions (and runs) that name none: spark | emr-on-eks.
  std::string spark_engine = "spark";
  std::vector<ClusterConfig> clusters;
  /// kubernetes.scheduler_name: the scheduler of job pods on clusters that name none.
  std::string kube_scheduler_name;
  SparkConfig spark;
  std::string cgroup_mode = "auto";  // auto | v2 | v1 | none
  /// The local engine's per-attempt supervisor; empty: `tug-shim` beside the `tug` binary.
  std::string shim_path;
  /// Shims are forked by one long-lived launcher process (`<shim> --launcher`) rather than
  /// exec'd per launch.
  bool shim_launcher = true;
  /// The local engine's attempt state (one small directory per running attempt); empty:
  /// <data_dir>/engine.
  std::string state_dir;
  int64_t stop_grace_seconds = 10;
  /// How often engines sample running attempts' memory and CPU (0: never): the local engine
  /// reads cgroups, the Kubernetes engines list metrics.k8s.io pod metrics.
  int64_t usage_interval_seconds = 2;
  int64_t kube_usage_interval_seconds = 15;
  /// Where the Kubernetes and Spark engines read pods' usage: "metrics-api" (metrics.k8s.io,
  /// metrics-server) or "prometheus" (cAdvisor's series through the Prometheus HTTP API).
  std::string usage_source = "metrics-api";
  std::string prometheus_url;
  /// The rate() window for CPU from Prometheus: at least two of its scrape intervals.
  int64_t prometheus_rate_window_seconds = 120;
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
  AuthConfig auth;
  /// Serve Flotilla's v6 REST API under /api/v6/ (src/flotilla), beside v1, with the same
  /// authentication.
  bool flotilla_v6 = false;
  /// Team queues (src/queue; docs/configuration.md#queues). Empty: no queues, attempts are
  /// dispatched as soon as they are due. Set: every run waits in its queue until its limits
  /// allow it (a `default` queue without limits is always there).
  std::vector<queue::QueueSpec> queues;
  /// The cluster's size for fair shares (zero fields: the sum of the queues' quotas).
  queue::Vec queue_capacity;

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
/// The emr section's own checks (when it is on): ids, ARN, region, release labels, bucket.
[[nodiscard]] Status ValidateEmr(const EmrConfig& emr);
/// emr.cluster names one of config.clusters, emr.namespace (defaulting to that cluster's) is a
/// namespace name; emr.namespace without emr.cluster is refused.
[[nodiscard]] Status ValidateEmrCluster(Config& config);
/// Checks the final config (listen address, loopback-only while auth is off, paths...).
[[nodiscard]] Status ValidateConfig(Config& config);
/// The `auth:` section of a config file (config_auth.cpp); `source` names the file in errors.
[[nodiscard]] Status ApplyAuthYaml(AuthConfig& auth, const boost::json::value& section,
                                   const std::string& source);
/// The `cost:` section of a config file (config_cost.cpp); `source` names the file in errors.
[[nodiscard]] Status ApplyCostYaml(CostConfig& cost, const boost::json::value& section,
                                   const std::string& source);
/// TUG_COST_ENABLED, TUG_COST_BASIS and TUG_COST_CURRENCY.
[[nodiscard]] Status ApplyCostEnv(CostConfig& cost, const std::map<std::string, std::string>& env);
/// The cost section's checks: a valid price book (cost::Validate), series limit >= 1.
[[nodiscard]] Status ValidateCost(const CostConfig& cost);
/// The `clusters:` list of a config file (config_clusters.cpp); replaces config.clusters.
[[nodiscard]] Status ApplyClustersYaml(Config& config, const boost::json::value& section,
                                       const std::string& source);
/// The `queues:` list and `queue_capacity:` map (config_queues.cpp); validated whole.
[[nodiscard]] Status ApplyQueuesYaml(Config& config, const boost::json::value& section,
                                     const std::string& source);
[[nodiscard]] Status ApplyQueueCapacityYaml(Config& config, const boost::json::value& section,
                                            const std::string& source);
/// A scheduler name as Kubernetes takes it for spec.schedulerName (a DNS-1123 subdomain); `what`
/// names the setting in the error.
[[nodiscard]] Status CheckSchedulerName(const std::string& v, const std::string& what);
/// TUG_AUTH, TUG_AUTH_VISIBILITY, TUG_AUTH_BOOTSTRAP_TOKEN_FILE, TUG_AUDIT_LOG and TUG_OIDC_*.
[[nodiscard]] Status ApplyAuthEnv(AuthConfig& auth, const std::map<std::string, std::string>& env);
/// The auth section's own checks, and the listen address against it: a non-loopback address
/// without authentication is refused with how to turn it on.
[[nodiscard]] Status ValidateAuth(const AuthConfig& auth, const std::string& listen_host);
/// 127.0.0.0/8, ::1, localhost.
bool IsLoopbackHost(const std::string& host);

/// The process environment as a map.
std::map<std::string, std::string> ProcessEnv();

}  // namespace tug::server
