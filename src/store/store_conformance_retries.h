#pragma once
/// The Store conformance suite, part 3: adaptive retries (EndAttempt with a planned next attempt,
/// RETRYING runs), the stored plan/placement/decision/Spark fields, and the planner's two
/// queries (ListSuccessHistory, CountSpotOutcomes). Include it after store_conformance.h in a
/// backend's test (it adds TEST_Ps to the same StoreConformanceTest).
#include <cmath>

#include "store/store_conformance.h"

namespace tug::store::conformance {

/// An engine's report of a failed attempt, without a plan.
inline AttemptEnd FailedEnd(Micros ended_at) {
  AttemptEnd end;
  end.status = AttemptStatus::kFailed;
  end.outcome = {137, std::string(reason::kOomKilled), "memory limit 512Mi reached"};
  end.ended_at = ended_at;
  end.peak_memory_bytes = int64_t{512} << 20;
  end.cpu_micros = 4242;
  end.diagnosis = R"({"class":"batch_container_oom"})";
  end.failure_class = "batch_container_oom";
  end.components =
      R"([{"name":"driver","state":"failed","exit_code":1},)"
      R"({"name":"executor-1","state":"failed","exit_code":137,"reason":"OOMKilled","evidence":true}])";
  end.app_id = "spark-0123456789abcdef";
  return end;
}

inline AttemptEnd SucceededEnd(Micros ended_at, int64_t peak_memory_bytes) {
  AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.outcome = {0, std::string(reason::kCompleted), ""};
  end.ended_at = ended_at;
  end.peak_memory_bytes = peak_memory_bytes;
  return end;
}

/// Attempt `number` of `run`, as the planner would queue it: more memory, Spark sizes, another
/// placement, due at `due_at`.
inline Attempt PlannedAttempt(const std::string& run_id, int number, Micros created_at,
                              Micros due_at) {
  Attempt a;
  a.id = AttemptId(run_id, number);
  a.run_id = run_id;
  a.number = number;
  a.status = AttemptStatus::kQueued;
  a.resources.memory_bytes = int64_t{768} << 20;
  a.resources.cpu_millis = 750;
  a.resources.spark.executor = {2000, int64_t{6} << 30, 0};
  a.resources.spark.instances = 8;
  a.resources.spark.dynamic_allocation = true;
  a.placement = {std::string(kOnDemand), std::string(kSpot)};
  a.engine = "local";
  a.created_at = created_at;
  a.due_at = due_at;
  return a;
}

/// A decision event as the planner writes it (run, attempt and time left for the store to fill).
inline Event DecisionEvent(std::string message) {
  Event e;
  e.type = "decision";
  e.message = std::move(message);
  return e;
}

// --- stored fields ---

TEST_P(StoreConformanceTest, SparkDefinitionRoundTripsEveryField) {
  Definition def = MakeSparkDefinition("etl");
  auto put = store_->PutDefinition(def, kT0);
  ASSERT_TRUE(Ok(put));
  Definition expected = def;
  expected.version = 1;
  expected.created_at = kT0;
  EXPECT_EQ(*put, expected);
  auto got = store_->GetDefinition("etl");
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(*got, expected);  // doubles compare bit for bit
  auto list = store_->ListDefinitions();
  ASSERT_TRUE(Ok(list));
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front(), expected);
  // The stored spec compares equal to the same spec applied again...
  EXPECT_EQ(store_->PutDefinition(def, kT0 + kSec)->version, 1);
  // ...and a change of one ulp in a factor is a change.
  def.adapt.memory_factor = std::nextafter(def.adapt.memory_factor, 4.0);
  auto v2 = store_->PutDefinition(def, kT0 + 2 * kSec);
  ASSERT_TRUE(Ok(v2));
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(store_->GetDefinition("etl")->adapt.memory_factor, def.adapt.memory_factor);
}

