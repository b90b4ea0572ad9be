#pragma once
/// The Store conformance suite, part 2: claims, leases, stopping and concurrent claims. Include it
/// after store_conformance.h in a backend's test (it adds TEST_Ps to the same
/// StoreConformanceTest).
#include "store/store_conformance.h"

namespace tug::store::conformance {

// --- claims and leases ---

TEST_P(StoreConformanceTest, ClaimTakesOldestDueFirst) {
  Run r1 = Submit("hello", kT0 + 2 * kSec);
  Run r2 = Submit("hello", kT0 + 1 * kSec);
  Run r3 = Submit("hello", kT0 + 3 * kSec);
  const Micros now = kT0 + 10 * kSec;
  Attempt a = ClaimExpect("server-a", now, r2.attempts[0].id);
  EXPECT_EQ(a.status, AttemptStatus::kLaunching);
  EXPECT_EQ(a.claimed_by, "server-a");
  EXPECT_EQ(a.lease_expires_at, now + kLease);
  auto stored = store_->GetAttempt(a.id);
  ASSERT_TRUE(Ok(stored));
  EXPECT_EQ(*stored, a);
  ClaimExpect("server-a", now, r1.attempts[0].id);
  ClaimExpect("server-a", now, r3.attempts[0].id);
  auto none = store_->ClaimAttempt("server-a", now, kLease);
  ASSERT_TRUE(Ok(none));
  EXPECT_FALSE(none->has_value());

  auto events = Events(r2.id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, "claimed");
  EXPECT_EQ(events[1].attempt_id, a.id);
  EXPECT_NE(events[1].message.find("server-a"), std::string::npos) << events[1].message;
  EXPECT_EQ(store_->GetRun(r2.id)->status, RunStatus::kQueued);  // until the attempt starts
}

TEST_P(StoreConformanceTest, ClaimLeavesAttemptsThatAreNotDueYet) {
  Run r = Submit("hello", kT0 + 60 * kSec);
  auto early = store_->ClaimAttempt("server-a", kT0, kLease);
  ASSERT_TRUE(Ok(early));
  EXPECT_FALSE(early->has_value());
  EXPECT_EQ(store_->GetAttempt(r.attempts[0].id)->status, AttemptStatus::kQueued);
  ClaimExpect("server-a", kT0 + 60 * kSec, r.attempts[0].id);  // due_at <= now
}

TEST_P(StoreConformanceTest, ExpiredLaunchingLeaseIsTakenOver) {
  Run r = Submit();
  const std::string id = r.attempts[0].id;
  ClaimExpect("server-a", kT0, id);
  auto before = store_->ClaimAttempt("server-b", kT0 + kLease - kSec, kLease);
  ASSERT_TRUE(Ok(before));
  EXPECT_FALSE(before->has_value()) << "an unexpired lease was taken over";

  const Micros later = kT0 + kLease + kSec;
  Attempt taken = ClaimExpect("server-b", later, id);
  EXPECT_EQ(taken.status, AttemptStatus::kLaunching);
  EXPECT_EQ(taken.claimed_by, "server-b");
  EXPECT_EQ(taken.lease_expires_at, later + kLease);
  auto events = Events(r.id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "claimed");
  EXPECT_NE(events.back().message.find("server-b"), std::string::npos) << events.back().message;
  EXPECT_NE(events.back().message.find("took over expired lease of"), std::string::npos)
      << events.back().message;
  EXPECT_NE(events.back().message.find("server-a"), std::string::npos) << events.back().message;
  // The old owner lost it.
  EXPECT_TRUE(Fails(store_->MarkLaunched(id, "server-a", "ref", later), Code::kAborted));
}

TEST_P(StoreConformanceTest, RunningAttemptsAreNeverClaimed) {
  SubmitRunning("server-a");
  auto claimed = store_->ClaimAttempt("server-b", kT0 + 1000 * kLease, kLease);
  ASSERT_TRUE(Ok(claimed));
  EXPECT_FALSE(claimed->has_value());
}

TEST_P(StoreConformanceTest, RenewLeasesExtendsOnlyTheOwnersLiveLeases) {
  Run r1 = Submit();
  Run r2 = Submit();
  Run r3 = Submit();
  Run r4 = Submit();
  ClaimExpect("server-a", kT0, r1.attempts[0].id);
  ClaimExpect("server-a", kT0, r2.attempts[0].id);
  ClaimExpect("server-b", kT0, r3.attempts[0].id);
  ClaimExpect("server-a", kT0, r4.attempts[0].id);
  ASSERT_TRUE(Ok(store_->MarkRunning(r2.attempts[0].id, kT0 + 1)));
  AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, "Completed", ""};
  end.ended_at = kT0 + 2;
  ASSERT_TRUE(Ok(store_->EndAttempt(r4.attempts[0].id, end)));

