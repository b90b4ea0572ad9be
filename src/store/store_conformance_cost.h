#pragma once
/// The Store conformance suite, part 8: cost per run — the price stored on an attempt when it
/// ends, its run's sums (all attempts, and the failed or lost ones: "retries cost $X"), and runs
/// listed most expensive first in keyset pages. Include it after store_conformance.h in a
/// backend's test.
#include "store/rules.h"
#include "store/store_conformance.h"

namespace tug::store::conformance {

/// An end of `status` priced at `usd` (unset: not priced).
inline AttemptEnd CostEnd(AttemptStatus status, std::optional<double> usd) {
  AttemptEnd e;
  e.status = status;
  e.outcome.reason = status == AttemptStatus::kSucceeded ? "Completed" : "Error";
  e.outcome.exit_code = status == AttemptStatus::kSucceeded ? 0 : 1;
  e.ended_at = kT0 + 100 * kSec;
  e.cost_usd = usd;
  if (usd) e.cost_basis = "requested 0.5 cpu / 512Mi at flat rates; 99 s";
  return e;
}

/// Creates a run of `definition` and takes its first attempt to RUNNING. It is due long before
/// kT0, so it is claimed ahead of any other queued attempt.
inline Run RunningRun(Store& store, const std::string& definition) {
  NewRun n = MakeRun(definition, kT0 - 1000 * kSec);
  EXPECT_TRUE(Ok(store.CreateRun(n.run, n.first)));
  auto claimed = store.ClaimAttempt("server-a", kT0, kLease);
  EXPECT_TRUE(Ok(claimed));
  EXPECT_TRUE(claimed.ok() && claimed->has_value() && (*claimed)->id == n.first.id);
  EXPECT_TRUE(Ok(store.MarkRunning(n.first.id, kT0 + kSec)));
  n.run.attempts = {n.first};
  return n.run;
}

TEST_P(StoreConformanceTest, CostEndStoresTheAttemptsCostAndTheRunsSums) {
  // A failed attempt with a planned retry, then the retry succeeds.
  Run r = RunningRun(*store_, "priced");
  AttemptEnd failed = CostEnd(AttemptStatus::kFailed, 0.25);
  failed.failure_class = "app_error";
  Attempt next;
  next.id = AttemptId(r.id, 2);
  next.run_id = r.id;
  next.number = 2;
  next.status = AttemptStatus::kQueued;
  next.engine = "local";
  next.created_at = kT0 + 100 * kSec;
  next.due_at = kT0 + 100 * kSec;
  failed.next = next;
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, failed)));
  ClaimExpect("server-a", kT0 + 200 * kSec, next.id);
  ASSERT_TRUE(Ok(store_->MarkRunning(next.id, kT0 + 201 * kSec)));
  ASSERT_TRUE(Ok(store_->EndAttempt(next.id, CostEnd(AttemptStatus::kSucceeded, 0.0000012))));

  auto got = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(got));
  ASSERT_EQ(got->attempts.size(), 2u);
  ASSERT_TRUE(got->attempts[0].cost_usd.has_value());
  EXPECT_DOUBLE_EQ(*got->attempts[0].cost_usd, 0.25);
  EXPECT_EQ(got->attempts[0].cost_basis, "requested 0.5 cpu / 512Mi at flat rates; 99 s");
  ASSERT_TRUE(got->attempts[1].cost_usd.has_value());
  EXPECT_DOUBLE_EQ(*got->attempts[1].cost_usd, 0.0000012);  // kept to the nano-dollar
  EXPECT_DOUBLE_EQ(got->cost_usd, 0.2500012);
  EXPECT_DOUBLE_EQ(got->retries_cost_usd, 0.25);
  EXPECT_EQ(*store_->GetAttempt(next.id), got->attempts[1]);

  RunFilter f;
  f.definition = "priced";
  auto page = store_->ListRuns(f);
  ASSERT_TRUE(Ok(page));
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_DOUBLE_EQ(page->runs[0].cost_usd, 0.2500012);
  EXPECT_DOUBLE_EQ(page->runs[0].retries_cost_usd, 0.25);
}

