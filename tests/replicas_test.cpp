// Several `tug server` replicas on one PostgreSQL (started by the test: initdb in a temp dir,
// loopback only). The replicas share a data directory, so the local engine's jobs and logs are
// visible to both, as on one host.
//
// Exactly-once is checked on the engine side: every job appends its TUG_ATTEMPT_ID to a file, so
// an attempt launched twice shows up twice, whatever the store says.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <boost/json.hpp>

#include "core/clock.h"
#include "net/http_client.h"
#include "store/postgres/pg_test_server.h"
#include "store/postgres/postgres_store.h"
#include "test_util.h"

namespace tug::testing {
namespace {

namespace json = boost::json;

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = store::pgtest::PgServer::Start();
    ASSERT_TRUE(pg.ok()) << "PostgreSQL must start for this test: " << pg.error().ToString();
    pg_ = std::move(*pg);
    auto url = pg_->CreateDatabase("tug");
    ASSERT_TRUE(url.ok()) << url.error().ToString();
    url_ = *url;
    data_ = dir_.path() + "/data";
    launches_ = dir_.path() + "/launches.log";
    // The replicas inherit these.
    ::setenv("TUG_DATABASE_URL", url_.c_str(), 1);
    ::setenv("TUG_LEASE", "6s", 1);
    ::setenv("TUG_CGROUP", "none", 1);
  }
  void TearDown() override {
    for (auto& r : replicas_) {
      if (HasFailure() && r) {
        // The end of the log, and every warning or error in it.
        const std::string log = r->Log();
        std::string notable;
        size_t at = 0;
        while (at < log.size()) {
          size_t nl = log.find('\n', at);
          if (nl == std::string::npos) nl = log.size();
          std::string_view line(log.data() + at, nl - at);
          if (line.find("\"level\":\"warn") != std::string_view::npos ||
              line.find("\"level\":\"error") != std::string_view::npos) {
            notable.append(line).push_back('\n');
          }
          at = nl + 1;
        }
        std::cerr << "replica log, warnings and errors:\n"
                  << notable.substr(0, 30000) << "\nreplica log, last lines:\n"
                  << log.substr(log.size() > 8000 ? log.size() - 8000 : 0) << "\n";
      }
      r.reset();
    }
    ::unsetenv("TUG_DATABASE_URL");
    ::unsetenv("TUG_LEASE");
    ::unsetenv("TUG_CGROUP");
  }

  ServerProcess& StartReplica() {
    replicas_.push_back(std::make_unique<ServerProcess>(data_));
    std::string error;
    if (!replicas_.back()->Start(&error)) {
      ADD_FAILURE() << error;
      throw std::runtime_error("a replica did not start");  // ends the test here
    }
    return *replicas_.back();
  }

  static net::HttpClient Client(const ServerProcess& s) {
    auto c = net::HttpClient::Create(s.url(), std::chrono::seconds(30));
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }

  void Define(const ServerProcess& s, const std::string& sleep) {
    json::object def{{"name", "once"},
                     {"command", "echo \"$TUG_ATTEMPT_ID\" >> " + launches_ + "; sleep " + sleep},
                     {"resources", json::object{{"memory", "32Mi"}}}};
    auto r = Client(s).Send("POST", "/api/v1/definitions", json::serialize(def));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    ASSERT_EQ(r->status, 201) << r->body;
  }

  // Submits `n` runs, spread over the replicas, from a few threads; returns the run ids.
  std::vector<std::string> SubmitMany(int n) {
    std::vector<std::string> ids(static_cast<size_t>(n));
    std::atomic<int> next{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        net::HttpClient c = Client(*replicas_[static_cast<size_t>(t) % replicas_.size()]);
        for (int i = next++; i < n; i = next++) {
          auto r = c.Send("POST", "/api/v1/runs", R"({"definition":"once"})");
          if (!r.ok() || r->status != 201) {
            ++failures;
            continue;
          }
          ids[static_cast<size_t>(i)] = std::string(json::parse(r->body).at("id").as_string());
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    return ids;
  }

  // Attempt id -> how many times a job of it started.
  std::map<std::string, int> Launches() const {
    std::map<std::string, int> out;
    std::ifstream in(launches_);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) ++out[line];
    }
    return out;
  }
  size_t LaunchCount() const {
    size_t n = 0;
    for (const auto& [id, c] : Launches()) n += static_cast<size_t>(c);
    return n;
  }