  auto renewed = store_->RenewLeases("server-a", kT0 + 20 * kSec, kLease);
  ASSERT_TRUE(Ok(renewed));
  EXPECT_EQ(*renewed, 2);  // r1 (LAUNCHING) and r2 (RUNNING); r4 ended
  EXPECT_EQ(store_->GetAttempt(r1.attempts[0].id)->lease_expires_at, kT0 + 20 * kSec + kLease);
  EXPECT_EQ(store_->GetAttempt(r3.attempts[0].id)->lease_expires_at, kT0 + kLease);
  EXPECT_EQ(*store_->RenewLeases("nobody", kT0, kLease), 0);

  // At T0+40s server-b's lease has run out but server-a's renewed one has not.
  ClaimExpect("server-c", kT0 + 40 * kSec, r3.attempts[0].id);
  auto none = store_->ClaimAttempt("server-c", kT0 + 40 * kSec, kLease);
  ASSERT_TRUE(Ok(none));
  EXPECT_FALSE(none->has_value());
}

TEST_P(StoreConformanceTest, TakeOverMovesAnActiveAttemptToTheNewOwner) {
  Run r = Submit();
  const std::string id = r.attempts[0].id;
  // Nothing to take over while queued.
  EXPECT_TRUE(Fails(store_->TakeOver(id, "server-b", kT0, kLease, ""), Code::kFailedPrecondition));
  ClaimExpect("server-a", kT0, id);
  ASSERT_TRUE(Ok(store_->TakeOver(id, "server-b", kT0 + kSec, kLease, "")));
  auto a = store_->GetAttempt(id);
  ASSERT_TRUE(Ok(a));
  EXPECT_EQ(a->claimed_by, "server-b");
  EXPECT_EQ(a->lease_expires_at, kT0 + kSec + kLease);
  EXPECT_EQ(a->status, AttemptStatus::kLaunching);
  // The old owner can no longer record a launch; the new one can.
  EXPECT_TRUE(Fails(store_->MarkLaunched(id, "server-a", "ref", kT0 + 2 * kSec), Code::kAborted));
  EXPECT_TRUE(Ok(store_->MarkLaunched(id, "server-b", "ref", kT0 + 2 * kSec)));
  auto events = store_->ListEvents(r.id, 0, 100);
  ASSERT_TRUE(Ok(events));
  bool adopted = false;
  for (const auto& e : *events) {
    adopted = adopted || (e.type == "adopted" && e.message.find("server-a") != std::string::npos);
  }
  EXPECT_TRUE(adopted);
  AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, "Completed", ""};
  end.ended_at = kT0 + 3 * kSec;
  ASSERT_TRUE(Ok(store_->EndAttempt(id, end)));
  EXPECT_TRUE(Fails(store_->TakeOver(id, "server-c", kT0 + 4 * kSec, kLease, ""),
                    Code::kFailedPrecondition));
  EXPECT_TRUE(Fails(store_->TakeOver("nope-1", "server-c", kT0, kLease, ""), Code::kNotFound));
}

