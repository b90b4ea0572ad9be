#include "control/admission.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "core/log.h"
#include "store/rules.h"

namespace tug::control {

Admission::Admission(std::vector<queue::QueueSpec> queues, queue::Vec capacity, store::Store& store,
                     std::string owner, Micros lease, const Clock& clock,
                     metrics::Registry* registry, AdmissionTuning tuning)
    : queues_(std::move(queues)),
      capacity_(capacity),
      store_(store),
      owner_(std::move(owner)),
      lease_(lease),
      clock_(clock),
      tuning_(tuning) {
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

namespace {

// Holes in the event seq watched one by one; more (a rolled-back bulk write) start over.
constexpr int64_t kMaxHoles = 10'000;
// How far below the newest seq a rebuild looks for writes that had not committed yet.
constexpr int64_t kRebuildLookback = 256;

queue::Item ItemOf(const store::QueueEntry& e, std::string queue) {
  queue::Item item;
  item.id = e.attempt_id;
  item.queue = std::move(queue);
  item.user = e.owner;
  item.priority = e.priority;
  item.submitted_at = e.run_created_at;
  item.footprint = queue::Footprint(e.resources);
  return item;
}

}  // namespace

Result<queue::Scheduler> BuildScheduler(const std::vector<queue::QueueSpec>& queues,
                                        queue::Vec capacity,
                                        const std::vector<store::QueueEntry>& entries) {
  ASSIGN_OR_RETURN(queue::Scheduler sched, queue::Scheduler::Create(queues, capacity));
  for (const store::QueueEntry& e : entries) {
    // A queue removed from the config: its runs fall back to the default queue.
    queue::Item item =
        ItemOf(e, sched.HasQueue(e.queue) ? e.queue : std::string(queue::kDefaultQueue));
    Status st = e.status == AttemptStatus::kQueued ? sched.Enqueue(std::move(item))
                                                   : sched.AddRunning(std::move(item));
    if (!st.ok()) {
      log::Warn("queues: entry skipped",
                {{"attempt", e.attempt_id}, {"error", st.error().ToString()}});
    }
  }
  return sched;
}

void Admission::Release() {
  Invalidate();  // another replica may admit before this one holds the lease again
  (void)store_.ReleaseLease(std::string(kAdmissionLease), owner_);
}

std::vector<queue::QueueStatus> Admission::Snapshot() {
  return sched_ ? sched_->Snapshot() : std::vector<queue::QueueStatus>{};
}

void Admission::Invalidate() {
  sched_.reset();
  tracked_.clear();
  pending_.clear();
  holes_.clear();
}

Status Admission::Rebuild(Micros now) {
  Invalidate();
  // The seq first: whatever changes after it is applied again by the next CatchUp (applying
  // an entry's current state twice is harmless).
  ASSIGN_OR_RETURN(int64_t seq, store_.LatestEventSeq());
  // Every QUEUED attempt, due or not (those not due wait aside), and the active ones.
  ASSIGN_OR_RETURN(std::vector<store::QueueEntry> entries,
                   store_.ListQueueEntries(std::numeric_limits<Micros>::max()));
  ASSIGN_OR_RETURN(queue::Scheduler sched, queue::Scheduler::Create(queues_, capacity_));
  sched_.emplace(std::move(sched));
  for (const store::QueueEntry& e : entries) Apply(e, now);
  cursor_ = seq;
  // A write that took a lower seq may not have committed when the entries were read
  // (PostgreSQL): the recent missing seqs are watched like any hole.
  ASSIGN_OR_RETURN(std::vector<store::Change> recent,
                   store_.ListChanges("", std::max<int64_t>(seq - kRebuildLookback, 0),
                                      static_cast<int>(kRebuildLookback)));
  int64_t expect = std::max<int64_t>(seq - kRebuildLookback, 0) + 1;
  for (const store::Change& c : recent) {
    if (c.event.seq > seq) break;
    for (int64_t s = expect; s < c.event.seq; ++s) holes_.emplace(s, now);
    expect = c.event.seq + 1;
  }
  rebuilt_at_ = now;
  reasons_dirty_ = true;
  ++rebuilds_;
  return OkStatus();
}

Status Admission::CatchUp(Micros now) {
  std::set<std::string> runs;
  // Holes first: a seq taken before ours that committed since.
  if (!holes_.empty()) {
    int64_t after = holes_.begin()->first - 1;
    while (after < cursor_) {
      ASSIGN_OR_RETURN(std::vector<store::Change> page,
                       store_.ListChanges("", after, store::kMaxEventsPerPage));
      for (const store::Change& c : page) {
        if (c.event.seq > cursor_) break;
        if (holes_.erase(c.event.seq) > 0) runs.insert(c.event.run_id);
        after = c.event.seq;
      }
      if (static_cast<int>(page.size()) < store::kMaxEventsPerPage ||
          page.back().event.seq > cursor_) {
        break;
      }
    }
    for (auto it = holes_.begin(); it != holes_.end();) {
      it = now - it->second >= tuning_.gap_grace ? holes_.erase(it) : std::next(it);
    }
  }
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::Change> page,
                     store_.ListChanges("", cursor_, store::kMaxEventsPerPage));
    for (const store::Change& c : page) {
      if (c.event.seq - cursor_ > 1) {
        // Too many to watch one by one (a rolled-back bulk write): start over from the store.
        if (c.event.seq - cursor_ > kMaxHoles || holes_.size() > kMaxHoles) return Rebuild(now);
        for (int64_t s = cursor_ + 1; s < c.event.seq; ++s) holes_.emplace(s, now);
      }
      cursor_ = c.event.seq;
      runs.insert(c.event.run_id);
    }
    if (static_cast<int>(page.size()) < store::kMaxEventsPerPage) break;
  }
  if (runs.empty()) return OkStatus();
  ASSIGN_OR_RETURN(std::vector<store::QueueEntry> entries,
                   store_.ListQueueEntriesOfRuns({runs.begin(), runs.end()}));
  for (const store::QueueEntry& e : entries) Apply(e, now);
  return OkStatus();
}

