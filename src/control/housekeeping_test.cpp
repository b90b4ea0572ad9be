// Orphan take-over, deferred updates through a store outage, and retention.
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>

#include "control/controller_test_fixture.h"
#include "logs/fs_log_store.h"

namespace tug::control {
namespace {

using testing::ControllerTest;
using testing::FakeEngine;

class HousekeepingTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    char tmpl[] = "/tmp/tug-housekeeping-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  ControlOptions Fast(const std::string& owner = "host-a/100/aaaa") {
    ControlOptions o = Options(owner);
    o.sweep_every = 20 * kMicrosPerMilli;
    o.renew_every = 50 * kMicrosPerMilli;
    return o;
  }

  // Claims the next attempt for `owner` and takes it to RUNNING with an engine ref.
  void RunAs(const tug::Run& r, const std::string& owner) {
    auto claimed = store_->ClaimAttempt(owner, clock_.Now(), 30 * kMicrosPerSecond);
    ASSERT_TRUE(claimed.ok() && claimed->has_value());
    ASSERT_EQ((*claimed)->id, r.attempts[0].id);
    ASSERT_TRUE(store_->MarkLaunched(r.attempts[0].id, owner, "ref", clock_.Now()).ok());
    ASSERT_TRUE(store_->MarkRunning(r.attempts[0].id, clock_.Now()).ok());
  }

  // Polls `done` until it holds; the 60 s deadline is only a guard against a hang.
  bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 6000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Waits until `c` has completed `n` more sweeps: whatever a sweep would do wrongly, it has
  // had its chances to, however slow the machine.
  void Sweeps(const Controller& c, int n) {
    const int64_t until = c.sweeps() + n;
    ASSERT_TRUE(WaitFor([&] { return c.sweeps() >= until; }));
  }

  std::string dir_;
};

TEST_F(HousekeepingTest, OrphanOfAnotherHostIsTakenOverOnlyAfterItsLeaseExpires) {
  tug::Run r = Submit();
  RunAs(r, "host-b/7/bbbb");  // alive as far as we can tell: another host
  Controller c(Fast(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  Sweeps(c, 3);
  EXPECT_EQ(engine_.Adopted(), 0u) << "an attempt with a live lease was taken over";
  EXPECT_EQ(store_->GetAttempt(r.attempts[0].id)->claimed_by, "host-b/7/bbbb");

  clock_.Advance(31 * kMicrosPerSecond);
  ASSERT_TRUE(WaitFor([&] { return engine_.Adopted() == 1; }));
  c.Stop();
  auto a = store_->GetAttempt(r.attempts[0].id);
  EXPECT_EQ(a->claimed_by, "host-a/100/aaaa");
  EXPECT_EQ(a->status, AttemptStatus::kRunning);
  bool adopted_event = false;
  auto events = store_->ListEvents(r.id, 0, 100);
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events) {
    adopted_event = adopted_event ||
                    (e.type == "adopted" && e.message.find("host-b/7/bbbb") != std::string::npos);
  }
  EXPECT_TRUE(adopted_event);
  EXPECT_TRUE(engine_.launches_.empty()) << "a running attempt was launched again";
}

TEST_F(HousekeepingTest, DeadOwnerOnThisHostIsTakenOverAtOnceALiveOneIsNot) {
  tug::Run dead = Submit();
  tug::Run alive = Submit();
  RunAs(dead, "host-a/55/dead");
  RunAs(alive, "host-a/56/live");
  Controller c(Fast(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return engine_.Adopted() == 1; }));
  Sweeps(c, 3);
  c.Stop();
  EXPECT_EQ(engine_.adopted_, std::vector<std::string>{dead.attempts[0].id});
  EXPECT_EQ(store_->GetAttempt(alive.attempts[0].id)->claimed_by, "host-a/56/live");
}

