#include "store/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/ids.h"
#include "net/refusing_port.h"
#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/postgres/pg_test_server.h"
#include "store/postgres/pool.h"
#include "store/store_conformance.h"
#include "store/store_conformance_auth.h"
#include "store/store_conformance_changes.h"
#include "store/store_conformance_claims.h"
#include "store/store_conformance_cost.h"
#include "store/store_conformance_leases.h"
#include "store/store_conformance_queues.h"
#include "store/store_conformance_queries.h"
#include "store/store_conformance_retries.h"
#include "store/store_conformance_usage.h"

namespace tug::store {
namespace {

using conformance::Fails;
using conformance::kLease;
using conformance::kSec;
using conformance::kT0;
using conformance::MakeDefinition;
using conformance::MakeRun;
using conformance::NewRun;
using conformance::Ok;
using conformance::StoreConformanceTest;
using conformance::StoreFactory;
using pgtest::PgServer;

// One server for the whole binary, started on first use and stopped when the tests end, with a
// migrated template database: every test gets a fresh copy of it. If PostgreSQL cannot be
// started, every test that needs it fails (none is skipped).
class PgEnvironment : public ::testing::Environment {
 public:
  static PgServer* Server() {
    std::lock_guard lock(mutex);
    // Started again after a TearDown (--gtest_repeat); a failure is reported by every caller.
    if (shared_server == nullptr && start_error.empty()) start_error = StartLocked();
    if (!start_error.empty()) {
      ADD_FAILURE() << "PostgreSQL test server: " << start_error;
      return nullptr;
    }
    return shared_server.get();
  }
  /// A fresh database copied from the migrated template; "" (and a failure) when impossible.
  static std::string NewDatabase(bool migrated = true) {
    static std::atomic<int> counter{0};
    PgServer* server = Server();
    if (server == nullptr) return "";
    auto url = server->CreateDatabase(fmt::format("t_{}", ++counter), migrated ? "tmpl" : "");
    if (!url.ok()) {
      ADD_FAILURE() << url.error().ToString();
      return "";
    }
    return *url;
  }
  void TearDown() override {
    std::lock_guard lock(mutex);
    shared_server.reset();
  }

 private:
  // Starts the server and migrates the template database; returns an error text or "".
  static std::string StartLocked() {
    auto started = PgServer::Start({.bin_dir = "", .fsync = false});
    if (!started.ok()) return started.error().ToString();
    auto tmpl = (*started)->CreateDatabase("tmpl");
    if (!tmpl.ok()) return tmpl.error().ToString();
    ManualClock clock(kT0);
    auto store = PostgresStore::Open({.url = *tmpl}, clock);  // migrates it
    if (!store.ok()) return store.error().ToString();
    shared_server = std::move(*started);
    return "";
  }