void Admission::Apply(const store::QueueEntry& e, Micros now) {
  auto it = tracked_.find(e.attempt_id);
  Status st = OkStatus();
  if (e.status == AttemptStatus::kQueued) {
    if (it != tracked_.end()) {
      it->second.reason = e.queue_reason;
      return;  // queued or waiting aside already (a QUEUED attempt never goes back)
    }
    Tracked t;
    t.run_id = e.run_id;
    t.queue = sched_->HasQueue(e.queue) ? e.queue : std::string(queue::kDefaultQueue);
    t.due_at = e.due_at;
    t.reason = e.queue_reason;
    if (e.due_at > now) {
      t.where = Where::kPending;
      t.item = ItemOf(e, t.queue);
      pending_.emplace(e.due_at, e.attempt_id);
    } else {
      st = sched_->Enqueue(ItemOf(e, t.queue));
    }
    if (st.ok()) tracked_.emplace(e.attempt_id, std::move(t));
  } else if (e.status == AttemptStatus::kLaunching || e.status == AttemptStatus::kRunning) {
    if (it == tracked_.end()) {
      Tracked t;
      t.where = Where::kRunning;
      t.run_id = e.run_id;
      t.queue = sched_->HasQueue(e.queue) ? e.queue : std::string(queue::kDefaultQueue);
      t.due_at = e.due_at;
      st = sched_->AddRunning(ItemOf(e, t.queue));
      if (st.ok()) tracked_.emplace(e.attempt_id, std::move(t));
    } else if (it->second.where == Where::kQueued) {
      st = sched_->Start(e.attempt_id);
      it->second.where = Where::kRunning;
    } else if (it->second.where == Where::kPending) {
      pending_.erase({it->second.due_at, e.attempt_id});
      st = sched_->AddRunning(std::move(it->second.item));
      it->second.where = Where::kRunning;
      it->second.item = {};
    }
  } else {  // ended or stopped
    Drop(e.attempt_id);
  }
  reasons_dirty_ = true;
  if (!st.ok()) {
    log::Warn("queues: entry skipped",
              {{"attempt", e.attempt_id}, {"error", st.error().ToString()}});
  }
}

void Admission::Drop(const std::string& attempt_id) {
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end()) return;
  switch (it->second.where) {
    case Where::kQueued:
      (void)sched_->Remove(attempt_id);
      break;
    case Where::kRunning:
      (void)sched_->Finish(attempt_id);
      break;
    case Where::kPending:
      pending_.erase({it->second.due_at, attempt_id});
      break;
  }
  tracked_.erase(it);
  reasons_dirty_ = true;
}

void Admission::PromoteDue(Micros now) {
  while (!pending_.empty() && pending_.begin()->first <= now) {
    const std::string id = pending_.begin()->second;
    pending_.erase(pending_.begin());
    auto it = tracked_.find(id);
    if (it == tracked_.end()) continue;
    if (Status st = sched_->Enqueue(std::move(it->second.item)); !st.ok()) {
      log::Warn("queues: entry skipped", {{"attempt", id}, {"error", st.error().ToString()}});
      tracked_.erase(it);
    } else {
      it->second.where = Where::kQueued;
      it->second.item = {};
    }
    reasons_dirty_ = true;
  }
}

