#pragma once
/// Engine: where attempts execute. Modelled on the Mesos containerizer: launch, watch, stop,
/// and recovery after a restart (adopt) are all part of the contract.
///
/// Lifecycle: construct, SetSink, then Launch/Adopt/Stop from any thread; Shutdown stops the
/// engine's own threads but never the jobs (they outlive the server and are adopted later).
/// Threading: all methods are thread-safe; the sink is called from engine threads, never while
/// an engine lock is held.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"

namespace tug::engine {

/// Everything needed to execute one attempt; built from the run's resolved spec.
struct LaunchSpec {
  std::string run_id;
  std::string attempt_id;
  int attempt_number = 1;
  std::string definition;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  /// Secret variables (core/model.h): the local engine adds inline values to the job's
  /// environment; the kubernetes and spark engines reference Kubernetes Secrets and refuse
  /// inline values. Never logged.
  std::map<std::string, SecretEnv> secret_env;
  std::string working_dir;  // empty: the engine's default
  std::string image;        // recorded; engines without images ignore it
  Resources resources;
  int64_t timeout_seconds = 0;  // 0: none
  /// Capacity type chosen by the planner (engines without capacity types record it only).
  Placement placement;
  /// Pod settings (kubernetes and spark engines).
  KubernetesSpec kubernetes;
  /// "container" or "spark"; kind spark carries the application (its sizes are in
  /// resources.spark) and runs on the spark engine only.
  std::string kind = "container";
  SparkSpec spark;
};

struct Update {
  enum class Kind { kStarted, kEnded, kEvent, kUsage };
  Kind kind = Kind::kEvent;
  std::string attempt_id;
  Micros at = 0;
  std::string message;  // kEvent text, or a note on start/end
  // kEnded only:
  AttemptStatus status = AttemptStatus::kFailed;
  Outcome outcome;
  int64_t peak_memory_bytes = 0;
  int64_t cpu_micros = 0;
  /// Engines with several processes per attempt (spark): each one's state as it ended, and the
  /// Spark application id.
  std::vector<ComponentStatus> components;
  std::string app_id;
  /// kUsage only: one reading per component sampled at `at`, and when the attempt started
  /// (the store keeps older samples at a coarser resolution).
  std::vector<UsageReading> usage;
  Micros started_at = 0;
};

using UpdateSink = std::function<void(const Update&)>;

struct Health {
  bool ready = true;
  bool degraded = false;
  std::string message;  // e.g. "memory limits by watchdog: no writable cgroup"
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string Name() const = 0;
  /// Set once, before any Launch/Adopt.
  virtual void SetSink(UpdateSink sink) = 0;

  /// Starts the attempt. Idempotent by attempt id: a second call for an attempt already launched
  /// (by this or a previous server process) returns the existing ref and starts nothing.
  /// Returns the engine ref to store. Errors: kInvalidArgument (spec cannot run: bad working
  /// dir...), kFailedPrecondition (the engine cannot honour the resources), kUnavailable.
  [[nodiscard]] virtual Result<std::string> Launch(const LaunchSpec& spec) = 0;

  /// Re-attaches to an attempt launched earlier (reconcile after restart). On success the engine
  /// watches it and sends kStarted/kEnded as usual; an attempt that already ended is reported
  /// with its true outcome. kNotFound when the attempt's process is gone without a trace (the
  /// caller marks it LOST with the returned message).
  [[nodiscard]] virtual Status Adopt(const std::string& attempt_id,
                                     const std::string& engine_ref) = 0;

  /// Asks the attempt to stop: SIGTERM, a grace period, then SIGKILL; kEnded follows with
  /// reason Stopped. Unknown attempts: kNotFound.
  [[nodiscard]] virtual Status Stop(const std::string& attempt_id) = 0;

  /// Attempt ids the engine has in hand: watched, or ended with the end reported to the sink
  /// (or queued for it) and not cleaned up yet. The controller takes an attempt of its own that
  /// is missing here for one nobody handles (see Controller::HealOwn).
  virtual std::vector<std::string> Active() const = 0;

  /// Frees what the attempt left behind (cgroups, state files); logs are kept.
  [[nodiscard]] virtual Status Cleanup(const std::string& attempt_id) = 0;

  virtual Health GetHealth() const = 0;

  /// Engine-specific counters for /metrics: (metric name, value), e.g.
  /// {"tug_kube_events_seen_total", 12}.
  virtual std::vector<std::pair<std::string, double>> Counters() const { return {}; }

  /// The live components of an attempt the engine is watching (spark: controller, driver,
  /// executor-N), for the run's API view; empty when it has one process or is not watched here.
  virtual std::vector<ComponentStatus> Components(const std::string& /*attempt_id*/) const {
    return {};
  }

  /// True when attempts live on this host only (local processes): only a server on the same
  /// host can adopt them after their owner died. Cluster engines return false.
  virtual bool HostBound() const { return false; }

  /// Called once after the controller's reconcile has adopted every attempt it knows: work the
  /// engine still finds (pods with our labels no attempt claimed) is handled by its policy.
  virtual void AfterReconcile() {}

  /// Stops watching (jobs keep running). Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace tug::engine
