// Admission through team queues against a real (SQLite) store: limits, reasons written when they
// change, a restart that rebuilds from the store, two admitters that never exceed a quota, and
// the scheduler kept between rounds following the store's changes (equal to a rebuild) through
// lease hand-overs. tests/queues_replicas_test.cpp runs the replica part on PostgreSQL.
#include "control/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "control/admission_testing.h"
#include "core/ids.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::control {
namespace {

constexpr Micros kLease = 30 * kMicrosPerSecond;

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::SqliteStore::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = std::move(*s);
    queue::QueueSpec q;
    q.name = "team-a";
    q.limits.quota.cpu_millis = 2000;
    queue::QueueSpec u;
    u.name = "per-user";
    u.user_limits.max_running = 1;
    queues_ = {q, u};
  }

  std::string Submit(const std::string& queue, const std::string& owner = "ada",
                     int64_t cpu_millis = 1000, Micros delay = 0) {
    store::NewRun n;
    n.run.id = NewId(clock_);
    n.run.owner = owner;
    n.run.definition = "job";
    n.run.definition_version = 1;
    n.run.spec.name = "job";
    n.run.spec.command = "true";
    n.run.created_at = clock_.Now();
    n.run.updated_at = clock_.Now();
    n.run.queue = queue;
    n.first.id = AttemptId(n.run.id, 1);
    n.first.run_id = n.run.id;
    n.first.resources.cpu_millis = cpu_millis;
    n.first.resources.memory_bytes = int64_t{64} << 20;
    n.first.engine = "local";
    n.first.created_at = clock_.Now();
    n.first.due_at = clock_.Now() + delay;
    EXPECT_TRUE(store_->CreateRun(n.run, n.first).ok());
    clock_.Advance(1000);  // FIFO by creation time
    return n.run.id;
  }

  Admission Make(const std::string& owner, AdmissionTuning tuning = {}) {
    return Admission(queues_, {}, *store_, owner, kLease, clock_, nullptr, tuning);
  }

  std::vector<std::string> Claim(Admission& a, int max = 8) {
    auto claimed = a.Round(max);
    EXPECT_TRUE(claimed.ok()) << claimed.error().ToString();
    std::vector<std::string> runs;
    if (claimed.ok()) {
      for (const Attempt& at : *claimed) runs.push_back(at.run_id);
    }
    return runs;
  }

  void Succeed(const std::string& run_id) {
    store::AttemptEnd end;
    end.status = AttemptStatus::kSucceeded;
    end.outcome = Outcome{0, std::string(reason::kCompleted), ""};
    end.ended_at = clock_.Now();
    ASSERT_TRUE(store_->EndAttempt(AttemptId(run_id, 1), end).ok());
  }

  // Ends an active attempt; with `retry_in` > 0 its run retries (attempt number + 1, due then).
  void End(const Attempt& a, Micros retry_in = 0) {
    store::AttemptEnd end;
    end.status = retry_in > 0 ? AttemptStatus::kFailed : AttemptStatus::kSucceeded;
    end.outcome = Outcome{retry_in > 0 ? 1 : 0, std::string(reason::kCompleted), ""};
    end.ended_at = clock_.Now();
    if (retry_in > 0) {
      Attempt next = a;
      next.id = AttemptId(a.run_id, a.number + 1);
      next.number = a.number + 1;
      next.status = AttemptStatus::kQueued;
      next.claimed_by.clear();
      next.lease_expires_at = 0;
      next.created_at = clock_.Now();
      next.due_at = clock_.Now() + retry_in;
      end.next = next;
    }
    ASSERT_TRUE(store_->EndAttempt(a.id, end).ok());
  }

  std::string Reason(const std::string& run_id) { return store_->GetRun(run_id)->queue_reason; }

  ManualClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::vector<queue::QueueSpec> queues_;
};

