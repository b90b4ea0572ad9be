// Group commit: concurrent writers share transactions, each body in its own savepoint.
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::store {
namespace {

constexpr Micros kT0 = 1'700'000'000 * kMicrosPerSecond;
constexpr Micros kSec = kMicrosPerSecond;
constexpr Micros kLease = 30 * kSec;

// A queued run of `echo hi` with its first attempt, due now.
NewRun MakeRun(const Clock& clock) {
  NewRun n;
  n.run.id = NewId(clock);
  n.run.definition = "hello";
  n.run.definition_version = 1;
  n.run.spec.name = "hello";
  n.run.spec.command = "echo hi";
  n.run.created_at = clock.Now();
  n.run.updated_at = n.run.created_at;
  n.first.id = AttemptId(n.run.id, 1);
  n.first.run_id = n.run.id;
  n.first.number = 1;
  n.first.engine = "local";
  n.first.created_at = n.run.created_at;
  n.first.due_at = n.run.created_at;
  return n;
}

// Concurrent submissions are committed in shared batches; a failing one (duplicate id) must not
// take the others down with it.
TEST(SqliteGroupCommitTest, ConcurrentCreatesCommitIndependently) {
  ManualClock clock;
  SqliteOptions o;
  o.path = ":memory:";
  auto opened = SqliteStore::Open(o, clock);
  ASSERT_TRUE(opened.ok());
  SqliteStore& store = **opened;
  auto make = [&](const std::string& id) {
    tug::Run r;
    r.id = id;
    r.definition = "d";
    r.definition_version = 1;
    r.spec.name = "d";
    r.spec.command = "true";
    r.created_at = clock.Now();
    Attempt a;
    a.id = AttemptId(id, 1);
    a.run_id = id;
    a.created_at = r.created_at;
    a.due_at = r.created_at;
    return std::make_pair(r, a);
  };
  auto dup = make(NewId(clock));
  ASSERT_TRUE(store.CreateRun(dup.first, dup.second).ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::atomic<int> ok{0};
  std::atomic<int> already{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto [r, a] = (t == 0 && i % 10 == 0) ? dup : make(NewId(clock));
        Status st = store.CreateRun(r, a);
        if (st.ok()) {
          ++ok;
        } else if (st.error().code() == Code::kAlreadyExists) {
          ++already;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(already.load(), kPerThread / 10);
  EXPECT_EQ(ok.load(), kThreads * kPerThread - kPerThread / 10);
  int64_t queued = 0;
  auto counts = store.CountRunsByStatus();
  ASSERT_TRUE(counts.ok());
  for (const auto& c : *counts) {
    if (c.status == RunStatus::kQueued) queued = c.count;
  }
  EXPECT_EQ(queued, ok.load() + 1);
  // Every created run has exactly its "submitted" event.
  RunFilter all;
  all.limit = 500;
  auto page = store.ListRuns(all);
  ASSERT_TRUE(page.ok());
  auto events = store.ListEvents(page->runs[0].id, 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 1u);
}

// Mixed writers (submit, claim, end) from many threads share commits; each attempt is still
// claimed once and ends once, and a failing body (ending an attempt twice) fails alone.
TEST(SqliteGroupCommitTest, MixedConcurrentWritersKeepEveryTransition) {
  char tmpl[] = "/tmp/tug-group-commit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ManualClock clock(kT0);
  SqliteOptions o;
  o.path = dir + "/tug.db";
  auto opened = SqliteStore::Open(o, clock);
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  SqliteStore& store = **opened;
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  std::atomic<int> ended{0};
  std::atomic<int> second_end_refused{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string owner = "server-" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        NewRun n = MakeRun(clock);
        if (!store.CreateRun(n.run, n.first).ok()) ++errors;
        auto claimed = store.ClaimAttempt(owner, kT0, kLease);
        if (!claimed.ok() || !claimed->has_value()) {
          ++errors;
          continue;
        }
        AttemptEnd end;
        end.status = AttemptStatus::kSucceeded;
        end.outcome = {0, "Completed", ""};
        end.ended_at = kT0 + kSec;
        if (store.EndAttempt((*claimed)->id, end).ok()) ++ended;
        Status again = store.EndAttempt((*claimed)->id, end);
        if (!again.ok() && again.error().code() == Code::kFailedPrecondition) ++second_end_refused;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(ended.load(), kThreads * kPerThread);
  EXPECT_EQ(second_end_refused.load(), kThreads * kPerThread);
  auto counts = store.CountRunsByStatus();
  ASSERT_TRUE(counts.ok());
  for (const auto& c : *counts) {
    EXPECT_EQ(c.count, c.status == RunStatus::kSucceeded ? kThreads * kPerThread : 0)
        << ToString(c.status);
  }
  // Every run has exactly submitted, claimed, ended: no event of a rolled-back body survived.
  RunFilter f;
  f.limit = 500;
  auto page = store.ListRuns(f);
  ASSERT_TRUE(page.ok());
  for (const auto& r : page->runs) {
    auto events = store.ListEvents(r.id, 0, 100);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 3u) << r.id;
  }
  auto stats = store.write_stats();
  EXPECT_EQ(stats.writes, kThreads * kPerThread * 4);
  EXPECT_LE(stats.transactions, stats.writes);
  std::printf("group commit: %lld writes in %lld transactions\n",
              static_cast<long long>(stats.writes), static_cast<long long>(stats.transactions));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace tug::store
