#include "control/controller.h"

#include <gtest/gtest.h>

#include "control/controller_test_fixture.h"

namespace tug::control {
namespace {

using testing::ControllerTest;

TEST_F(ControllerTest, DispatchesAndRecordsTheEngineUpdates) {
  Controller c(Options(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  tug::Run r = Submit();
  c.Wake();
  ASSERT_TRUE(engine_.WaitLaunches(1));
  const engine::LaunchSpec& spec = engine_.launches_[0];
  EXPECT_EQ(spec.attempt_id, r.attempts[0].id);
  EXPECT_EQ(spec.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(spec.env.at("K"), "v");
  EXPECT_EQ(spec.resources.memory_bytes, 64 << 20);
  ASSERT_TRUE(WaitForLaunched(r.attempts[0].id));

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
  EXPECT_EQ(Get(r.id).status, RunStatus::kRunning);
  engine::Update end;
  end.kind = engine::Update::Kind::kEnded;
  end.attempt_id = r.attempts[0].id;
  end.at = clock_.Now();
  end.status = AttemptStatus::kFailed;
  end.outcome = {137, "OOMKilled", "memory limit 64Mi reached"};
  end.peak_memory_bytes = 64 << 20;
  engine_.Send(end);
  // The OOM is planned into a retry with 1.5x the memory, launched at once (no back-off).
  tug::Run retrying = Get(r.id);
  EXPECT_EQ(retrying.attempts[0].outcome->reason, "OOMKilled");
  EXPECT_EQ(retrying.attempts[0].peak_memory_bytes, 64 << 20);
  EXPECT_NE(retrying.attempts[0].decision.find("oom.container.grow"), std::string::npos)
      << retrying.attempts[0].decision;
  EXPECT_EQ(engine_.cleaned_, std::vector<std::string>{r.attempts[0].id});
  ASSERT_TRUE(engine_.WaitLaunches(2));
  EXPECT_EQ(engine_.launches_[1].attempt_id, AttemptId(r.id, 2));
  EXPECT_EQ(engine_.launches_[1].resources.memory_bytes, 96 << 20);
  ASSERT_TRUE(WaitForLaunched(AttemptId(r.id, 2)));
  EXPECT_EQ(Get(r.id).status, RunStatus::kRetrying);
  engine_.Send({engine::Update::Kind::kStarted,
                AttemptId(r.id, 2),
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
  EXPECT_EQ(Get(r.id).status, RunStatus::kRunning);
  end.attempt_id = AttemptId(r.id, 2);
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, "Completed", ""};
  engine_.Send(end);
  tug::Run done = Get(r.id);
  EXPECT_EQ(done.status, RunStatus::kSucceeded);
  ASSERT_EQ(done.attempts.size(), 2u);
  EXPECT_TRUE(done.attempts[1].decision.empty());
  c.Stop();
  EXPECT_EQ(engine_.launches_.size(), 2u);
  // /metrics: the failure by its class, the decision by its rule (the Grafana dashboard's).
  std::string text = registry_.Render();
  EXPECT_NE(text.find(R"(tug_attempts_ended_total{reason="OOMKilled"} 1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("tug_attempts_failed_total{class="), std::string::npos) << text;
  EXPECT_NE(text.find(R"(tug_retry_decisions_total{rule="oom.container.grow",retry="true"} 1)"),
            std::string::npos)
      << text;
}

TEST_F(ControllerTest, LaunchesOverlapUpToTheWorkerCount) {
  // Each launch waits until four are in the engine at once: with four workers they all get
  // there; with launches one at a time the first would wait forever (the guard: 30 s).
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  int most = 0;
  engine_.on_launch = [&] {
    std::unique_lock lock(mu);
    most = std::max(most, ++inside);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return most >= 4; });
    --inside;
  };
  ControlOptions o = Options();
  o.launch_workers = 4;
  Controller c(o, *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  std::vector<tug::Run> runs;
  for (int i = 0; i < 8; ++i) runs.push_back(Submit());
  c.Wake();
  ASSERT_TRUE(engine_.WaitLaunches(8));
  for (const tug::Run& r : runs) EXPECT_TRUE(WaitForLaunched(r.attempts[0].id)) << r.id;
  std::lock_guard lock(mu);
  EXPECT_EQ(most, 4);
}

TEST_F(ControllerTest, UpdateWorkersRecordEachAttemptsUpdatesInOrderAndDrainOnStop) {
  ControlOptions o = Options();
  o.update_workers = 3;
  o.dispatch = false;
  Controller c(o, *store_, engine_, registry_, clock_);
  std::vector<tug::Run> runs;
  for (int i = 0; i < 20; ++i) {
    runs.push_back(Submit());
    auto claimed = store_->ClaimAttempt(o.owner, clock_.Now(), 30 * kMicrosPerSecond);
    ASSERT_TRUE(claimed.ok() && claimed->has_value());
  }
  ASSERT_TRUE(c.Start().ok());
  // Each attempt's start and end, interleaved across attempts: a start recorded after its end
  // would be refused and the run would not be RUNNING-then-SUCCEEDED with a start time.
  for (const tug::Run& r : runs) {
    engine::Update start;
    start.kind = engine::Update::Kind::kStarted;
    start.attempt_id = r.attempts[0].id;
    start.at = clock_.Now();
    engine_.Send(start);
  }
  for (const tug::Run& r : runs) {
    engine::Update end;
    end.kind = engine::Update::Kind::kEnded;
    end.attempt_id = r.attempts[0].id;
    end.at = clock_.Now();
    end.status = AttemptStatus::kSucceeded;
    end.outcome.exit_code = 0;
    end.outcome.reason = "Completed";
    engine_.Send(end);
  }
  c.Stop();  // returns once every update handed over is recorded
  for (const tug::Run& r : runs) {
    tug::Run got = Get(r.id);
    EXPECT_EQ(got.status, RunStatus::kSucceeded) << r.id;
    EXPECT_GT(got.attempts[0].started_at, 0) << "the start was not recorded before the end";
  }
  std::lock_guard lock(engine_.mu_);
  EXPECT_EQ(engine_.cleaned_.size(), runs.size());
}

TEST_F(ControllerTest, LaunchErrorFailsTheRunWithTheEnginesMessage) {
  engine_.launch_error_ = "cannot reach the node agent at /nope";
  Controller c(Options(), *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  tug::Run r = Submit();
  c.Wake();
  ASSERT_TRUE(engine_.WaitLaunches(1));
  // A launch failure is the platform's: retried after a back-off on the infra budget.
  ASSERT_TRUE(WaitForStatus(r.id, RunStatus::kRetrying));
  tug::Run waiting = Get(r.id);
  EXPECT_EQ(waiting.attempts[0].outcome->reason, "LaunchFailed");
  EXPECT_NE(waiting.attempts[0].outcome->message.find("/nope"), std::string::npos);
  EXPECT_NE(waiting.attempts[0].decision.find("\"budget\":\"infra\""), std::string::npos)
      << waiting.attempts[0].decision;
  ASSERT_EQ(waiting.attempts.size(), 2u);
  Micros due = waiting.attempts[1].due_at;
  EXPECT_GE(due - clock_.Now(), 30 * kMicrosPerSecond);  // half of the 60s initial back-off
  // Not launched before it is due, whatever wakes the dispatcher.
  const int64_t rounds = c.claim_rounds();
  c.Wake();
  for (int i = 0; i < 6000 && c.claim_rounds() < rounds + 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(c.claim_rounds(), rounds + 2) << "the dispatcher did not look again";
  EXPECT_EQ(engine_.launches_.size(), 1u);
  clock_.Advance(due - clock_.Now());
  c.Wake();
  ASSERT_TRUE(engine_.WaitLaunches(2));
  EXPECT_EQ(engine_.launches_[1].attempt_id, AttemptId(r.id, 2));
  c.Stop();
}

TEST_F(ControllerTest, SpecTheEngineRefusesIsAConfigErrorNotRetried) {
  engine_.launch_error_ = "working_dir '/nope' does not exist";
  engine_.launch_code_ = Code::kInvalidArgument;
  ControlOptions o = Options();
  o.diagnose = [](const Attempt&, AttemptStatus, const Outcome& out) {
    // What the real diagnoser decides from platform evidence alone (see diagnoser_test).
    return out.reason == "InvalidSpec" ? std::string(R"({"class":"config_error"})") : "";
  };
  Controller c(o, *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  tug::Run r = Submit();
  c.Wake();
  ASSERT_TRUE(engine_.WaitLaunches(1));
  ASSERT_TRUE(WaitForStatus(r.id, RunStatus::kFailed));
  tug::Run failed = Get(r.id);
  ASSERT_EQ(failed.attempts.size(), 1u);
  EXPECT_EQ(failed.attempts[0].outcome->reason, "InvalidSpec");
  EXPECT_NE(failed.attempts[0].outcome->message.find("/nope"), std::string::npos);
  EXPECT_NE(failed.attempts[0].decision.find("not retried"), std::string::npos)
      << failed.attempts[0].decision;
  c.Stop();
}

TEST_F(ControllerTest, ReconcileAdoptsOrMarksLostAndLeavesOtherHostsAlone) {
  // A previous process on this host left three attempts; another host left one.
  tug::Run running = Submit();
  tug::Run gone = Submit();
  tug::Run unlaunched = Submit();
  tug::Run elsewhere = Submit();
  const std::string old_owner = "host-a/99/dead";
  for (tug::Run* r : {&running, &gone, &unlaunched}) {
    auto claimed = store_->ClaimAttempt(old_owner, clock_.Now(), 30 * kMicrosPerSecond);
    ASSERT_TRUE(claimed.ok() && claimed->has_value());
    EXPECT_EQ((*claimed)->id, r->attempts[0].id);
  }
  ASSERT_TRUE(store_->ClaimAttempt("host-b/1/beef", clock_.Now(), 30 * kMicrosPerSecond).ok());
  ASSERT_TRUE(store_->MarkLaunched(running.attempts[0].id, old_owner, "ref", clock_.Now()).ok());
  ASSERT_TRUE(store_->MarkRunning(running.attempts[0].id, clock_.Now()).ok());
  ASSERT_TRUE(store_->MarkLaunched(gone.attempts[0].id, old_owner, "ref", clock_.Now()).ok());

  // First reconcile: every adopt succeeds.
  {
    Controller c(Options(), *store_, engine_, registry_, clock_);
    ASSERT_TRUE(c.Start().ok());
    c.Stop();
  }
  EXPECT_EQ(engine_.adopted_,
            (std::vector<std::string>{running.attempts[0].id, gone.attempts[0].id}));
  // The attempt that was claimed but never recorded as launched goes through the idempotent
  // Launch path instead of being guessed about.
  ASSERT_EQ(engine_.launches_.size(), 1u);
  EXPECT_EQ(engine_.launches_[0].attempt_id, unlaunched.attempts[0].id);
  EXPECT_EQ(store_->GetAttempt(running.attempts[0].id)->claimed_by, "host-a/100/aaaa");
  EXPECT_EQ(store_->GetAttempt(elsewhere.attempts[0].id)->claimed_by, "host-b/1/beef");

  // Second restart: the processes are gone now.
  engine_.adopt_fails_ = true;
  dead_.insert("host-a/100/aaaa");
  {
    Controller c(Options("host-a/101/bbbb"), *store_, engine_, registry_, clock_);
    ASSERT_TRUE(c.Start().ok());
    c.Stop();
  }
  tug::Run lost = Get(running.id);
  // Lost with its process: an infrastructure failure, so a retry is planned.
  EXPECT_EQ(lost.status, RunStatus::kRetrying);
  EXPECT_EQ(lost.attempts[0].status, AttemptStatus::kLost);
  ASSERT_EQ(lost.attempts.size(), 2u);
  EXPECT_EQ(lost.attempts[1].status, AttemptStatus::kQueued);
  EXPECT_EQ(lost.attempts[0].outcome->reason, "Lost");
  EXPECT_NE(lost.attempts[0].outcome->message.find("is gone"), std::string::npos)
      << lost.attempts[0].outcome->message;
  EXPECT_EQ(Get(elsewhere.id).status, RunStatus::kQueued);
}

TEST_F(ControllerTest, StopQueuedRunAtOnceAndRunningRunThroughTheEngine) {
  ControlOptions o = Options();
  o.dispatch = false;  // keep the first run queued
  Controller c(o, *store_, engine_, registry_, clock_);
  ASSERT_TRUE(c.Start().ok());
  tug::Run queued = Submit();
  ASSERT_TRUE(c.StopRun(queued.id).ok());
  EXPECT_EQ(Get(queued.id).status, RunStatus::kStopped);
  EXPECT_TRUE(engine_.stopped_.empty());

  tug::Run running = Submit();
  ASSERT_TRUE(store_->ClaimAttempt(o.owner, clock_.Now(), 30 * kMicrosPerSecond).ok());
  ASSERT_TRUE(store_->MarkRunning(running.attempts[0].id, clock_.Now()).ok());
  ASSERT_TRUE(c.StopRun(running.id).ok());
  EXPECT_EQ(engine_.stopped_, std::vector<std::string>{running.attempts[0].id});
  EXPECT_TRUE(Get(running.id).stop_requested);
  auto again = c.StopRun(queued.id);
  EXPECT_FALSE(again.ok());
  c.Stop();
}

}  // namespace
}  // namespace tug::control
