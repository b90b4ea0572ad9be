#pragma once
/// Fixtures for integration tests against a real kube-apiserver (scripts/kube-testenv runs etcd
/// and kube-apiserver v1.20.2 on loopback, with no kubelet, scheduler or controller-manager):
///
/// - KubeTestEnv starts and stops that API server (and can kill and restart it mid-test).
/// - NodeSimulator plays the missing parts: a scheduler that binds the namespace's pods, and the
///   kubelets of a few fake nodes that "run" each pod's first container following the script in
///   its TUG_SIM env var, report realistic pod statuses and events, and serve container logs over
///   HTTPS the way a kubelet does (the API server proxies pods/log to it).
///   It also plays spark-submit (cluster mode) and Spark's driver for Tugboat's Spark pods; see
///   "Spark" below.
///
/// TUG_SIM: directives separated by ';' (absent: run 0.3 s, exit 0):
///   run=SECONDS        how long the container runs (float; default 0.3, or long enough for the
///                      ticks when log_every/log_count are given)
///   exit=N             exit code at the end (non-zero: reason Error, phase Failed)
///   log=TEXT           a log line written at start (repeatable)
///   log_every=SECONDS  with log_count=N: "tick 0" .. "tick N-1" written over time
///   oom_below=QTY      if resources.limits.memory < QTY: "allocating..." is logged and the
///                      container ends after its run time with 137 OOMKilled
///   hang               runs until the pod is deleted
///   until=PATH         runs until the file PATH exists (checked every 50 ms), then exits
///                      (a test ends a job when it is ready, not after a guessed time)
///   waiting=R:MESSAGE  never starts: container waiting with reason R and MESSAGE, phase Pending
/// An invalid script leaves the container waiting with reason CreateContainerConfigError.
///
/// Spark. Log lines the simulator writes for Spark are prefixed like Spark's log4j output
/// ("yy/MM/dd HH:mm:ss LEVEL Logger: message", UTC); a script's log= lines are written as is.
/// - A controller pod (label tugboat.io/component=controller) runs spark-submit: its first
///   container's command (+ args) is the argv (see ParseSparkSubmit). Its own TUG_SIM still
///   applies: log= lines, run= is the time before submitting, waiting= keeps it waiting, and
///   exit=N (N != 0) or an OOM ends it without creating a driver; so do an invalid argv and
///   --deploy-mode client (an "Error: ..." line, exit 1). Then it submits: a ConfigMap
///   "spark-drv-<hash>-conf-map" with spark.properties, and the driver pod (name
///   spark.kubernetes.driver.pod.name; labels spark-role=driver, spark-app-selector=<app id>,
///   spark-app-name, spark-version=3.5.0 and spark.kubernetes.driver.label.*; annotations,
///   nodeSelector (spark.kubernetes.node.selector.* then driver.node.selector.*), service account,
///   image, memory and cpu (below), env from spark.kubernetes.driverEnv.* +
///   SPARK_APPLICATION_ID), always in the simulator's namespace (a WARN line when
///   spark.kubernetes.namespace differs). The app id is spark.app.id, else "spark-" + the
///   controller's uid without dashes. It logs the driver's state changes and, once
///   the driver ended (or was deleted, or its node removed), "Application <name> with submission
///   ID <ns>:<driver> finished" and exits 0 whatever the driver's outcome (waitAppCompletion).
///   If the driver pod already exists with the same app id (a retried POST, a restarted
///   simulator) it is adopted; with another app id the submission fails (exit 1).
/// - The driver pod follows the TUG_SIM of its driverEnv. Once running it creates the executors
///   (<spark.kubernetes.executor.podNamePrefix>-exec-<n>, n from 1; the prefix defaults to the
///   driver's name without "-driver"; count spark.executor.instances, default 2, or the dynamic
///   allocation's initial/min executors), each at most once (a 409 is adopted). Its run= clock
///   starts when its executors registered (were running), as Spark waits for
///   minRegisteredResourcesRatio 0.8 (at most maxRegisteredResourcesWaitingTime, 30 s).
///   An executor that ends non-zero or OOMKilled, is deleted, or whose node is removed is lost
///   (logged as Spark does, "ERROR TaskSchedulerImpl: Lost executor <n> on <ip>: ...") and not
///   replaced; unless the driver's script sets exit= explicitly, the job then aborts 0.5 s later
///   ("ERROR SparkContext: ... Job aborted due to stage failure: ...") and the driver exits 1
///   (even if its script hangs). When the driver ends in any way (but not when the simulator
///   stops), it deletes its executor pods gracefully (they end 143, then go) unless
///   spark.kubernetes.executor.deleteOnTermination=false.
/// - Executor pods: labels spark-role=executor, spark-exec-id, spark-app-selector,
///   spark-app-name, spark-version, spark-exec-resourceprofile-id=0 and
///   spark.kubernetes.executor.label.*; env spark.executorEnv.*; TUG_SIM is executorEnv
///   TUG_SIM_EXEC_<n>, else executorEnv TUG_SIM, else none: an executor without a script runs
///   until its driver deletes it, as a real one does.
/// - Resources of a driver / executor pod (ROLE): requests = limits memory "<N>Mi", N =
///   spark.ROLE.memory (default 1g) + spark.ROLE.memoryOverhead, else max(384, factor x memory)
///   with factor spark.ROLE.memoryOverheadFactor / spark.kubernetes.memoryOverheadFactor (0.1);
///   cpu request spark.kubernetes.ROLE.request.cores, else spark.ROLE.cores (default 1); cpu
///   limit spark.kubernetes.ROLE.limit.cores if set. Images: spark.kubernetes.ROLE.container.image,
///   else spark.kubernetes.container.image (required).
/// Not simulated: the driver's Service, owner references (no garbage collector runs here),
/// executor replacement, dynamic scaling beyond the initial count, periodic status lines.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kube/client.h"