TEST_P(StoreConformanceTest, MarkLaunchedRecordsTheLaunchForTheOwnerOnly) {
  Run r = Submit();
  const std::string id = r.attempts[0].id;
  ClaimExpect("server-a", kT0, id);
  auto st = store_->MarkLaunched(id, "server-b", "{\"pid\":1}", kT0 + 1);
  ASSERT_TRUE(Fails(st, Code::kAborted));
  EXPECT_NE(st.error().message().find(id), std::string::npos) << st.error().message();
  ASSERT_TRUE(Ok(store_->MarkLaunched(id, "server-a", "{\"pid\":42}", kT0 + 5)));
  auto a = store_->GetAttempt(id);
  ASSERT_TRUE(Ok(a));
  EXPECT_EQ(a->engine_ref, "{\"pid\":42}");
  EXPECT_EQ(a->launched_at, kT0 + 5);
  EXPECT_EQ(a->status, AttemptStatus::kLaunching);
  EXPECT_EQ(EventTypes(r.id), (std::vector<std::string>{"submitted", "claimed", "launched"}));
  EXPECT_TRUE(Fails(store_->MarkLaunched("missing-1", "server-a", "x", kT0), Code::kNotFound));
}

TEST_P(StoreConformanceTest, MarkRunningStartsAttemptAndRunOnce) {
  Run r = Submit();
  const std::string id = r.attempts[0].id;
  ClaimExpect("server-a", kT0, id);
  ASSERT_TRUE(Ok(store_->MarkRunning(id, kT0 + 2 * kSec)));
  ASSERT_TRUE(Ok(store_->MarkRunning(id, kT0 + 5 * kSec)));  // idempotent
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_EQ(run->started_at, kT0 + 2 * kSec);
  ASSERT_EQ(run->attempts.size(), 1u);
  EXPECT_EQ(run->attempts[0].status, AttemptStatus::kRunning);
  EXPECT_EQ(run->attempts[0].started_at, kT0 + 2 * kSec);
  auto types = EventTypes(r.id);
  EXPECT_EQ(std::count(types.begin(), types.end(), "started"), 1);
}

TEST_P(StoreConformanceTest, MarkRunningOfQueuedAttemptIsIllegal) {
  Run r = Submit();
  const std::string id = r.attempts[0].id;
  auto st = store_->MarkRunning(id, kT0);
  ASSERT_TRUE(Fails(st, Code::kFailedPrecondition));
  const std::string& msg = st.error().message();
  EXPECT_NE(msg.find(id), std::string::npos) << msg;
  EXPECT_NE(msg.find("QUEUED"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RUNNING"), std::string::npos) << msg;
  EXPECT_EQ(store_->GetRun(r.id)->status, RunStatus::kQueued);
  EXPECT_TRUE(Fails(store_->MarkRunning("missing-1", kT0), Code::kNotFound));
}

TEST_P(StoreConformanceTest, EndAttemptEndsTheRunAndTheFirstEndWins) {
  const std::array<std::pair<AttemptStatus, RunStatus>, 4> table = {{
      {AttemptStatus::kSucceeded, RunStatus::kSucceeded},
      {AttemptStatus::kFailed, RunStatus::kFailed},
      {AttemptStatus::kStopped, RunStatus::kStopped},
      {AttemptStatus::kLost, RunStatus::kLost},
  }};
  for (const auto& [attempt_status, run_status] : table) {
    SCOPED_TRACE(std::string(ToString(attempt_status)));
    ASSERT_EQ(RunStatusForFinalAttempt(attempt_status), run_status);
    Run r = SubmitRunning("server-a");
    const std::string id = r.attempts[0].id;
    AttemptEnd end;
    end.status = attempt_status;
    end.outcome = {137, "OOMKilled", "memory limit 256Mi reached"};
    end.ended_at = kT0 + 9 * kSec;
    end.peak_memory_bytes = int64_t{256} << 20;
    end.cpu_micros = 1234;
    end.diagnosis = R"({"class":"batch_container_oom","retryable":true})";
    ASSERT_TRUE(Ok(store_->EndAttempt(id, end)));

    AttemptEnd second;
    second.status = AttemptStatus::kSucceeded;
    second.outcome = {0, "Completed", ""};
    second.ended_at = kT0 + 10 * kSec;
    auto st = store_->EndAttempt(id, second);
    ASSERT_TRUE(Fails(st, Code::kFailedPrecondition));
    EXPECT_NE(st.error().message().find(id), std::string::npos) << st.error().message();

    auto run = store_->GetRun(r.id);
    ASSERT_TRUE(Ok(run));
    EXPECT_EQ(run->status, run_status);
    EXPECT_EQ(run->outcome, end.outcome);
    EXPECT_EQ(run->ended_at, end.ended_at);
    ASSERT_EQ(run->attempts.size(), 1u);
    const Attempt& a = run->attempts[0];
    EXPECT_EQ(a.status, attempt_status);
    EXPECT_EQ(a.outcome, end.outcome);
    EXPECT_EQ(a.ended_at, end.ended_at);
    EXPECT_EQ(a.peak_memory_bytes, end.peak_memory_bytes);
    EXPECT_EQ(a.cpu_micros, 1234);
    EXPECT_EQ(a.diagnosis, end.diagnosis) << "the first end's diagnosis is kept";
    EXPECT_EQ(a.lease_expires_at, 0) << "the lease is released";

    auto events = Events(r.id);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().type, "ended");
    EXPECT_EQ(events.back().at, end.ended_at);
    EXPECT_EQ(events.back().message, "OOMKilled (exit 137): memory limit 256Mi reached");
  }
}

TEST_P(StoreConformanceTest, EndAttemptStraightFromLaunching) {
  // Fast jobs can finish before their start was recorded.
  Run r = Submit();
  ClaimExpect("server-a", kT0, r.attempts[0].id);
  AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, "Completed", ""};
  end.ended_at = kT0 + kSec;
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kSucceeded);
  EXPECT_EQ(run->outcome, end.outcome);
  EXPECT_EQ(Events(r.id).back().message, "Completed (exit 0)");
}

