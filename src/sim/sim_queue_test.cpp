// Team queues in the fleet simulator: the dispatcher's queue::Scheduler admits simulated
// attempts. A flooding team cannot push another team's waits above what that team would wait
// alone, and no queue ever holds more than its quota (checked at every step from the
// simulation's own books). Simulated time only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "sim/generator.h"
#include "sim/policy.h"
#include "sim/report.h"
#include "sim/simulation.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr Micros kSec = kMicrosPerSecond;

queue::QueueSpec Spec(const std::string& text) {
  auto q = ParseQueueSpec(text);
  EXPECT_TRUE(q.ok()) << text << ": " << q.error().ToString();
  return q.ok() ? *q : queue::QueueSpec{};
}

Policy One(const std::string& spec) {
  auto p = ParsePolicies(spec);
  EXPECT_TRUE(p.ok()) << p.error().ToString();
  return p.ok() ? p->front() : Policy{};
}

TraceJob Container(const std::string& id, const std::string& team, Micros submit, double secs) {
  TraceJob j;
  j.id = id;
  j.name = team + "-job";
  j.user = team + "-user";
  j.queue = team;
  j.kind = "container";
  j.container = {1000, kGiB, 0};
  j.container_peak_bytes = kGiB / 2;
  j.duration_s = secs;
  j.submit = submit;
  return j;
}

TEST(SimQueues, ParsesQueueSpecsAndThePolicySetting) {
  queue::QueueSpec a = Spec(
      "a:weight=2,priority=1,cpu=40,memory=160Gi,running=10,user_cpu=8,"
      "user_running=3,cohort=all,borrow_cpu=500m,gpu=2");
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.weight, 2);
  EXPECT_EQ(a.priority, 1);
  EXPECT_EQ(a.limits.quota, (queue::Vec{40000, 160 * kGiB, 2}));
  EXPECT_EQ(a.limits.max_running, 10);
  EXPECT_EQ(a.user_limits.quota.cpu_millis, 8000);
  EXPECT_EQ(a.user_limits.max_running, 3);
  EXPECT_EQ(a.user_limits.quota.memory_bytes, queue::kUnlimited);
  EXPECT_EQ(a.cohort, "all");
  EXPECT_EQ(a.borrowing_limit.cpu_millis, 500);
  EXPECT_EQ(Spec("b").limits, queue::Limits{});
  for (const char* bad : {"A:cpu=1", "a:cpu=lots", "a:colour=red", "a:cpu", "a:weight=0",
                          "a:running=1.5", "a:borrow_cpu=1", "a:memory=-1Gi", ":cpu=1"}) {
    EXPECT_FALSE(ParseQueueSpec(bad).ok()) << bad;
  }
  EXPECT_EQ(One("c+queues=on").queues, Policy::Queues::kTeams);
  EXPECT_EQ(One("a+queues=fifo").queues, Policy::Queues::kFifo);
  EXPECT_EQ(One("b").queues, Policy::Queues::kOff);
  EXPECT_FALSE(ParsePolicies("c+queues=maybe").ok());
}

TEST(SimQueues, TheTraceNamesEachJobsQueue) {
  constexpr const char* kLine =
      R"({"id":"c1","submit":0,"kind":"container","queue":"team-a","cpu":"1","memory":"1Gi",)"
      R"("peak":{"memory":"512Mi"},"duration":60})";
  auto t = ParseTrace(kLine);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->jobs[0].queue, "team-a");
  auto back = ParseTrace(ToJsonLine(t->jobs[0]));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->jobs[0], t->jobs[0]);
  std::string bad = kLine;
  bad.replace(bad.find("team-a"), 6, "Team A");
  auto err = ParseTrace(bad);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().message().find("line 1: 'queue' must be a queue name"), std::string::npos)
      << err.error().message();
}

TEST(SimQueues, UnknownQueueInTheTraceIsAnErrorThatSaysWhatToAdd) {
  Trace t;
  t.jobs = {Container("j1", "x", 0, 60)};
  SimConfig cfg = DefaultSimConfig();
  cfg.steady_state = false;
  cfg.queues = {Spec("a:cpu=4")};
  auto r = Simulate(t, One("c+queues=on"), cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("--queue x:"), std::string::npos) << r.error().message();
  // Without queues the same trace runs, and the report has the team.
  auto off = Simulate(t, One("c"), cfg);
  ASSERT_TRUE(off.ok()) << off.error().ToString();
  EXPECT_EQ(off->teams.at("x").runs, 1);
}

