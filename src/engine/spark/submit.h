#pragma once
/// Pure parts of the spark engine: the spark-submit command line and the controller pod an
/// attempt becomes, and which of Spark's pods is which component. No I/O, so golden tests pin
/// the generated confs per Spark version, placement and planner decision.
#include <map>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.h"
#include "engine/engine.h"
#include "engine/kubernetes/pod.h"

namespace tug::engine::spark {

/// Server-side Spark settings (config `spark:` plus the cluster's).
struct SparkSettings {
  /// Spark version ("3.5") → image. Several versions live side by side on one cluster.
  std::map<std::string, std::string> images;
  /// The API server as the controller pod sees it.
  std::string master = "k8s://https://kubernetes.default.svc:443";
  std::string spark_submit = "/opt/spark/bin/spark-submit";
  /// Event logs for the history server ("" : off), and the history server's base URL.
  std::string event_log_dir;
  std::string history_url;
  /// The controller pod's service account: it must be allowed to create pods, services and
  /// config maps in the namespace (spark-submit creates the driver's).
  std::string submit_service_account;
  /// The driver's service account (it creates the executors); "" : the definition's or the
  /// namespace's default.
  std::string driver_service_account;
  int64_t controller_memory_bytes = int64_t{1} << 30;
  int64_t controller_cpu_millis = 500;
  int ui_port = 4040;
  /// Graceful decommissioning (shuffle and RDD blocks migrate off an executor whose spot node is
  /// being reclaimed) for executors on spot.
  bool decommission_on_spot = true;
  /// GPU executors: the script Spark runs in each executor to find its GPUs' addresses.
  std::string gpu_discovery_script = "/opt/spark/examples/src/main/scripts/getGpusResources.sh";
  /// Confs every application gets (a definition's own conf wins over these).
  std::map<std::string, std::string> default_conf;
};

/// The image of a Spark version: exact match, else the newest configured "<version>.x" patch
/// (a definition asking "3.5" runs on the image configured as "3.5.1" when "3.5" is absent).
/// kFailedPrecondition naming the versions this server has.
[[nodiscard]] Result<std::string> ImageFor(const std::string& version,
                                           const SparkSettings& settings);

struct Submission {
  std::string image;
  std::string driver_pod;                   // spark.kubernetes.driver.pod.name
  std::string executor_prefix;              // spark.kubernetes.executor.podNamePrefix
  std::map<std::string, std::string> conf;  // every --conf passed, sorted
  std::vector<std::string> argv;            // spark-submit ... main args...
  boost::json::value controller_pod;        // the Pod that runs argv
  /// What Spark will make of the confs (for dry runs and people): the driver's and executors'
  /// labels, node selector, memory limit and count.
  boost::json::value driver_preview;
  boost::json::value executor_preview;
};

/// Where the controller writes the executor pod template of a GPU attempt
/// (spark.kubernetes.executor.podTemplateFile; spark-submit hands it to the driver).
inline constexpr char kExecutorTemplatePath[] = "/tmp/tug-executor-pod.json";
/// The controller's environment variable holding that template (the JSON of a Pod).
inline constexpr char kExecutorTemplateEnv[] = "TUG_EXECUTOR_POD_TEMPLATE";

/// The submission of one attempt. `spec.kind` must be "spark". Driver always on on-demand;
/// executors on spec.placement.executor_capacity. With resources.gpu (GPUs per executor):
/// Spark's custom resource scheduling confs (amount, vendor nvidia.com, discovery script, a
/// task's share of an executor's GPUs), and an executor pod template with the pods' GPU node
/// selector and tolerations, which the controller writes from its environment before it
/// execs spark-submit (Spark has no conf for tolerations). kFailedPrecondition: no image for
/// the version, a Spark version older than 3.0.
[[nodiscard]] Result<Submission> BuildSubmission(const LaunchSpec& spec,
                                                 const kubernetes::PodSettings& pods,
                                                 const SparkSettings& settings);

/// A submission for people and dry runs: {"image", "argv", "conf", "controller_pod", "driver",
/// "executors"}.
boost::json::value ToJson(const Submission& sub);

/// The proxy base Spark's UI is served under (spark.ui.proxyBase): "/runs/<run>/spark-ui".
std::string UiProxyBase(const std::string& run_id);

/// The component a pod of a Spark attempt is: "controller", "driver" or "executor-<id>" (from
/// Spark's spark-role / spark-exec-id labels and ours); "" when it is none of them.
std::string ComponentOf(const boost::json::value& pod);

/// spark.task.resource.gpu.amount for executors of `gpu` GPUs and `cpu_millis` (cores rounded
/// up; 0: Spark's default, 1 core): every task slot gets an equal share, a whole number of GPUs
/// when there are at least as many GPUs as cores, else 1/n with n = ceil(cores / gpus) (Spark
/// accepts fractions only of that form).
std::string TaskGpuAmount(int64_t gpu, int64_t cpu_millis);

/// "2048m": Spark's memory notation (MiB, rounded up).
std::string SparkMemory(int64_t bytes);

}  // namespace tug::engine::spark
