#pragma once
/// The conformance suite every Store backend must pass (header-only GoogleTest).
///
/// A backend's test file includes this header once and instantiates the suite with a factory that
/// returns a fresh, empty store on every call (one per test):
///
///   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
///                            ::testing::Values(StoreFactory([] { return MakeEmptyStore(); })));
///
/// The tests pass explicit times to the store (leases, due times), so they never sleep and do not
/// depend on the clock the backend was built with.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/model.h"
#include "store/store.h"

namespace tug::store {

/// Found by argument-dependent lookup (through Store), so failures print a name, not bytes.
inline void PrintTo(const std::function<std::unique_ptr<Store>()>& /*factory*/, std::ostream* os) {
  *os << "store factory";
}

}  // namespace tug::store

namespace tug::store::conformance {

using StoreFactory = std::function<std::unique_ptr<Store>()>;

inline constexpr Micros kT0 = 1'700'000'000 * kMicrosPerSecond;
inline constexpr Micros kSec = kMicrosPerSecond;
inline constexpr Micros kLease = 30 * kSec;

template <class T>
::testing::AssertionResult Ok(const Result<T>& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.error().ToString();
}

template <class T>
::testing::AssertionResult Fails(const Result<T>& r, Code code) {
  if (r.ok()) return ::testing::AssertionFailure() << "succeeded, expected an error";
  if (r.error().code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "wrong code: " << r.error().ToString();
}

/// A definition with every field set, so round trips are checked field by field.
inline Definition MakeDefinition(const std::string& name, const std::string& command = "echo hi") {
  Definition d;
  d.name = name;
  d.description = "a test job";
  d.image = "busybox:1.36";
  d.command = command;
  d.env = {{"A", "1"}, {"B", "two words"}};
  d.working_dir = "/tmp";
  d.resources.memory_bytes = int64_t{256} << 20;
  d.resources.cpu_millis = 500;
  d.timeout_seconds = 600;
  // Retry and adapt fields all differ from the model's defaults. The factor's decimal text has 17
  // significant digits: the kind of double a careless JSON round trip reads back one ulp off.
  d.retry.max_attempts = 5;
  d.retry.max_infra_retries = 2;
  d.retry.backoff = {30, 900, 2.5};
  d.adapt.memory_factor = 1.8050787428018906;
  d.adapt.max_memory_bytes = int64_t{8} << 30;
  d.adapt.executor_factor = 1.25;
  d.adapt.max_executors = 40;
  d.adapt.rightsizing = "apply";
  d.adapt.capacity = "on-demand";
  d.adapt.critical = true;
  d.labels = {{"team", "data"}};
  return d;
}

/// A kind: spark definition with every Spark field set (and the retry/adapt fields of
/// MakeDefinition).
inline Definition MakeSparkDefinition(const std::string& name) {
  Definition d = MakeDefinition(name, "");
  d.kind = "spark";
  d.image = "apache/spark:3.5.1";
  d.spark.version = "3.5";
  d.spark.main = "s3a://jobs/etl.jar";
  d.spark.main_class = "com.example.Etl";
  d.spark.args = {"--date", "2024-01-01"};
  d.spark.conf = {{"spark.sql.shuffle.partitions", "400"}, {"spark.ui.enabled", "false"}};
  d.spark.py_files = {"s3a://jobs/lib.zip"};
  d.spark.jars = {"s3a://jobs/a.jar", "s3a://jobs/b.jar"};
  d.spark.files = {"s3a://jobs/app.conf"};
  SparkResources& s = d.resources.spark;
  s.driver = {1000, int64_t{2} << 30, int64_t{512} << 20};
  s.executor = {4000, int64_t{8} << 30, int64_t{1} << 30};
  s.instances = 10;
  s.min_executors = 2;
  s.max_executors = 40;
  s.dynamic_allocation = true;
  s.max_result_size_bytes = int64_t{2} << 30;
  d.adapt.executor_factor = 0.1 + 0.2;  // 0.30000000000000004
  return d;
}

using ::tug::store::NewRun;

/// A queued run of `definition` whose first attempt is due at `due_at`. Ids come from NewId, so
/// runs made later sort later.
inline NewRun MakeRun(const std::string& definition = "hello", Micros due_at = kT0) {
  NewRun n;
  Run& r = n.run;
  r.id = NewId(SystemClock::Instance());
  r.owner = "ada";
  r.group = "science";
  r.definition = definition;
  r.definition_version = 2;
  r.status = RunStatus::kQueued;
  r.spec = MakeDefinition(definition);
  r.spec.args = {"/bin/echo", "hello world"};
  r.spec.version = 2;
  r.spec.created_at = kT0 - 100 * kSec;
  r.overrides.env = {{"B", "override"}};
  r.overrides.resources.memory_bytes = int64_t{512} << 20;
  r.overrides.timeout_seconds = 60;
  r.created_at = kT0;
  r.updated_at = kT0;
  r.plan = R"({"rule":"definition","sentence":"sized as the definition asks"})";
  Attempt& a = n.first;
  a.id = AttemptId(r.id, 1);
  a.run_id = r.id;
  a.number = 1;
  a.status = AttemptStatus::kQueued;
  a.resources.memory_bytes = int64_t{512} << 20;
  a.resources.cpu_millis = 500;
  a.placement = {std::string(kOnDemand), ""};
  a.engine = "local";
  a.created_at = kT0;
  a.due_at = due_at;
  return n;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  using Run = ::tug::Run;  // not ::testing::Test::Run

  void SetUp() override {
    store_ = GetParam()();
    ASSERT_NE(store_, nullptr) << "the factory returned no store";
  }
  void TearDown() override { store_.reset(); }

  /// Creates a queued run and returns it as GetRun should (attempts filled).
  Run Submit(const std::string& definition = "hello", Micros due_at = kT0) {
    NewRun n = MakeRun(definition, due_at);
    auto st = store_->CreateRun(n.run, n.first);
    EXPECT_TRUE(Ok(st));
    n.run.attempts = {n.first};
    return n.run;
  }

  /// Claims the next attempt for `owner` and expects it to be `attempt_id`.
  Attempt ClaimExpect(const std::string& owner, Micros now, const std::string& attempt_id) {
    auto claimed = store_->ClaimAttempt(owner, now, kLease);
    EXPECT_TRUE(Ok(claimed));
    if (!claimed.ok() || !claimed->has_value()) {
      ADD_FAILURE() << "nothing claimed, expected '" << attempt_id << "'";
      return {};
    }
    EXPECT_EQ((*claimed)->id, attempt_id);
    return **claimed;
  }

  /// Submits a run and takes its attempt to RUNNING (claimed by `owner`). It is due long before
  /// kT0, so it is claimed ahead of any other queued attempt.
  Run SubmitRunning(const std::string& owner = "server-a") {
    Run r = Submit("hello", kT0 - 1000 * kSec);
    ClaimExpect(owner, kT0, r.attempts[0].id);
    EXPECT_TRUE(Ok(store_->MarkRunning(r.attempts[0].id, kT0 + kSec)));
    return r;
  }

  std::vector<Event> Events(const std::string& run_id) {
    auto events = store_->ListEvents(run_id, 0, 1000);
    EXPECT_TRUE(Ok(events));
    return events.ok() ? *events : std::vector<Event>{};
  }

  std::vector<std::string> EventTypes(const std::string& run_id) {
    std::vector<std::string> types;
    for (const auto& e : Events(run_id)) types.push_back(e.type);
    return types;
  }

  std::vector<std::string> ListIds(const RunFilter& filter) {
    auto page = store_->ListRuns(filter);
    EXPECT_TRUE(Ok(page));
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const auto& r : page->runs) ids.push_back(r.id);
    }
    return ids;
  }