TEST_P(StoreConformanceTest, CostEndsWithoutRetryAddUpAndUnpricedEndsAddNothing) {
  // The common ends (no retry, no events of the caller): PostgreSQL's one-statement path.
  Run ok = RunningRun(*store_, "priced-fast");
  ASSERT_TRUE(Ok(store_->EndAttempt(ok.attempts[0].id, CostEnd(AttemptStatus::kSucceeded, 1.5))));
  Run lost = RunningRun(*store_, "priced-fast");
  ASSERT_TRUE(Ok(store_->EndAttempt(lost.attempts[0].id, CostEnd(AttemptStatus::kLost, 0.75))));
  Run unpriced = RunningRun(*store_, "priced-fast");
  ASSERT_TRUE(Ok(
      store_->EndAttempt(unpriced.attempts[0].id, CostEnd(AttemptStatus::kFailed, std::nullopt))));

  auto a = store_->GetRun(ok.id);
  ASSERT_TRUE(Ok(a));
  EXPECT_DOUBLE_EQ(a->cost_usd, 1.5);
  EXPECT_DOUBLE_EQ(a->retries_cost_usd, 0);
  EXPECT_DOUBLE_EQ(*a->attempts[0].cost_usd, 1.5);
  auto b = store_->GetRun(lost.id);
  ASSERT_TRUE(Ok(b));
  EXPECT_DOUBLE_EQ(b->cost_usd, 0.75);
  EXPECT_DOUBLE_EQ(b->retries_cost_usd, 0.75);  // a lost attempt is a retry's cost
  auto c = store_->GetRun(unpriced.id);
  ASSERT_TRUE(Ok(c));
  EXPECT_FALSE(c->attempts[0].cost_usd.has_value());
  EXPECT_EQ(c->attempts[0].cost_basis, "");
  EXPECT_DOUBLE_EQ(c->cost_usd, 0);
  // A second end is refused and adds nothing.
  EXPECT_TRUE(Fails(store_->EndAttempt(ok.attempts[0].id, CostEnd(AttemptStatus::kSucceeded, 9)),
                    Code::kFailedPrecondition));
  EXPECT_DOUBLE_EQ(store_->GetRun(ok.id)->cost_usd, 1.5);
}

TEST_P(StoreConformanceTest, CostListRunsByCostPagesMostExpensiveFirst) {
  using Ids = std::vector<std::string>;
  Run cheap_old = RunningRun(*store_, "by-cost");
  ASSERT_TRUE(
      Ok(store_->EndAttempt(cheap_old.attempts[0].id, CostEnd(AttemptStatus::kSucceeded, 0.5))));
  Run dear = RunningRun(*store_, "by-cost");
  ASSERT_TRUE(Ok(store_->EndAttempt(dear.attempts[0].id, CostEnd(AttemptStatus::kFailed, 2))));
  Run cheap_new = RunningRun(*store_, "by-cost");
  ASSERT_TRUE(
      Ok(store_->EndAttempt(cheap_new.attempts[0].id, CostEnd(AttemptStatus::kSucceeded, 0.5))));
  Run mid = RunningRun(*store_, "by-cost");
  ASSERT_TRUE(Ok(store_->EndAttempt(mid.attempts[0].id, CostEnd(AttemptStatus::kSucceeded, 1))));
  Run active = RunningRun(*store_, "by-cost");  // nothing stored yet: last

  RunFilter f;
  f.definition = "by-cost";
  f.sort = RunFilter::Sort::kCost;
  EXPECT_EQ(ListIds(f), (Ids{dear.id, mid.id, cheap_new.id, cheap_old.id, active.id}));
  // Pages of two: the keyset (cost, id) neither repeats nor skips runs of equal cost.
  f.limit = 2;
  Ids paged;
  for (int i = 0; i < 5; ++i) {
    auto page = store_->ListRuns(f);
    ASSERT_TRUE(Ok(page));
    for (const auto& r : page->runs) paged.push_back(r.id);
    if (page->next_cursor.empty()) break;
    f.cursor = page->next_cursor;
  }
  EXPECT_EQ(paged, (Ids{dear.id, mid.id, cheap_new.id, cheap_old.id, active.id}));
  // A cursor belongs to its sort.
  f.limit = 2;
  f.cursor.clear();
  auto first = store_->ListRuns(f);
  ASSERT_TRUE(Ok(first));
  RunFilter newest;
  newest.definition = "by-cost";
  newest.cursor = first->next_cursor;
  EXPECT_TRUE(Fails(store_->ListRuns(newest), Code::kInvalidArgument));
  f.cursor = "c1.12x.00";
  EXPECT_TRUE(Fails(store_->ListRuns(f), Code::kInvalidArgument));
}

}  // namespace tug::store::conformance
