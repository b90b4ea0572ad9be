#pragma once
/// The Store conformance suite, part 5: what the web UI reads — runs listed by owner and creation
/// time, and attempts' resource usage downsampled over time. Include it after
/// store_conformance.h in a backend's test.
#include "core/ids.h"
#include "store/rules.h"
#include "store/store_conformance.h"

namespace tug::store::conformance {

/// A reading of `r`'s first attempt, started 5 minutes before kT0.
inline UsageSample UsageOf(const Run& r, Micros at, int64_t memory, int64_t cpu,
                           const std::string& component = "main") {
  UsageSample s;
  s.run_id = r.id;
  s.attempt_id = r.attempts[0].id;
  s.at = at;
  s.started_at = kT0 - 300 * kSec;  // 5 minutes old: 5-second buckets
  s.reading.component = component;
  s.reading.memory_bytes = memory;
  s.reading.cpu_millis = cpu;
  s.reading.memory_limit_bytes = int64_t{256} << 20;
  s.reading.cpu_limit_millis = 500;
  return s;
}

TEST_P(StoreConformanceTest, ListRunsFiltersByOwnerAndCreationTime) {
  // Ids carry their creation time. NewId never goes back in time within a process, so the test
  // creates its runs in the future of every id made so far, this test's earlier runs included
  // (it runs once per backend instance in one process).
  static int64_t round = 0;
  const Micros base =
      (SystemClock::Instance().Now() / kMicrosPerMilli + (10 + 3 * round++) * 86'400'000LL) *
      kMicrosPerMilli;
  const Micros hour = 3600 * kSec;
  ManualClock clock(base);
  auto make = [&](const std::string& owner, Micros at) {
    clock.Set(at);
    NewRun n = MakeRun("timed");
    n.run.id = NewId(clock);
    n.run.owner = owner;
    n.first.id = AttemptId(n.run.id, 1);
    n.first.run_id = n.run.id;
    EXPECT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
    return n.run.id;
  };
  const std::string r1 = make("alice", base);
  const std::string r2 = make("bob", base + hour);
  const std::string r3 = make("alice", base + 2 * hour);

  using Ids = std::vector<std::string>;
  RunFilter alice;
  alice.owner = "alice";
  EXPECT_EQ(ListIds(alice), (Ids{r3, r1}));
  auto page = store_->ListRuns(alice);
  ASSERT_TRUE(Ok(page));
  ASSERT_FALSE(page->runs.empty());
  EXPECT_EQ(page->runs[0].owner, "alice");
  EXPECT_EQ(page->runs[0].attempt_count, 1);
  EXPECT_EQ(page->runs[0].last_failure_class, "");

  RunFilter after;
  after.created_after = base + hour;  // at or after
  EXPECT_EQ(ListIds(after), (Ids{r3, r2}));
  RunFilter before;
  before.created_before = base + hour;  // strictly before
  before.definition = "timed";
  EXPECT_EQ(ListIds(before), (Ids{r1}));
  RunFilter window;
  window.created_after = base + hour / 2;
  window.created_before = base + 3 * hour / 2;
  EXPECT_EQ(ListIds(window), (Ids{r2}));
  RunFilter alice_late;
  alice_late.owner = "alice";
  alice_late.created_after = base + hour / 2;
  EXPECT_EQ(ListIds(alice_late), (Ids{r3}));
  RunFilter nobody;
  nobody.owner = "carol";
  EXPECT_TRUE(ListIds(nobody).empty());

  // Pages of a time window: the cursor and the window's end both bound the ids.
  RunFilter paged;
  paged.created_before = base + 3 * hour;
  paged.definition = "timed";
  paged.limit = 1;
  Ids walked;
  for (int pages = 0; pages < 10; ++pages) {
    auto p = store_->ListRuns(paged);
    ASSERT_TRUE(Ok(p));
    for (const auto& r : p->runs) walked.push_back(r.id);
    if (p->next_cursor.empty()) break;
    paged.cursor = p->next_cursor;
  }
  EXPECT_EQ(walked, (Ids{r3, r2, r1}));
}

TEST_P(StoreConformanceTest, ListRunsFiltersByAnyOfSeveralStatuses) {
  // The Flotilla v6 API's status filters (src/flotilla): STOPPED is any ended status, and a
  // request may name several.
  Run queued = Submit("multi");
  Run stopped = Submit("multi");
  Run running = SubmitRunning();
  ASSERT_TRUE(Ok(store_->RequestStop(stopped.id, kT0 + kSec)));

  using Ids = std::vector<std::string>;
  RunFilter ended;
  ended.statuses = {RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kStopped,
                    RunStatus::kLost};
  EXPECT_EQ(ListIds(ended), (Ids{stopped.id}));
  RunFilter active;
  active.statuses = {RunStatus::kQueued, RunStatus::kRunning};
  EXPECT_EQ(ListIds(active), (Ids{running.id, queued.id}));
  RunFilter both;  // with `status` too: both apply
  both.statuses = {RunStatus::kQueued, RunStatus::kRunning};
  both.status = RunStatus::kQueued;
  both.definition = "multi";
  EXPECT_EQ(ListIds(both), (Ids{queued.id}));
  RunFilter paged;  // the cursor follows the filtered order
  paged.statuses = {RunStatus::kQueued, RunStatus::kStopped, RunStatus::kRunning};
  paged.limit = 2;
  auto first = store_->ListRuns(paged);
  ASSERT_TRUE(Ok(first));
  ASSERT_EQ(first->runs.size(), 2u);
  ASSERT_FALSE(first->next_cursor.empty());
  paged.cursor = first->next_cursor;
  EXPECT_EQ(ListIds(paged), (Ids{queued.id}));
}

TEST_P(StoreConformanceTest, ListRunsSummarizesAttempts) {
  Run r = SubmitRunning();
  AttemptEnd oom;
  oom.status = AttemptStatus::kFailed;
  oom.outcome.exit_code = 137;
  oom.outcome.reason = "OOMKilled";
  oom.ended_at = kT0 + 2 * kSec;
  oom.failure_class = "oom";
  Attempt next;
  next.id = AttemptId(r.id, 2);
  next.run_id = r.id;
  next.number = 2;
  next.status = AttemptStatus::kQueued;
  next.created_at = kT0 + 2 * kSec;
  next.due_at = kT0 + 2 * kSec;
  oom.next = next;
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, oom)));
  RunFilter mine;
  mine.definition = r.definition;
  auto page = store_->ListRuns(mine);
  ASSERT_TRUE(Ok(page));
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].attempt_count, 2);
  EXPECT_EQ(page->runs[0].last_failure_class, "oom") << "what the run is recovering from";

  ClaimExpect("server-a", kT0 + 3 * kSec, next.id);
  ASSERT_TRUE(Ok(store_->MarkRunning(next.id, kT0 + 4 * kSec)));
  AttemptEnd user;
  user.status = AttemptStatus::kFailed;
  user.outcome.exit_code = 1;
  user.ended_at = kT0 + 5 * kSec;
  user.failure_class = "user_code";
  ASSERT_TRUE(Ok(store_->EndAttempt(next.id, user)));
  page = store_->ListRuns(mine);
  ASSERT_TRUE(Ok(page));
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].status, RunStatus::kFailed);
  EXPECT_EQ(page->runs[0].attempt_count, 2);
  EXPECT_EQ(page->runs[0].last_failure_class, "user_code");
}