  std::unique_ptr<Store> store_;
};

// --- definitions ---

TEST_P(StoreConformanceTest, PutDefinitionAssignsVersionOneAndReadsBack) {
  Definition def = MakeDefinition("hello");
  auto put = store_->PutDefinition(def, kT0);
  ASSERT_TRUE(Ok(put));
  Definition expected = def;
  expected.version = 1;
  expected.created_at = kT0;
  EXPECT_EQ(*put, expected);
  auto got = store_->GetDefinition("hello");
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(*got, expected);
}

TEST_P(StoreConformanceTest, PutUnchangedSpecKeepsVersion) {
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("hello"), kT0)));
  Definition again = MakeDefinition("hello");
  again.version = 41;  // client-supplied version and time are ignored
  again.created_at = kT0 + 7;
  auto put = store_->PutDefinition(again, kT0 + kSec);
  ASSERT_TRUE(Ok(put));
  EXPECT_EQ(put->version, 1);
  EXPECT_EQ(put->created_at, kT0);
  EXPECT_EQ(store_->GetDefinition("hello")->version, 1);
}

TEST_P(StoreConformanceTest, PutChangedSpecMakesNextVersion) {
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("hello", "echo one"), kT0)));
  auto v2 = store_->PutDefinition(MakeDefinition("hello", "echo two"), kT0 + kSec);
  ASSERT_TRUE(Ok(v2));
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->created_at, kT0 + kSec);
  // Going back to an earlier spec is still a change: versions never get reused.
  auto v3 = store_->PutDefinition(MakeDefinition("hello", "echo one"), kT0 + 2 * kSec);
  ASSERT_TRUE(Ok(v3));
  EXPECT_EQ(v3->version, 3);
  auto got = store_->GetDefinition("hello");
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(got->version, 3);
  EXPECT_EQ(got->command, "echo one");
}