  static inline std::mutex mutex;
  static inline std::unique_ptr<PgServer> shared_server;
  static inline std::string start_error;
};

[[maybe_unused]] const ::testing::Environment* const pg_env =
    ::testing::AddGlobalTestEnvironment(new PgEnvironment);

ManualClock& TestClock() {
  static ManualClock clock(kT0);
  return clock;
}

std::unique_ptr<PostgresStore> OpenStore(const std::string& url, const Clock& clock = TestClock()) {
  if (url.empty()) return nullptr;
  auto store = PostgresStore::Open({.url = url}, clock);
  if (!store.ok()) {
    ADD_FAILURE() << "opening '" << url << "': " << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest, ::testing::Values(StoreFactory([] {
                           return std::unique_ptr<Store>(OpenStore(PgEnvironment::NewDatabase()));
                         })));

// A plain libpq connection, to look at the database from outside the store.
class RawDb {
 public:
  explicit RawDb(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
  }
  ~RawDb() { PQfinish(conn_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Rows of text columns (NULL as "NULL"); the SQL is a test literal.
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    PGresult* res = PQexec(conn_, sql.c_str());
    const ExecStatusType st = PQresultStatus(res);
    EXPECT_TRUE(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        << sql << ": " << PQresultErrorMessage(res);
    for (int r = 0; r < PQntuples(res); ++r) {
      std::vector<std::string> row;
      row.reserve(static_cast<size_t>(PQnfields(res)));
      for (int c = 0; c < PQnfields(res); ++c) {
        row.emplace_back(PQgetisnull(res, r, c) ? "NULL" : PQgetvalue(res, r, c));
      }
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

 private:
  PGconn* conn_;
};

using Table = std::vector<std::vector<std::string>>;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = PgEnvironment::NewDatabase(/*migrated=*/false);
    ASSERT_FALSE(url_.empty());
  }
  std::unique_ptr<PostgresStore> Open() { return OpenStore(url_, clock_); }

  std::string url_;
  ManualClock clock_{kT0};
};

TEST_F(PostgresStoreTest, MigrationsAreVersionedAndNeverAppliedTwice) {
  const size_t known = pg::Migrations().size();
  ASSERT_GE(known, 1u);
  for (size_t i = 0; i < known; ++i) {
    EXPECT_EQ(pg::Migrations()[i].version, static_cast<int>(i + 1)) << "versions have gaps";
  }
  // Two replicas starting at once on an empty database: one migrates, the other waits for it.
  clock_.Set(kT0 + 111);
  std::vector<std::thread> replicas;
  replicas.reserve(4);
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([&] {
      if (Open() != nullptr) ++opened;
    });
  }
  for (auto& t : replicas) t.join();
  EXPECT_EQ(opened.load(), 4);
  const Table first =
      RawDb(url_).Query("SELECT version, applied_at FROM schema_migrations ORDER BY version");
  ASSERT_EQ(first.size(), known);
  EXPECT_EQ(first[0][0], "1");
  EXPECT_EQ(first[0][1], std::to_string(kT0 + 111));
  clock_.Set(kT0 + 222);
  ASSERT_NE(Open(), nullptr);
  EXPECT_EQ(RawDb(url_).Query("SELECT version, applied_at FROM schema_migrations ORDER BY version"),
            first);
}

TEST_F(PostgresStoreTest, RefusesADatabaseFromANewerBinary) {
  ASSERT_NE(Open(), nullptr);
  RawDb(url_).Query("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)");
  auto store = PostgresStore::Open({.url = url_}, clock_);
  ASSERT_TRUE(Fails(store, Code::kFailedPrecondition));
  EXPECT_NE(store.error().message().find("newer"), std::string::npos) << store.error().message();
}

TEST_F(PostgresStoreTest, CreateRunStoresTheCommandSignature) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  EXPECT_EQ(RawDb(url_).Query("SELECT signature FROM runs"),
            (Table{{CommandSignature(n.run.spec)}}));
}

TEST_F(PostgresStoreTest, TwoReplicasClaimingFromEightThreadsClaimEachAttemptOnce) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kAttempts = 1000;
  constexpr int kThreads = 8;
  std::set<std::string> all;
  for (int batch = 0; batch < kAttempts / 100; ++batch) {
    std::vector<NewRun> runs;
    runs.reserve(100);
    for (int i = 0; i < 100; ++i) runs.push_back(MakeRun("hello", kT0 - (i % 7) * kSec));
    for (const auto& n : runs) all.insert(n.first.id);
    for (const Status& st : a->CreateRuns(runs)) ASSERT_TRUE(Ok(st));
  }
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : static_cast<Store&>(*b);
      const std::string owner = "server-" + std::to_string(t);
      while (true) {
        auto claimed = store.ClaimAttempt(owner, kT0, kLease);
        if (!claimed.ok()) {
          errors[static_cast<size_t>(t)] = claimed.error().ToString();
          return;
        }
        if (!claimed->has_value()) return;
        got[static_cast<size_t>(t)].push_back((*claimed)->id);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  std::multiset<std::string> claimed;
  for (const auto& ids : got) claimed.insert(ids.begin(), ids.end());
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kAttempts)) << "an attempt was claimed twice";
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()), all);
  EXPECT_EQ(RawDb(url_).Query("SELECT COUNT(*) FROM events WHERE type = 'claimed'"),
            (Table{{std::to_string(kAttempts)}}));
}

// The server goes away under an open store: calls fail with kUnavailable (at once while the
// back-off window is closed), and once it is back the same store works again. A server of its
// own, so the others' tests never see the outage.
TEST(PostgresOutageTest, StoreRecoversAfterTheServerRestarts) {
  auto server = PgServer::Start({.bin_dir = "", .fsync = false});
  ASSERT_TRUE(Ok(server)) << "PostgreSQL could not be started";
  auto url = (*server)->CreateDatabase("outage");
  ASSERT_TRUE(Ok(url));
  ManualClock clock(kT0);
  auto store = OpenStore(*url, clock);
  ASSERT_NE(store, nullptr);
  NewRun before = MakeRun();
  ASSERT_TRUE(Ok(store->CreateRun(before.run, before.first)));
  ASSERT_TRUE(Ok(store->GetRun(before.run.id)));  // the pool now holds idle connections

  ASSERT_TRUE(Ok((*server)->Stop()));
  NewRun during = MakeRun();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Fails(store->CreateRun(during.run, during.first), Code::kUnavailable));
    EXPECT_TRUE(Fails(store->GetRun(before.run.id), Code::kUnavailable));
    EXPECT_TRUE(Fails(store->ClaimAttempt("server-a", kT0, kLease), Code::kUnavailable));
    EXPECT_TRUE(Fails(store->RequestStop(before.run.id, kT0), Code::kUnavailable));
    EXPECT_TRUE(Fails(store->ListRuns({}), Code::kUnavailable));
  }
  auto down = store->CountRunsByStatus();
  ASSERT_TRUE(Fails(down, Code::kUnavailable));
  EXPECT_NE(down.error().message().find("unreachable"), std::string::npos)
      << down.error().ToString();

  ASSERT_TRUE(Ok((*server)->Restart()));
  clock.Advance(10 * kSec);  // past the longest back-off window
  auto run = store->GetRun(before.run.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->id, before.run.id);
  ASSERT_TRUE(Ok(store->CreateRun(during.run, during.first)));
  auto claimed = store->ClaimAttempt("server-a", kT0, kLease);
  ASSERT_TRUE(Ok(claimed));
  EXPECT_TRUE(claimed->has_value());
  // Nothing attempted during the outage was written.
  EXPECT_EQ(store->GetRun(before.run.id)->stop_requested, false);
}

