#pragma once
/// The control loops of one server process:
///  - dispatcher: claims due attempts from the store (with a lease) and hands them to a pool of
///    launch workers that launch them on their engines, several at a time; woken at once by
///    Wake() on submit or when a worker frees up, otherwise by the next due time or a slow poll
///    (to take over expired leases of dead servers);
///  - monitor: turns engine updates into store transitions and timeline events;
///  - lease keeper: renews this owner's leases, and re-applies engine updates the store could
///    not take (a database outage) until it takes them;
///  - reconcile (in Start, then every sweep_every as the housekeeper): takes over orphans —
///    attempts whose owner is dead (its lease expired, or, on this host, its process is gone) —
///    with a compare-and-swap on the owner, then re-attaches to them or marks them LOST.
///    Attempts of host-bound engines (local processes) are adopted only on their own host;
///    cluster attempts by the replica holding the "reconcile" lease;
///  - retention (housekeeper, under the "retention" lease): deletes runs ended longer ago than
///    `retention`, with their logs, and expired idempotency keys (every retention_every).
/// Nothing is kept only in memory: a crash at any point is recovered from the store by the next
/// process, and the engine's idempotent Launch makes sure no attempt starts twice.
///
/// Several replicas may share one store: claims, take-overs and singleton leases are atomic in
/// the store, so each attempt is launched by one server at a time.
///
/// Threading: Start/Stop from one thread; Wake/StopRun from any thread. Owns a dispatcher, a
/// lease keeper, a housekeeper and `launch_workers` launch threads.
#include <array>
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

#include "adapt/adapt.h"
#include "control/admission.h"
#include "control/cost_recorder.h"
#include "control/planning.h"
#include "core/clock.h"
#include "core/error.h"
#include "engine/engine.h"
#include "logs/log_store.h"
#include "metrics/registry.h"
#include "store/store.h"

namespace tug::control {

struct ControlOptions {
  std::string owner;  // unique per server process: "<host>/<pid>/<random>"
  /// The server's URL as jobs reach it: every attempt's TUG_SERVER ("": not set).
  std::string server_url;
  std::string
      host;  // this machine's name: attempts claimed by owners on this host are ours to adopt
  Micros lease = 30 * kMicrosPerSecond;
  Micros renew_every = 10 * kMicrosPerSecond;
  Micros idle_poll = 1 * kMicrosPerSecond;
  /// Due attempts claimed per store transaction by the dispatcher.
  int claim_batch = 8;
  /// Launch workers: claimed attempts are launched this many at a time (an engine's Launch
  /// waits on a process start or an API server; launches of different attempts overlap).
  int launch_workers = 8;
  /// Update workers: engine updates are recorded in the store by this many threads, each
  /// attempt's updates by the same one and in order, so the engine's own thread never waits on
  /// the store and ends of different attempts commit together. 0: recorded on the engine's
  /// thread before the sink returns (tests that play an engine rely on it).
  int update_workers = 4;
  /// false: accept and store runs but launch nothing (maintenance, API benchmarks).
  bool dispatch = true;
  /// Diagnoses a failed attempt (JSON text for Attempt::diagnosis); empty: no diagnosis.
  std::function<std::string(const Attempt&, AttemptStatus, const Outcome&)> diagnose;
  /// Limits and constants for the retry planner.
  adapt::Platform platform;
  /// Spot climate for placement decisions; nullptr: no spot losses known.
  ClimateSource* climate = nullptr;
  /// Prices each attempt as it ends (stored with the end) and counts run costs; nullptr:
  /// attempts are not priced.
  CostRecorder* cost = nullptr;
  /// How often the housekeeper looks for orphaned attempts.
  Micros sweep_every = 5 * kMicrosPerSecond;
  /// Ended runs older than this are deleted with their logs; 0 keeps them forever.
  Micros retention = 0;
  Micros retention_every = 3600 * kMicrosPerSecond;
  /// Where retention deletes logs; nullptr: logs are not deleted.
  logs::LogStore* logs = nullptr;
  /// Team queues (src/queue): when set, due attempts are admitted through them (see
  /// control/admission.h) instead of claimed as soon as they are due.
  std::vector<queue::QueueSpec> queues;
  queue::Vec queue_capacity;
  /// Whether the server process of an owner on this host is certainly gone (its attempts are
  /// taken over without waiting for the lease). Default: kill(pid, 0) says no such process.
  std::function<bool(const std::string& owner)> owner_gone;
};

/// "<host>/<pid>/<random>" for this process.
std::string MakeOwner(const std::string& host);
/// The host part of an owner string.
std::string OwnerHost(const std::string& owner);

/// What the engine is given for an attempt of a run (its resolved spec, the attempt's sizes
/// and placement). Every engine's environment gets TUG_RUN_ID (and TUG_PARENT_RUN_ID for a
/// child run) and, when `server_url` is set, TUG_SERVER, so a job can submit children; these
/// names are the platform's and replace what a definition sets.
engine::LaunchSpec LaunchSpecFor(const Run& run, const Attempt& attempt,
                                 const std::string& server_url = "");

class Controller {
 public:
  /// `engines`: every engine this server runs attempts on, by Name() (attempt.engine).
  Controller(ControlOptions options, store::Store& store, std::vector<engine::Engine*> engines,
             metrics::Registry& registry, const Clock& clock);
  Controller(ControlOptions options, store::Store& store, engine::Engine& engine,
             metrics::Registry& registry, const Clock& clock)
      : Controller(std::move(options), store, std::vector<engine::Engine*>{&engine}, registry,
                   clock) {}
  ~Controller();