TEST_F(AdmissionTest, QuotaHoldsReasonIsRecordedAndFreedCapacityIsUsed) {
  std::vector<std::string> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(Submit("team-a"));
  Admission a = Make("server-a");
  EXPECT_EQ(Claim(a), (std::vector<std::string>{runs[0], runs[1]}));
  EXPECT_EQ(Reason(runs[2]), "team-a: 2 of 2 CPUs in use");
  EXPECT_EQ(Reason(runs[3]), "team-a: 2 of 2 CPUs in use");
  EXPECT_TRUE(Claim(a).empty());
  Succeed(runs[0]);
  EXPECT_EQ(Claim(a), (std::vector<std::string>{runs[2]}));
  EXPECT_EQ(Reason(runs[2]), "") << "an admitted run kept its waiting reason";
  EXPECT_EQ(Reason(runs[3]), "team-a: 2 of 2 CPUs in use");
}

TEST_F(AdmissionTest, PerUserLimitAndUnknownQueuesFallBackToDefault) {
  const std::string a1 = Submit("per-user", "alice");
  const std::string a2 = Submit("per-user", "alice");
  const std::string b1 = Submit("per-user", "bob");
  const std::string gone = Submit("removed-from-config");
  Admission a = Make("server-a");
  auto got = Claim(a);
  std::sort(got.begin(), got.end());
  std::vector<std::string> want = {a1, b1, gone};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(Reason(a2), "alice: 1 of 1 running runs in per-user");
}

TEST_F(AdmissionTest, RestartRebuildsFromTheStoreAndOnlyTheLeaseHolderAdmits) {
  std::vector<std::string> runs;
  for (int i = 0; i < 3; ++i) runs.push_back(Submit("team-a"));
  {
    Admission first = Make("server-a");
    EXPECT_EQ(Claim(first).size(), 2u);
  }
  // Another replica while server-a's lease is live: it admits nothing.
  Admission other = Make("server-b");
  EXPECT_TRUE(Claim(other).empty());
  // server-a restarts (same owner, lease still its own): the two running count.
  Admission again = Make("server-a");
  EXPECT_TRUE(Claim(again).empty());
  again.Release();
  Succeed(runs[1]);
  EXPECT_EQ(Claim(other), (std::vector<std::string>{runs[2]}));
}

TEST_F(AdmissionTest, TwoAdmittersNeverExceedTheQuota) {
  constexpr int kRuns = 20;
  for (int i = 0; i < kRuns; ++i) Submit("team-a");
  std::atomic<bool> exceeded{false};
  std::atomic<int> ended{0};
  auto loop = [&](const std::string& owner) {
    Admission a(queues_, {}, *store_, owner, 2 * kMicrosPerSecond, clock_);
    for (int round = 0; round < 500 && ended.load() < kRuns; ++round) {
      clock_.Advance(kMicrosPerSecond / 3);  // leases run out and change hands
      (void)a.Round(8);
      auto live = store_->ListActiveAttempts();
      if (!live.ok()) continue;
      int64_t cpu = 0;
      for (const Attempt& at : *live) cpu += at.resources.cpu_millis;
      if (cpu > 2000) exceeded = true;
      if (!live->empty() && round % 2 == 0) {
        store::AttemptEnd end;
        end.status = AttemptStatus::kSucceeded;
        end.outcome = Outcome{0, std::string(reason::kCompleted), ""};
        end.ended_at = clock_.Now();
        if (store_->EndAttempt((*live)[0].id, end).ok()) ++ended;
      }
    }
  };
  std::thread t1(loop, "server-a");
  std::thread t2(loop, "server-b");
  t1.join();
  t2.join();
  EXPECT_FALSE(exceeded.load()) << "more than the quota ran at once";
  EXPECT_EQ(ended.load(), kRuns);
}