// The server closes the store's idle connections (an administrator, a failover): reads and
// transactions notice, reconnect and succeed, without an outage to wait for.
TEST_F(PostgresStoreTest, TerminatedConnectionsAreReplaced) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  for (int round = 0; round < 3; ++round) {
    RawDb(url_).Query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EXPECT_TRUE(Ok(store->GetRun(n.run.id))) << "round " << round;
    EXPECT_TRUE(Ok(
        store->PutDefinition(MakeDefinition("hello", fmt::format("echo {}", round)), kT0 + round)))
        << "round " << round;
  }
}

TEST(PostgresUrlTest, PasswordNeverAppearsInErrors) {
  const std::string secret = "s3cr3t-Pw0rd";
  net::testing::RefusingPort port;
  ManualClock clock(kT0);
  const std::vector<std::string> urls = {
      fmt::format("postgresql://tug:{}@127.0.0.1:{}/db", secret, port.port()),
      fmt::format("postgres://tug:{}@127.0.0.1:{}/db?connect_timeout=2", secret, port.port()),
      fmt::format("postgresql://tug@127.0.0.1:{}/db?password={}", port.port(), secret),
      fmt::format("host=127.0.0.1 port={} user=tug password={} dbname=db", port.port(), secret),
      fmt::format("postgresql://tug:{}@127.0.0.1:notaport/db", secret),
      fmt::format("postgresql://tug:{}@127.0.0.1:{}/db?bogus_option=1", secret, port.port()),
  };
  for (const std::string& url : urls) {
    SCOPED_TRACE(pg::RedactUrl(url));
    auto store = PostgresStore::Open({.url = url}, clock);
    ASSERT_FALSE(store.ok());
    EXPECT_TRUE(store.error().code() == Code::kUnavailable ||
                store.error().code() == Code::kInvalidArgument)
        << store.error().ToString();
    EXPECT_EQ(store.error().ToString().find(secret), std::string::npos) << store.error().ToString();
    EXPECT_EQ(pg::RedactUrl(url).find(secret), std::string::npos) << pg::RedactUrl(url);
  }
  EXPECT_EQ(pg::RedactUrl("postgresql://tug:pw@db:5432/tug"), "postgresql://tug:***@db:5432/tug");
  EXPECT_EQ(pg::RedactUrl("postgresql://tug@db/tug"), "postgresql://tug@db/tug");
}