  /// Reconciles what a previous process left, then starts the loops.
  [[nodiscard]] Status Start();
  /// Stops the loops (jobs keep running; the next process adopts them). Idempotent.
  void Stop();
  /// Replaces ControlOptions::server_url (the server knows its port only once it listens).
  /// Thread-safe; attempts launched afterwards get the new TUG_SERVER.
  void SetServerUrl(std::string url);
  /// Something changed (a run was submitted): look for due work now.
  void Wake();
  /// Stops a run: at once if it is queued, through the engine if it runs.
  /// kNotFound, kFailedPrecondition (already ended). `requested_by` is named in the run's
  /// "stop_requested" event.
  [[nodiscard]] Status StopRun(const std::string& run_id, const std::string& requested_by = "");

  const std::string& owner() const { return options_.owner; }
  /// Housekeeping sweeps completed since Start (tests wait for "several sweeps" by count).
  int64_t sweeps() const { return sweeps_.load(); }
  /// The dispatcher's claim rounds since Start (tests wait for "it looked again" by count).
  int64_t claim_rounds() const { return claim_rounds_.load(); }

 private:
  /// An engine update, or the failed launch of `attempt` (update unset), the store could not
  /// take yet.
  struct Deferred {
    std::optional<engine::Update> update;
    Attempt attempt;
    store::AttemptEnd end;
  };
  void DispatchLoop();
  /// A launch worker: launches claimed attempts from launch_queue_ until stopping and empty.
  void LaunchLoop();
  void LeaseLoop();
  void HousekeepingLoop();
  /// Takes over and re-attaches orphaned attempts (see the file comment); `cluster`: also those
  /// of engines that are not host-bound (the caller holds the reconcile lease, or is starting).
  void Sweep(bool cluster);
  /// Whether `a` is an orphan this server should take over now.
  bool IsOrphan(const Attempt& a, Micros now, bool cluster) const;
  void Retain();
  /// Applies an engine update to the store; false when the store could not take it (down):
  /// the caller keeps it for later. Updates are applied in the order the engine sent them.
  bool ApplyUpdate(const engine::Update& update);
  void Defer(Deferred d);
  /// Re-applies deferred updates in order, stopping at the first the store still refuses.
  void RetryDeferred();
  void Launch(const Attempt& attempt);
  /// The engine's sink: hands the update to its attempt's update worker (in order per attempt),
  /// or records it here when the workers are not running (before Start, after Stop).
  void OnUpdate(const engine::Update& update);
  /// Records one update (deferring it while the store is away).
  void RecordUpdate(const engine::Update& update);
  struct UpdateQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<engine::Update> updates;  // guarded by mu
    bool stop = false;                   // guarded by mu: no more queueing; record inline
    bool exited = false;                 // guarded by mu: the worker drained and left
    std::thread worker;
  };
  void UpdateLoop(UpdateQueue& queue);
  void StartUpdateWorkers();
  void StopUpdateWorkers();
  /// Stores a kUsage update's readings (downsampled by the store); dropped when that fails.
  void RecordUsage(const engine::Update& update);
  /// Diagnoses (failed/lost), plans the next attempt and records the end in one store
  /// transaction; retries transient store errors. Returns the store's status.
  Status EndAttempt(const Attempt& attempt, store::AttemptEnd end);
  void Reconcile();
  /// The engine named `name`, or nullptr when this server has none by that name.
  engine::Engine* EngineFor(const std::string& name) const;
  void Event(const std::string& run_id, const std::string& attempt_id, const std::string& type,
             const std::string& message);