TEST_P(StoreConformanceTest, DeleteHidesDefinition) {
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("hello"), kT0)));
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("other"), kT0)));
  ASSERT_TRUE(Ok(store_->DeleteDefinition("hello", kT0 + kSec)));
  EXPECT_TRUE(Fails(store_->GetDefinition("hello"), Code::kNotFound));
  auto list = store_->ListDefinitions();
  ASSERT_TRUE(Ok(list));
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "other");
  EXPECT_TRUE(Fails(store_->DeleteDefinition("hello", kT0 + 2 * kSec), Code::kNotFound));
  EXPECT_TRUE(Fails(store_->DeleteDefinition("never-made", kT0), Code::kNotFound));
}

TEST_P(StoreConformanceTest, RecreateAfterDeleteGetsNewVersion) {
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("hello", "echo one"), kT0)));
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("hello", "echo two"), kT0 + 1)));
  ASSERT_TRUE(Ok(store_->DeleteDefinition("hello", kT0 + 2)));
  auto again = store_->PutDefinition(MakeDefinition("hello", "echo two"), kT0 + 3);
  ASSERT_TRUE(Ok(again));
  EXPECT_EQ(again->version, 3);
  EXPECT_EQ(again->created_at, kT0 + 3);
  EXPECT_EQ(store_->GetDefinition("hello")->version, 3);
}

TEST_P(StoreConformanceTest, ListDefinitionsGivesNewestLiveVersionOfEachName) {
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("bravo"), kT0)));
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("alpha", "echo 1"), kT0)));
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("alpha", "echo 2"), kT0 + 1)));
  ASSERT_TRUE(Ok(store_->PutDefinition(MakeDefinition("charlie"), kT0)));
  ASSERT_TRUE(Ok(store_->DeleteDefinition("charlie", kT0 + 2)));
  auto list = store_->ListDefinitions();
  ASSERT_TRUE(Ok(list));
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alpha");
  EXPECT_EQ((*list)[0].version, 2);
  EXPECT_EQ((*list)[0].command, "echo 2");
  EXPECT_EQ((*list)[1].name, "bravo");
  EXPECT_EQ((*list)[1].version, 1);
}

TEST_P(StoreConformanceTest, GetUnknownDefinitionIsNotFound) {
  auto got = store_->GetDefinition("nope");
  ASSERT_TRUE(Fails(got, Code::kNotFound));
  EXPECT_NE(got.error().message().find("'nope'"), std::string::npos) << got.error().message();
}

// --- runs and attempts ---