// Team a floods a static cluster with 200 one-CPU runs at once; team c submits a burst of K
// one-CPU runs every P seconds, each D seconds long. Quotas: a 16 CPUs, c Q CPUs; the cluster
// (2 × 16 CPUs) holds both quotas at once, so with fair share c waits only for its own quota:
// a burst runs in ceil(K/Q) waves of D seconds, and P is long enough that bursts never overlap.
// The bound on c's wait is therefore (ceil(K/Q) - 1) × D, whatever a does.
TEST(SimQueues, AFloodingTeamCannotPushAnotherTeamsWaitAboveItsOwnQueueing) {
  constexpr int kBurst = 20;
  constexpr int kQuota = 8;
  constexpr double kDuration = 600;
  const int waves = (kBurst + kQuota - 1) / kQuota;
  const double bound = (waves - 1) * kDuration;
  const Micros period = static_cast<Micros>(waves * kDuration) * kSec;
  Trace t;
  for (int i = 0; i < 200; ++i) {
    t.jobs.push_back(Container(fmt::format("a{:03d}", i), "a", i * kSec / 10, kDuration));
  }
  for (int b = 0; b < 4; ++b) {
    for (int i = 0; i < kBurst; ++i) {
      t.jobs.push_back(
          Container(fmt::format("c{}-{:02d}", b, i), "c", 30 * kSec + b * period, kDuration));
    }
  }
  ASSERT_TRUE(Normalize(t).ok());
  SimConfig cfg = DefaultSimConfig();
  cfg.climate = SpotClimate{};
  cfg.steady_state = false;
  cfg.queues = {Spec("a:cpu=16,memory=64Gi"), Spec(fmt::format("c:cpu={},memory=64Gi", kQuota))};
  const std::string cluster = "static+nodes=2+type=m5.4xlarge";

  auto fair = Simulate(t, One(cluster + "+queues=on"), cfg);
  ASSERT_TRUE(fair.ok()) << fair.error().ToString();
  EXPECT_EQ(fair->succeeded, static_cast<int64_t>(t.jobs.size()));
  const TeamResult& c = fair->teams.at("c");
  EXPECT_EQ(c.runs, 4 * kBurst);
  EXPECT_LE(c.wait.p99, bound);
  EXPECT_LE(c.wait.max, bound);
  // c's waits are its own queueing: its queue time is all of it.
  EXPECT_EQ(c.queued.max, c.wait.max);
  // a waited for its quota (the flood is real) and still ran everything.
  EXPECT_GT(fair->teams.at("a").queued.p50, 0);

  // The same day without queues, or with one FIFO queue as big as both quotas: c's runs wait
  // behind the flood, far beyond the bound (so the bound above is not met by accident).
  for (const char* other : {"", "+queues=fifo"}) {
    auto r = Simulate(t, One(cluster + other), cfg);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_GT(r->teams.at("c").wait.p99, 2 * bound) << other;
  }
}

struct Worst {
  int64_t steps = 0;
  std::map<std::string, queue::Vec> peak;  // the most admitted at once, per queue
  int64_t max_running = 0;
};

// Checks one step of the simulation's own books against the queues' limits.
void CheckStep(const QueueBooks& b, Worst& w) {
  ++w.steps;
  const auto& specs = *b.specs;
  const auto& usage = *b.usage;
  ASSERT_EQ(specs.size(), usage.size());
  std::map<std::string, queue::Vec> cohort_use;
  std::map<std::string, queue::Vec> cohort_quota;
  auto within = [](int64_t used, int64_t limit) {
    return limit == queue::kUnlimited || used <= limit;
  };
  for (size_t i = 0; i < specs.size(); ++i) {
    const queue::QueueSpec& q = specs[i];
    const QueueBooks::Usage& u = usage[i];
    SCOPED_TRACE(fmt::format("queue {} at {} s", q.name, b.now / kSec));
    ASSERT_GE(u.queued, 0);
    ASSERT_GE(u.running, 0);
    ASSERT_TRUE(within(u.running, q.limits.max_running)) << u.running;
    // Pods bound never exceed what was admitted.
    ASSERT_LE(u.bound.cpu_millis, u.admitted.cpu_millis);
    ASSERT_LE(u.bound.memory_bytes, u.admitted.memory_bytes);
    queue::Vec& peak = w.peak[q.name];
    peak.cpu_millis = std::max(peak.cpu_millis, u.admitted.cpu_millis);
    peak.memory_bytes = std::max(peak.memory_bytes, u.admitted.memory_bytes);
    w.max_running = std::max(w.max_running, u.running);
    if (q.cohort.empty()) {
      ASSERT_TRUE(within(u.admitted.cpu_millis, q.limits.quota.cpu_millis))
          << u.admitted.cpu_millis;
      ASSERT_TRUE(within(u.admitted.memory_bytes, q.limits.quota.memory_bytes));
      continue;
    }
    // In a cohort: at most quota + borrowing limit, and the cohort within its members' quotas.
    auto cap = [](int64_t quota, int64_t borrow) {
      return quota == queue::kUnlimited || borrow == queue::kUnlimited ? queue::kUnlimited
                                                                       : quota + borrow;
    };
    ASSERT_TRUE(within(u.admitted.cpu_millis,
                       cap(q.limits.quota.cpu_millis, q.borrowing_limit.cpu_millis)));
    ASSERT_TRUE(within(u.admitted.memory_bytes,
                       cap(q.limits.quota.memory_bytes, q.borrowing_limit.memory_bytes)));
    cohort_use[q.cohort] += u.admitted;
    cohort_quota[q.cohort] += q.limits.quota;
  }
  for (const auto& [cohort, use] : cohort_use) {
    ASSERT_LE(use.cpu_millis, cohort_quota[cohort].cpu_millis) << cohort;
    ASSERT_LE(use.memory_bytes, cohort_quota[cohort].memory_bytes) << cohort;
  }
}