TEST_P(StoreConformanceTest, SparkRunRoundTripsSpecOverridesPlanAndPlacement) {
  NewRun n = MakeRun("etl");
  n.run.spec = MakeSparkDefinition("etl");
  n.run.spec.version = 2;
  n.run.spec.created_at = kT0 - 100 * kSec;
  n.run.overrides.resources.spark.executor.memory_bytes = int64_t{12} << 30;
  n.run.overrides.resources.spark.instances = 20;
  n.run.plan = R"({"rule":"history","sentence":"sized from 12 earlier runs"})";
  n.first.resources.memory_bytes = 0;
  n.first.resources.cpu_millis = 0;
  n.first.resources.spark = n.run.spec.resources.spark;
  n.first.placement = {std::string(kOnDemand), std::string(kSpot)};
  ASSERT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
  auto got = store_->GetRun(n.run.id);
  ASSERT_TRUE(Ok(got));
  Run expected = n.run;
  expected.attempts = {n.first};
  EXPECT_EQ(*got, expected);
  auto attempt = store_->GetAttempt(n.first.id);
  ASSERT_TRUE(Ok(attempt));
  EXPECT_EQ(*attempt, n.first);
  auto page = store_->ListRuns({});
  ASSERT_TRUE(Ok(page));
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].plan, n.run.plan);
  EXPECT_EQ(page->runs[0].spec, n.run.spec);
  EXPECT_EQ(page->runs[0].overrides, n.run.overrides);
  auto claimed = ClaimExpect("server-a", kT0, n.first.id);
  EXPECT_EQ(claimed.resources, n.first.resources);
  EXPECT_EQ(claimed.placement, n.first.placement);
}

// --- retries ---

