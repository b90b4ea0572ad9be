#pragma once
/// The Store conformance suite: team queues — the run's queue fields, what the queue
/// dispatcher reads (ListQueueEntries), its lease-guarded compare-and-swap claims, reasons and
/// per-queue counts. Include it after store_conformance.h in a backend's test.
#include <atomic>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "store/rules.h"
#include "store/store_conformance.h"

namespace tug::store::conformance {

inline Run SubmitTo(Store& store, const std::string& queue, int priority, Micros due_at = kT0) {
  NewRun n = MakeRun("hello", due_at);
  n.run.queue = queue;
  n.run.priority = priority;
  EXPECT_TRUE(Ok(store.CreateRun(n.run, n.first)));
  n.run.attempts = {n.first};
  return n.run;
}

TEST_P(StoreConformanceTest, RunKeepsItsQueueAndPriority) {
  Run r = SubmitTo(*store_, "team-a", 3);
  auto got = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(got->queue, "team-a");
  EXPECT_EQ(got->priority, 3);
  EXPECT_EQ(got->queue_reason, "");
  auto page = store_->ListRuns(RunFilter{});
  ASSERT_TRUE(Ok(page));
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].queue, "team-a");
  EXPECT_EQ(page->runs[0].priority, 3);
  // A run made without naming one is in "default".
  Run plain = Submit();
  EXPECT_EQ(store_->GetRun(plain.id)->queue, "default");
}

TEST_P(StoreConformanceTest, QueueEntriesAreDueQueuedAndActiveAttempts) {
  Run running = SubmitRunning("server-a");
  Run due = SubmitTo(*store_, "team-a", 2);
  Run later = SubmitTo(*store_, "team-a", 0, kT0 + 60 * kSec);
  auto entries = store_->ListQueueEntries(kT0);
  ASSERT_TRUE(Ok(entries));
  std::map<std::string, QueueEntry> by_run;
  for (const QueueEntry& e : *entries) by_run[e.run_id] = e;
  EXPECT_EQ(by_run.size(), 2u);
  EXPECT_FALSE(by_run.contains(later.id)) << "an attempt not yet due was listed";
  ASSERT_TRUE(by_run.contains(due.id));
  const QueueEntry& q = by_run[due.id];
  EXPECT_EQ(q.attempt_id, due.attempts[0].id);
  EXPECT_EQ(q.status, AttemptStatus::kQueued);
  EXPECT_EQ(q.queue, "team-a");
  EXPECT_EQ(q.priority, 2);
  EXPECT_EQ(q.owner, "ada");
  EXPECT_EQ(q.run_created_at, kT0);
  EXPECT_EQ(q.resources.cpu_millis, 500);
  EXPECT_EQ(q.resources.memory_bytes, int64_t{512} << 20);
  ASSERT_TRUE(by_run.contains(running.id));
  EXPECT_EQ(by_run[running.id].status, AttemptStatus::kRunning);
  EXPECT_EQ(by_run[running.id].queue, "default");
}

