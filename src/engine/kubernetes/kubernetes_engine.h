#pragma once
/// The kubernetes engine: one Pod per attempt (no Job object: retries are Tugboat's), watched
/// through one informer per namespace (label tugboat.io/managed=true), its container log
/// followed into the log store while it runs and read once more at the end, its events put on
/// the run's timeline, then the pod deleted (after a configurable linger) so etcd stays light.
/// Logs and events stay readable through Tugboat after the pod is gone.
///
/// Outcomes: OOMKilled/137, Error + exit code, DeadlineExceeded, Evicted (kubelet's message),
/// pod deleted or node gone while running or DisruptionTarget → NodeLost, InvalidImageName and
/// CreateContainerConfigError at once, ErrImagePull/ImagePullBackOff after `image_pull_grace`,
/// Unschedulable after `pending_timeout` (with the scheduler's message); a pod the API server
/// refuses at create (422) is a launch error (kInvalidArgument, the server's message).
///
/// Lifecycle: Create (lists nothing), SetSink, Start (informers), then Launch/Adopt/Stop;
/// AfterReconcile applies the unknown-pod policy; Shutdown stops the threads (pods keep
/// running and are adopted by the next server).
/// Threading: all methods are thread-safe; the sink is called without the engine lock held.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/kubernetes/component_view.h"
#include "engine/kubernetes/pod.h"
#include "engine/kubernetes/usage.h"
#include "kube/client.h"
#include "logs/log_store.h"

namespace tug::engine::kubernetes {

struct KubernetesEngineOptions {
  std::string name = "kubernetes";  // the engine name attempts record
  std::string cluster = "default";
  PodSettings pod;
  Micros pod_linger = 0;  // keep a finished pod this long before deleting it
  Micros pending_timeout = 10 * 60 * kMicrosPerSecond;  // unschedulable this long → ends
  Micros image_pull_grace = 2 * 60 * kMicrosPerSecond;  // pull failing this long → ends
  int64_t stop_grace_seconds = 30;
  /// Pods with our label that no attempt claims after reconcile: "keep" (log them) or "delete".
  std::string unknown_pods = "keep";
  /// Delete the API server's Event objects of our pods once stored.
  bool prune_events = false;
  /// Watch Nodes too: a running pod whose node is deleted ends as NodeLost.
  bool watch_nodes = true;
  /// Log caps: per component (0: none) and per attempt across its components (0: none).
  int64_t component_log_cap = 0;
  int64_t attempt_log_cap = 0;
  /// How often the running attempts' usage is read from the cluster's metrics API
  /// (metrics.k8s.io/v1beta1, served by metrics-server) and sent as kUsage; 0: never.
  Micros usage_interval = 15 * kMicrosPerSecond;
  /// While the cluster serves no metrics API, how often to look for it again.
  Micros metrics_recheck = 300 * kMicrosPerSecond;  // 5 min
  /// Where pod usage comes from instead of the metrics API (config usage.source: prometheus):
  /// the current memory and CPU of the pods in a namespace. Called on the usage thread every
  /// usage_interval while attempts run; an error is logged and the next interval tries again.
  std::function<Result<std::vector<PodMetricsSample>>(const std::string& namespace_)> usage_source;
};

class KubernetesEngine : public Engine {
 public:
  KubernetesEngine(KubernetesEngineOptions options, kube::Client& client, logs::LogStore& logs,
                   const Clock& clock);
  ~KubernetesEngine() override;

  std::string Name() const override { return options_.name; }
  void SetSink(UpdateSink sink) override;
  /// Starts the informers (pods, events, nodes). Call after SetSink.
  void Start();
  [[nodiscard]] Result<std::string> Launch(const LaunchSpec& spec) override;
  [[nodiscard]] Status Adopt(const std::string& attempt_id, const std::string& engine_ref) override;
  [[nodiscard]] Status Stop(const std::string& attempt_id) override;
  std::vector<std::string> Active() const override;
  [[nodiscard]] Status Cleanup(const std::string& attempt_id) override;
  Health GetHealth() const override;
  void AfterReconcile() override;
  std::vector<ComponentStatus> Components(const std::string& attempt_id) const override;
  std::vector<std::pair<std::string, double>> Counters() const override {
    return {{"tug_kube_events_seen_total", static_cast<double>(events_seen())},
            {"tug_kube_metrics_polls_total", static_cast<double>(metrics_polls())}};
  }
  void Shutdown() override;

  /// Kubernetes events seen and stored so far (metrics, tests).
  int64_t events_seen() const { return events_seen_.load(); }
  /// Pod metrics lists answered by the metrics API (or the usage source) so far (metrics, tests).
  int64_t metrics_polls() const { return metrics_polls_.load(); }

