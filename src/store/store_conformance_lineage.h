#pragma once
/// The Store conformance suite, issue 26 part: idempotency keys (unique per owner, enforced by
/// the database so concurrent duplicates on two replicas create one run), a run's parent and
/// listing by parent, and GPU counts on specs and attempts. Its fixture takes a factory of two
/// store handles on one fresh database (two replicas), so it is instantiated on its own:
///
///   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreLineageConformanceTest,
///                            ::testing::Values(ReplicasFactory([] { return TwoHandles(); })));
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "store/rules.h"
#include "store/store.h"
#include "store/store_conformance.h"

namespace tug::store {

using StorePair = std::pair<std::unique_ptr<Store>, std::unique_ptr<Store>>;

inline void PrintTo(const std::function<StorePair()>& /*factory*/, std::ostream* os) {
  *os << "two-store factory";
}

}  // namespace tug::store

namespace tug::store::conformance {

/// Two handles (replicas) on one fresh, empty database.
using ReplicasFactory = std::function<StorePair()>;

class StoreLineageConformanceTest : public ::testing::TestWithParam<ReplicasFactory> {
 protected:
  using Run = ::tug::Run;

  void SetUp() override {
    auto stores = GetParam()();
    a_ = std::move(stores.first);
    b_ = std::move(stores.second);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
  }

  /// A run of owner "ada" with idempotency key `key` (hash `hash`) live until `expires_at`.
  static NewRun KeyedRun(const std::string& key, const std::string& hash, Micros created_at,
                         Micros expires_at) {
    NewRun n = MakeRun("hello", created_at);
    n.run.created_at = created_at;
    n.first.created_at = created_at;
    n.idempotency = IdempotencyKey{key, hash, expires_at};
    return n;
  }

  std::unique_ptr<Store> a_;
  std::unique_ptr<Store> b_;
};

inline ::testing::AssertionResult KeyTaken(const Status& st) {
  if (st.ok()) return ::testing::AssertionFailure() << "succeeded, expected a taken key";
  if (IsIdempotencyKeyTaken(st.error())) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "wrong error: " << st.error().ToString();
}

TEST_P(StoreLineageConformanceTest, ParentAndGpuRoundTripAndListByParent) {
  NewRun parent = MakeRun();
  parent.run.spec.resources.gpu = 2;
  parent.first.resources.gpu = 2;
  ASSERT_TRUE(Ok(a_->CreateRun(parent.run, parent.first)));
  std::vector<std::string> children;
  for (int i = 0; i < 3; ++i) {
    NewRun c = MakeRun();
    c.run.parent_run_id = parent.run.id;
    ASSERT_TRUE(Ok(a_->CreateRun(c.run, c.first)));
    children.insert(children.begin(), c.run.id);  // listed newest first
  }
  NewRun other = MakeRun();
  ASSERT_TRUE(Ok(a_->CreateRun(other.run, other.first)));

  auto got = b_->GetRun(parent.run.id);
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(got->spec.resources.gpu, 2);
  ASSERT_EQ(got->attempts.size(), 1u);
  EXPECT_EQ(got->attempts[0].resources.gpu, 2);
  EXPECT_EQ(got->parent_run_id, "");
  auto child = b_->GetRun(children.front());
  ASSERT_TRUE(Ok(child));
  EXPECT_EQ(child->parent_run_id, parent.run.id);

  RunFilter f;
  f.parent = parent.run.id;
  auto page = b_->ListRuns(f);
  ASSERT_TRUE(Ok(page));
  std::vector<std::string> listed;
  for (const Run& r : page->runs) {
    listed.push_back(r.id);
    EXPECT_EQ(r.parent_run_id, parent.run.id);
    EXPECT_EQ(r.attempt_count, 1);  // the summary columns come after the run's
    EXPECT_EQ(r.last_failure_class, "");
  }
  EXPECT_EQ(listed, children);
  f.parent = other.run.id;
  EXPECT_TRUE(b_->ListRuns(f)->runs.empty());
}

TEST_P(StoreLineageConformanceTest, AKeyCreatesOneRunPerOwner) {
  const Micros expires = kT0 + 7 * 86400 * kSec;
  NewRun first = KeyedRun("k1", "hash-1", kT0, expires);
  ASSERT_TRUE(Ok(a_->CreateRuns({first}).front()));
  // Same owner and key: nothing of the second run is written.
  NewRun again = KeyedRun("k1", "hash-2", kT0 + kSec, expires + kSec);
  EXPECT_TRUE(KeyTaken(a_->CreateRuns({again}).front()));
  EXPECT_TRUE(Fails(a_->GetRun(again.run.id), Code::kNotFound));
  EXPECT_TRUE(Fails(a_->GetAttempt(again.first.id), Code::kNotFound));
  auto found = b_->FindIdempotencyKey("ada", "k1", kT0 + kSec);
  ASSERT_TRUE(Ok(found));
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, (IdempotencyRecord{"ada", "k1", first.run.id, "hash-1", kT0, expires}));
  // Another owner's key of the same text is another key.
  NewRun grace = KeyedRun("k1", "hash-1", kT0, expires);
  grace.run.owner = "grace";
  EXPECT_TRUE(Ok(a_->CreateRuns({grace}).front()));
  EXPECT_TRUE(Ok(a_->GetRun(grace.run.id)));
  EXPECT_FALSE(b_->FindIdempotencyKey("ada", "k2", kT0)->has_value());
}