TEST_P(StoreConformanceTest, IllegalTransitionsAreRejectedAndChangeNothing) {
  Run r = Submit();
  const std::string id = r.attempts[0].id;
  AttemptEnd fail;
  fail.status = AttemptStatus::kFailed;
  fail.outcome = {1, "Error", "boom"};
  fail.ended_at = kT0 + kSec;
  auto st = store_->EndAttempt(id, fail);  // QUEUED -> FAILED is not a move
  ASSERT_TRUE(Fails(st, Code::kFailedPrecondition));
  EXPECT_NE(st.error().message().find(id), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find("QUEUED"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find("FAILED"), std::string::npos) << st.error().message();
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(*run, r);
  EXPECT_EQ(EventTypes(r.id), std::vector<std::string>{"submitted"});

  AttemptEnd not_terminal;
  not_terminal.status = AttemptStatus::kRunning;
  EXPECT_TRUE(Fails(store_->EndAttempt(id, not_terminal), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->EndAttempt("missing-1", fail), Code::kNotFound));

  // After the end, nothing moves the attempt again.
  ClaimExpect("server-a", kT0, id);
  ASSERT_TRUE(Ok(store_->EndAttempt(id, fail)));
  EXPECT_TRUE(Fails(store_->MarkRunning(id, kT0 + 2 * kSec), Code::kFailedPrecondition));
  EXPECT_TRUE(
      Fails(store_->MarkLaunched(id, "server-a", "x", kT0 + 2 * kSec), Code::kFailedPrecondition));
  EXPECT_EQ(store_->GetAttempt(id)->status, AttemptStatus::kFailed);
}

// --- stopping ---

TEST_P(StoreConformanceTest, RequestStopOfQueuedRunStopsItAtOnce) {
  Run r = Submit();
  auto stopped = store_->RequestStop(r.id, kT0 + kSec);
  ASSERT_TRUE(Ok(stopped));
  EXPECT_TRUE(*stopped);
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kStopped);
  EXPECT_TRUE(run->stop_requested);
  EXPECT_EQ(run->ended_at, kT0 + kSec);
  ASSERT_TRUE(run->outcome.has_value());
  EXPECT_EQ(run->outcome->reason, reason::kStopped);
  EXPECT_EQ(run->attempts[0].status, AttemptStatus::kStopped);
  EXPECT_EQ(run->attempts[0].ended_at, kT0 + kSec);
  auto claimed = store_->ClaimAttempt("server-a", kT0 + kSec, kLease);
  ASSERT_TRUE(Ok(claimed));
  EXPECT_FALSE(claimed->has_value());
  EXPECT_EQ(*store_->QueueDepth(kT0 + kSec), 0);
  EXPECT_EQ(EventTypes(r.id), (std::vector<std::string>{"submitted", "stop_requested", "stopped"}));
}

