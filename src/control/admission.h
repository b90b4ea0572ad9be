#pragma once
/// Admission through team queues (src/queue) for the dispatcher, when queues are configured.
///
/// One replica admits at a time: the one holding the "admission" lease in the store. It keeps a
/// scheduler between rounds and decides each admission in O(log n) of the queued attempts:
///  - on taking the lease (or after holding it lapsed, after any error, and every
///    `rebuild_interval` as a safety net) it rebuilds the scheduler from the store: QUEUED
///    attempts (those not yet due wait aside, by due time) and LAUNCHING/RUNNING ones, after
///    reading the newest event seq;
///  - every other round it reads only the events after that seq (ListChanges: every change of
///    an attempt writes an event of its run, in the same transaction), re-reads those runs'
///    attempts (ListQueueEntriesOfRuns) and applies their states: new QUEUED attempts queue,
///    started ones count as running, ended or stopped ones free their usage. A seq that is
///    missing (PostgreSQL takes sequence values before commit) is re-checked for `gap_grace`
///    before it is taken as a rolled-back write.
/// The lease is renewed once a third of it has passed and dead servers' expired claims are
/// looked for every `expired_every`, so a busy round costs two reads and one claim.
/// It then takes the next admissible attempts in fair-share order and claims exactly those ids
/// with a compare-and-swap that commits only while it still holds the lease — so two replicas
/// never both admit, and a queue's limits hold across replicas. The store stays the truth: what
/// the scheduler believes only orders and limits admissions, and a claim of an attempt that
/// moved meanwhile claims nothing. Runs left waiting get the reason in the store, written only
/// when it changed; reasons (a pass over the waiting attempts) are refreshed at most every
/// `reasons_interval`. Every replica also takes over expired claims of dead servers (those
/// attempts were admitted already).
///
/// Threading: used by the dispatcher thread only.
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"
#include "metrics/registry.h"
#include "queue/queue.h"
#include "store/store.h"

namespace tug::control {

inline constexpr std::string_view kAdmissionLease = "admission";

/// A scheduler holding `entries` (store::ListQueueEntries): QUEUED ones queued, the others
/// running; a queue no longer configured counts as `default`. Entries it cannot take are
/// skipped (logged). kInvalidArgument for bad queues (queue::ValidateQueues).
[[nodiscard]] Result<queue::Scheduler> BuildScheduler(
    const std::vector<queue::QueueSpec>& queues, queue::Vec capacity,
    const std::vector<store::QueueEntry>& entries);

struct AdmissionTuning {
  /// The scheduler is rebuilt from the store at least this often (the safety net; a rebuild
  /// at 100,000 queued attempts takes seconds on a loaded 2-core machine, docs/benchmarks.md).
  Micros rebuild_interval = 600 * kMicrosPerSecond;
  /// How long a missing event seq is waited for before it is taken as a rolled-back write.
  Micros gap_grace = 3 * kMicrosPerSecond;
  /// Waiting runs' reasons are recomputed at most this often (0: every round that needs it).
  Micros reasons_interval = kMicrosPerSecond;
  /// Expired claims of dead servers are looked for at most this often.
  Micros expired_every = kMicrosPerSecond;
};

class Admission {
 public:
  /// `registry`: where queue metrics go (tug_queue_waiting, tug_queue_admitted, tug_queue_share
  /// from the replica holding the lease; tug_queue_wait_seconds); nullptr: none.
  Admission(std::vector<queue::QueueSpec> queues, queue::Vec capacity, store::Store& store,
            std::string owner, Micros lease, const Clock& clock,
            metrics::Registry* registry = nullptr, AdmissionTuning tuning = {});

  /// One round: claims up to `max` attempts (admitted ones, then expired claims), oldest first.
  [[nodiscard]] Result<std::vector<Attempt>> Round(int max);
  /// Gives the admission lease up (a clean shutdown).
  void Release();

  /// What the kept scheduler holds (tests compare it with a rebuild): queue statuses, or empty
  /// when there is none (the lease is another replica's).
  std::vector<queue::QueueStatus> Snapshot();
  /// How many full rebuilds were made (tests: incremental rounds make none).
  int64_t rebuilds() const { return rebuilds_; }

 private:
  enum class Where { kQueued, kPending, kRunning };
  struct Tracked {
    Where where = Where::kQueued;
    std::string run_id;
    std::string queue;  // as configured (an unknown one is `default`)
    Micros due_at = 0;
    std::string reason;  // as last recorded in the store
    queue::Item item;    // while kPending: what Enqueue takes when it falls due
  };

  void Invalidate();
  [[nodiscard]] Status Rebuild(Micros now);
  [[nodiscard]] Status CatchUp(Micros now);
  void Apply(const store::QueueEntry& e, Micros now);
  void Drop(const std::string& attempt_id);
  void PromoteDue(Micros now);
  std::vector<std::pair<std::string, std::string>> ChangedReasons(Micros now);

  std::vector<queue::QueueSpec> queues_;
  queue::Vec capacity_;
  store::Store& store_;
  std::string owner_;
  Micros lease_;
  const Clock& clock_;
  AdmissionTuning tuning_;
  metrics::Family<metrics::Histogram>* wait_seconds_ = nullptr;
  std::mutex snapshot_mu_;
  std::vector<queue::QueueStatus> snapshot_;  // guarded by snapshot_mu_: the last round's

  // The kept scheduler and what it holds, by attempt id (dispatcher thread only).
  std::optional<queue::Scheduler> sched_;
  std::unordered_map<std::string, Tracked> tracked_;
  std::set<std::pair<Micros, std::string>> pending_;  // QUEUED, not yet due: (due_at, id)
  int64_t cursor_ = 0;                                // events applied up to this seq
  std::map<int64_t, Micros> holes_;                   // missing seqs below cursor_: first seen
  Micros rebuilt_at_ = 0;
  Micros held_at_ = 0;     // the last round that held the lease
  Micros renewed_at_ = 0;  // when this replica last acquired or renewed it
  Micros expired_at_ = 0;  // when expired claims were last looked for
  bool reasons_dirty_ = true;
  Micros reasons_at_ = 0;
  int64_t rebuilds_ = 0;
};

}  // namespace tug::control