  ControlOptions options_;
  store::Store& store_;
  std::map<std::string, engine::Engine*> engines_;
  const Clock& clock_;

  metrics::Family<metrics::Counter>& launched_;
  metrics::Family<metrics::Counter>& ended_;
  metrics::Family<metrics::Histogram>& submit_to_launch_;
  metrics::Family<metrics::Histogram>& launch_seconds_;
  metrics::Family<metrics::Histogram>& update_seconds_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::string server_url_;  // guarded by mu_
  bool wake_ = false;
  bool stopping_ = false;
  bool started_ = false;
  std::thread dispatcher_;
  std::vector<std::thread> launchers_;
  std::vector<std::unique_ptr<UpdateQueue>> update_queues_;  // set in Start, stopped in Stop
  std::condition_variable launch_cv_;                        // with mu_: work queued, or stopping
  std::vector<Attempt> launch_queue_;  // guarded by mu_: claimed, not yet taken by a worker
  int launches_in_flight_ = 0;         // guarded by mu_: queued + being launched
  std::thread lease_keeper_;
  std::thread housekeeper_;
  std::unique_ptr<Admission> admission_;  // set when queues are configured; dispatcher only
  std::atomic<int64_t> sweeps_{0};
  std::atomic<int64_t> claim_rounds_{0};

  /// Striped per-attempt mutexes: an end and its engine cleanup (ApplyUpdate) exclude a heal of
  /// the same attempt (HealOwn), so a heal never relaunches an attempt whose record just went.
  std::mutex& AttemptMutex(const std::string& attempt_id) {
    return attempt_mu_[std::hash<std::string>{}(attempt_id) % attempt_mu_.size()];
  }
  std::array<std::mutex, 64> attempt_mu_;
  std::mutex launching_mu_;
  std::set<std::string> launching_;  // claimed by the dispatcher, Launch not yet returned
  /// Heals an attempt this server owns that nobody handles: a claim that committed while its
  /// reply was lost (launched now, idempotently), or, on a host-bound engine, an attempt the
  /// engine no longer watches because its end never reached the store (adopted again).
  void HealOwn(engine::Engine& engine, const Attempt& a);
  void HealOwnFresh(engine::Engine& engine, const Attempt& a);
  std::mutex deferred_mu_;
  std::vector<Deferred> deferred_;  // guarded by deferred_mu_
  metrics::Family<metrics::Counter>& adopted_;
  metrics::Family<metrics::Counter>& deferred_total_;
  metrics::Family<metrics::Counter>& usage_dropped_;
  metrics::Family<metrics::Counter>& failed_;     // by failure class
  metrics::Family<metrics::Counter>& decisions_;  // by the planner's rule and retry
};

}  // namespace tug::control
