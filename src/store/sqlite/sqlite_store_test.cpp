#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/rows.h"
#include "store/store_conformance.h"
#include "store/store_conformance_auth.h"
#include "store/store_conformance_changes.h"
#include "store/store_conformance_claims.h"
#include "store/store_conformance_cost.h"
#include "store/store_conformance_leases.h"
#include "store/store_conformance_queries.h"
#include "store/store_conformance_queues.h"
#include "store/store_conformance_retries.h"
#include "store/store_conformance_usage.h"

namespace tug::store {
namespace {

namespace fs = std::filesystem;
using conformance::FailedEnd;
using conformance::Fails;
using conformance::kLease;
using conformance::kSec;
using conformance::kT0;
using conformance::MakeDefinition;
using conformance::MakeRun;
using conformance::NewRun;
using conformance::Ok;
using conformance::PlannedAttempt;
using conformance::StoreConformanceTest;
using conformance::StoreFactory;

// One temporary directory for the whole binary, created on first use and removed when the tests
// end; every store gets its own database file inside it.
class TempRoot : public ::testing::Environment {
 public:
  static const fs::path& Path() {
    static const fs::path path = [] {
      std::string tmpl = (fs::temp_directory_path() / "tug-sqlite-test-XXXXXX").string();
      if (mkdtemp(tmpl.data()) == nullptr) {
        std::perror("mkdtemp");
        std::abort();
      }
      return fs::path(tmpl);
    }();
    return path;
  }
  static std::string NewDbPath() {
    static std::atomic<int> counter{0};
    return (Path() / ("db-" + std::to_string(++counter)) / "tug.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(Path(), ec);
  }
};

[[maybe_unused]] const ::testing::Environment* const temp_root_env =
    ::testing::AddGlobalTestEnvironment(new TempRoot);

ManualClock& TestClock() {
  static ManualClock clock(kT0);
  return clock;
}

std::unique_ptr<Store> OpenStore(const std::string& path) {
  SqliteOptions opts;
  opts.path = path;
  auto store = SqliteStore::Open(opts, TestClock());
  if (!store.ok()) {
    ADD_FAILURE() << "opening '" << path << "': " << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(File, StoreConformanceTest, ::testing::Values(StoreFactory([] {
                           return OpenStore(TempRoot::NewDbPath());
                         })));
INSTANTIATE_TEST_SUITE_P(Memory, StoreConformanceTest,
                         ::testing::Values(StoreFactory([] { return OpenStore(":memory:"); })));

// A plain sqlite3 connection, to look at the file from outside the store.
class RawDb {
 public:
  explicit RawDb(const std::string& path, bool create = false) {
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, flags, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Rows of text columns (NULL as "NULL"); the SQL is a test literal.
  std::vector<std::vector<std::string>> Query(const char* sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return rows;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* text = sqlite3_column_text(stmt, i);
        row.emplace_back(text == nullptr ? "NULL" : reinterpret_cast<const char*>(text));
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }
  void Exec(const char* sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = TempRoot::NewDbPath(); }

  std::unique_ptr<SqliteStore> Open(SqliteOptions opts = {}) {
    if (opts.path.empty()) opts.path = path_;
    auto store = SqliteStore::Open(opts, clock_);
    if (!store.ok()) {
      ADD_FAILURE() << store.error().ToString();
      return nullptr;
    }
    return std::move(*store);
  }

  std::string path_;
  ManualClock clock_{kT0};
};

TEST_F(SqliteStoreTest, OpenCreatesMissingDirectories) {
  EXPECT_FALSE(fs::exists(fs::path(path_).parent_path()));
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(SqliteStoreTest, MigrationsAreVersionedAndNeverAppliedTwice) {
  const size_t known = sqlite::Migrations().size();
  ASSERT_GE(known, 1u);
  for (size_t i = 0; i < known; ++i) {
    EXPECT_EQ(sqlite::Migrations()[i].version, static_cast<int>(i + 1)) << "versions have gaps";
  }
  clock_.Set(kT0 + 111);
  ASSERT_NE(Open(), nullptr);
  const auto first = RawDb(path_).Query(
      "SELECT version, applied_at FROM schema_migrations "
      "ORDER BY version");
  ASSERT_EQ(first.size(), known);
  EXPECT_EQ(first[0][0], "1");
  EXPECT_EQ(first[0][1], std::to_string(kT0 + 111));

  clock_.Set(kT0 + 222);
  {
    auto a = Open();
    auto b = Open();  // two stores at once: still nothing applied twice
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
  }
  ASSERT_NE(Open(), nullptr);
  EXPECT_EQ(RawDb(path_).Query("SELECT version, applied_at FROM schema_migrations "
                               "ORDER BY version"),
            first);
}

// A file written by the previous release (schema version 2): its rows read back with the new
// fields at their defaults, and new operations work on them.
TEST_F(SqliteStoreTest, UpgradesAVersionTwoDatabaseAndReadsOldRowsWithDefaults) {
  ASSERT_GE(sqlite::Migrations().size(), 3u);
  fs::create_directories(fs::path(path_).parent_path());
  // What version 2 wrote: the spec as it encoded it then (max_attempts explicit, no retry
  // policy, adapt or Spark keys).
  const std::string old_spec =
      R"({"name":"legacy","version":0,"kind":"container","description":"old job",)"
      R"("image":"busybox","command":"echo old","args":[],"env":{"A":"1"},"working_dir":"",)"
      R"("memory_bytes":268435456,"cpu_millis":250,"timeout_seconds":60,"max_attempts":1,)"
      R"("labels":{},"created_at":0})";
  {
    RawDb db(path_, /*create=*/true);
    db.Exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at INTEGER NOT NULL)");
    for (const auto& m : sqlite::Migrations()) {
      if (m.version > 2) break;
      db.Exec(m.sql);
    }
    db.Exec("INSERT INTO schema_migrations VALUES (1, 1), (2, 2)");
    const std::string insert_def =
        "INSERT INTO definitions (name, version, spec, created_at) VALUES ('legacy', 1, '" +
        old_spec + "', 1000)";
    db.Exec(insert_def.c_str());
    const std::string insert_run =
        "INSERT INTO runs (id, definition, definition_version, status, spec, overrides, "
        "created_at, updated_at, started_at) VALUES ('01hold', 'legacy', 1, 'RUNNING', '" +
        old_spec + R"(', '{"env":{},"memory_bytes":0,"cpu_millis":0,"timeout_seconds":0}', )" +
        std::to_string(kT0) + ", " + std::to_string(kT0) + ", " + std::to_string(kT0 + 1) + ")";
    db.Exec(insert_run.c_str());
    const std::string insert_attempt =
        "INSERT INTO attempts (id, run_id, number, status, memory_bytes, cpu_millis, engine, "
        "claimed_by, lease_expires_at, created_at, due_at, started_at, diagnosis) VALUES "
        "('01hold-1', '01hold', 1, 'RUNNING', 268435456, 250, 'local', 'server-a', " +
        std::to_string(kT0 + kLease) + ", " + std::to_string(kT0) + ", " + std::to_string(kT0) +
        ", " + std::to_string(kT0 + 1) + ", '')";
    db.Exec(insert_attempt.c_str());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawDb(path_).Query("SELECT MAX(version) FROM schema_migrations"),
            (std::vector<std::vector<std::string>>{
                {std::to_string(sqlite::Migrations().back().version)}}));

  Definition expected;
  expected.name = "legacy";
  expected.version = 1;
  expected.description = "old job";
  expected.image = "busybox";
  expected.command = "echo old";
  expected.env = {{"A", "1"}};
  expected.resources.memory_bytes = int64_t{256} << 20;
  expected.resources.cpu_millis = 250;
  expected.timeout_seconds = 60;
  expected.retry.max_attempts = 1;  // what the old row stored, not today's default
  expected.created_at = 1000;
  auto def = store->GetDefinition("legacy");
  ASSERT_TRUE(Ok(def));
  EXPECT_EQ(*def, expected);
  EXPECT_EQ(def->retry.max_infra_retries, RetryPolicy{}.max_infra_retries);
  EXPECT_EQ(def->retry.backoff, Backoff{});
  EXPECT_EQ(def->adapt, AdaptPolicy{});
  EXPECT_EQ(def->spark, SparkSpec{});
  EXPECT_TRUE(def->resources.spark.empty());

  auto run = store->GetRun("01hold");
  ASSERT_TRUE(Ok(run));
  Definition run_spec = expected;
  run_spec.version = 0;
  run_spec.created_at = 0;
  EXPECT_EQ(run->spec, run_spec);
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_EQ(run->plan, "");
  ASSERT_EQ(run->attempts.size(), 1u);
  EXPECT_EQ(run->attempts[0].placement, Placement{});
  EXPECT_TRUE(run->attempts[0].resources.spark.empty());
  EXPECT_EQ(run->attempts[0].decision, "");
  EXPECT_EQ(run->attempts[0].resources.memory_bytes, int64_t{256} << 20);

  // The old run retries like a new one.
  AttemptEnd end = FailedEnd(kT0 + 10 * kSec);
  end.next = PlannedAttempt("01hold", 2, kT0 + 10 * kSec, kT0 + 20 * kSec);
  ASSERT_TRUE(Ok(store->EndAttempt("01hold-1", end)));
  run = store->GetRun("01hold");
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kRetrying);
  ASSERT_EQ(run->attempts.size(), 2u);
  EXPECT_EQ(run->attempts[1], *end.next);
  // Runs from before the migration have no signature, so they are not right-sizing history.
  EXPECT_EQ(RawDb(path_).Query("SELECT signature, plan FROM runs"),
            (std::vector<std::vector<std::string>>{{"", ""}}));
  EXPECT_EQ(RawDb(path_).Query("SELECT failure_class FROM attempts WHERE id = '01hold-1'"),
            (std::vector<std::vector<std::string>>{{"batch_container_oom"}}));
}

TEST_F(SqliteStoreTest, CreateRunStoresTheCommandSignature) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  EXPECT_EQ(RawDb(path_).Query("SELECT signature FROM runs"),
            (std::vector<std::vector<std::string>>{{CommandSignature(n.run.spec)}}));
}

// The planner's queries are answered from their indexes, without a scan or a sort.
TEST_F(SqliteStoreTest, PlannerQueriesUseTheirIndexes) {
  ASSERT_NE(Open(), nullptr);
  RawDb db(path_);
  auto plan = [&](const char* sql) {
    std::string text;
    for (const auto& row : db.Query(("EXPLAIN QUERY PLAN " + std::string(sql)).c_str())) {
      text += row.back() + "\n";
    }
    return text;
  };
  const std::string history = plan(sqlite::kSuccessHistorySql);
  EXPECT_NE(history.find("INDEX runs_history (definition=? AND signature=? AND status=?"),
            std::string::npos)
      << history;
  EXPECT_NE(history.find("SEARCH a USING INDEX"), std::string::npos) << history;
  EXPECT_EQ(history.find("TEMP B-TREE"), std::string::npos) << history;
  EXPECT_EQ(history.find("SCAN"), std::string::npos) << history;
  const std::string spot = plan(sqlite::kSpotOutcomesSql);
  EXPECT_NE(spot.find("INDEX attempts_spot_ended (ended_at>?)"), std::string::npos) << spot;
  EXPECT_EQ(spot.find("SCAN"), std::string::npos) << spot;
}

TEST_F(SqliteStoreTest, RefusesADatabaseFromANewerBinary) {
  ASSERT_NE(Open(), nullptr);
  RawDb(path_).Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)");
  SqliteOptions opts;
  opts.path = path_;
  auto store = SqliteStore::Open(opts, clock_);
  ASSERT_TRUE(Fails(store, Code::kFailedPrecondition));
  EXPECT_NE(store.error().message().find("newer"), std::string::npos) << store.error().message();
}

TEST_F(SqliteStoreTest, WalModeIsOn) {
  SqliteOptions opts;
  opts.synchronous_full = true;
  auto store = Open(opts);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawDb(path_).Query("PRAGMA journal_mode"),
            (std::vector<std::vector<std::string>>{{"wal"}}));
  EXPECT_TRUE(fs::exists(path_ + "-wal"));
}

TEST_F(SqliteStoreTest, BadOptionsAreInvalidArgument) {
  SqliteOptions empty;
  EXPECT_TRUE(Fails(SqliteStore::Open(empty, clock_), Code::kInvalidArgument));
  SqliteOptions negative;
  negative.path = path_;
  negative.busy_timeout_ms = -1;
  EXPECT_TRUE(Fails(SqliteStore::Open(negative, clock_), Code::kInvalidArgument));
  SqliteOptions too_many;
  too_many.path = path_;
  too_many.read_connections = 1000;
  EXPECT_TRUE(Fails(SqliteStore::Open(too_many, clock_), Code::kInvalidArgument));
}

TEST_F(SqliteStoreTest, OpeningADirectoryFailsCleanly) {
  fs::create_directories(path_);
  SqliteOptions opts;
  opts.path = path_;
  auto store = SqliteStore::Open(opts, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message().find(path_), std::string::npos) << store.error().message();
}

TEST_F(SqliteStoreTest, SecondStoreOnTheSameFileSeesTheFirstOnesWrites) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(Ok(a->PutDefinition(MakeDefinition("hello"), kT0)));
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(a->CreateRun(n.run, n.first)));
  auto def = b->GetDefinition("hello");
  ASSERT_TRUE(Ok(def));
  EXPECT_EQ(def->version, 1);
  auto run = b->GetRun(n.run.id);
  ASSERT_TRUE(Ok(run));
  n.run.attempts = {n.first};
  EXPECT_EQ(*run, n.run);
  // And back: B's write is visible to A's readers.
  ASSERT_TRUE(Ok(b->DeleteDefinition("hello", kT0 + 1)));
  EXPECT_TRUE(Fails(a->GetDefinition("hello"), Code::kNotFound));
}

