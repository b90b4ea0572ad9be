#pragma once
/// The Store conformance suite, part 4: what several replicas on one database rely on — the
/// compare-and-swap take-over of an orphaned attempt, named leases for singleton loops — and
/// retention. Include it after store_conformance.h in a backend's test.
#include "store/store_conformance.h"

namespace tug::store::conformance {

TEST_P(StoreConformanceTest, TakeOverWithExpectedOwnerIsACompareAndSwap) {
  Run r = SubmitRunning("server-a");
  const std::string id = r.attempts[0].id;
  const Micros now = kT0 + kLease + 5 * kSec;
  // Someone else's view of the owner is stale: nothing changes.
  EXPECT_TRUE(Fails(store_->TakeOver(id, "server-b", now, kLease, "server-x"), Code::kAborted));
  EXPECT_EQ(store_->GetAttempt(id)->claimed_by, "server-a");
  // Two replicas saw the same orphan of server-a; the first wins, the second loses cleanly.
  ASSERT_TRUE(Ok(store_->TakeOver(id, "server-b", now, kLease, "server-a")));
  EXPECT_TRUE(Fails(store_->TakeOver(id, "server-c", now, kLease, "server-a"), Code::kAborted));
  auto a = store_->GetAttempt(id);
  ASSERT_TRUE(Ok(a));
  EXPECT_EQ(a->claimed_by, "server-b");
  EXPECT_EQ(a->lease_expires_at, now + kLease);
  EXPECT_EQ(a->status, AttemptStatus::kRunning);
  int adopted = 0;
  for (const auto& e : Events(r.id)) adopted += e.type == "adopted" ? 1 : 0;
  EXPECT_EQ(adopted, 1) << "the losing take-over wrote an event";
}

TEST_P(StoreConformanceTest, ConcurrentTakeOversOfOneOrphanHaveOneWinner) {
  Run r = SubmitRunning("server-dead");
  const std::string id = r.attempts[0].id;
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<Status> results(kThreads, OkStatus());
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      results[i] = store_->TakeOver(id, "server-" + std::to_string(i), kT0 + kLease + kSec, kLease,
                                    "server-dead");
    });
  }
  for (auto& t : threads) t.join();
  int won = 0;
  for (const Status& st : results) {
    if (st.ok()) {
      ++won;
    } else {
      EXPECT_TRUE(Fails(st, Code::kAborted));
    }
  }
  EXPECT_EQ(won, 1);
}

TEST_P(StoreConformanceTest, LeaseIsExclusiveUntilItExpires) {
  const Micros ttl = 10 * kSec;
  auto a = store_->AcquireLease("reconcile", "server-a", kT0, ttl);
  ASSERT_TRUE(Ok(a));
  EXPECT_TRUE(*a);
  auto b = store_->AcquireLease("reconcile", "server-b", kT0 + kSec, ttl);
  ASSERT_TRUE(Ok(b));
  EXPECT_FALSE(*b) << "a held lease was taken";
  // Another name is another lease.
  auto other = store_->AcquireLease("retention", "server-b", kT0 + kSec, ttl);
  ASSERT_TRUE(Ok(other));
  EXPECT_TRUE(*other);
  // The holder renews: the lease now runs to kT0 + 5s + ttl.
  auto renew = store_->AcquireLease("reconcile", "server-a", kT0 + 5 * kSec, ttl);
  ASSERT_TRUE(Ok(renew));
  EXPECT_TRUE(*renew);
  auto early = store_->AcquireLease("reconcile", "server-b", kT0 + 12 * kSec, ttl);
  ASSERT_TRUE(Ok(early));
  EXPECT_FALSE(*early) << "the renewal did not extend the lease";
  auto expired = store_->AcquireLease("reconcile", "server-b", kT0 + 15 * kSec, ttl);
  ASSERT_TRUE(Ok(expired));
  EXPECT_TRUE(*expired) << "an expired lease was not taken over";
  auto lost = store_->AcquireLease("reconcile", "server-a", kT0 + 16 * kSec, ttl);
  ASSERT_TRUE(Ok(lost));
  EXPECT_FALSE(*lost);
}