TEST_P(StoreConformanceTest, CreateRunWritesRunFirstAttemptAndSubmittedEvent) {
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
  auto got = store_->GetRun(n.run.id);
  ASSERT_TRUE(Ok(got));
  Run expected = n.run;
  expected.attempts = {n.first};
  EXPECT_EQ(*got, expected);  // every field round-trips, spec and overrides included
  auto attempt = store_->GetAttempt(n.first.id);
  ASSERT_TRUE(Ok(attempt));
  EXPECT_EQ(*attempt, n.first);
  auto events = Events(n.run.id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "submitted");
  EXPECT_EQ(events[0].run_id, n.run.id);
  EXPECT_EQ(events[0].attempt_id, n.first.id);
  EXPECT_GT(events[0].seq, 0);
}

TEST_P(StoreConformanceTest, CreateRunsBatchKeepsEachRunAllOrNothing) {
  Run original = Submit("hello");
  std::vector<NewRun> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(MakeRun("batch", kT0 + i));
  // The third collides with an existing run, the fourth is malformed.
  batch[2].run.id = original.id;
  batch[2].first.run_id = original.id;
  batch[2].first.id = AttemptId(original.id, 2);
  batch[3].first.run_id = "someone-else";
  auto results = store_->CreateRuns(batch);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(Ok(results[0]));
  EXPECT_TRUE(Ok(results[1]));
  EXPECT_TRUE(Fails(results[2], Code::kAlreadyExists));
  EXPECT_TRUE(Fails(results[3], Code::kInvalidArgument));
  EXPECT_TRUE(Ok(results[4]));
  for (int i : {0, 1, 4}) {
    auto got = store_->GetRun(batch[static_cast<size_t>(i)].run.id);
    ASSERT_TRUE(Ok(got));
    EXPECT_EQ(got->attempts.size(), 1u);
    EXPECT_EQ(EventTypes(got->id), std::vector<std::string>{"submitted"});
  }
  EXPECT_TRUE(Fails(store_->GetRun(batch[3].run.id), Code::kNotFound));
  EXPECT_TRUE(Fails(store_->GetAttempt(batch[2].first.id), Code::kNotFound));
  EXPECT_EQ(EventTypes(original.id), std::vector<std::string>{"submitted"});
  EXPECT_TRUE(store_->CreateRuns({}).empty());
}

TEST_P(StoreConformanceTest, CreateRunWithTakenIdIsAlreadyExistsAndWritesNothing) {
  Run original = Submit("hello");
  NewRun dup = MakeRun("other", kT0 + kSec);
  dup.run.id = original.id;
  dup.first.run_id = original.id;
  dup.first.id = AttemptId(original.id, 2);
  dup.first.number = 2;
  auto st = store_->CreateRun(dup.run, dup.first);
  ASSERT_TRUE(Fails(st, Code::kAlreadyExists));
  EXPECT_NE(st.error().message().find(original.id), std::string::npos) << st.error().message();
  auto got = store_->GetRun(original.id);
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(*got, original);
  EXPECT_TRUE(Fails(store_->GetAttempt(dup.first.id), Code::kNotFound));
  EXPECT_EQ(EventTypes(original.id), std::vector<std::string>{"submitted"});
}

TEST_P(StoreConformanceTest, CreateRunRejectsAnAttemptOfAnotherRun) {
  NewRun n = MakeRun();
  n.first.run_id = "someone-else";
  EXPECT_TRUE(Fails(store_->CreateRun(n.run, n.first), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->GetRun(n.run.id), Code::kNotFound));
}

TEST_P(StoreConformanceTest, UnknownRunAndAttemptAreNotFound) {
  auto run = store_->GetRun("01jzzzzzzzzzzzzzzzzzzzzzzz");
  ASSERT_TRUE(Fails(run, Code::kNotFound));
  EXPECT_NE(run.error().message().find("'01jzzzzzzzzzzzzzzzzzzzzzzz'"), std::string::npos);
  EXPECT_TRUE(Fails(store_->GetAttempt("01jzzzzzzzzzzzzzzzzzzzzzzz-1"), Code::kNotFound));
}

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

}  // namespace tug::store::conformance