TEST_F(HousekeepingTest, ALiveOwnerOnThisHostKeepsALapsedLeaseUntilItLooksHung) {
  tug::Run r = Submit();
  RunAs(r, "host-a/56/live");
  clock_.Advance(31 * kMicrosPerSecond);  // lapsed: the database was away, say
  Controller c(Fast(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  Sweeps(c, 3);
  EXPECT_EQ(engine_.Adopted(), 0u);
  clock_.Advance(60 * kMicrosPerSecond);  // three leases without a renewal: hung
  ASSERT_TRUE(WaitFor([&] { return engine_.Adopted() == 1; }));
  c.Stop();
}

TEST_F(HousekeepingTest, HostBoundAttemptsAreAdoptedOnlyOnTheirOwnHost) {
  engine_.host_bound_ = true;
  tug::Run other = Submit();
  RunAs(other, "host-b/7/bbbb");
  clock_.Advance(60 * kMicrosPerSecond);  // its lease expired long ago
  Controller c(Fast(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  Sweeps(c, 3);
  c.Stop();
  EXPECT_EQ(engine_.Adopted(), 0u);
  EXPECT_EQ(store_->GetAttempt(other.attempts[0].id)->claimed_by, "host-b/7/bbbb");
}

TEST_F(HousekeepingTest, TwoReplicasNeverBothTakeOverOneOrphan) {
  constexpr int kRuns = 20;
  std::vector<tug::Run> runs;
  for (int i = 0; i < kRuns; ++i) {
    runs.push_back(Submit());
    RunAs(runs.back(), "host-a/55/dead");
  }
  FakeEngine other_engine;
  metrics::Registry other_registry;
  Controller a(Fast("host-a/100/aaaa"), *store_, engine_, registry_, clock_);
  Controller b(Fast("host-a/200/bbbb"), *store_, other_engine, other_registry, clock_);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return engine_.Adopted() + other_engine.Adopted() >= kRuns; }));
  Sweeps(a, 3);
  Sweeps(b, 3);
  a.Stop();
  b.Stop();
  EXPECT_EQ(engine_.Adopted() + other_engine.Adopted(), static_cast<size_t>(kRuns));
  std::set<std::string> seen(engine_.adopted_.begin(), engine_.adopted_.end());
  for (const auto& id : other_engine.adopted_) EXPECT_TRUE(seen.insert(id).second) << id;
}

// A claim that committed while its reply was lost leaves an attempt claimed by us that nothing
// launches (and our lease keeper would renew it forever); the sweep launches it.
TEST_F(HousekeepingTest, OurClaimWhoseReplyWasLostIsLaunched) {
  ControlOptions o = Fast();
  o.dispatch = false;  // only the sweep can launch it
  tug::Run r = Submit();
  auto claimed = store_->ClaimAttempt(o.owner, clock_.Now(), 30 * kMicrosPerSecond);
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  Controller c(o, *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(engine_.WaitLaunches(1));
  ASSERT_TRUE(WaitForLaunched(r.attempts[0].id));
  Sweeps(c, 3);  // no second launch
  c.Stop();
  std::lock_guard lock(engine_.mu_);
  EXPECT_EQ(engine_.launches_.size(), 1u);
}

// The engine ran our attempt while the store was away (its launch and end were not recorded) and
// the end arrives just as a sweep, having read the attempt as LAUNCHING, is about to relaunch it.
// The end and its cleanup wait for the heal, so the heal's idempotent launch still finds the
// engine's record and nothing runs twice.
TEST_F(HousekeepingTest, AHealAndAnEndOfTheSameAttemptNeverInterleave) {
  ControlOptions o = Fast();
  o.dispatch = false;
  tug::Run r = Submit();
  const std::string id = r.attempts[0].id;
  auto claimed = store_->ClaimAttempt(o.owner, clock_.Now(), 30 * kMicrosPerSecond);
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  Controller c(o, *store_, engine_, registry_, clock_);
  // Per sweep, the first Active() lists what the engine watches and the second is the heal's
  // check after it re-read the attempt (LAUNCHING, no engine ref). At that second call the end
  // arrives on another thread, and gets up to 300 ms to be recorded and cleaned up.
  std::atomic<int> calls{0};
  std::thread ender;
  std::promise<void> ended;
  auto ended_future = ended.get_future();
  engine_.on_active = [&] {
    if (++calls != 2) return;
    ender = std::thread([&] {
      engine::Update u;
      u.kind = engine::Update::Kind::kEnded;
      u.attempt_id = id;
      u.at = clock_.Now();
      u.status = AttemptStatus::kSucceeded;
      u.outcome.exit_code = 0;
      u.outcome.reason = "Completed";
      engine_.Send(u);
      ended.set_value();
    });
    ended_future.wait_for(std::chrono::milliseconds(300));
  };
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return Get(r.id).status == RunStatus::kSucceeded; }));
  Sweeps(c, 3);
  c.Stop();
  if (ender.joinable()) ender.join();
  engine_.on_active = nullptr;
  std::lock_guard lock(engine_.mu_);
  EXPECT_EQ(engine_.launches_after_cleanup_, 0)
      << "the heal relaunched an attempt whose engine record was already cleaned up";
  EXPECT_LE(engine_.launches_.size(), 1u);
}

