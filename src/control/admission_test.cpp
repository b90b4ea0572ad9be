// Admission through team queues against a real (SQLite) store: limits, reasons written when they
// change, a restart that rebuilds from the store, and two admitters that never exceed a quota.
#include "control/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

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
                     int64_t cpu_millis = 1000) {
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
    n.first.due_at = clock_.Now();
    EXPECT_TRUE(store_->CreateRun(n.run, n.first).ok());
    clock_.Advance(1000);  // FIFO by creation time
    return n.run.id;
  }

  Admission Make(const std::string& owner) {
    return Admission(queues_, {}, *store_, owner, kLease, clock_);
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

}  // namespace
}  // namespace tug::control