TEST_P(StoreConformanceTest, EndAttemptWithNextQueuesTheRetryAndTheRunRetries) {
  Run r = SubmitRunning();  // attempt 1 started at T0+1s
  const std::string first_id = r.attempts[0].id;
  AttemptEnd end = FailedEnd(kT0 + 10 * kSec);
  end.decision = R"({"rule":"oom_grow","memory_bytes":805306368})";
  end.next = PlannedAttempt(r.id, 2, kT0 + 10 * kSec, kT0 + 70 * kSec);
  end.events = {DecisionEvent("OOMKilled at 512Mi; retrying in 1m with 768Mi")};
  Event explicit_event;
  explicit_event.run_id = r.id;
  explicit_event.attempt_id = end.next->id;
  explicit_event.at = kT0 + 11 * kSec;
  explicit_event.type = "planned";
  explicit_event.message = "attempt 2 due at T0+70s";
  end.events.push_back(explicit_event);
  ASSERT_TRUE(Ok(store_->EndAttempt(first_id, end)));

  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kRetrying);
  EXPECT_EQ(run->started_at, kT0 + kSec);
  EXPECT_EQ(run->ended_at, 0) << "a retrying run has not ended";
  EXPECT_FALSE(run->outcome.has_value()) << "a retrying run has no outcome yet";
  ASSERT_EQ(run->attempts.size(), 2u);
  const Attempt& ended = run->attempts[0];
  EXPECT_EQ(ended.status, AttemptStatus::kFailed);
  EXPECT_EQ(ended.outcome, end.outcome);
  EXPECT_EQ(ended.ended_at, end.ended_at);
  EXPECT_EQ(ended.diagnosis, end.diagnosis);
  EXPECT_EQ(ended.decision, end.decision);
  EXPECT_EQ(ended.components, end.components);
  EXPECT_EQ(ended.app_id, end.app_id);
  EXPECT_EQ(ended.lease_expires_at, 0);
  EXPECT_EQ(run->attempts[1], *end.next);

  // The events: "ended", then the caller's, in order, in the same transaction.
  auto events = Events(r.id);
  ASSERT_GE(events.size(), 3u);
  const Event& e_ended = events[events.size() - 3];
  const Event& e_decision = events[events.size() - 2];
  const Event& e_planned = events.back();
  EXPECT_EQ(e_ended.type, "ended");
  EXPECT_EQ(e_ended.attempt_id, first_id);
  EXPECT_EQ(e_decision.type, "decision");
  EXPECT_EQ(e_decision.run_id, r.id) << "an event without run_id belongs to the attempt's run";
  EXPECT_EQ(e_decision.at, end.ended_at) << "an event without time happened at the end";
  EXPECT_EQ(e_decision.message, "OOMKilled at 512Mi; retrying in 1m with 768Mi");
  EXPECT_GT(e_decision.seq, e_ended.seq);
  explicit_event.seq = e_planned.seq;
  EXPECT_EQ(e_planned, explicit_event);

  // RETRYING is a status like the others: listed, filtered and counted.
  RunFilter retrying;
  retrying.status = RunStatus::kRetrying;
  EXPECT_EQ(ListIds(retrying), std::vector<std::string>{r.id});
  RunFilter running;
  running.status = RunStatus::kRunning;
  EXPECT_TRUE(ListIds(running).empty());
  auto counts = store_->CountRunsByStatus();
  ASSERT_TRUE(Ok(counts));
  for (const auto& c : *counts) {
    EXPECT_EQ(c.count, c.status == RunStatus::kRetrying ? 1 : 0) << ToString(c.status);
  }

  // Not claimable before it is due.
  auto early = store_->ClaimAttempt("server-a", kT0 + 69 * kSec, kLease);
  ASSERT_TRUE(Ok(early));
  EXPECT_FALSE(early->has_value());
  EXPECT_EQ(*store_->QueueDepth(kT0 + 69 * kSec), 0);
  EXPECT_EQ(*store_->QueueDepth(kT0 + 70 * kSec), 1);
  auto due = store_->NextDueAt();
  ASSERT_TRUE(Ok(due));
  ASSERT_TRUE(due->has_value());
  EXPECT_EQ(**due, kT0 + 70 * kSec);

  const std::string second_id = end.next->id;
  Attempt claimed = ClaimExpect("server-b", kT0 + 70 * kSec, second_id);
  EXPECT_EQ(claimed.resources, end.next->resources);
  EXPECT_EQ(claimed.placement, end.next->placement);
  EXPECT_EQ(store_->GetRun(r.id)->status, RunStatus::kRetrying) << "until the retry starts";

  ASSERT_TRUE(Ok(store_->MarkRunning(second_id, kT0 + 72 * kSec)));
  run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_EQ(run->started_at, kT0 + kSec) << "started_at keeps the first start";
  EXPECT_EQ(run->attempts[1].started_at, kT0 + 72 * kSec);

  AttemptEnd success = SucceededEnd(kT0 + 100 * kSec, int64_t{600} << 20);
  ASSERT_TRUE(Ok(store_->EndAttempt(second_id, success)));
  run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kSucceeded);
  EXPECT_EQ(run->outcome, success.outcome);
  EXPECT_EQ(run->ended_at, kT0 + 100 * kSec);
  EXPECT_EQ(run->attempts[1].status, AttemptStatus::kSucceeded);
  EXPECT_EQ(run->attempts[1].decision, "");
  auto types = EventTypes(r.id);
  EXPECT_EQ(std::count(types.begin(), types.end(), "started"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "ended"), 2);
}

TEST_P(StoreConformanceTest, RetryOfAnAttemptThatNeverStartedKeepsTheRunRetrying) {
  Run r = SubmitRunning();
  AttemptEnd end = FailedEnd(kT0 + 10 * kSec);
  end.next = PlannedAttempt(r.id, 2, kT0 + 10 * kSec, kT0 + 20 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
  ClaimExpect("server-a", kT0 + 20 * kSec, end.next->id);
  // The node went away before the pod started: LAUNCHING -> LOST, retried again.
  AttemptEnd lost;
  lost.status = AttemptStatus::kLost;
  lost.outcome = {std::nullopt, std::string(reason::kLost), "node drained"};
  lost.ended_at = kT0 + 30 * kSec;
  lost.failure_class = "node_loss";
  lost.decision = R"({"rule":"infra_retry"})";
  lost.next = PlannedAttempt(r.id, 3, kT0 + 30 * kSec, kT0 + 30 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(end.next->id, lost)));
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kRetrying);
  ASSERT_EQ(run->attempts.size(), 3u);
  EXPECT_EQ(run->attempts[1].status, AttemptStatus::kLost);
  EXPECT_EQ(run->attempts[1].decision, lost.decision);
  EXPECT_EQ(run->attempts[2].status, AttemptStatus::kQueued);

  // The last attempt fails with no retry planned: the run ends.
  ClaimExpect("server-a", kT0 + 30 * kSec, lost.next->id);
  ASSERT_TRUE(Ok(store_->MarkRunning(lost.next->id, kT0 + 31 * kSec)));
  AttemptEnd final_end = FailedEnd(kT0 + 40 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(lost.next->id, final_end)));
  run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kFailed);
  EXPECT_EQ(run->outcome, final_end.outcome);
  EXPECT_EQ(run->ended_at, kT0 + 40 * kSec);
}