TEST_P(StoreConformanceTest, UsageIsBucketedWithPeakMemoryAndMeanCpu) {
  Run r = SubmitRunning();
  // Three readings in the first 5-second bucket, one in the next.
  ASSERT_TRUE(Ok(store_->AppendUsage(
      {UsageOf(r, kT0 + 1 * kSec, 100, 200), UsageOf(r, kT0 + 2 * kSec, 300, 400)})));
  ASSERT_TRUE(Ok(store_->AppendUsage({UsageOf(r, kT0 + 3 * kSec, 200, 600)})));
  ASSERT_TRUE(Ok(store_->AppendUsage({UsageOf(r, kT0 + 6 * kSec, 50, 100)})));
  auto points = store_->ListUsage(r.id);
  ASSERT_TRUE(Ok(points));
  ASSERT_EQ(points->size(), 2u);
  const UsagePoint& first = (*points)[0];
  EXPECT_EQ(first.attempt_id, r.attempts[0].id);
  EXPECT_EQ(first.component, "main");
  EXPECT_EQ(first.at, kT0);  // kT0 is a multiple of 5 s
  EXPECT_EQ(first.width, 5 * kSec);
  EXPECT_EQ(first.memory_bytes, 300);  // the peak
  EXPECT_EQ(first.cpu_millis, 400);    // the mean of 200, 400, 600
  EXPECT_EQ(first.samples, 3);
  EXPECT_EQ(first.memory_limit_bytes, int64_t{256} << 20);
  EXPECT_EQ(first.cpu_limit_millis, 500);
  EXPECT_EQ((*points)[1].at, kT0 + 5 * kSec);
  EXPECT_EQ((*points)[1].memory_bytes, 50);
  EXPECT_TRUE(Ok(store_->ListUsage("no-such-run")));
  EXPECT_TRUE(store_->ListUsage("no-such-run")->empty());
}