  /// A component's pod and IP while the engine watches the attempt (kNotFound otherwise).
  struct PodAddress {
    std::string pod;
    std::string ip;
    bool running = false;
  };
  [[nodiscard]] Result<PodAddress> Address(const std::string& attempt_id,
                                           const std::string& component) const;
  const KubernetesEngineOptions& options() const { return options_; }

 protected:
  // Hooks for engines whose attempts are several pods (the spark engine). Called with the
  // engine lock held: no I/O, no calls back into the engine.

  /// The pod Launch creates (its component is FirstComponent()). Errors as for Launch.
  [[nodiscard]] virtual Result<boost::json::value> FirstPod(const LaunchSpec& spec);
  virtual std::string FirstComponent() const { return "main"; }
  /// The component of a pod that carries an attempt's annotation but was not created by Launch
  /// (Spark's driver and executors); "" ignores the pod.
  virtual std::string SideComponent(const boost::json::value& /*pod*/) const { return ""; }
  /// Whether a component waiting too long (unschedulable, image pull) ends the attempt.
  virtual bool Essential(const std::string& component) const {
    return component == FirstComponent();
  }
  /// Called after any component changed (and every half second while the attempt runs): the
  /// attempt's end, if it has come. May set components' `status.evidence`.
  virtual std::optional<AttemptEnding> DecideEnd(std::map<std::string, ComponentView>& components,
                                                 bool stop_requested, Micros now);

 private:
  struct Tracked {
    std::string run_id;
    std::string attempt_id;
    bool started_sent = false;
    bool ended = false;  // kEnded sent (or being sent)
    bool stop_requested = false;
    Micros first_seen = 0;
    std::map<std::string, ComponentView> components;  // by component name
    std::map<std::string, std::shared_ptr<struct LogFollower>> followers;
    std::shared_ptr<std::atomic<int64_t>> log_bytes = std::make_shared<std::atomic<int64_t>>(0);
    std::set<std::string> event_uids;
  };
  struct PodKey {
    std::string attempt_id;
    std::string component;
  };

  void OnPodSync(const std::vector<boost::json::value>& items);
  void OnPodEvent(const kube::WatchEvent& e);
  void HandlePod(const boost::json::value& pod, bool deleted);
  void OnEventObject(const boost::json::value& ev);
  void NodeGone(const std::string& node, const std::string& message);
  /// Marks components ended (lost, vanished) and re-decides; mu_ held.
  void EndComponent(Tracked& t, const std::string& component, AttemptStatus status, Outcome outcome,
                    Micros at);
  /// Runs DecideEnd; on an end marks the attempt ended and queues FinishNow. mu_ held.
  void Decide(Tracked& t, Micros now);
  void FinishNow(const std::string& attempt_id, const AttemptEnding& end);
  void StartFollower(Tracked& t, const std::string& component);
  std::shared_ptr<LogFollower> NewFollower(Tracked& t, const std::string& component) const;
  void Send(const Update& u);
  /// One thread: finishes (log reads), pending deadlines, pod deletion after the linger.
  void TimerLoop();
  /// One thread (usage_sampling.cpp): finds the metrics API, lists the pods' metrics every
  /// usage_interval while attempts run, and hands the kUsage updates to the timer thread.
  void UsageLoop();
  /// One list of our pods' metrics → kUsage queued for the timer thread. `last_at`: per pod,
  /// the time of the sample sent last (a sample is sent once). Errors are the list's.
  [[nodiscard]] Status PollUsage(std::map<std::string, Micros>& last_at);
  /// On the timer thread, in order with FinishNow: sends the updates of attempts not ended.
  void SendUsage(const std::vector<Update>& updates);
  std::string PodsPath() const;
  std::string PodPath(const std::string& pod) const;
  std::string Ref(const std::string& pod) const;
  std::vector<std::string> PodsOf(const std::string& attempt_id) const;  // mu_ held

  const KubernetesEngineOptions options_;
  kube::Client& client_;
  logs::LogStore& logs_;
  const Clock& clock_;
  UpdateSink sink_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Tracked> tracked_;   // by attempt id; guarded by mu_
  std::map<std::string, PodKey> by_pod_;     // pod name → attempt, component; guarded by mu_
  std::map<std::string, Micros> delete_at_;  // pod → when to delete; guarded by mu_
  std::map<std::string, boost::json::value> last_pod_;  // latest pod object; guarded by mu_
  bool stopping_ = false;                               // guarded by mu_
  bool synced_ = false;                                 // first pod list done; guarded by mu_
  std::string last_error_;                              // guarded by mu_

  std::unique_ptr<kube::Informer> pods_;
  std::unique_ptr<kube::Informer> events_;
  std::unique_ptr<kube::Informer> nodes_;
  std::deque<std::function<void()>> work_;  // guarded by mu_
  std::thread timer_;
  std::thread usage_;
  std::atomic<int64_t> events_seen_{0};
  std::atomic<int64_t> metrics_polls_{0};
  std::atomic<bool> shut_{false};
};

}  // namespace tug::engine::kubernetes