TEST_P(StoreConformanceTest, StopRequestWinsOverAPlannedRetry) {
  for (AttemptStatus status : {AttemptStatus::kFailed, AttemptStatus::kStopped}) {
    SCOPED_TRACE(std::string(ToString(status)));
    Run r = SubmitRunning();
    auto stop = store_->RequestStop(r.id, kT0 + 2 * kSec);
    ASSERT_TRUE(Ok(stop));
    EXPECT_FALSE(*stop);
    AttemptEnd end = FailedEnd(kT0 + 10 * kSec);
    end.status = status;
    end.decision = R"({"rule":"oom_grow"})";
    end.next = PlannedAttempt(r.id, 2, kT0 + 10 * kSec, kT0 + 10 * kSec);
    end.events = {DecisionEvent("retrying with 768Mi")};
    ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
    auto run = store_->GetRun(r.id);
    ASSERT_TRUE(Ok(run));
    EXPECT_EQ(run->status, RunStatusForFinalAttempt(status));
    EXPECT_EQ(run->outcome, end.outcome);
    EXPECT_EQ(run->ended_at, end.ended_at);
    ASSERT_EQ(run->attempts.size(), 1u) << "no retry after a stop request";
    EXPECT_EQ(run->attempts[0].decision, end.decision);
    EXPECT_TRUE(Fails(store_->GetAttempt(end.next->id), Code::kNotFound));
    auto types = EventTypes(r.id);
    ASSERT_GE(types.size(), 3u);
    EXPECT_EQ(std::vector<std::string>(types.end() - 3, types.end()),
              (std::vector<std::string>{"ended", "decision", "retry_dropped"}));
    auto none = store_->ClaimAttempt("server-a", kT0 + 100 * kSec, kLease);
    ASSERT_TRUE(Ok(none));
    EXPECT_FALSE(none->has_value());
  }
}

TEST_P(StoreConformanceTest, SecondEndPlansNoSecondRetry) {
  Run r = SubmitRunning();
  const std::string id = r.attempts[0].id;
  AttemptEnd end = FailedEnd(kT0 + 10 * kSec);
  end.next = PlannedAttempt(r.id, 2, kT0 + 10 * kSec, kT0 + 60 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(id, end)));
  auto before = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(before));
  const auto events_before = Events(r.id);

  AttemptEnd late;
  late.status = AttemptStatus::kLost;
  late.outcome = {std::nullopt, std::string(reason::kLost), "reconcile found nothing"};
  late.ended_at = kT0 + 20 * kSec;
  late.next = PlannedAttempt(r.id, 2, kT0 + 20 * kSec, kT0 + 20 * kSec);
  late.events = {DecisionEvent("retrying at once")};
  EXPECT_TRUE(Fails(store_->EndAttempt(id, late), Code::kFailedPrecondition));
  late.next = PlannedAttempt(r.id, 3, kT0 + 20 * kSec, kT0 + 20 * kSec);
  EXPECT_TRUE(Fails(store_->EndAttempt(id, late), Code::kFailedPrecondition));
  auto after = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(after));
  EXPECT_EQ(*after, *before);
  EXPECT_EQ(Events(r.id), events_before);
  EXPECT_TRUE(Fails(store_->GetAttempt(AttemptId(r.id, 3)), Code::kNotFound));

  // Same when the first end ended the run.
  Run done = SubmitRunning();
  ASSERT_TRUE(Ok(store_->EndAttempt(done.attempts[0].id, FailedEnd(kT0 + 10 * kSec))));
  late.next = PlannedAttempt(done.id, 2, kT0 + 20 * kSec, kT0 + 20 * kSec);
  EXPECT_TRUE(Fails(store_->EndAttempt(done.attempts[0].id, late), Code::kFailedPrecondition));
  auto ended = store_->GetRun(done.id);
  ASSERT_TRUE(Ok(ended));
  EXPECT_EQ(ended->status, RunStatus::kFailed);
  EXPECT_EQ(ended->attempts.size(), 1u);
  EXPECT_TRUE(Fails(store_->GetAttempt(AttemptId(done.id, 2)), Code::kNotFound));
}