TEST_P(StoreLineageConformanceTest, DuplicateKeysInOneBatchCreateTheFirst) {
  const Micros expires = kT0 + 3600 * kSec;
  NewRun one = KeyedRun("batch", "h", kT0, expires);
  NewRun two = KeyedRun("batch", "h", kT0, expires);
  NewRun plain = MakeRun();
  auto results = a_->CreateRuns({one, two, plain});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(Ok(results[0]));
  EXPECT_TRUE(KeyTaken(results[1]));
  EXPECT_TRUE(Ok(results[2]));
  EXPECT_TRUE(Fails(a_->GetRun(two.run.id), Code::kNotFound));
  EXPECT_EQ((*a_->FindIdempotencyKey("ada", "batch", kT0))->run_id, one.run.id);
}

TEST_P(StoreLineageConformanceTest, AnExpiredKeyIsTakenOverAndPurged) {
  NewRun old = KeyedRun("k", "old", kT0, kT0 + 10 * kSec);
  ASSERT_TRUE(Ok(a_->CreateRuns({old}).front()));
  EXPECT_TRUE(a_->FindIdempotencyKey("ada", "k", kT0 + 9 * kSec)->has_value());
  EXPECT_FALSE(a_->FindIdempotencyKey("ada", "k", kT0 + 10 * kSec)->has_value());
  NewRun fresh = KeyedRun("k", "new", kT0 + 20 * kSec, kT0 + 100 * kSec);
  ASSERT_TRUE(Ok(b_->CreateRuns({fresh}).front()));
  auto found = a_->FindIdempotencyKey("ada", "k", kT0 + 20 * kSec);
  ASSERT_TRUE(Ok(found));
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->run_id, fresh.run.id);
  EXPECT_EQ((*found)->request_hash, "new");

  NewRun short_lived = KeyedRun("gone", "h", kT0, kT0 + 30 * kSec);
  ASSERT_TRUE(Ok(a_->CreateRuns({short_lived}).front()));
  EXPECT_TRUE(Fails(a_->PurgeIdempotencyKeys(kT0, 0), Code::kInvalidArgument));
  auto purged = a_->PurgeIdempotencyKeys(kT0 + 30 * kSec, 100);
  ASSERT_TRUE(Ok(purged));
  EXPECT_EQ(*purged, 1);  // "gone"; "k" lives until kT0 + 100 s
  EXPECT_TRUE(a_->FindIdempotencyKey("ada", "k", kT0 + 30 * kSec)->has_value());
  // Purging the run deletes its key with it, expired or not.
  ASSERT_TRUE(Ok(a_->RequestStop(fresh.run.id, kT0 + 40 * kSec)));
  ASSERT_TRUE(Ok(a_->PurgeRuns(kT0 + 50 * kSec, 100)));
  EXPECT_TRUE(Fails(a_->GetRun(fresh.run.id), Code::kNotFound));
  EXPECT_FALSE(a_->FindIdempotencyKey("ada", "k", kT0 + 30 * kSec)->has_value());
}

TEST_P(StoreLineageConformanceTest, ConcurrentDuplicatesOnTwoReplicasCreateOneRun) {
  constexpr int kThreads = 8;
  const Micros expires = kT0 + 3600 * kSec;
  std::vector<NewRun> runs;
  for (int i = 0; i < kThreads; ++i) runs.push_back(KeyedRun("race", "same-body", kT0, expires));
  std::vector<Status> results(kThreads, OkStatus());
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      Store& replica = i % 2 == 0 ? *a_ : *b_;
      results[i] = replica.CreateRuns({runs[i]}).front();
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  std::string winner;
  for (int i = 0; i < kThreads; ++i) {
    if (results[i].ok()) {
      ++created;
      winner = runs[i].run.id;
    } else {
      EXPECT_TRUE(KeyTaken(results[i]));
    }
  }
  EXPECT_EQ(created, 1);
  auto page = a_->ListRuns(RunFilter{});
  ASSERT_TRUE(Ok(page));
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].id, winner);
  EXPECT_EQ((*b_->FindIdempotencyKey("ada", "race", kT0))->run_id, winner);
}

}  // namespace tug::store::conformance