std::vector<std::pair<std::string, std::string>> Admission::ChangedReasons(Micros now) {
  std::vector<std::pair<std::string, std::string>> out;
  // Reasons name a limit only when nothing else could start (while a round stops at `max`, the
  // waiting runs' places change with every claim); a pass over every waiting attempt, so at
  // most every reasons_interval and only after something changed.
  if (!reasons_dirty_ || sched_->Next() != nullptr ||
      (reasons_at_ != 0 && now - reasons_at_ < tuning_.reasons_interval)) {
    return out;
  }
  for (auto& [id, t] : tracked_) {
    if (t.where != Where::kQueued) continue;
    auto ex = sched_->Explain(id);
    if (!ex.ok() || ex->reason == t.reason) continue;
    t.reason = ex->reason;
    out.emplace_back(t.run_id, std::move(ex->reason));
  }
  reasons_dirty_ = false;
  reasons_at_ = now;
  return out;
}

Result<std::vector<Attempt>> Admission::Round(int max) {
  const Micros now = clock_.Now();
  // Claims of dead servers were admitted already: any replica takes them over (their leases
  // ran out long ago, so looking now and then is enough).
  std::vector<Attempt> claimed;
  if (expired_at_ == 0 || now - expired_at_ >= tuning_.expired_every || now < expired_at_) {
    ASSIGN_OR_RETURN(claimed, store_.ClaimExpiredAttempts(owner_, now, lease_, max));
    expired_at_ = now;
    if (static_cast<int>(claimed.size()) >= max) return claimed;
  }
  // The lease is renewed once a third of it has passed: until it runs out no other replica can
  // take it, and every claim checks it in its own transaction anyway.
  bool held = sched_.has_value() && now >= renewed_at_ && now - renewed_at_ < lease_ / 3;
  if (!held) {
    ASSIGN_OR_RETURN(held, store_.AcquireLease(std::string(kAdmissionLease), owner_, now, lease_));
    if (held) renewed_at_ = now;
  }
  if (!held) {  // another replica admits (and reports the queues)
    Invalidate();
    std::lock_guard lock(snapshot_mu_);
    snapshot_.clear();
    return claimed;
  }
  // A new holder, or one whose hold may have lapsed meanwhile, starts from the store.
  const bool fresh = !sched_ || now - held_at_ >= lease_ || now < held_at_ ||
                     now - rebuilt_at_ >= tuning_.rebuild_interval;
  Status st = fresh ? Rebuild(now) : CatchUp(now);
  if (!st.ok()) {
    Invalidate();
    return st.error();
  }
  held_at_ = now;
  PromoteDue(now);

  std::vector<std::string> pick;
  while (static_cast<int>(claimed.size() + pick.size()) < max) {
    const queue::Item* next = sched_->Next();
    if (next == nullptr) break;
    std::string id = next->id;
    if (!sched_->Start(id).ok()) break;
    tracked_[id].where = Where::kRunning;
    pick.push_back(std::move(id));
  }
  std::vector<std::pair<std::string, std::string>> reasons;
  if (!pick.empty()) {
    auto admitted =
        store_.ClaimQueuedAttempts(pick, owner_, now, lease_, std::string(kAdmissionLease));
    if (!admitted.ok()) {
      Invalidate();  // the lease went, or the store failed: start over next time
      return admitted.error();
    }
    std::set<std::string> got;
    for (Attempt& a : *admitted) {
      got.insert(a.id);
      auto it = tracked_.find(a.id);
      if (it == tracked_.end()) continue;
      if (wait_seconds_ != nullptr && a.due_at > 0) {
        wait_seconds_->With({{"queue", it->second.queue}})
            .Observe(static_cast<double>(std::max<Micros>(now - a.due_at, 0)) / 1e6);
      }
      // Admitted now: its old reason goes.
      if (!it->second.reason.empty()) {
        reasons.emplace_back(it->second.run_id, "");
        it->second.reason.clear();
      }
      claimed.push_back(std::move(a));
    }
    // Not claimed: stopped or changed meanwhile. Its event (after our cursor) says what it is
    // now; until then it holds nothing.
    for (const std::string& id : pick) {
      if (!got.contains(id)) Drop(id);
    }
  }
  for (auto& r : ChangedReasons(now)) reasons.push_back(std::move(r));
  {
    std::lock_guard lock(snapshot_mu_);
    snapshot_ = sched_->Snapshot();
  }
  if (!reasons.empty()) {
    if (Status rs = store_.SetQueueReasons(reasons); !rs.ok()) {
      log::Warn("admission: recording queue reasons failed", {{"error", rs.error().ToString()}});
    }
  }
  return claimed;
}

}  // namespace tug::control
