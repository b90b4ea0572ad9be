#pragma once
/// Admission through team queues (src/queue) for the dispatcher, when queues are configured.
///
/// One replica admits at a time: the one holding the "admission" lease in the store. Each round
/// it rebuilds the scheduler from the store (due QUEUED attempts and LAUNCHING/RUNNING ones: the
/// store is the truth, so a restart or a lease hand-over needs no other state), takes the next
/// admissible attempts in fair-share order, and claims exactly those ids with a compare-and-swap
/// that commits only while it still holds the lease — so two replicas never both admit, and a
/// queue's limits hold across replicas. Runs left waiting get the reason in the store, written
/// only when it changed. Every replica also takes over expired claims of dead servers (those
/// attempts were admitted already).
///
/// Threading: used by the dispatcher thread only.
#include <mutex>
#include <string>
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

class Admission {
 public:
  /// `registry`: where queue metrics go (tug_queue_waiting, tug_queue_admitted, tug_queue_share
  /// from the replica holding the lease; tug_queue_wait_seconds); nullptr: none.
  Admission(std::vector<queue::QueueSpec> queues, queue::Vec capacity, store::Store& store,
            std::string owner, Micros lease, const Clock& clock,
            metrics::Registry* registry = nullptr);

  /// One round: claims up to `max` attempts (admitted ones, then expired claims), oldest first.
  [[nodiscard]] Result<std::vector<Attempt>> Round(int max);
  /// Gives the admission lease up (a clean shutdown).
  void Release();

 private:
  std::vector<queue::QueueSpec> queues_;
  queue::Vec capacity_;
  store::Store& store_;
  std::string owner_;
  Micros lease_;
  const Clock& clock_;
  metrics::Family<metrics::Histogram>* wait_seconds_ = nullptr;
  std::mutex snapshot_mu_;
  std::vector<queue::QueueStatus> snapshot_;  // guarded by snapshot_mu_: the last round's
};

}  // namespace tug::control
