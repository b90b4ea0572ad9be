#pragma once
/// The Store conformance suite, part 7: the reads — runs listed newest first with filters, pages
/// and cursors, the timeline of events paged by sequence number, and the counts the metrics and
/// the dispatcher read. Include it after store_conformance.h in a backend's test (it adds
/// TEST_Ps to the same StoreConformanceTest).
#include <set>
#include <string>
#include <vector>

#include "store/store_conformance.h"

namespace tug::store::conformance {

// --- listing runs ---

TEST_P(StoreConformanceTest, ListRunsNewestFirstWithFilters) {
  Run a1 = Submit("alpha");
  Run a2 = Submit("alpha");
  Run a3 = Submit("alpha");
  Run b1 = Submit("bravo");
  Run b2 = Submit("bravo");
  ASSERT_TRUE(Ok(store_->RequestStop(a2.id, kT0 + kSec)));
  ASSERT_TRUE(Ok(store_->RequestStop(b1.id, kT0 + kSec)));

  using Ids = std::vector<std::string>;
  RunFilter all;
  EXPECT_EQ(ListIds(all), (Ids{b2.id, b1.id, a3.id, a2.id, a1.id}));
  RunFilter queued;
  queued.status = RunStatus::kQueued;
  EXPECT_EQ(ListIds(queued), (Ids{b2.id, a3.id, a1.id}));
  RunFilter alpha;
  alpha.definition = "alpha";
  EXPECT_EQ(ListIds(alpha), (Ids{a3.id, a2.id, a1.id}));
  RunFilter stopped_alpha;
  stopped_alpha.status = RunStatus::kStopped;
  stopped_alpha.definition = "alpha";
  EXPECT_EQ(ListIds(stopped_alpha), (Ids{a2.id}));
  RunFilter none;
  none.definition = "charlie";
  EXPECT_TRUE(ListIds(none).empty());

  auto page = store_->ListRuns(alpha);
  ASSERT_TRUE(Ok(page));
  EXPECT_TRUE(page->next_cursor.empty());
  ASSERT_EQ(page->runs.size(), 3u);
  EXPECT_EQ(page->runs[0].spec, a3.spec);
  EXPECT_EQ(page->runs[1].status, RunStatus::kStopped);
  EXPECT_TRUE(page->runs[0].attempts.empty());
}

TEST_P(StoreConformanceTest, ListRunsPagesWalkEveryRunOnce) {
  std::vector<std::string> created;
  created.reserve(23);
  for (int i = 0; i < 23; ++i) created.push_back(Submit(i % 3 == 0 ? "alpha" : "bravo").id);
  std::vector<std::string> newest_first(created.rbegin(), created.rend());
  std::vector<std::string> bravo_newest_first;
  for (int i = 22; i >= 0; --i) {
    if (i % 3 != 0) bravo_newest_first.push_back(created[static_cast<size_t>(i)]);
  }
  struct Case {
    std::string definition;
    int limit;
  };
  for (const Case& c : {Case{"", 1}, Case{"", 4}, Case{"", 23}, Case{"", 24}, Case{"", 500},
                        Case{"bravo", 5}, Case{"bravo", 15}}) {
    SCOPED_TRACE("definition '" + c.definition + "', limit " + std::to_string(c.limit));
    RunFilter f;
    f.definition = c.definition;
    f.limit = c.limit;
    std::vector<std::string> walked;
    int pages = 0;
    while (true) {
      auto page = store_->ListRuns(f);
      ASSERT_TRUE(Ok(page));
      ASSERT_LE(static_cast<int>(page->runs.size()), c.limit);
      for (const auto& r : page->runs) walked.push_back(r.id);
      ++pages;
      ASSERT_LT(pages, 100) << "pagination does not end";
      if (page->next_cursor.empty()) break;
      ASSERT_EQ(static_cast<int>(page->runs.size()), c.limit) << "a short page with a cursor";
      f.cursor = page->next_cursor;
    }
    EXPECT_EQ(walked, c.definition.empty() ? newest_first : bravo_newest_first);
  }
}

TEST_P(StoreConformanceTest, ListRunsRejectsBadCursors) {
  for (int i = 0; i < 3; ++i) Submit();
  RunFilter first;
  first.limit = 1;
  auto page = store_->ListRuns(first);
  ASSERT_TRUE(Ok(page));
  ASSERT_FALSE(page->next_cursor.empty());
  const std::string good = page->next_cursor;
  for (const std::string& bad : {std::string("not-a-cursor"), std::string("%%%%"), good + "!",
                                 " " + good, std::string(4096, 'a')}) {
    SCOPED_TRACE("cursor '" + bad.substr(0, 40) + "'");
    RunFilter f;
    f.cursor = bad;
    auto r = store_->ListRuns(f);
    ASSERT_TRUE(Fails(r, Code::kInvalidArgument));
    EXPECT_NE(r.error().message().find("next_cursor"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("unchanged"), std::string::npos) << r.error().message();
  }
}

TEST_P(StoreConformanceTest, ListRunsLimitBounds) {
  Submit();
  for (int limit : {0, -1, 501, 100000}) {
    RunFilter f;
    f.limit = limit;
    EXPECT_TRUE(Fails(store_->ListRuns(f), Code::kInvalidArgument)) << "limit " << limit;
  }
  for (int limit : {1, 500}) {
    RunFilter f;
    f.limit = limit;
    auto page = store_->ListRuns(f);
    ASSERT_TRUE(Ok(page)) << "limit " << limit;
    EXPECT_EQ(page->runs.size(), 1u);
  }
}

// --- timeline ---

TEST_P(StoreConformanceTest, EventsComeInOrderAndPageByAfterSeq) {
  Run r1 = Submit();
  Run r2 = Submit();
  for (int i = 0; i < 5; ++i) {
    Event e;
    e.run_id = r1.id;
    e.attempt_id = r1.attempts[0].id;
    e.at = kT0 + i;
    e.type = "engine";
    e.message = "note " + std::to_string(i);
    ASSERT_TRUE(Ok(store_->AppendEvent(e)));
    e.run_id = r2.id;
    e.attempt_id = "";
    ASSERT_TRUE(Ok(store_->AppendEvent(e)));
  }
  auto all = Events(r1.id);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].type, "submitted");
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GT(all[i].seq, all[i - 1].seq);
    EXPECT_EQ(all[i].run_id, r1.id);
    EXPECT_EQ(all[i].message, "note " + std::to_string(i - 1));
    EXPECT_EQ(all[i].at, kT0 + static_cast<Micros>(i - 1));
  }
  std::vector<Event> walked;
  int64_t after = 0;
  while (true) {
    auto page = store_->ListEvents(r1.id, after, 4);
    ASSERT_TRUE(Ok(page));
    ASSERT_LE(page->size(), 4u);
    if (page->empty()) break;
    walked.insert(walked.end(), page->begin(), page->end());
    after = page->back().seq;
  }
  EXPECT_EQ(walked, all);
  EXPECT_EQ(Events(r2.id).size(), 6u);
  auto unknown = store_->ListEvents("01jzzzzzzzzzzzzzzzzzzzzzzz", 0, 10);
  ASSERT_TRUE(Ok(unknown));
  EXPECT_TRUE(unknown->empty());
  EXPECT_TRUE(Fails(store_->ListEvents(r1.id, 0, 0), Code::kInvalidArgument));

  Event orphan;
  orphan.run_id = "01jzzzzzzzzzzzzzzzzzzzzzzz";
  orphan.type = "engine";
  orphan.at = kT0;
  EXPECT_TRUE(Fails(store_->AppendEvent(orphan), Code::kNotFound));
}