// The dispatcher keeps its scheduler between rounds and applies the runs named by new events:
// every change of an attempt's state must write an event of its run, and the runs' entries
// come back in any state.
TEST_P(StoreConformanceTest, AttemptChangesNameTheirRunAndEntriesOfRunsComeBack) {
  auto changed_since = [&](int64_t after) {
    std::set<std::string> runs;
    auto page = store_->ListChanges("", after, kMaxEventsPerPage);
    EXPECT_TRUE(Ok(page));
    if (page.ok()) {
      for (const Change& c : *page) runs.insert(c.event.run_id);
    }
    return runs;
  };
  int64_t seq = *store_->LatestEventSeq();
  Run r = SubmitTo(*store_, "team-a", 1);
  EXPECT_TRUE(changed_since(seq).contains(r.id)) << "submitted";
  seq = *store_->LatestEventSeq();
  ASSERT_TRUE(*store_->AcquireLease("admission", "server-a", kT0, 10 * kSec));
  ASSERT_EQ(
      store_->ClaimQueuedAttempts({r.attempts[0].id}, "server-a", kT0, kLease, "admission")->size(),
      1u);
  EXPECT_TRUE(changed_since(seq).contains(r.id)) << "claimed";
  seq = *store_->LatestEventSeq();
  ASSERT_TRUE(Ok(store_->MarkRunning(r.attempts[0].id, kT0 + kSec)));
  EXPECT_TRUE(changed_since(seq).contains(r.id)) << "running";
  seq = *store_->LatestEventSeq();
  AttemptEnd end;
  end.status = AttemptStatus::kFailed;
  end.ended_at = kT0 + 2 * kSec;
  Attempt next = r.attempts[0];
  next.id = r.attempts[0].id + "-2";
  next.number = 2;
  next.status = AttemptStatus::kQueued;
  next.created_at = kT0 + 2 * kSec;
  next.due_at = kT0 + 60 * kSec;
  end.next = next;
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
  EXPECT_TRUE(changed_since(seq).contains(r.id)) << "ended with a retry";
  seq = *store_->LatestEventSeq();
  Run stopped = SubmitTo(*store_, "team-b", 0);
  const int64_t before_stop = *store_->LatestEventSeq();
  ASSERT_TRUE(Ok(store_->RequestStop(stopped.id, kT0)));
  EXPECT_TRUE(changed_since(before_stop).contains(stopped.id)) << "stopped while queued";
  Run other = SubmitTo(*store_, "team-a", 0);

  // More ids than one statement binds, unknown ones among them.
  std::vector<std::string> ids = {r.id, stopped.id};
  for (int i = 0; i < 700; ++i) ids.push_back(fmt::format("no-such-run-{}", i));
  auto entries = store_->ListQueueEntriesOfRuns(ids);
  ASSERT_TRUE(Ok(entries));
  std::map<std::string, QueueEntry> by_attempt;
  for (const QueueEntry& e : *entries) by_attempt[e.attempt_id] = e;
  ASSERT_EQ(by_attempt.size(), 3u);
  EXPECT_EQ(by_attempt[r.attempts[0].id].status, AttemptStatus::kFailed);
  const QueueEntry& retry = by_attempt[next.id];
  EXPECT_EQ(retry.status, AttemptStatus::kQueued);
  EXPECT_EQ(retry.due_at, kT0 + 60 * kSec);
  EXPECT_EQ(retry.run_id, r.id);
  EXPECT_EQ(retry.queue, "team-a");
  EXPECT_EQ(retry.priority, 1);
  EXPECT_EQ(retry.owner, "ada");
  EXPECT_EQ(by_attempt[stopped.attempts[0].id].status, AttemptStatus::kStopped);
  EXPECT_FALSE(by_attempt.contains(other.attempts[0].id));
  auto none = store_->ListQueueEntriesOfRuns({});
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());
  // GPUs count against quotas: both reads carry them.
  NewRun g = MakeRun("hello");
  g.run.queue = "team-a";
  g.first.resources.gpu = 2;
  ASSERT_TRUE(Ok(store_->CreateRun(g.run, g.first)));
  auto gpu = store_->ListQueueEntriesOfRuns({g.run.id});
  ASSERT_TRUE(Ok(gpu));
  ASSERT_EQ(gpu->size(), 1u);
  EXPECT_EQ((*gpu)[0].resources.gpu, 2);
  // ListQueueEntries carries due_at and GPUs too.
  auto due = store_->ListQueueEntries(kT0 + 60 * kSec);
  ASSERT_TRUE(Ok(due));
  bool saw_retry = false;
  bool saw_gpu = false;
  for (const QueueEntry& e : *due) {
    saw_retry |= e.attempt_id == next.id && e.due_at == next.due_at;
    saw_gpu |= e.attempt_id == g.first.id && e.resources.gpu == 2;
  }
  EXPECT_TRUE(saw_retry);
  EXPECT_TRUE(saw_gpu);
}