  std::unique_ptr<store::Store> OpenStore() {
    store::PostgresOptions o;
    o.url = url_;
    o.pool_size = 2;
    auto s = store::PostgresStore::Open(o, SystemClock::Instance());
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // The runs that have not ended, with their attempts and last events (for a failure message).
  std::string Unfinished(store::Store& s, const std::vector<std::string>& ids) {
    std::string out;
    int shown = 0;
    for (const std::string& id : ids) {
      auto run = s.GetRun(id);
      if (!run.ok() || IsTerminal(run->status) || ++shown > 5) continue;
      out += "run " + id + " " + std::string(ToString(run->status)) + "\n";
      for (const Attempt& a : run->attempts) {
        out += "  attempt " + a.id + " " + std::string(ToString(a.status)) + " owner " +
               a.claimed_by + " ref '" + a.engine_ref + "' launches " +
               std::to_string(Launches()[a.id]) + "\n";
      }
      auto events = s.ListEvents(id, 0, 100);
      if (events.ok()) {
        for (const auto& e : *events) out += "  event " + e.type + ": " + e.message + "\n";
      }
    }
    return out;
  }

  int64_t CountEnded(store::Store& s) {
    auto counts = s.CountRunsByStatus();
    if (!counts.ok()) return -1;
    int64_t ended = 0;
    for (const auto& c : *counts) {
      if (IsTerminal(c.status)) ended += c.count;
    }
    return ended;
  }

  // Every run succeeded, each of its attempts' jobs ran exactly once, and no job ran for an
  // attempt the store does not know.
  void ExpectEachAttemptRanOnce(store::Store& s, const std::vector<std::string>& ids,
                                int* adopted_out) {
    std::map<std::string, int> launches = Launches();
    std::set<std::string> known;
    int adopted = 0;
    for (const std::string& id : ids) {
      auto run = s.GetRun(id);
      ASSERT_TRUE(run.ok()) << id;
      EXPECT_EQ(run->status, RunStatus::kSucceeded) << id;
      for (const Attempt& a : run->attempts) {
        known.insert(a.id);
        EXPECT_EQ(launches[a.id], 1) << "attempt " << a.id << " ran " << launches[a.id] << " times";
      }
      auto events = s.ListEvents(id, 0, 100);
      ASSERT_TRUE(events.ok());
      for (const auto& e : *events) {
        if (e.type == "adopted" ||
            (e.type == "claimed" && e.message.find("took over") != std::string::npos)) {
          ++adopted;
        }
      }
    }
    for (const auto& [attempt, count] : launches) {
      EXPECT_TRUE(known.count(attempt) > 0) << "a job ran for unknown attempt " << attempt;
    }
    if (adopted_out != nullptr) *adopted_out = adopted;
  }

  TempDir dir_;
  std::unique_ptr<store::pgtest::PgServer> pg_;
  std::string url_;
  std::string data_;
  std::string launches_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
};

TEST_F(ReplicasTest, TwoReplicasRunEveryAttemptOnceThroughACrash) {
  constexpr int kRuns = 2000;
  ServerProcess& a = StartReplica();
  StartReplica();
  Define(a, "0.3");
  std::vector<std::string> ids = SubmitMany(kRuns);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kRuns));

  // Midway, replica A dies without a word: its claims and running jobs are orphans.
  ASSERT_TRUE(WaitFor([&] { return LaunchCount() >= kRuns / 2; }, std::chrono::minutes(5)))
      << "only " << LaunchCount() << " launches";
  a.Kill();
  const size_t at_kill = LaunchCount();

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(WaitFor([&] { return CountEnded(*store) >= kRuns; }, std::chrono::minutes(8)))
      << "ended " << CountEnded(*store) << " of " << kRuns << "\n"
      << Unfinished(*store, ids);
  int adopted = 0;
  ExpectEachAttemptRanOnce(*store, ids, &adopted);
  std::cout << "launches at the kill: " << at_kill << "; orphans taken over: " << adopted << "\n";
  EXPECT_GT(adopted, 0) << "nothing was in flight on the killed replica";
  EXPECT_EQ(LaunchCount(), static_cast<size_t>(kRuns));
}

TEST_F(ReplicasTest, APostgresRestartLosesNoUpdateAndReadyzReportsIt) {
  constexpr int kRuns = 200;
  ServerProcess& a = StartReplica();
  ServerProcess& b = StartReplica();
  Define(a, "1");
  std::vector<std::string> ids = SubmitMany(kRuns);
  ASSERT_TRUE(WaitFor([&] { return LaunchCount() >= kRuns / 4; }, std::chrono::minutes(3)));

  // The database goes away while jobs run and end.
  ASSERT_TRUE(pg_->Stop().ok());
  for (ServerProcess* s : {&a, &b}) {
    net::HttpClient c = Client(*s);
    ASSERT_TRUE(WaitFor([&] {
      auto r = c.Send("GET", "/readyz");
      return r.ok() && r->status == 503;
    })) << "readyz did not report the outage";
    auto r = c.Send("GET", "/readyz");
    ASSERT_TRUE(r.ok());
    EXPECT_NE(json::parse(r->body).at("store").as_string(), "ok") << r->body;
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));  // jobs end during the outage
  ASSERT_TRUE(pg_->Restart().ok());
  for (ServerProcess* s : {&a, &b}) {
    net::HttpClient c = Client(*s);
    EXPECT_TRUE(WaitFor([&] {
      auto r = c.Send("GET", "/readyz");
      return r.ok() && r->status == 200;
    })) << "readyz did not recover";
  }

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(WaitFor([&] { return CountEnded(*store) >= kRuns; }, std::chrono::minutes(5)))
      << "ended " << CountEnded(*store) << " of " << kRuns << "\n"
      << Unfinished(*store, ids);
  ExpectEachAttemptRanOnce(*store, ids, nullptr);
  EXPECT_EQ(LaunchCount(), static_cast<size_t>(kRuns));
}

}  // namespace
}  // namespace tug::testing