// Ours and running on a host-bound engine that no longer watches it (its end never reached the
// store): the sweep adopts it again, so the engine reports the end once more.
TEST_F(HousekeepingTest, OurRunningAttemptTheEngineForgotIsAdoptedAgain) {
  engine_.host_bound_ = true;
  tug::Run r = Submit();
  RunAs(r, "host-a/100/aaaa");
  Controller c(Fast(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return engine_.Adopted() == 1; }));
  Sweeps(c, 3);
  c.Stop();
  EXPECT_EQ(engine_.Adopted(), 1u) << "a watched attempt was adopted again";
}

// The engine's end arrives while the database refuses writes: it is kept and recorded once the
// database is back, and the engine's record is cleaned up only then.
TEST_F(HousekeepingTest, AnEndDuringAStoreOutageIsRecordedWhenTheStoreReturns) {
  store::SqliteOptions so;
  so.path = dir_ + "/tug.db";
  so.busy_timeout_ms = 20;
  auto opened = store::SqliteStore::Open(so, clock_);
  ASSERT_TRUE(opened.ok());
  store_ = std::move(*opened);
  tug::Run r = Submit();
  Controller c(Fast(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  c.Wake();
  ASSERT_TRUE(WaitForLaunched(r.attempts[0].id));

  // Another connection holds the write lock: every write times out (kUnavailable).
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(so.path.c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  engine_.Send({engine::Update::Kind::kStarted,
                r.attempts[0].id,
                clock_.Now(),
                "",
                {},
                {},
                0,
                0,
                {},
                "",
                {},
                0});
  engine::Update end;
  end.kind = engine::Update::Kind::kEnded;
  end.attempt_id = r.attempts[0].id;
  end.at = clock_.Now();
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, "Completed", ""};
  engine_.Send(end);
  EXPECT_EQ(Get(r.id).status, RunStatus::kQueued);
  {
    std::lock_guard lock(engine_.mu_);
    EXPECT_TRUE(engine_.cleaned_.empty()) << "the engine's record went before the store had it";
  }

  ASSERT_EQ(sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);
  ASSERT_TRUE(WaitForStatus(r.id, RunStatus::kSucceeded));
  c.Stop();
  tug::Run done = Get(r.id);
  EXPECT_NE(done.started_at, 0);  // the start was recorded too, before the end
  std::lock_guard lock(engine_.mu_);
  EXPECT_EQ(engine_.cleaned_, std::vector<std::string>{r.attempts[0].id});
}

TEST_F(HousekeepingTest, RetentionDeletesOldRunsAndTheirLogsOnly) {
  logs::FsLogStore logs(dir_ + "/logs");
  auto end_run = [&](const tug::Run& r) {
    RunAs(r, "host-a/100/aaaa");
    store::AttemptEnd e;
    e.status = AttemptStatus::kSucceeded;
    e.outcome = {0, "Completed", ""};
    e.ended_at = clock_.Now();
    ASSERT_TRUE(store_->EndAttempt(r.attempts[0].id, e).ok());
    auto path = logs.PathFor(r.id, r.attempts[0].id, "main");
    ASSERT_TRUE(path.ok());
    std::ofstream(*path) << "hello\n";
  };
  tug::Run old_run = Submit();
  end_run(old_run);
  clock_.Advance(48 * 3600 * kMicrosPerSecond);
  tug::Run recent = Submit();
  end_run(recent);
  tug::Run running = Submit();

  ControlOptions o = Fast();
  o.dispatch = false;
  o.retention = 24 * 3600 * kMicrosPerSecond;
  o.logs = &logs;
  Controller c(o, *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return !store_->GetRun(old_run.id).ok(); }));
  c.Stop();
  EXPECT_EQ(store_->GetRun(old_run.id).error().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/logs/" + old_run.id));
  EXPECT_TRUE(store_->GetRun(recent.id).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/logs/" + recent.id));
  EXPECT_TRUE(store_->GetRun(running.id).ok());
}

}  // namespace
}  // namespace tug::control
