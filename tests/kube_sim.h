#pragma once
/// Fixtures for integration tests against a real kube-apiserver (scripts/kube-testenv runs etcd
/// and kube-apiserver v1.20.2 on loopback, with no kubelet, scheduler or controller-manager):
///
/// - KubeTestEnv starts and stops that API server (and can kill and restart it mid-test).
/// - NodeSimulator plays the missing parts: a scheduler that binds the namespace's pods, and the
///   kubelets of a few fake nodes that "run" each pod's first container following the script in
///   its TUG_SIM env var, report realistic pod statuses and events, and serve container logs over
///   HTTPS the way a kubelet does (the API server proxies pods/log to it).
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
///   waiting=R:MESSAGE  never starts: container waiting with reason R and MESSAGE, phase Pending
/// An invalid script leaves the container waiting with reason CreateContainerConfigError.
#include <cstdint>
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
  bool hang = false;
  std::optional<std::pair<std::string, std::string>> waiting;  // reason, message
};
/// kInvalidArgument naming the bad directive.
[[nodiscard]] Result<SimScript> ParseSimScript(std::string_view text);

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

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::testing