TEST_F(SqliteStoreTest, ClaimByOneStoreIsVisibleToAnother) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(a->CreateRun(n.run, n.first)));
  auto claimed = a->ClaimAttempt("server-a", kT0, kLease);
  ASSERT_TRUE(Ok(claimed));
  ASSERT_TRUE(claimed->has_value());
  auto seen = b->GetAttempt(n.first.id);
  ASSERT_TRUE(Ok(seen));
  EXPECT_EQ(seen->status, AttemptStatus::kLaunching);
  EXPECT_EQ(seen->claimed_by, "server-a");
  auto none = b->ClaimAttempt("server-b", kT0 + kSec, kLease);
  ASSERT_TRUE(Ok(none));
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(Fails(b->MarkLaunched(n.first.id, "server-b", "x", kT0), Code::kAborted));
  // Once A's lease runs out, B takes it over, and A sees that.
  auto taken = b->ClaimAttempt("server-b", kT0 + kLease + kSec, kLease);
  ASSERT_TRUE(Ok(taken));
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ(a->GetAttempt(n.first.id)->claimed_by, "server-b");
}

TEST_F(SqliteStoreTest, TwoStoresClaimingTogetherClaimEachAttemptOnce) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kAttempts = 100;
  for (int i = 0; i < kAttempts; ++i) {
    NewRun n = MakeRun();
    ASSERT_TRUE(Ok(a->CreateRun(n.run, n.first)));
  }
  std::array<std::vector<std::string>, 2> got;
  std::array<std::string, 2> errors;
  auto claimer = [&](Store& store, int index) {
    while (true) {
      auto claimed = store.ClaimAttempt("server-" + std::to_string(index), kT0, kLease);
      if (!claimed.ok()) {
        errors[static_cast<size_t>(index)] = claimed.error().ToString();
        return;
      }
      if (!claimed->has_value()) return;
      got[static_cast<size_t>(index)].push_back((*claimed)->id);
    }
  };
  std::thread ta(claimer, std::ref(*a), 0);
  std::thread tb(claimer, std::ref(*b), 1);
  ta.join();
  tb.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  std::set<std::string> unique(got[0].begin(), got[0].end());
  unique.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(got[0].size() + got[1].size(), static_cast<size_t>(kAttempts));
  EXPECT_EQ(unique.size(), static_cast<size_t>(kAttempts));
}

