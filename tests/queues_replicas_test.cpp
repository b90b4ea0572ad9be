// Admission through team queues on PostgreSQL with two replicas (two PostgresStore handles, two
// connection pools, one database): the schedulers they keep between rounds follow the store
// across lease hand-overs, every run is admitted exactly once, and a queue's quota holds.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "control/admission.h"
#include "control/admission_testing.h"
#include "core/clock.h"
#include "core/ids.h"
#include "store/postgres/pg_test_server.h"
#include "store/postgres/postgres_store.h"

namespace tug::control {
namespace {

constexpr Micros kSec = kMicrosPerSecond;
constexpr int64_t kQuotaMillis = 2000;

class QueuesReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = store::pgtest::PgServer::Start({.bin_dir = "", .fsync = false});
    ASSERT_TRUE(server.ok()) << server.error().ToString();
    server_ = std::move(*server);
    for (auto* s : {&a_, &b_}) {
      auto opened = store::PostgresStore::Open({.url = server_->Url()}, clock_);
      ASSERT_TRUE(opened.ok()) << opened.error().ToString();
      *s = std::move(*opened);
    }
    queue::QueueSpec q;
    q.name = "team-a";
    q.limits.quota.cpu_millis = kQuotaMillis;
    queue::QueueSpec b;
    b.name = "team-b";
    b.limits.max_running = 2;
    queues_ = {q, b};
  }

  std::string Submit(const std::string& queue) {
    store::NewRun n;
    n.run.id = NewId(clock_);
    n.run.owner = "ada";
    n.run.definition = "job";
    n.run.definition_version = 1;
    n.run.spec.name = "job";
    n.run.spec.command = "true";
    n.run.created_at = clock_.Now();
    n.run.updated_at = clock_.Now();
    n.run.queue = queue;
    n.first.id = AttemptId(n.run.id, 1);
    n.first.run_id = n.run.id;
    n.first.resources.cpu_millis = 1000;
    n.first.resources.memory_bytes = int64_t{64} << 20;
    n.first.engine = "local";
    n.first.created_at = clock_.Now();
    n.first.due_at = clock_.Now();
    EXPECT_TRUE(a_->CreateRun(n.run, n.first).ok());
    clock_.Advance(1000);
    return n.run.id;
  }

  ManualClock clock_{1'700'000'000 * kSec};
  std::unique_ptr<store::pgtest::PgServer> server_;
  std::unique_ptr<store::PostgresStore> a_, b_;
  std::vector<queue::QueueSpec> queues_;
};

TEST_F(QueuesReplicasTest, TwoReplicasAdmitEachRunOnceWithinTheQuotaAcrossHandOvers) {
  constexpr int kRuns = 24;
  std::vector<std::string> runs;
  for (int i = 0; i < kRuns; ++i) runs.push_back(Submit(i % 2 == 0 ? "team-a" : "team-b"));
  std::atomic<bool> exceeded{false};
  std::atomic<int> ended{0};
  auto loop = [&](store::Store& store, const std::string& owner) {
    Admission adm(queues_, {}, store, owner, 2 * kSec, clock_);
    for (int round = 0; round < 1500 && ended.load() < kRuns; ++round) {
      clock_.Advance(kSec / 3);  // leases run out and change hands
      (void)adm.Round(4);
      auto live = store.ListActiveAttempts();
      if (!live.ok()) continue;
      std::map<std::string, int64_t> cpu;
      std::map<std::string, int> count;
      for (const Attempt& at : *live) {
        auto run = store.GetRun(at.run_id);
        if (!run.ok()) continue;
        cpu[run->queue] += at.resources.cpu_millis;
        ++count[run->queue];
      }
      if (cpu["team-a"] > kQuotaMillis || count["team-b"] > 2) exceeded = true;
      if (!live->empty() && round % 2 == 0) {
        store::AttemptEnd end;
        end.status = AttemptStatus::kSucceeded;
        end.outcome = Outcome{0, std::string(reason::kCompleted), ""};
        end.ended_at = clock_.Now();
        if (store.EndAttempt((*live)[0].id, end).ok()) ++ended;
      }
    }
  };
  std::thread t1(loop, std::ref(*a_), "server-a");
  std::thread t2(loop, std::ref(*b_), "server-b");
  t1.join();
  t2.join();
  EXPECT_FALSE(exceeded.load()) << "more than a queue's limit ran at once";
  EXPECT_EQ(ended.load(), kRuns);
  // Exactly once: one "claimed" event per run that is not a take-over.
  for (const std::string& id : runs) {
    auto events = a_->ListEvents(id, 0, 100);
    ASSERT_TRUE(events.ok());
    int claims = 0;
    for (const Event& e : *events) {
      if (e.type == "claimed" && e.message.find("took over") == std::string::npos) ++claims;
    }
    EXPECT_EQ(claims, 1) << "run " << id << " was admitted " << claims << " times";
  }
}

TEST_F(QueuesReplicasTest, TheReplicaTakingTheLeaseOverKeepsAStateEqualToTheStore) {
  const AdmissionTuning tuning{.rebuild_interval = 3600 * kSec, .gap_grace = kSec};
  Admission first(queues_, {}, *a_, "server-a", 30 * kSec, clock_, nullptr, tuning);
  Admission second(queues_, {}, *b_, "server-b", 30 * kSec, clock_, nullptr, tuning);
  std::vector<std::string> runs;
  for (int i = 0; i < 6; ++i) runs.push_back(Submit(i < 3 ? "team-a" : "team-b"));
  auto claimed = first.Round(8);
  ASSERT_TRUE(claimed.ok()) << claimed.error().ToString();
  EXPECT_EQ(claimed->size(), 4u);  // two of team-a (2 CPUs), two of team-b (max_running 2)
  testing::ExpectKeptEqualsRebuilt(first, *a_, queues_, clock_.Now(), "first admits");
  auto none = second.Round(8);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "a replica without the lease admitted";
  // New runs and an ended one reach the holder through events, not a rebuild.
  for (const Attempt& at : *claimed) ASSERT_TRUE(a_->MarkRunning(at.id, clock_.Now()).ok());
  runs.push_back(Submit("team-b"));
  store::AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome = Outcome{0, std::string(reason::kCompleted), ""};
  end.ended_at = clock_.Now();
  ASSERT_TRUE(b_->EndAttempt((*claimed)[0].id, end).ok());  // written through the other pool
  auto more = first.Round(8);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->size(), 1u);
  testing::ExpectKeptEqualsRebuilt(first, *a_, queues_, clock_.Now(), "incremental");
  EXPECT_EQ(first.rebuilds(), 1);
  // The holder leaves; the other replica takes over from the store and admits within limits.
  first.Release();
  auto after = second.Round(8);
  ASSERT_TRUE(after.ok());
  testing::ExpectKeptEqualsRebuilt(second, *b_, queues_, clock_.Now(), "take-over");
  int64_t cpu = 0;
  auto live = b_->ListActiveAttempts();
  ASSERT_TRUE(live.ok());
  for (const Attempt& at : *live) {
    if (b_->GetRun(at.run_id)->queue == "team-a") cpu += at.resources.cpu_millis;
  }
  EXPECT_LE(cpu, kQuotaMillis);
  EXPECT_EQ(second.rebuilds(), 1);
}

}  // namespace
}  // namespace tug::control