// A generated day where teams a and b flood (two bursts of 150 runs each) and c, d submit
// normally, through adapt (retries with more memory count against the run's queue) on an
// autoscaled cluster. At every admission, end and scheduling pass, every queue is within its
// limits; c and d share a cohort and borrow each other's idle quota within it.
TEST(SimQueues, QuotasHoldAtEveryStepOfAFloodedDay) {
  GeneratorParams g;
  g.spark_jobs = 240;
  g.container_jobs = 60;
  g.users = 16;
  g.max_executors = 8;  // every run fits its team's quota
  g.teams = 4;
  g.flood_teams = 2;
  g.flood_runs = 300;
  g.flood_bursts = 2;
  auto trace = Generate(g);
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  SimConfig cfg = DefaultSimConfig();
  cfg.steady_state = false;
  cfg.queues = {Spec("a:cpu=200,memory=1600Gi,running=40"), Spec("b:cpu=200,memory=1600Gi"),
                Spec("c:cpu=160,memory=1200Gi,cohort=shared,borrow_cpu=80,borrow_memory=600Gi"),
                Spec("d:cpu=160,memory=1200Gi,cohort=shared,borrow_cpu=80,borrow_memory=600Gi")};
  Worst w;
  cfg.on_queue = [&w](const QueueBooks& b) { CheckStep(b, w); };
  auto r = Simulate(*trace, One("tugboat+queues=on"), cfg);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->unfinished, 0);
  EXPECT_EQ(r->succeeded + r->failed, static_cast<int64_t>(trace->jobs.size()));
  EXPECT_GT(w.steps, 1000);
  // The flood pressed against a's quota (the checks above were not vacuous), and its runs
  // waited in the queue for it.
  EXPECT_GT(w.peak["a"].cpu_millis, 200000 * 3 / 4);
  EXPECT_GT(w.max_running, 0);
  EXPECT_GT(r->teams.at("a").queued.p99, 0);
  EXPECT_GT(r->teams.at("a").runs, r->teams.at("c").runs);

  // The report carries the waits by team, in text and JSON.
  Comparison c;
  c.trace_source = trace->source;
  c.config = cfg;
  c.results.push_back(*r);
  std::string text = TextTable(c);
  EXPECT_NE(text.find("team c ("), std::string::npos) << text;
  EXPECT_NE(text.find("… of which in its queue p50 / p99"), std::string::npos) << text;
  auto json = ToJson(c, false);
  const auto& team = json.at("policies").at(0).at("teams").at("a");
  EXPECT_EQ(team.at("runs").as_int64(), r->teams.at("a").runs);
  EXPECT_GT(team.at("queued_seconds").at("p99").to_number<double>(), 0);
  EXPECT_EQ(json.at("config").at("queues").as_array().size(), 4u);
}

TEST(SimQueues, TheFloodLeavesTheOtherTeamsDayAsItWas) {
  GeneratorParams g;
  g.spark_jobs = 100;
  g.container_jobs = 20;
  g.users = 10;
  g.teams = 5;
  auto plain = Generate(g);
  g.flood_teams = 2;
  g.flood_runs = 50;
  auto flooded = Generate(g);
  ASSERT_TRUE(plain.ok() && flooded.ok());
  ASSERT_EQ(flooded->jobs.size(), plain->jobs.size() + 100);
  std::vector<TraceJob> rest;
  std::map<std::string, int> backfill;
  for (const TraceJob& j : flooded->jobs) {
    if (j.klass == "backfill") {
      ++backfill[j.queue];
      EXPECT_GE(j.submit, static_cast<Micros>(g.flood_from_s) * kSec);
      continue;
    }
    rest.push_back(j);
  }
  EXPECT_EQ(backfill, (std::map<std::string, int>{{"a", 50}, {"b", 50}}));
  ASSERT_EQ(rest.size(), plain->jobs.size());
  for (size_t i = 0; i < rest.size(); ++i) {
    rest[i].id = plain->jobs[i].id;  // numbered again after the merge
    EXPECT_EQ(rest[i], plain->jobs[i]) << i;
  }
  // Users join teams round-robin: u000 → a, u001 → b, ...
  for (const TraceJob& j : plain->jobs) {
    int user = std::stoi(j.user.substr(1));
    EXPECT_EQ(j.queue, TeamName(user % 5, 5)) << j.user;
  }
  GeneratorParams bad;
  bad.teams = 1;
  bad.flood_teams = 2;
  EXPECT_FALSE(Generate(bad).ok());
}

}  // namespace
}  // namespace tug::sim