TEST_F(SqliteStoreTest, ReadsRunInParallelWithWrites) {
  SqliteOptions opts;
  opts.read_connections = 2;  // fewer connections than reader threads: readers queue for them
  auto store = Open(opts);
  ASSERT_NE(store, nullptr);
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(5);
  threads.emplace_back([&] {
    for (int i = 0; i < 200; ++i) {
      NewRun m = MakeRun();
      if (!store->CreateRun(m.run, m.first).ok()) ++failures;
    }
  });
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto run = store->GetRun(n.run.id);
        if (!run.ok() || run->attempts.size() != 1) ++failures;
        RunFilter page;
        page.limit = 5;
        if (!store->ListRuns(page).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->CountRunsByStatus()->front().count, 201);
}

// Group commit under heavy contention: every write is committed exactly once and every caller
// returns its own result (a failing write among successful ones included). The lead hand-over
// race fixed in Write (a leader's late kDone landing in a writer that had already returned)
// needs a narrow interleaving that this test does not force; it was seen by ThreadSanitizer on
// a server under load, and the ASan stack-use-after-return detection below would report it if
// it happened here.
TEST_F(SqliteStoreTest, ContendedWritersEachReturnOnceWithTheirOwnResult) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 12;
  constexpr int kRuns = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRuns; ++i) {
        NewRun m = MakeRun();
        if (!store->CreateRun(m.run, m.first).ok()) ++failures;
        // A second, failing write from the same thread: its result must be its own.
        if (store->CreateRun(m.run, m.first).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->CountRunsByStatus()->front().count, kThreads * kRuns);
}