// --- metrics ---

TEST_P(StoreConformanceTest, CountRunsByStatus) {
  Submit();
  Submit();
  Submit();
  SubmitRunning();
  Run stopped = Submit();
  ASSERT_TRUE(Ok(store_->RequestStop(stopped.id, kT0)));
  // Claim the next one (the oldest queued) and finish it.
  auto claimed = store_->ClaimAttempt("server-a", kT0, kLease);
  ASSERT_TRUE(Ok(claimed));
  ASSERT_TRUE(claimed->has_value());
  AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, "Completed", ""};
  end.ended_at = kT0 + kSec;
  ASSERT_TRUE(Ok(store_->EndAttempt((*claimed)->id, end)));

  auto counts = store_->CountRunsByStatus();
  ASSERT_TRUE(Ok(counts));
  std::map<RunStatus, int64_t> by_status;
  for (const auto& c : *counts) {
    EXPECT_EQ(by_status.count(c.status), 0u) << "status listed twice: " << ToString(c.status);
    by_status[c.status] = c.count;
  }
  EXPECT_EQ(by_status.size(), 7u) << "every status is listed, zeros included";
  EXPECT_EQ(by_status[RunStatus::kQueued], 2);
  EXPECT_EQ(by_status[RunStatus::kRunning], 1);
  EXPECT_EQ(by_status[RunStatus::kRetrying], 0);
  EXPECT_EQ(by_status[RunStatus::kSucceeded], 1);
  EXPECT_EQ(by_status[RunStatus::kStopped], 1);
  EXPECT_EQ(by_status[RunStatus::kFailed], 0);
  EXPECT_EQ(by_status[RunStatus::kLost], 0);
}

