#pragma once
/// The conformance suite every Store backend must pass (header-only GoogleTest).
///
/// A backend's test file includes this header and its parts (store_conformance_*.h) once and
/// instantiates the suite with a factory that returns a fresh, empty store on every call (one per
/// test):
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

}  // namespace tug::store::conformance