namespace tug::testing {

/// True when TUG_REQUIRE_KUBE=1: tests must fail, not skip, when the API server is missing.
bool RequireKube();

/// One etcd + kube-apiserver (scripts/kube-testenv) in a fresh temporary directory.
/// The script is found through $TUG_SOURCE_DIR (set by tug_add_test; the source tree at build
/// time otherwise). Not thread-safe; one owner.
class KubeTestEnv {
 public:
  KubeTestEnv();   // picks the directory; no I/O beyond creating it
  ~KubeTestEnv();  // Stop(); removes the directory unless TUG_KEEP_KUBE_DIR=1
  // If the process dies without Stop(), a watchdog child still runs `down` (and removes the
  // directory).
  KubeTestEnv(const KubeTestEnv&) = delete;
  KubeTestEnv& operator=(const KubeTestEnv&) = delete;

  /// `kube-testenv up DIR` (waits until the API server is ready; a few seconds).
  /// kFailedPrecondition: the kube-apiserver binary, etcd or the script is missing: callers skip
  /// (or fail when RequireKube()). kUnavailable: it is there but did not start (message carries
  /// the script's stderr and the end of apiserver.log).
  [[nodiscard]] Status Start();
  /// `kube-testenv down DIR`; idempotent.
  void Stop();
  /// kill -9 the API server (etcd keeps the state) / start it again on the same port and certs
  /// (returns once it is ready).
  [[nodiscard]] Status StopApiserver();
  [[nodiscard]] Status StartApiserver();

  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  bool started() const { return started_; }

  /// $KUBE_APISERVER, else ${TUG_CACHE:-~/.cache/tugboat}/kube-apiserver-v1.20.2.
  static std::string ApiserverBinary();
  /// $TUG_SOURCE_DIR/scripts/kube-testenv.
  static std::string Script();

 private:
  [[nodiscard]] Status Run(const std::vector<std::string>& args, int timeout_seconds) const;
  void StartWatchdog();
  void StopWatchdog();