TEST(PostgresUrlTest, BadUrlOrOptionsAreClearErrors) {
  ManualClock clock(kT0);
  for (const std::string& url : {std::string("not a url"), std::string("mysql://db/x"),
                                 std::string("postgresql://db:99999999999/x")}) {
    auto store = PostgresStore::Open({.url = url}, clock);
    ASSERT_TRUE(Fails(store, Code::kInvalidArgument)) << url;
    EXPECT_NE(store.error().message().find("postgres url"), std::string::npos)
        << store.error().message();
    EXPECT_NE(store.error().message().find("postgresql://user:password@host"), std::string::npos)
        << store.error().message();
  }
  EXPECT_TRUE(Fails(PostgresStore::Open({.url = ""}, clock), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(PostgresStore::Open({.url = "postgresql://db/x", .pool_size = 0}, clock),
                    Code::kInvalidArgument));
  EXPECT_TRUE(
      Fails(PostgresStore::Open(
                {.url = "postgresql://db/x", .pool_size = 1, .statement_timeout_ms = -1}, clock),
            Code::kInvalidArgument));
}

TEST(PostgresBackoffTest, WindowDoublesToFiveSecondsAndResets) {
  constexpr Micros kMs = kMicrosPerMilli;
  pg::ConnectBackoff b;
  EXPECT_TRUE(b.Open(kT0));
  struct Step {
    Micros failed_at;
    Micros closed_until;
  };
  Micros t = kT0;
  for (Micros expected : {100 * kMs, 200 * kMs, 400 * kMs, 800 * kMs, 1600 * kMs, 3200 * kMs,
                          5000 * kMs, 5000 * kMs}) {
    b.Failed(t);
    EXPECT_EQ(b.delay(), expected);
    EXPECT_FALSE(b.Open(t));
    EXPECT_FALSE(b.Open(t + expected - 1));
    EXPECT_EQ(b.Remaining(t + 1), expected - 1);
    EXPECT_TRUE(b.Open(t + expected));
    t += expected;
  }
  EXPECT_TRUE(b.Open(kT0)) << "a clock stepped backwards opens the window";
  b.Succeeded();
  EXPECT_TRUE(b.Open(t));
  b.Failed(t);
  EXPECT_EQ(b.delay(), 100 * kMs);
}

TEST_F(PostgresStoreTest, ValuesAreBoundNotSpliced) {
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
  // The owner's quote does not confuse the claim's event text either.
  auto claimed = store->ClaimAttempt("o'brien", kT0, kLease);
  ASSERT_TRUE(Ok(claimed));
  auto taken = store->ClaimAttempt("x", kT0 + 2 * kLease, kLease);
  ASSERT_TRUE(Ok(taken));
  auto events = store->ListEvents(n.run.id, 0, 10);
  ASSERT_TRUE(Ok(events));
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[1].message, "claimed by 'o'brien'");
  EXPECT_EQ((*events)[2].message, "claimed by 'x'; took over expired lease of 'o'brien'");
}

TEST_F(PostgresStoreTest, DamagedRowsAreInternalErrorsNotCrashes) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  NewRun n = MakeRun();
  ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  RawDb(url_).Query("UPDATE runs SET spec = '{not json'");
  auto run = store->GetRun(n.run.id);
  ASSERT_TRUE(Fails(run, Code::kInternal));
  EXPECT_NE(run.error().message().find(n.run.id), std::string::npos) << run.error().message();
  EXPECT_TRUE(Fails(store->ListRuns({}), Code::kInternal));
  RawDb(url_).Query("UPDATE attempts SET status = 'SIDEWAYS'");
  EXPECT_TRUE(Fails(store->GetAttempt(n.first.id), Code::kInternal));
}

TEST_F(PostgresStoreTest, ConcurrentPutsOfOneDefinitionMakeConsecutiveVersions) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<std::string> errors(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto put = store->PutDefinition(MakeDefinition("hello", "echo " + std::to_string(i)), kT0);
      if (!put.ok()) errors[static_cast<size_t>(i)] = put.error().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(RawDb(url_).Query("SELECT MIN(version), MAX(version), COUNT(*) FROM definitions"),
            (Table{{"1", std::to_string(kThreads), std::to_string(kThreads)}}));
}

// Not a benchmark (bench/store_bench has one) and nothing is asserted: rough numbers for the log.
TEST_F(PostgresStoreTest, LogsRoughTimings) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kRuns = 300;
  std::vector<NewRun> runs;
  runs.reserve(kRuns);
  for (int i = 0; i < kRuns; ++i) runs.push_back(MakeRun());
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (const auto& n : runs) ASSERT_TRUE(Ok(store->CreateRun(n.run, n.first)));
  const auto t1 = Clock::now();
  std::vector<std::string> ids;
  ids.reserve(kRuns);
  for (int i = 0; i < kRuns; ++i) {
    auto claimed = store->ClaimAttempt("server-a", kT0, kLease);
    ASSERT_TRUE(Ok(claimed));
    ASSERT_TRUE(claimed->has_value());
    ids.push_back((*claimed)->id);
  }
  const auto t2 = Clock::now();
  for (const auto& id : ids) {
    AttemptEnd end;
    end.status = AttemptStatus::kSucceeded;
    end.outcome = {0, "Completed", ""};
    end.ended_at = kT0 + kSec;
    ASSERT_TRUE(Ok(store->EndAttempt(id, end)));
  }
  const auto t3 = Clock::now();
  for (const auto& n : runs) ASSERT_TRUE(Ok(store->GetRun(n.run.id)));
  const auto t4 = Clock::now();
  auto us = [](Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count() / kRuns;
  };
  std::printf(
      "[ timing   ] CreateRun %.0f us, ClaimAttempt %.0f us, EndAttempt %.0f us, GetRun %.0f us "
      "(one thread, debug build)\n",
      us(t1 - t0), us(t2 - t1), us(t3 - t2), us(t4 - t3));
}

}  // namespace
}  // namespace tug::store