TEST_F(SqliteStoreTest, WriterLockedPastTheTimeoutIsUnavailable) {
  SqliteOptions opts;
  opts.busy_timeout_ms = 0;  // give up at once, so the test never waits
  auto store = Open(opts);
  ASSERT_NE(store, nullptr);
  NewRun n = MakeRun();
  {
    RawDb other(path_);
    other.Exec("BEGIN IMMEDIATE");
    auto st = store->CreateRun(n.run, n.first);
    ASSERT_TRUE(Fails(st, Code::kUnavailable));
    EXPECT_FALSE(st.error().detail().empty());
    other.Exec("ROLLBACK");
  }
  EXPECT_TRUE(Ok(store->CreateRun(n.run, n.first)));
}

TEST_F(SqliteStoreTest, ValuesAreBoundNotSpliced) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const std::string name = "x'); DROP TABLE runs; --";
  ASSERT_TRUE(Ok(store->PutDefinition(MakeDefinition(name), kT0)));
  auto def = store->GetDefinition(name);
  ASSERT_TRUE(Ok(def));
  EXPECT_EQ(def->name, name);
  NewRun n = MakeRun(name);
  ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  RunFilter f;
  f.definition = name;
  auto page = store->ListRuns(f);
  ASSERT_TRUE(Ok(page));
  EXPECT_EQ(page->runs.size(), 1u);
}