TEST_P(StoreConformanceTest, QueuedClaimsNeedTheLeaseAndSkipWhatMoved) {
  Run a = SubmitTo(*store_, "q", 0);
  Run b = SubmitTo(*store_, "q", 0);
  Run later = SubmitTo(*store_, "q", 0, kT0 + 60 * kSec);
  const std::vector<std::string> ids = {a.attempts[0].id, b.attempts[0].id, later.attempts[0].id,
                                        "no-such-attempt"};
  EXPECT_TRUE(Fails(store_->ClaimQueuedAttempts(ids, "server-a", kT0, kLease, "admission"),
                    Code::kAborted));
  EXPECT_EQ(store_->GetAttempt(a.attempts[0].id)->status, AttemptStatus::kQueued);
  ASSERT_TRUE(*store_->AcquireLease("admission", "server-a", kT0, 10 * kSec));
  // b was stopped meanwhile: the claim skips it.
  ASSERT_TRUE(Ok(store_->RequestStop(b.id, kT0)));
  auto claimed = store_->ClaimQueuedAttempts(ids, "server-a", kT0, kLease, "admission");
  ASSERT_TRUE(Ok(claimed));
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].id, a.attempts[0].id);
  EXPECT_EQ((*claimed)[0].status, AttemptStatus::kLaunching);
  EXPECT_EQ((*claimed)[0].claimed_by, "server-a");
  EXPECT_EQ((*claimed)[0].lease_expires_at, kT0 + kLease);
  EXPECT_EQ(EventTypes(a.id).back(), "claimed");
  // A second claim of the same id claims nothing.
  auto again = store_->ClaimQueuedAttempts(ids, "server-a", kT0, kLease, "admission");
  ASSERT_TRUE(Ok(again));
  EXPECT_TRUE(again->empty());
  // The lease expired and another server took it: the first one's claims are refused.
  Run c = SubmitTo(*store_, "q", 0);
  ASSERT_TRUE(*store_->AcquireLease("admission", "server-b", kT0 + 11 * kSec, 10 * kSec));
  EXPECT_TRUE(Fails(store_->ClaimQueuedAttempts({c.attempts[0].id}, "server-a", kT0 + 5 * kSec,
                                                kLease, "admission"),
                    Code::kAborted));
  EXPECT_EQ(store_->GetAttempt(c.attempts[0].id)->status, AttemptStatus::kQueued);
}

TEST_P(StoreConformanceTest, ExpiredClaimsAreTakenOverWithoutTouchingQueued) {
  Run queued = SubmitTo(*store_, "q", 0, kT0 - 2000 * kSec);
  Run launching = Submit("hello", kT0 - 1000 * kSec);
  ASSERT_TRUE(*store_->AcquireLease("admission", "server-dead", kT0, 10 * kSec));
  ASSERT_TRUE(Ok(store_->ClaimQueuedAttempts({launching.attempts[0].id}, "server-dead", kT0, kLease,
                                             "admission")));
  auto none = store_->ClaimExpiredAttempts("server-b", kT0 + kSec, kLease, 10);
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty()) << "a live lease was taken over";
  auto taken = store_->ClaimExpiredAttempts("server-b", kT0 + kLease + kSec, kLease, 10);
  ASSERT_TRUE(Ok(taken));
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].id, launching.attempts[0].id);
  EXPECT_EQ((*taken)[0].claimed_by, "server-b");
  EXPECT_EQ(store_->GetAttempt(queued.attempts[0].id)->status, AttemptStatus::kQueued);
  EXPECT_TRUE(
      Fails(store_->ClaimExpiredAttempts("server-b", kT0, kLease, 0), Code::kInvalidArgument));
}