TEST_P(StoreConformanceTest, UsageOfOldReadingsIsCoarser) {
  Run r = SubmitRunning();
  std::vector<UsageSample> day;
  // One reading every 5 s for 4 hours, as an engine sends them.
  for (Micros t = kT0; t < kT0 + 4 * 3600 * kSec; t += 5 * kSec) {
    day.push_back(UsageOf(r, t, (t - kT0) / kSec, 100));
    day.back().started_at = kT0;
  }
  ASSERT_TRUE(Ok(store_->AppendUsage(day)));
  auto points = store_->ListUsage(r.id);
  ASSERT_TRUE(Ok(points));
  // 2 min at 1 s (one reading each), 8 min at 5 s, 110 min at 1 min, 120 min at 5 min.
  EXPECT_EQ(points->size(), 24u + 96u + 110u + 24u);
  EXPECT_EQ(points->front().width, kSec);
  for (size_t i = 1; i < points->size(); ++i) {
    EXPECT_LT((*points)[i - 1].at, (*points)[i].at) << "not in time order at " << i;
  }
  EXPECT_EQ(points->back().width, 5 * 60 * kSec);
  EXPECT_EQ(points->back().samples, 60);
  EXPECT_EQ(points->back().cpu_millis, 100);
  EXPECT_EQ(points->back().memory_bytes, 4 * 3600 - 5);  // the bucket's highest reading
}

TEST_P(StoreConformanceTest, UsageComponentsAndPurge) {
  Run r = SubmitRunning();
  ASSERT_TRUE(Ok(store_->AppendUsage(
      {UsageOf(r, kT0, 10, 1, "driver"), UsageOf(r, kT0, 20, 2, "executor-1")})));
  auto points = store_->ListUsage(r.id);
  ASSERT_TRUE(Ok(points));
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].component, "driver");
  EXPECT_EQ((*points)[1].component, "executor-1");

  AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome.exit_code = 0;
  end.ended_at = kT0 + 10 * kSec;
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
  auto purged = store_->PurgeRuns(kT0 + 3600 * kSec, 100);
  ASSERT_TRUE(Ok(purged));
  ASSERT_EQ(purged->size(), 1u);
  EXPECT_TRUE(store_->ListUsage(r.id)->empty()) << "purge left the run's usage behind";
}

TEST_P(StoreConformanceTest, UsageRejectsBadSamplesAndWritesNothing) {
  Run r = SubmitRunning();
  UsageSample good = UsageOf(r, kT0, 1, 1);
  UsageSample no_component = good;
  no_component.reading.component.clear();
  UsageSample no_time = good;
  no_time.at = 0;
  UsageSample negative = good;
  negative.reading.memory_bytes = -1;
  for (const UsageSample& bad : {no_component, no_time, negative}) {
    EXPECT_TRUE(Fails(store_->AppendUsage({good, bad}), Code::kInvalidArgument));
  }
  EXPECT_TRUE(store_->ListUsage(r.id)->empty());
  EXPECT_TRUE(Ok(store_->AppendUsage({})));
}

}  // namespace tug::store::conformance