TEST_P(StoreConformanceTest, QueueDepthCountsDueQueuedAttempts) {
  EXPECT_EQ(*store_->QueueDepth(kT0), 0);
  Submit("hello", kT0);
  Submit("hello", kT0 - kSec);
  Submit("hello", kT0 + 60 * kSec);
  Run claimed = Submit("hello", kT0 - 2 * kSec);
  ClaimExpect("server-a", kT0, claimed.attempts[0].id);
  auto depth = store_->QueueDepth(kT0);
  ASSERT_TRUE(Ok(depth));
  EXPECT_EQ(*depth, 2);
  EXPECT_EQ(*store_->QueueDepth(kT0 + 60 * kSec), 3);
}

TEST_P(StoreConformanceTest, NextDueAtIsTheEarliestQueuedAttempt) {
  auto empty = store_->NextDueAt();
  ASSERT_TRUE(Ok(empty));
  EXPECT_FALSE(empty->has_value());
  Run soon = Submit("hello", kT0 + 5 * kSec);
  Submit("hello", kT0 + 9 * kSec);
  auto next = store_->NextDueAt();
  ASSERT_TRUE(Ok(next));
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ(**next, kT0 + 5 * kSec);
  ClaimExpect("server-a", kT0 + 5 * kSec, soon.attempts[0].id);
  EXPECT_EQ(**store_->NextDueAt(), kT0 + 9 * kSec);  // claimed ones no longer count
}

TEST_P(StoreConformanceTest, ListActiveAttemptsGivesLaunchingAndRunning) {
  Run stopped = Submit();
  Run launching = Submit();
  Run running = Submit();
  Run ended = Submit();
  ASSERT_TRUE(Ok(store_->RequestStop(stopped.id, kT0)));  // ended before it was ever active
  ClaimExpect("server-a", kT0, launching.attempts[0].id);
  ClaimExpect("server-a", kT0, running.attempts[0].id);
  ASSERT_TRUE(Ok(store_->MarkRunning(running.attempts[0].id, kT0 + 1)));
  ClaimExpect("server-a", kT0, ended.attempts[0].id);
  AttemptEnd end;
  end.status = AttemptStatus::kFailed;
  end.outcome = {1, "Error", ""};
  end.ended_at = kT0 + 2;
  ASSERT_TRUE(Ok(store_->EndAttempt(ended.attempts[0].id, end)));
  Submit();  // a fresh QUEUED one

  auto active = store_->ListActiveAttempts();
  ASSERT_TRUE(Ok(active));
  std::set<std::string> ids;
  for (const auto& a : *active) {
    ids.insert(a.id);
    EXPECT_TRUE(a.status == AttemptStatus::kLaunching || a.status == AttemptStatus::kRunning);
  }
  EXPECT_EQ(ids, (std::set<std::string>{launching.attempts[0].id, running.attempts[0].id}));
}

// --- parameterised definitions (src/templates) ---

TEST_P(StoreConformanceTest, ParametersSchemaAndRunValuesRoundTrip) {
  Definition def;
  def.name = "greet";
  def.command = "echo {{ who }}";
  def.parameters = R"({"type":"object","properties":{"who":{"type":"string","default":"x"}}})";
  auto put = store_->PutDefinition(def, kT0);
  ASSERT_TRUE(Ok(put));
  EXPECT_EQ(put->parameters, def.parameters);
  auto got = store_->GetDefinition("greet");
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(got->parameters, def.parameters);
  EXPECT_EQ(store_->PutDefinition(def, kT0 + kSec)->version, 1);  // unchanged: same version
  def.parameters = R"({"type":"object","properties":{"who":{"type":"string"}}})";
  EXPECT_EQ(store_->PutDefinition(def, kT0 + 2 * kSec)->version, 2);  // a new schema: a change

  NewRun n = MakeRun("greet");
  n.run.spec = *got;
  n.run.spec.command = "echo 'ada'";
  n.run.overrides.parameters = R"({"who":"ada"})";
  ASSERT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
  auto run = store_->GetRun(n.run.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->spec.parameters, got->parameters);
  EXPECT_EQ(run->overrides.parameters, n.run.overrides.parameters);
  auto page = store_->ListRuns({});
  ASSERT_TRUE(Ok(page));
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].overrides.parameters, n.run.overrides.parameters);
}

}  // namespace tug::store::conformance