TEST_P(StoreConformanceTest, BadRetryOrEventIsRejectedAndWritesNothing) {
  Run other = Submit("other", kT0 + 1000 * kSec);
  Run r = SubmitRunning();
  const std::string id = r.attempts[0].id;
  auto before = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(before));
  const auto events_before = Events(r.id);
  const Micros at = kT0 + 10 * kSec;

  struct Case {
    std::string name;
    std::function<void(AttemptEnd&)> mutate;
  };
  const std::vector<Case> cases = {
      {"next of another run",
       [&](AttemptEnd& e) {
         e.next->run_id = other.id;
         e.next->id = AttemptId(other.id, 2);
       }},
      {"number skips one", [&](AttemptEnd& e) { e.next->number = 3; }},
      {"number repeats", [&](AttemptEnd& e) { e.next->number = 1; }},
      {"empty id", [&](AttemptEnd& e) { e.next->id.clear(); }},
      {"not queued", [&](AttemptEnd& e) { e.next->status = AttemptStatus::kLaunching; }},
      {"id of this attempt", [&](AttemptEnd& e) { e.next->id = id; }},
      {"id of another run's attempt", [&](AttemptEnd& e) { e.next->id = other.attempts[0].id; }},
      {"retry after success",
       [&](AttemptEnd& e) {
         e.status = AttemptStatus::kSucceeded;
         e.outcome = {0, std::string(reason::kCompleted), ""};
       }},
      {"event of another run", [&](AttemptEnd& e) { e.events.back().run_id = other.id; }},
      {"event without type", [&](AttemptEnd& e) { e.events.back().type.clear(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AttemptEnd end = FailedEnd(at);
    end.next = PlannedAttempt(r.id, 2, at, at);
    end.events = {DecisionEvent("first"), DecisionEvent("second")};
    c.mutate(end);
    EXPECT_TRUE(Fails(store_->EndAttempt(id, end), Code::kInvalidArgument));
    auto run = store_->GetRun(r.id);
    ASSERT_TRUE(Ok(run));
    EXPECT_EQ(*run, *before);
    EXPECT_EQ(Events(r.id), events_before);
  }
  EXPECT_EQ(store_->GetRun(other.id)->attempts.size(), 1u);
  // The same end with a good retry goes through.
  AttemptEnd good = FailedEnd(at);
  good.next = PlannedAttempt(r.id, 2, at, at);
  EXPECT_TRUE(Ok(store_->EndAttempt(id, good)));
}

TEST_P(StoreConformanceTest, RequestStopOfRetryingRunStopsItAtOnce) {
  Run r = SubmitRunning();
  AttemptEnd end = FailedEnd(kT0 + 10 * kSec);
  end.next = PlannedAttempt(r.id, 2, kT0 + 10 * kSec, kT0 + 70 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
  auto stopped = store_->RequestStop(r.id, kT0 + 20 * kSec);
  ASSERT_TRUE(Ok(stopped));
  EXPECT_TRUE(*stopped);
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kStopped);
  EXPECT_TRUE(run->stop_requested);
  EXPECT_EQ(run->ended_at, kT0 + 20 * kSec);
  ASSERT_TRUE(run->outcome.has_value());
  EXPECT_EQ(run->outcome->reason, reason::kStopped);
  ASSERT_EQ(run->attempts.size(), 2u);
  EXPECT_EQ(run->attempts[0].status, AttemptStatus::kFailed) << "the ended attempt is kept";
  EXPECT_EQ(run->attempts[1].status, AttemptStatus::kStopped);
  EXPECT_EQ(run->attempts[1].ended_at, kT0 + 20 * kSec);
  auto types = EventTypes(r.id);
  EXPECT_EQ(std::vector<std::string>(types.end() - 2, types.end()),
            (std::vector<std::string>{"stop_requested", "stopped"}));
  auto none = store_->ClaimAttempt("server-a", kT0 + 100 * kSec, kLease);
  ASSERT_TRUE(Ok(none));
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(store_->NextDueAt()->has_value());
  EXPECT_TRUE(Fails(store_->RequestStop(r.id, kT0 + 30 * kSec), Code::kFailedPrecondition));
}

TEST_P(StoreConformanceTest, RequestStopOfRetryingRunWithClaimedRetryWaitsForTheEngine) {
  Run r = SubmitRunning();
  AttemptEnd end = FailedEnd(kT0 + 10 * kSec);
  end.next = PlannedAttempt(r.id, 2, kT0 + 10 * kSec, kT0 + 20 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(r.attempts[0].id, end)));
  ClaimExpect("server-a", kT0 + 20 * kSec, end.next->id);
  auto stopped = store_->RequestStop(r.id, kT0 + 21 * kSec);
  ASSERT_TRUE(Ok(stopped));
  EXPECT_FALSE(*stopped);
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kRetrying);
  EXPECT_TRUE(run->stop_requested);
  EXPECT_EQ(run->attempts[1].status, AttemptStatus::kLaunching);
  // The engine stops it; a retry planned anyway is dropped.
  AttemptEnd engine_end;
  engine_end.status = AttemptStatus::kStopped;
  engine_end.outcome = {143, std::string(reason::kStopped), "stopped by request"};
  engine_end.ended_at = kT0 + 22 * kSec;
  engine_end.next = PlannedAttempt(r.id, 3, kT0 + 22 * kSec, kT0 + 22 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(end.next->id, engine_end)));
  run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->status, RunStatus::kStopped);
  EXPECT_EQ(run->attempts.size(), 2u);
}