  std::string dir_;
  bool started_ = false;
  // A child that runs `kube-testenv down` if this process dies without Stop() (a crash, a
  // sanitizer abort, a CTest timeout): etcd and kube-apiserver are setsid'd and would outlive it.
  int watchdog_pid_ = -1;
  int watchdog_fd_ = -1;  // its pipe's write end; EOF tells it we are gone
};

struct SimNode {
  std::string name;
  std::string capacity;  // value of the capacity label, e.g. "spot" / "on-demand"
  int64_t cpu_millis = 4000;
  int64_t memory_bytes = 16LL << 30;
};

/// A parsed TUG_SIM script (see the top of this file).
struct SimScript {
  double run_seconds = 0.3;
  int exit_code = 0;
  std::vector<std::string> logs;
  double log_every_seconds = 0;
  int log_count = 0;
  std::optional<int64_t> oom_below_bytes;
  bool exit_set = false;  // exit= was given (a Spark driver's explicit exit wins over aborts)
  bool hang = false;
  std::string until_file;  // until=: runs until this file exists
  std::optional<std::pair<std::string, std::string>> waiting;  // reason, message
};
/// kInvalidArgument naming the bad directive.
[[nodiscard]] Result<SimScript> ParseSimScript(std::string_view text);

/// A spark-submit command line, as the simulator reads a controller pod's.
struct SparkSubmitArgs {
  std::string master;       // --master (else conf spark.master)
  std::string deploy_mode;  // --deploy-mode (else conf spark.submit.deployMode; "" if neither)
  std::string name;         // --name (else conf spark.app.name; "" if neither)
  std::string main_class;   // --class; "" for Python
  std::string main_resource;
  std::vector<std::string> app_args;
  /// Every --conf KEY=VALUE (split at the first '='; a later one wins), then the options that
  /// stand for a conf, which win as in spark-submit: --name spark.app.name, --master,
  /// --deploy-mode, --driver-memory, --driver-cores, --executor-memory, --executor-cores,
  /// --num-executors (spark.executor.instances), --jars, --files, --py-files, --archives.
  std::map<std::string, std::string> conf;
  /// Every other option with a value, e.g. "--properties-file" (the last one given).
  std::map<std::string, std::string> options;
};
/// Parses argv: argv[0] (and anything before an element ending in "spark-submit") is the
/// program; options come as "--opt value" or "--opt=value"; the first non-option is the main
/// resource and everything after it the application's arguments. kInvalidArgument: an unknown
/// option, an option without its value, a --conf that is not KEY=VALUE (named), no main
/// resource.
[[nodiscard]] Result<SparkSubmitArgs> ParseSparkSubmit(const std::vector<std::string>& argv);

/// MiB from a Spark memory string ("512m", "2g", "2048k", "1t", "1024" = MiB, "100b";
/// case-insensitive, no fractions), as Spark's byteStringAsMb (rounding down).
/// kInvalidArgument when it is not one.
[[nodiscard]] Result<int64_t> ParseSparkMemoryMiB(std::string_view text);

/// Scheduler + kubelets for the pods of one namespace.
///
/// Lifecycle: construct, Start(), AddNode()s, ..., Stop() (or the destructor). Nodes can be added
/// and removed at any time after Start.
/// Threading: all methods are thread-safe. Inside: the client's informer thread, one sync thread
/// (scheduler + pod workers' supervisor), one thread per simulated pod, one event-posting thread,
/// and the HTTPS server's accept thread plus one thread per connection.
/// Every request failure (the API server may be killed and restarted mid-test) is retried with
/// back-off; nothing here aborts.
class NodeSimulator {
 public:
  /// cert_dir holds server.crt and server.key (kube-testenv's DIR: the API server trusts them).
  NodeSimulator(kube::Client& client, std::string namespace_name, std::string cert_dir,
                std::string capacity_label = "karpenter.sh/capacity-type");
  ~NodeSimulator();  // Stop()
  NodeSimulator(const NodeSimulator&) = delete;
  NodeSimulator& operator=(const NodeSimulator&) = delete;

  /// Kubelet HTTPS server on 127.0.0.1:<free port>, the pod informer, scheduler and kubelet
  /// threads. kFailedPrecondition: certificates unreadable or already started.
  [[nodiscard]] Status Start();
  /// Stops everything and joins; pods keep whatever status they had. Idempotent.
  void Stop();

  /// POSTs the Node (labels: capacity label, kubernetes.io/hostname, os, arch), then its status
  /// (capacity, Ready, InternalIP 127.0.0.1, kubelet port) and reads it back. Retries for up to
  /// a minute; kUnavailable after that. kFailedPrecondition before Start().
  [[nodiscard]] Status AddNode(const SimNode& node);
  /// DELETEs the Node; its pods stop being simulated at once (a dead node: no more status
  /// updates, log streams end). kNotFound if the node is unknown here and in the API server.
  [[nodiscard]] Status RemoveNode(const std::string& name);

  /// The node the pod (by name) was bound to, "" if not bound (yet).
  std::string NodeOf(const std::string& pod) const;
  /// How many times this simulator bound the pod (by name): exactly-once checks.
  int Bindings(const std::string& pod) const;
  /// Distinct pods (by uid) seen in the namespace since Start.
  int64_t PodsCreatedSeen() const;
  /// The kubelet server's port (0 before Start).
  int kubelet_port() const;
  /// status.podIP / podIPs of pods started (by a simulated kubelet) after this call; default
  /// "127.0.0.1". hostIP stays 127.0.0.1.
  void SetPodIP(std::string ip);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::testing
