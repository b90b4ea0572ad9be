#include "control/admission.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/log.h"

namespace tug::control {

Admission::Admission(std::vector<queue::QueueSpec> queues, queue::Vec capacity, store::Store& store,
                     std::string owner, Micros lease, const Clock& clock,
                     metrics::Registry* registry)
    : queues_(std::move(queues)),
      capacity_(capacity),
      store_(store),
      owner_(std::move(owner)),
      lease_(lease),
      clock_(clock) {
  if (registry == nullptr) return;
  wait_seconds_ = &registry->AddHistogram(
      "tug_queue_wait_seconds", "Time from an attempt becoming due to its admission, by queue",
      {1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600});
  registry->AddCollector([this](std::string& out) {
    std::lock_guard lock(snapshot_mu_);
    if (snapshot_.empty()) return;  // another replica admits and reports
    out +=
        "# HELP tug_queue_waiting Attempts due and waiting for admission, by queue\n"
        "# TYPE tug_queue_waiting gauge\n";
    for (const auto& s : snapshot_) {
      metrics::AppendSample(out, "tug_queue_waiting", {{"queue", s.spec.name}},
                            static_cast<double>(s.queued));
    }
    out +=
        "# HELP tug_queue_admitted Attempts holding their queue's quota (launching or running)\n"
        "# TYPE tug_queue_admitted gauge\n";
    for (const auto& s : snapshot_) {
      metrics::AppendSample(out, "tug_queue_admitted", {{"queue", s.spec.name}},
                            static_cast<double>(s.running));
    }
    out +=
        "# HELP tug_queue_share Weighted dominant share of the cluster a queue uses\n"
        "# TYPE tug_queue_share gauge\n";
    for (const auto& s : snapshot_) {
      metrics::AppendSample(out, "tug_queue_share", {{"queue", s.spec.name}}, s.share);
    }
  });
}

Result<queue::Scheduler> BuildScheduler(const std::vector<queue::QueueSpec>& queues,
                                        queue::Vec capacity,
                                        const std::vector<store::QueueEntry>& entries) {
  ASSIGN_OR_RETURN(queue::Scheduler sched, queue::Scheduler::Create(queues, capacity));
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
      log::Warn("queues: entry skipped",
                {{"attempt", e.attempt_id}, {"error", st.error().ToString()}});
    }
  }
  return sched;
}

void Admission::Release() { (void)store_.ReleaseLease(std::string(kAdmissionLease), owner_); }

Result<std::vector<Attempt>> Admission::Round(int max) {
  const Micros now = clock_.Now();
  // Claims of dead servers were admitted already: any replica takes them over.
  ASSIGN_OR_RETURN(std::vector<Attempt> claimed,
                   store_.ClaimExpiredAttempts(owner_, now, lease_, max));
  if (static_cast<int>(claimed.size()) >= max) return claimed;
  ASSIGN_OR_RETURN(bool held,
                   store_.AcquireLease(std::string(kAdmissionLease), owner_, now, lease_));
  if (!held) {  // another replica admits (and reports the queues)
    std::lock_guard lock(snapshot_mu_);
    snapshot_.clear();
    return claimed;
  }

  ASSIGN_OR_RETURN(std::vector<store::QueueEntry> entries, store_.ListQueueEntries(now));
  ASSIGN_OR_RETURN(queue::Scheduler sched, BuildScheduler(queues_, capacity_, entries));
  std::map<std::string, const store::QueueEntry*> queued;  // attempt id → entry
  for (const store::QueueEntry& e : entries) {
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
    for (Attempt& a : admitted) {
      auto it = queued.find(a.id);
      if (wait_seconds_ != nullptr && it != queued.end() && a.due_at > 0) {
        const std::string& q = it->second->queue;
        wait_seconds_->With({{"queue", sched.HasQueue(q) ? q : std::string(queue::kDefaultQueue)}})
            .Observe(static_cast<double>(std::max<Micros>(now - a.due_at, 0)) / 1e6);
      }
      claimed.push_back(std::move(a));
    }
  }
  {
    std::lock_guard lock(snapshot_mu_);
    snapshot_ = sched.Snapshot();
  }
  if (!reasons.empty()) {
    if (Status st = store_.SetQueueReasons(reasons); !st.ok()) {
      log::Warn("admission: recording queue reasons failed", {{"error", st.error().ToString()}});
    }
  }
  return claimed;
}

}  // namespace tug::control
