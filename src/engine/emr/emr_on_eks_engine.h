#pragma once
/// The emr-on-eks engine: each attempt of a Spark definition is one EMR on EKS job run
/// (emr-containers API 2020-10-01) on the configured virtual cluster.
///
///   Launch   StartJobRun (clientToken = attempt id; body from StartJobRunBody), after looking
///            for a job run this attempt already started (ListJobRuns by name, matched on the
///            tugboat.attempt tag): a relaunch after a crash, or against a server that ignores
///            clientToken, re-attaches instead of starting the job twice.
///   Status   DescribeJobRun polled with NextPollDelay's back-off; states map to the attempt with
///            PhaseOf (kStarted at RUNNING, kEnded at COMPLETED/FAILED/CANCELLED); each state
///            change is a kEvent on the run's timeline and a line in the attempt's `emr` log.
///   End      before kEnded: ImportEmrLogs copies EMR's stdout.gz/stderr.gz (controller,
///            driver, executor-N) into the log store, the job runner's log gives the driver's
///            exit code and termination reason (EMR's API has neither), and the `emr` log gets
///            JobRunEndLine, which the diagnosis catalog's emr.* patterns classify.
///   Stop     CancelJobRun; kEnded (Stopped) once EMR reports CANCELLED.
///   Timeout  EMR on EKS has no job deadline: the engine cancels the job run `timeout_seconds`
///            after StartJobRun (queueing included) and ends it DeadlineExceeded.
///   Pods     with a kube client (config emr.cluster), EmrPodWatcher follows each job run's pods
///            on the EKS cluster: pod notes and Warning events on the timeline, live logs as
///            live-<component> (settled against EMR's S3 copy at the end: SettleLiveLogs), and
///            the pods' last states as the end's components (driver OOMKilled, executors failed
///            mid-job as evidence). Its failures never touch the job run.
///   Adopt    the ref (JSON: virtual cluster, job run id, run id, job name, deadline) is
///            described again; a ref without a job run id falls back to ListJobRuns on the
///            cluster matched on the tugboat.attempt tag. kNotFound only when EMR has no such
///            job run; while EMR cannot be reached the attempt is tracked and polled with the
///            error back-off, so an outage at restart never marks attempts lost.
///
/// Lifecycle: construct (no I/O), SetSink, then Launch/Adopt/Stop (the first one starts the
/// poll thread); Shutdown joins the thread and leaves the job runs running (the next server
/// adopts them).
/// Threading: all methods are thread-safe. One mutex guards the tracked attempts; EMR and S3
/// calls and the sink are made without it. Every update of an attempt is sent from the poll
/// thread, except Launch's first event, so an attempt's updates are in order.
/// Errors (Launch): kInvalidArgument / kFailedPrecondition for a spec or setting EMR cannot run
/// (never retried), kUnavailable when EMR cannot be reached, kNotFound for a virtual cluster
/// that does not exist.
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aws/emr_containers.h"
#include "aws/s3_client.h"
#include "engine/emr/emr_pods.h"
#include "engine/emr/job_run.h"
#include "engine/engine.h"
#include "logs/log_store.h"

namespace tug::engine::emr {

struct EmrEngineOptions {
  std::string name = "emr-on-eks";  // the engine name attempts record
  EmrSettings settings;
  PollTiming poll;
  /// EMR's log agent uploads a pod's logs when it ends, a little after the job run's state
  /// changes: an import that finds no driver log is tried again this many times, this far
  /// apart, before the end is reported with what there is.
  int log_import_tries = 3;
  Micros log_import_wait = 10 * kMicrosPerSecond;
  /// Launch: StartJobRun calls that fail with kUnavailable (a timeout may hide a job run that
  /// did start) are retried with the same clientToken this many times.
  int start_tries = 3;
  Micros start_retry_wait = kMicrosPerSecond;
  /// Watch the job runs' pods (needs the kube client given to the engine); unset: not at all.
  std::optional<EmrPodOptions> pods;
};

/// The engine ref stored for an attempt (JSON text).
struct EmrRef {
  std::string virtual_cluster_id;
  std::string job_run_id;  // "" when unknown (then Adopt lists the cluster)
  std::string run_id;
  std::string name;     // the job run's name ("" when unknown)
  Micros deadline = 0;  // 0: none
  std::string log_uri;  // EMR's monitoring logUri the job run was started with
};
std::string EncodeRef(const EmrRef& ref);
/// kInvalidArgument for text that is not a JSON object; missing fields stay empty.
[[nodiscard]] Result<EmrRef> DecodeRef(const std::string& text);

class EmrOnEksEngine final : public Engine {
 public:
  /// `s3` reads EMR's logs from settings.log_uri; nullptr (or no log_uri): no import.
  /// `kube`: the EKS cluster's client for options.pods (outlives the engine); nullptr: no pods.
  EmrOnEksEngine(EmrEngineOptions options, std::unique_ptr<aws::EmrContainersClient> emr,
                 std::unique_ptr<aws::S3Client> s3, logs::LogStore& logs, const Clock& clock,
                 kube::Client* kube = nullptr);
  ~EmrOnEksEngine() override;