TEST_F(AdmissionTest, KeptSchedulerFollowsTheStoreWithoutRebuilding) {
  queue::QueueSpec b;
  b.name = "team-b";
  b.limits.max_running = 3;
  b.weight = 2;
  queues_.push_back(b);
  Admission a = Make("server-a", {.rebuild_interval = 3600 * kMicrosPerSecond,
                                  .gap_grace = kMicrosPerSecond,
                                  .reasons_interval = 0});
  const std::vector<std::string> queues = {"team-a", "team-b", "per-user", "gone"};
  const std::vector<std::string> users = {"alice", "bob", "carol"};
  uint32_t seed = 7;
  auto rnd = [&](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  for (int step = 0; step < 60; ++step) {
    const int adds = static_cast<int>(rnd(4));
    for (int i = 0; i < adds; ++i) {
      const Micros delay = rnd(4) == 0 ? static_cast<Micros>(rnd(5)) * kMicrosPerSecond : 0;
      (void)Submit(queues[rnd(4)], users[rnd(3)], 250 * (1 + rnd(4)), delay);
    }
    auto live = store_->ListActiveAttempts();
    ASSERT_TRUE(live.ok());
    for (const Attempt& at : *live) {
      switch (rnd(4)) {
        case 0:
          End(at);
          break;
        case 1:
          End(at, static_cast<Micros>(1 + rnd(3)) * kMicrosPerSecond);  // a retry, due later
          break;
        default:
          break;  // still running
      }
    }
    if (rnd(5) == 0) {  // a waiting run is stopped
      auto waiting = store_->ListQueueEntries(clock_.Now());
      ASSERT_TRUE(waiting.ok());
      for (const store::QueueEntry& e : *waiting) {
        if (e.status == AttemptStatus::kQueued) {
          ASSERT_TRUE(store_->RequestStop(e.run_id, clock_.Now()).ok());
          break;
        }
      }
    }
    clock_.Advance(kMicrosPerSecond / 2);  // retries and delayed runs fall due
    (void)Claim(a, 1 + static_cast<int>(rnd(4)));
    testing::ExpectKeptEqualsRebuilt(a, *store_, queues_, clock_.Now(),
                                     "step " + std::to_string(step));
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(a.rebuilds(), 1) << "incremental rounds rebuilt the scheduler";
}

TEST_F(AdmissionTest, AReplicaTakingTheLeaseOverSeesTheOthersAdmissions) {
  std::vector<std::string> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(Submit("team-a"));
  Admission first = Make("server-a");
  EXPECT_EQ(Claim(first), (std::vector<std::string>{runs[0], runs[1]}));
  ASSERT_TRUE(store_->MarkRunning(AttemptId(runs[0], 1), clock_.Now()).ok());
  // server-a goes quiet past its lease: server-b takes the admission lease and server-a's
  // launching claim, and admits nothing over the quota.
  clock_.Advance(kLease + kMicrosPerSecond);
  Admission second = Make("server-b");
  EXPECT_EQ(Claim(second), (std::vector<std::string>{runs[1]}));
  testing::ExpectKeptEqualsRebuilt(second, *store_, queues_, clock_.Now(), "take-over");
  Succeed(runs[0]);
  EXPECT_EQ(Claim(second), (std::vector<std::string>{runs[2]}));
  testing::ExpectKeptEqualsRebuilt(second, *store_, queues_, clock_.Now(), "after a run ended");
  EXPECT_EQ(second.rebuilds(), 1);
  // server-a comes back once server-b is gone: its old scheduler is dropped, not trusted.
  second.Release();
  EXPECT_TRUE(Claim(first).empty()) << "server-a admitted over the quota with a stale scheduler";
  testing::ExpectKeptEqualsRebuilt(first, *store_, queues_, clock_.Now(), "server-a back");
  EXPECT_EQ(first.rebuilds(), 2);
  Succeed(runs[2]);
  EXPECT_EQ(Claim(first), (std::vector<std::string>{runs[3]}));
  EXPECT_EQ(first.rebuilds(), 2);
}

}  // namespace
}  // namespace tug::control