TEST_P(StoreConformanceTest, QueueReasonsAndCountsByQueue) {
  Run a = SubmitTo(*store_, "team-a", 0);
  Run b = SubmitTo(*store_, "team-a", 0);
  Run c = SubmitTo(*store_, "team-b", 0);
  ASSERT_TRUE(Ok(store_->SetQueueReasons({{a.id, "team-a: 2 of 2 CPUs in use"},
                                          {"no-such-run", "x"},
                                          {c.id, "team-b: 1 of 1 running runs"}})));
  EXPECT_EQ(store_->GetRun(a.id)->queue_reason, "team-a: 2 of 2 CPUs in use");
  EXPECT_EQ(store_->GetRun(b.id)->queue_reason, "");
  ASSERT_TRUE(Ok(store_->SetQueueReasons({{a.id, ""}})));
  EXPECT_EQ(store_->GetRun(a.id)->queue_reason, "");
  ASSERT_TRUE(*store_->AcquireLease("admission", "server-a", kT0, 10 * kSec));
  ASSERT_TRUE(
      Ok(store_->ClaimQueuedAttempts({b.attempts[0].id}, "server-a", kT0, kLease, "admission")));
  ASSERT_TRUE(Ok(store_->MarkRunning(b.attempts[0].id, kT0 + kSec)));
  auto counts = store_->CountRunsByQueue();
  ASSERT_TRUE(Ok(counts));
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].queue, "team-a");
  EXPECT_EQ((*counts)[0].queued, 1);
  EXPECT_EQ((*counts)[0].running, 1);
  EXPECT_EQ((*counts)[1].queue, "team-b");
  EXPECT_EQ((*counts)[1].queued, 1);
  EXPECT_EQ((*counts)[1].running, 0);
}

// Two admitters race on one store: each takes the admission lease when it can, reads what runs,
// and claims up to the quota of 3 active attempts; finished attempts free room. The lease
// changes hands (it is short and the clocks differ), yet no moment has more than 3 active.
TEST_P(StoreConformanceTest, TwoAdmittersNeverExceedAQuota) {
  constexpr int kRuns = 24;
  constexpr size_t kQuota = 3;
  for (int i = 0; i < kRuns; ++i) SubmitTo(*store_, "q", 0, kT0 - kSec);
  std::atomic<Micros> clock{kT0};
  std::atomic<bool> exceeded{false};
  std::atomic<int> ended{0};
  auto admitter = [&](const std::string& owner) {
    for (int round = 0; round < 400 && ended.load() < kRuns; ++round) {
      const Micros now = clock.fetch_add(kSec / 2);
      auto held = store_->AcquireLease("admission", owner, now, 2 * kSec);
      if (held.ok() && *held) {
        auto entries = store_->ListQueueEntries(now);
        if (entries.ok()) {
          std::vector<std::string> active, queued;
          for (const QueueEntry& e : *entries) {
            (e.status == AttemptStatus::kQueued ? queued : active).push_back(e.attempt_id);
          }
          std::vector<std::string> pick;
          for (const std::string& id : queued) {
            if (active.size() + pick.size() >= kQuota) break;
            pick.push_back(id);
          }
          (void)store_->ClaimQueuedAttempts(pick, owner, now, kLease, "admission");
        }
      }
      auto live = store_->ListActiveAttempts();
      if (live.ok()) {
        if (live->size() > kQuota) exceeded = true;
        // Finish the oldest active attempt now and then, to free room.
        if (!live->empty() && round % 3 == 0) {
          store::AttemptEnd end;
          end.status = AttemptStatus::kSucceeded;
          end.outcome = Outcome{0, std::string(reason::kCompleted), ""};
          end.ended_at = now;
          if (store_->EndAttempt((*live)[0].id, end).ok()) ++ended;
        }
      }
    }
  };
  std::thread t1(admitter, "server-a");
  std::thread t2(admitter, "server-b");
  t1.join();
  t2.join();
  EXPECT_FALSE(exceeded.load()) << "more than " << kQuota << " attempts were active at once";
  EXPECT_EQ(ended.load(), kRuns) << "the admitters did not work through the queue";
}

}  // namespace tug::store::conformance