// --- planner queries ---

TEST_P(StoreConformanceTest, ListSuccessHistoryFiltersAndOrders) {
  const std::vector<std::string> args_a = {"/bin/echo", "hello world"};  // MakeRun's
  const std::vector<std::string> args_b = {"/bin/echo", "something else"};
  const Micros since = kT0 + 50 * kSec;
  // Runs one attempt of `definition` (run with `args`) to its end; returns the run id.
  auto finish = [&](const std::string& definition, const std::vector<std::string>& args,
                    const AttemptEnd& end) {
    NewRun n = MakeRun(definition, kT0 - 1000 * kSec);
    n.run.spec.args = args;
    n.first.resources.memory_bytes = end.peak_memory_bytes + (int64_t{64} << 20);
    EXPECT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
    ClaimExpect("server-a", kT0, n.first.id);
    EXPECT_TRUE(Ok(store_->EndAttempt(n.first.id, end)));
    return n.run.id;
  };
  const int64_t mi = int64_t{1} << 20;
  const std::string ok1 = finish("hello", args_a, SucceededEnd(kT0 + 100 * kSec, 100 * mi));
  const std::string ok2 = finish("hello", args_a, SucceededEnd(kT0 + 300 * kSec, 300 * mi));
  const std::string ok3 = finish("hello", args_a, SucceededEnd(kT0 + 200 * kSec, 200 * mi));
  const std::string edge = finish("hello", args_a, SucceededEnd(since, 50 * mi));
  finish("hello", args_a, SucceededEnd(since - 1, 40 * mi));   // before the window
  finish("hello", args_a, SucceededEnd(kT0 + 250 * kSec, 0));  // no peak measured
  AttemptEnd failed = FailedEnd(kT0 + 260 * kSec);             // not a success
  finish("hello", args_a, failed);
  AttemptEnd lost = FailedEnd(kT0 + 265 * kSec);
  lost.status = AttemptStatus::kLost;
  finish("hello", args_a, lost);
  finish("bravo", args_a, SucceededEnd(kT0 + 270 * kSec, 270 * mi));  // other definition
  finish("hello", args_b, SucceededEnd(kT0 + 280 * kSec, 280 * mi));  // other command

  // A run that failed, then succeeded on its retry: the retry's resources and end count.
  NewRun retried = MakeRun("hello", kT0 - 1000 * kSec);
  ASSERT_TRUE(Ok(store_->CreateRun(retried.run, retried.first)));
  ClaimExpect("server-a", kT0, retried.first.id);
  AttemptEnd first_end = FailedEnd(kT0 + 150 * kSec);
  first_end.next = PlannedAttempt(retried.run.id, 2, kT0 + 150 * kSec, kT0 + 150 * kSec);
  ASSERT_TRUE(Ok(store_->EndAttempt(retried.first.id, first_end)));
  ClaimExpect("server-a", kT0 + 150 * kSec, first_end.next->id);
  ASSERT_TRUE(Ok(store_->EndAttempt(first_end.next->id, SucceededEnd(kT0 + 350 * kSec, 500 * mi))));

  // Still running: not history yet.
  NewRun running = MakeRun("hello", kT0 - 1000 * kSec);
  ASSERT_TRUE(Ok(store_->CreateRun(running.run, running.first)));
  ClaimExpect("server-a", kT0, running.first.id);

  Definition spec_a = MakeRun().run.spec;
  spec_a.args = args_a;
  const std::string sig = CommandSignature(spec_a);
  auto rows = store_->ListSuccessHistory("hello", sig, since, 100);
  ASSERT_TRUE(Ok(rows));
  std::vector<std::string> ids;
  for (const auto& h : *rows) ids.push_back(h.run_id);
  EXPECT_EQ(ids, (std::vector<std::string>{retried.run.id, ok2, ok3, ok1, edge}));
  ASSERT_EQ(rows->size(), 5u);
  const HistoryRow& newest = rows->front();
  EXPECT_EQ(newest.ended_at, kT0 + 350 * kSec);
  EXPECT_EQ(newest.peak_memory_bytes, 500 * mi);
  EXPECT_EQ(newest.resources, first_end.next->resources);  // Spark sizes included
  EXPECT_EQ((*rows)[1].ended_at, kT0 + 300 * kSec);
  EXPECT_EQ((*rows)[1].peak_memory_bytes, 300 * mi);
  EXPECT_EQ((*rows)[1].resources.memory_bytes, 364 * mi);
  EXPECT_EQ((*rows)[1].resources.cpu_millis, 500);
  EXPECT_TRUE((*rows)[1].resources.spark.empty());

  auto two = store_->ListSuccessHistory("hello", sig, since, 2);
  ASSERT_TRUE(Ok(two));
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].run_id, ok2);
  // The limit is clamped to 1..500, not rejected.
  EXPECT_EQ(store_->ListSuccessHistory("hello", sig, since, 0)->size(), 1u);
  EXPECT_EQ(store_->ListSuccessHistory("hello", sig, since, -5)->size(), 1u);
  EXPECT_EQ(store_->ListSuccessHistory("hello", sig, since, 100000)->size(), 5u);
  EXPECT_EQ(store_->ListSuccessHistory("hello", sig, 0, 100)->size(), 6u);

  Definition spec_b = spec_a;
  spec_b.args = args_b;
  auto other_sig = store_->ListSuccessHistory("hello", CommandSignature(spec_b), since, 100);
  ASSERT_TRUE(Ok(other_sig));
  ASSERT_EQ(other_sig->size(), 1u);
  EXPECT_EQ(other_sig->front().peak_memory_bytes, 280 * mi);
  EXPECT_EQ(store_->ListSuccessHistory("bravo", sig, since, 100)->size(), 1u);
  EXPECT_TRUE(store_->ListSuccessHistory("charlie", sig, 0, 100)->empty());
  EXPECT_TRUE(store_->ListSuccessHistory("hello", "0000000000000000", 0, 100)->empty());
}