  std::string Name() const override { return options_.name; }
  void SetSink(UpdateSink sink) override;
  [[nodiscard]] Result<std::string> Launch(const LaunchSpec& spec) override;
  [[nodiscard]] Status Adopt(const std::string& attempt_id, const std::string& engine_ref) override;
  [[nodiscard]] Status Stop(const std::string& attempt_id) override;
  std::vector<std::string> Active() const override;
  [[nodiscard]] Status Cleanup(const std::string& attempt_id) override;
  Health GetHealth() const override;
  std::vector<std::pair<std::string, double>> Counters() const override {
    return {{"tug_emr_describe_calls_total", static_cast<double>(describes_.load())},
            {"tug_emr_start_calls_total", static_cast<double>(starts_.load())}};
  }
  void Shutdown() override;

  const EmrEngineOptions& options() const { return options_; }
  /// DescribeJobRun and StartJobRun calls so far (metrics, tests).
  int64_t describes() const { return describes_.load(); }
  int64_t starts() const { return starts_.load(); }
  /// The pod watcher, when pods are watched (tests).
  const EmrPodWatcher* pod_watcher() const { return pods_.get(); }

 private:
  struct PendingEvent {
    Micros at = 0;  // 0: when sent
    std::string text;
  };
  struct Tracked {
    EmrRef ref;
    std::string attempt_id;
    std::string state;  // last state seen ("" before the first describe)
    bool started_sent = false;
    bool ended = false;  // kEnded sent (or being sent)
    bool stop_requested = false;
    bool deadline_hit = false;
    bool cancel_sent = false;  // CancelJobRun accepted (or refused as already ending)
    bool polling = false;      // a describe is in flight on the poll thread
    bool forget = false;       // Cleanup came during the poll: erase when it is done
    int unchanged_polls = 0;
    int errors = 0;
    Micros next_poll = 0;
    Micros started_at = 0;
    std::vector<PendingEvent> pending_events;  // sent by the poll thread, in order
  };

  /// The job run this attempt already started on the cluster, if any (name + tag match).
  [[nodiscard]] Result<std::optional<aws::JobRunInfo>> FindExisting(const std::string& attempt_id,
                                                                    const std::string& name);
  /// Tracks an attempt (mu_ held) and wakes the poll thread.
  void TrackLocked(const std::string& attempt_id, const EmrRef& ref);
  void PollLoop();
  /// One DescribeJobRun of an attempt and what follows from it (poll thread, mu_ not held).
  void PollOne(const std::string& attempt_id);
  /// Terminal state: logs, the `emr` line, kEnded (poll thread, mu_ not held).
  void Finish(const std::string& attempt_id, const EmrRef& ref, const aws::JobRunInfo& job,
              const JobRunPhase& phase, bool started_sent, bool stop_requested, bool deadline_hit);
  /// CancelJobRun; true when EMR took it or the job run is already past cancelling.
  bool Cancel(const EmrRef& ref);
  /// Copies EMR's logs into the log store; the components written.
  std::vector<std::string> ImportLogs(const EmrRef& ref, const std::string& attempt_id,
                                      const std::string& job_run_id);
  void AppendEmrLog(const std::string& run_id, const std::string& attempt_id,
                    const std::string& line);
  void Send(const Update& u);
  /// A timeline note from the pod watcher, queued for the poll thread (which sends it soon).
  void QueueEvent(const std::string& attempt_id, Micros at, const std::string& text);
  /// Sends the attempt's queued events (poll thread, mu_ not held).
  void SendPending(const std::string& attempt_id, std::vector<PendingEvent> events);
  /// Waits up to `d` unless shutting down; false when shutting down.
  bool WaitFor(Micros d);

  const EmrEngineOptions options_;
  std::unique_ptr<aws::EmrContainersClient> emr_;
  std::unique_ptr<aws::S3Client> s3_;
  logs::LogStore& logs_;
  const Clock& clock_;
  UpdateSink sink_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Tracked> tracked_;  // by attempt id; guarded by mu_
  std::set<std::string> launching_;         // attempt ids inside Launch; guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::string last_error_;                  // the last EMR error seen; guarded by mu_
  std::thread poller_;
  std::atomic<int64_t> describes_{0};
  std::atomic<int64_t> starts_{0};
  // Last: its threads call QueueEvent, so it goes first on destruction (Shutdown joins them).
  std::unique_ptr<EmrPodWatcher> pods_;
};

}  // namespace tug::engine::emr