TEST_P(StoreConformanceTest, RequestStopOfRunningRunLeavesItToTheEngine) {
  Run r = SubmitRunning();
  auto first = store_->RequestStop(r.id, kT0 + 2 * kSec);
  ASSERT_TRUE(Ok(first));
  EXPECT_FALSE(*first);
  auto again = store_->RequestStop(r.id, kT0 + 3 * kSec);
  ASSERT_TRUE(Ok(again));
  EXPECT_FALSE(*again);
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_TRUE(run->stop_requested);
  EXPECT_EQ(run->attempts[0].status, AttemptStatus::kRunning);
  auto types = EventTypes(r.id);
  EXPECT_EQ(std::count(types.begin(), types.end(), "stop_requested"), 1);

  AttemptEnd end;
  end.status = AttemptStatus::kStopped;
  end.outcome = {143, "Stopped", "stopped by request"};
  end.ended_at = kT0 + 4 * kSec;
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
  EXPECT_EQ(store_->GetRun(r.id)->status, RunStatus::kStopped);
}

TEST_P(StoreConformanceTest, RequestStopOfClaimedRunWaitsForTheLaunch) {
  // A LAUNCHING attempt may have a process starting: only the engine can stop it.
  Run r = Submit();
  ClaimExpect("server-a", kT0, r.attempts[0].id);
  auto stopped = store_->RequestStop(r.id, kT0 + kSec);
  ASSERT_TRUE(Ok(stopped));
  EXPECT_FALSE(*stopped);
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_TRUE(run->stop_requested);
  EXPECT_EQ(run->status, RunStatus::kQueued);
  EXPECT_EQ(run->attempts[0].status, AttemptStatus::kLaunching);
}

TEST_P(StoreConformanceTest, RequestStopOfEndedOrUnknownRunFails) {
  Run r = Submit();
  ASSERT_TRUE(Ok(store_->RequestStop(r.id, kT0)));
  auto st = store_->RequestStop(r.id, kT0 + kSec);
  ASSERT_TRUE(Fails(st, Code::kFailedPrecondition));
  EXPECT_NE(st.error().message().find(r.id), std::string::npos) << st.error().message();
  EXPECT_TRUE(Fails(store_->RequestStop("01jzzzzzzzzzzzzzzzzzzzzzzz", kT0), Code::kNotFound));
}

// --- concurrency ---

TEST_P(StoreConformanceTest, ConcurrentClaimersClaimEachAttemptExactlyOnce) {
  constexpr int kAttempts = 200;
  constexpr int kThreads = 4;
  std::set<std::string> all;
  for (int i = 0; i < kAttempts; ++i) all.insert(Submit().attempts[0].id);

  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string owner = "server-" + std::to_string(t);
      while (true) {
        auto claimed = store_->ClaimAttempt(owner, kT0 + kSec, kLease);
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
  for (const auto& e : errors) EXPECT_TRUE(e.empty()) << e;

  std::multiset<std::string> claimed;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& id : got[static_cast<size_t>(t)]) {
      claimed.insert(id);
      auto a = store_->GetAttempt(id);
      ASSERT_TRUE(Ok(a));
      EXPECT_EQ(a->claimed_by, "server-" + std::to_string(t)) << id;
    }
  }
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kAttempts));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()), all);
  auto depth = store_->QueueDepth(kT0 + kSec);
  ASSERT_TRUE(Ok(depth));
  EXPECT_EQ(*depth, 0);
}

}  // namespace tug::store::conformance