TEST_P(StoreConformanceTest, CountSpotOutcomesCountsEndedSpotAttemptsAndNodeLosses) {
  auto empty = store_->CountSpotOutcomes(0);
  ASSERT_TRUE(Ok(empty));
  EXPECT_EQ(empty->spot_attempts, 0);
  EXPECT_EQ(empty->node_losses, 0);

  const Micros since = kT0 + 50 * kSec;
  const std::string spot(kSpot);
  const std::string on_demand(kOnDemand);
  // Creates a run whose first attempt has `placement` and takes it to RUNNING; returns it.
  auto start = [&](const Placement& placement) {
    NewRun n = MakeRun("hello", kT0 - 1000 * kSec);
    n.first.placement = placement;
    EXPECT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
    ClaimExpect("server-a", kT0, n.first.id);
    EXPECT_TRUE(Ok(store_->MarkRunning(n.first.id, kT0 + kSec)));
    return n;
  };
  auto end_with = [&](const NewRun& n, AttemptStatus status, const std::string& failure_class,
                      Micros at) {
    AttemptEnd end = FailedEnd(at);
    end.status = status;
    end.failure_class = failure_class;
    EXPECT_TRUE(Ok(store_->EndAttempt(n.first.id, end)));
  };
  end_with(start({spot, ""}), AttemptStatus::kFailed, "node_loss", kT0 + 100 * kSec);
  end_with(start({on_demand, spot}), AttemptStatus::kSucceeded, "", kT0 + 100 * kSec);
  end_with(start({spot, ""}), AttemptStatus::kLost, "lost", since);  // at the window's start
  end_with(start({spot, spot}), AttemptStatus::kLost, "node_loss", since - 1);  // before it
  end_with(start({on_demand, on_demand}), AttemptStatus::kLost, "node_loss", kT0 + 100 * kSec);
  end_with(start({"", ""}), AttemptStatus::kFailed, "node_loss", kT0 + 100 * kSec);
  start({spot, spot});  // still running
  // A spot attempt that lost its node and was retried on demand: the lost one counts.
  NewRun retried = start({spot, ""});
  AttemptEnd lost = FailedEnd(kT0 + 120 * kSec);
  lost.status = AttemptStatus::kLost;
  lost.failure_class = "node_loss";
  lost.next = PlannedAttempt(retried.run.id, 2, kT0 + 120 * kSec, kT0 + 5000 * kSec);
  lost.next->placement = {on_demand, on_demand};
  ASSERT_TRUE(Ok(store_->EndAttempt(retried.first.id, lost)));
  // Stopped while queued: it never ran on spot.
  NewRun never_ran = MakeRun("hello", kT0 + 9000 * kSec);
  never_ran.first.placement = {spot, spot};
  ASSERT_TRUE(Ok(store_->CreateRun(never_ran.run, never_ran.first)));
  ASSERT_TRUE(Ok(store_->RequestStop(never_ran.run.id, kT0 + 130 * kSec)));

  auto got = store_->CountSpotOutcomes(since);
  ASSERT_TRUE(Ok(got));
  EXPECT_EQ(got->spot_attempts, 4);  // node loss, executors on spot, at the start, retried
  EXPECT_EQ(got->node_losses, 2);
  auto all = store_->CountSpotOutcomes(0);
  ASSERT_TRUE(Ok(all));
  EXPECT_EQ(all->spot_attempts, 5);
  EXPECT_EQ(all->node_losses, 3);
  auto later = store_->CountSpotOutcomes(kT0 + 1000 * kSec);
  ASSERT_TRUE(Ok(later));
  EXPECT_EQ(later->spot_attempts, 0);
  EXPECT_EQ(later->node_losses, 0);
}

}  // namespace tug::store::conformance