TEST_F(SqliteStoreTest, DamagedRowsAreInternalErrorsNotCrashes) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  RawDb(path_).Exec("UPDATE runs SET spec = '{not json'");
  auto run = store->GetRun(n.run.id);
  ASSERT_TRUE(Fails(run, Code::kInternal));
  EXPECT_NE(run.error().message().find(n.run.id), std::string::npos) << run.error().message();
  EXPECT_TRUE(Fails(store->ListRuns({}), Code::kInternal));
  RawDb(path_).Exec("UPDATE attempts SET status = 'SIDEWAYS'");
  EXPECT_TRUE(Fails(store->GetAttempt(n.first.id), Code::kInternal));
}

// Not a benchmark (bench/ has those) and nothing is asserted: a rough number for the log.
TEST_F(SqliteStoreTest, LogsRoughTimings) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kCreates = 2000;
  constexpr int kReads = 20000;
  std::vector<NewRun> runs;
  runs.reserve(kCreates);
  for (int i = 0; i < kCreates; ++i) runs.push_back(MakeRun());
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& n : runs) ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kReads; ++i) {
    auto run = store->GetRun(runs[static_cast<size_t>(i % kCreates)].run.id);
    ASSERT_TRUE(Ok(run));
  }
  auto t2 = std::chrono::steady_clock::now();
  using us = std::chrono::duration<double, std::micro>;
  std::printf("[ timing   ] CreateRun %.1f us/op (%.0f/s), GetRun %.1f us/op (%.0f/s)\n",
              us(t1 - t0).count() / kCreates, kCreates / (us(t1 - t0).count() / 1e6),
              us(t2 - t1).count() / kReads, kReads / (us(t2 - t1).count() / 1e6));
}

}  // namespace
}  // namespace tug::store

#if defined(__SANITIZE_ADDRESS__)
// Writes into a returned frame (a group-commit leader's late store) become reports here.
extern "C" const char* __asan_default_options() { return "detect_stack_use_after_return=1"; }
#endif
