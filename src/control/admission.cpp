#include "control/admission.h"

#include <map>
#include <utility>

#include "core/log.h"

namespace tug::control {

Admission::Admission(std::vector<queue::QueueSpec> queues, queue::Vec capacity, store::Store& store,
                     std::string owner, Micros lease, const Clock& clock)
    : queues_(std::move(queues)),
      capacity_(capacity),
      store_(store),
      owner_(std::move(owner)),
      lease_(lease),
      clock_(clock) {}

void Admission::Release() { (void)store_.ReleaseLease(std::string(kAdmissionLease), owner_); }

Result<std::vector<Attempt>> Admission::Round(int max) {
  const Micros now = clock_.Now();
  // Claims of dead servers were admitted already: any replica takes them over.
  ASSIGN_OR_RETURN(std::vector<Attempt> claimed,
                   store_.ClaimExpiredAttempts(owner_, now, lease_, max));
  if (static_cast<int>(claimed.size()) >= max) return claimed;
  ASSIGN_OR_RETURN(bool held,
                   store_.AcquireLease(std::string(kAdmissionLease), owner_, now, lease_));
  if (!held) return claimed;  // another replica admits

  ASSIGN_OR_RETURN(queue::Scheduler sched, queue::Scheduler::Create(queues_, capacity_));
  ASSIGN_OR_RETURN(std::vector<store::QueueEntry> entries, store_.ListQueueEntries(now));
  std::map<std::string, const store::QueueEntry*> queued;  // attempt id → entry
  for (const store::QueueEntry& e : entries) {
    queue::Item item;
    item.id = e.attempt_id;
    // A queue removed from the config: its runs fall back to the default queue.
    item.queue = sched.HasQueue(e.queue) ? e.queue : std::string(queue::kDefaultQueue);
    item.user = e.owner;
    item.priority = e.priority;
    item.submitted_at = e.run_created_at;
    item.footprint = queue::Footprint(e.resources);
    Status st = e.status == AttemptStatus::kQueued ? sched.Enqueue(std::move(item))
                                                   : sched.AddRunning(std::move(item));
    if (!st.ok()) {
      log::Warn("admission: entry skipped",
                {{"attempt", e.attempt_id}, {"error", st.error().ToString()}});
      continue;
    }
    if (e.status == AttemptStatus::kQueued) queued[e.attempt_id] = &e;
  }

  std::vector<std::string> pick;
  while (static_cast<int>(claimed.size() + pick.size()) < max) {
    const queue::Item* next = sched.Next();
    if (next == nullptr) break;
    std::string id = next->id;
    if (!sched.Start(id).ok()) break;
    pick.push_back(std::move(id));
  }
  // Reasons name a limit only when nothing else could start; while the round stopped at `max`,
  // the waiting runs' places change with every claim, so they are left for the next round.
  std::vector<std::pair<std::string, std::string>> reasons;
  const bool all_blocked = sched.Next() == nullptr;
  for (const auto& [id, e] : queued) {
    auto ex = sched.Explain(id);
    if (!ex.ok()) continue;
    std::string reason;  // admitted now: its old reason goes
    if (!ex->running) {
      if (!all_blocked) continue;
      reason = std::move(ex->reason);
    }
    if (reason != e->queue_reason) reasons.emplace_back(e->run_id, std::move(reason));
  }
  if (!pick.empty()) {
    ASSIGN_OR_RETURN(
        std::vector<Attempt> admitted,
        store_.ClaimQueuedAttempts(pick, owner_, now, lease_, std::string(kAdmissionLease)));
    for (Attempt& a : admitted) claimed.push_back(std::move(a));
  }
  if (!reasons.empty()) {
    if (Status st = store_.SetQueueReasons(reasons); !st.ok()) {
      log::Warn("admission: recording queue reasons failed", {{"error", st.error().ToString()}});
    }
  }
  return claimed;
}

}  // namespace tug::control