TEST_P(StoreConformanceTest, ReleasedLeaseIsFreeAtOnce) {
  ASSERT_TRUE(*store_->AcquireLease("retention", "server-a", kT0, kLease));
  // Only the holder can release it.
  ASSERT_TRUE(Ok(store_->ReleaseLease("retention", "server-b")));
  EXPECT_FALSE(*store_->AcquireLease("retention", "server-b", kT0 + kSec, kLease));
  ASSERT_TRUE(Ok(store_->ReleaseLease("retention", "server-a")));
  EXPECT_TRUE(*store_->AcquireLease("retention", "server-b", kT0 + kSec, kLease));
  // Releasing a lease that does not exist is fine.
  EXPECT_TRUE(Ok(store_->ReleaseLease("never-taken", "server-a")));
}

TEST_P(StoreConformanceTest, LeaseArgumentsAreChecked) {
  EXPECT_TRUE(Fails(store_->AcquireLease("", "server-a", kT0, kLease), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->AcquireLease("x", "", kT0, kLease), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->AcquireLease("x", "server-a", kT0, 0), Code::kInvalidArgument));
}

TEST_P(StoreConformanceTest, ConcurrentLeaseAcquiresHaveOneWinner) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<int> won(kThreads, -1);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->AcquireLease("reconcile", "server-" + std::to_string(i), kT0, kLease);
      won[i] = r.ok() ? (*r ? 1 : 0) : -1;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(won.begin(), won.end(), 1), 1);
  EXPECT_EQ(std::count(won.begin(), won.end(), -1), 0) << "an acquire failed with an error";
}

TEST_P(StoreConformanceTest, ClaimAttemptsTakesTheOldestDueUpToMax) {
  Run r1 = Submit("hello", kT0 + 3 * kSec);
  Run r2 = Submit("hello", kT0 + 1 * kSec);
  Run r3 = Submit("hello", kT0 + 2 * kSec);
  Run r4 = Submit("hello", kT0 + 4 * kSec);
  Run later = Submit("hello", kT0 + 100 * kSec);
  const Micros now = kT0 + 10 * kSec;
  auto first = store_->ClaimAttempts("server-a", now, kLease, 3);
  ASSERT_TRUE(Ok(first));
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].id, r2.attempts[0].id);
  EXPECT_EQ((*first)[1].id, r3.attempts[0].id);
  EXPECT_EQ((*first)[2].id, r1.attempts[0].id);
  for (const Attempt& a : *first) {
    EXPECT_EQ(a.status, AttemptStatus::kLaunching);
    EXPECT_EQ(a.claimed_by, "server-a");
    EXPECT_EQ(a.lease_expires_at, now + kLease);
    auto stored = store_->GetAttempt(a.id);
    ASSERT_TRUE(Ok(stored));
    EXPECT_EQ(*stored, a);
    auto types = EventTypes(a.run_id);
    ASSERT_EQ(types.size(), 2u);
    EXPECT_EQ(types[1], "claimed");
  }
  auto rest = store_->ClaimAttempts("server-b", now, kLease, 10);
  ASSERT_TRUE(Ok(rest));
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].id, r4.attempts[0].id);
  auto none = store_->ClaimAttempts("server-b", now, kLease, 10);
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(store_->GetAttempt(later.attempts[0].id)->status, AttemptStatus::kQueued);
  // Expired claims come back in a batch too.
  auto expired = store_->ClaimAttempts("server-c", now + kLease + kSec, kLease, 10);
  ASSERT_TRUE(Ok(expired));
  EXPECT_EQ(expired->size(), 4u);
  EXPECT_TRUE(Fails(store_->ClaimAttempts("server-a", now, kLease, 0), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->ClaimAttempts("server-a", now, kLease, 1001), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->ClaimAttempts("", now, kLease, 1), Code::kInvalidArgument));
}

