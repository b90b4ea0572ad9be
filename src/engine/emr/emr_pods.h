#pragma once
/// The emr-on-eks engine's view of its job runs' pods on the EKS cluster the virtual cluster
/// lives on (optional: `emr.cluster`, docs/emr.md "Pods on the EKS cluster").
///
/// EMR on EKS labels every pod of a job run (the job runner that runs spark-submit, the driver,
/// the executors) with emr-containers.amazonaws.com/job.id = the job run id and
/// emr-containers.amazonaws.com/virtual-cluster-id; Spark adds spark-role (driver/executor) and
/// spark-exec-id. One pod informer on the namespace (selector: the virtual cluster id) and one
/// event informer (involvedObject.kind=Pod) serve every tracked job run; a pod maps to its
/// attempt by its job.id label, to a component by EmrPodComponent.
///
/// What comes of it, per attempt:
///   - timeline notes through `on_event`: the job runner's and driver's pod running / waiting /
///     ended, executors' failures and waits, and Kubernetes Warning events of its pods; each
///     text once, at most `max_timeline_entries` (then one note that the rest is not shown);
///   - live logs: each pod's container log followed (kubernetes::LogFollower) into the log store
///     as `live-<component>` while it runs; SettleLiveLogs resolves them against EMR's S3 copy
///     at the end;
///   - at the end (Finish): each pod's last state as ComponentStatus, executors that failed while
///     the driver ran marked as evidence (kubernetes::MarkExecutorEvidence), for the diagnosis.
/// Failures of the cluster side (unreachable, 401/403) never reach the job run: they are logged
/// once per outage and noted once on each tracked attempt's timeline; EMR polling goes on.
///
/// Lifecycle: construct (no I/O), Track (the first one starts the informers), Finish or Forget,
/// Shutdown (joins everything; idempotent).
/// Threading: all methods are thread-safe. `on_event` is called without the watcher's lock, from
/// the informer threads and from Track; the caller must not call into the watcher from it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/clock.h"
#include "core/model.h"
#include "engine/engine.h"
#include "engine/kubernetes/component_view.h"
#include "kube/client.h"
#include "logs/log_store.h"

namespace tug::engine::emr {

inline constexpr char kLabelJobId[] = "emr-containers.amazonaws.com/job.id";
inline constexpr char kLabelVirtualCluster[] = "emr-containers.amazonaws.com/virtual-cluster-id";
inline constexpr char kLabelEmrComponent[] = "emr-containers.amazonaws.com/component";
inline constexpr char kLabelSparkRole[] = "spark-role";
inline constexpr char kLabelSparkExecId[] = "spark-exec-id";
/// Live-followed logs are written as this prefix + the component ("live-driver").
inline constexpr char kLivePrefix[] = "live-";

/// The component of an EMR pod, named as ImportEmrLogs names its S3 logs: "controller" (the job
/// runner: emr-containers.amazonaws.com/component job.submitter or controller, or no spark-role),
/// "driver", "executor-N" (spark-exec-id, else the pod name's -exec-N); "" for anything else.
std::string EmrPodComponent(const boost::json::value& pod);
/// The container whose state and log count: spark-kubernetes-driver / spark-kubernetes-executor
/// when the pod has it, else its first container (never EMR's fluentd sidecar when another one
/// is there).
std::string EmrPodContainer(const boost::json::value& pod, const std::string& component);

/// At the end of a job run: for each `live-X` log of the attempt, removes it when the S3 import
/// wrote X (EMR's copy is complete and authoritative), else renames it to X (the live copy is
/// all there is). Afterwards no live-* log is left, so no line is shown twice. Returns the
/// components that kept their live copy, sorted.
std::vector<std::string> SettleLiveLogs(logs::LogStore& logs, const std::string& run_id,
                                        const std::string& attempt_id,
                                        const std::vector<std::string>& imported);

/// Adds the pods' last states (from EmrPodWatcher::Finish) to an ended job run's kEnded update,
/// whose components hold the job runner's (from EMR's state) and maybe the driver's (from the
/// job runner's log): the job runner gets its pod and node; the driver pod's state replaces the
/// log's (keeping the log's exit code when the pod had none); executors are added. When the job
/// failed as USER_ERROR and the driver pod ended on a platform reason (OOMKilled, Evicted,
/// NodeLost, image pull errors, ...; not a bare deletion, which EMR's own cleanup also causes)
/// that reason and the pod's exit code become the attempt's.
void ApplyPodStates(Update& u, const std::vector<ComponentStatus>& pods, bool user_error);

/// One attempt's share of the timeline: each key once, at most `limit` entries, then one note
/// saying the rest is not shown.
class TimelineBudget {
 public:
  explicit TimelineBudget(size_t limit) : limit_(limit) {}
  /// The text to send for `key` (the first time, within the limit), the over-limit note (once),
  /// or nothing.
  std::optional<std::string> Admit(const std::string& key, std::string text);

 private:
  size_t limit_;
  std::set<std::string> seen_;
  bool capped_ = false;
};

struct EmrPodOptions {
  std::string namespace_ = "default";  // the virtual cluster's namespace
  std::string virtual_cluster_id;
  std::string cluster;  // the config's cluster name, for messages
  /// Timeline entries per attempt (pod notes and Warning events together).
  size_t max_timeline_entries = 100;
  /// Pods of one attempt whose logs are followed live (job runner and driver first, then the
  /// first executors); the rest get EMR's copy at the end only.
  size_t max_log_followers = 32;
  int64_t component_log_cap = 0;  // bytes; 0: none
  int64_t attempt_log_cap = 0;
};

class EmrPodWatcher {
 public:
  using EventFn =
      std::function<void(const std::string& attempt_id, Micros at, const std::string& text)>;
  EmrPodWatcher(EmrPodOptions options, kube::Client& client, logs::LogStore& logs,
                const Clock& clock, EventFn on_event);
  ~EmrPodWatcher();
  EmrPodWatcher(const EmrPodWatcher&) = delete;
  EmrPodWatcher& operator=(const EmrPodWatcher&) = delete;

  /// Follows the pods of `job_run_id` for the attempt from now on (pods already seen included).
  void Track(const std::string& attempt_id, const std::string& run_id,
             const std::string& job_run_id);
  /// Stops the attempt's log followers after one last read of each log, and returns its pods'
  /// last states (empty when none was seen). The attempt is forgotten.
  std::vector<ComponentStatus> Finish(const std::string& attempt_id);
  /// Forgets the attempt (its followers stopped, nothing read).
  void Forget(const std::string& attempt_id);
  void Shutdown();

  const EmrPodOptions& options() const { return options_; }
  /// Pod and event objects handled, and errors the informers reported (metrics, tests).
  int64_t pods_seen() const;
  int64_t kube_errors() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const EmrPodOptions options_;
};

}  // namespace tug::engine::emr