TEST_P(StoreConformanceTest, ConcurrentBatchClaimsClaimEachAttemptOnce) {
  constexpr int kRuns = 200;
  std::vector<NewRun> runs;
  for (int i = 0; i < kRuns; ++i) runs.push_back(MakeRun("hello", kT0));
  for (const Status& st : store_->CreateRuns(runs)) ASSERT_TRUE(Ok(st));
  constexpr int kThreads = 4;
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        auto batch = store_->ClaimAttempts("server-" + std::to_string(t), kT0, kLease, 7);
        if (!batch.ok() || batch->empty()) return;
        for (const Attempt& a : *batch) got[t].push_back(a.id);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& ids : got) {
    for (const auto& id : ids) EXPECT_TRUE(all.insert(id).second) << id << " claimed twice";
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kRuns));
}

namespace {
AttemptEnd EndedAt(Micros at) {
  AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, "Completed", ""};
  end.ended_at = at;
  return end;
}
}  // namespace

TEST_P(StoreConformanceTest, PurgeRunsDeletesEndedRunsOldestFirst) {
  Run old1 = SubmitRunning();
  ASSERT_TRUE(Ok(store_->EndAttempt(old1.attempts[0].id, EndedAt(kT0 + 10 * kSec))));
  Run old2 = SubmitRunning();
  ASSERT_TRUE(Ok(store_->EndAttempt(old2.attempts[0].id, EndedAt(kT0 + 20 * kSec))));
  Run fresh = SubmitRunning();
  ASSERT_TRUE(Ok(store_->EndAttempt(fresh.attempts[0].id, EndedAt(kT0 + 100 * kSec))));
  Run running = SubmitRunning();
  Run queued = Submit();

  // The limit takes the oldest first.
  auto first = store_->PurgeRuns(kT0 + 50 * kSec, 1);
  ASSERT_TRUE(Ok(first));
  EXPECT_EQ(*first, std::vector<std::string>{old1.id});
  auto rest = store_->PurgeRuns(kT0 + 50 * kSec, 100);
  ASSERT_TRUE(Ok(rest));
  EXPECT_EQ(*rest, std::vector<std::string>{old2.id});
  auto none = store_->PurgeRuns(kT0 + 50 * kSec, 100);
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());

  for (const Run& gone : {old1, old2}) {
    EXPECT_TRUE(Fails(store_->GetRun(gone.id), Code::kNotFound));
    EXPECT_TRUE(Fails(store_->GetAttempt(gone.attempts[0].id), Code::kNotFound));
    auto events = store_->ListEvents(gone.id, 0, 100);
    ASSERT_TRUE(Ok(events));
    EXPECT_TRUE(events->empty());
  }
  for (const Run& kept : {fresh, running, queued}) {
    EXPECT_TRUE(Ok(store_->GetRun(kept.id))) << kept.id;
    EXPECT_FALSE(Events(kept.id).empty());
  }
  // A cutoff past everything still leaves the active runs.
  auto all = store_->PurgeRuns(kT0 + 1000 * kSec, 100);
  ASSERT_TRUE(Ok(all));
  EXPECT_EQ(*all, std::vector<std::string>{fresh.id});
  EXPECT_TRUE(Ok(store_->GetRun(running.id)));
  EXPECT_TRUE(Ok(store_->GetRun(queued.id)));
  auto counts = store_->CountRunsByStatus();
  ASSERT_TRUE(Ok(counts));
  int64_t total = 0;
  for (const auto& c : *counts) total += c.count;
  EXPECT_EQ(total, 2);
}

TEST_P(StoreConformanceTest, PurgeRunsChecksItsLimit) {
  EXPECT_TRUE(Fails(store_->PurgeRuns(kT0, 0), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->PurgeRuns(kT0, 10001), Code::kInvalidArgument));
}

}  // namespace tug::store::conformance
