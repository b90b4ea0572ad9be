// The queue scheduler: limits, reasons, positions, fair share, cohorts, and a reference model.
#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "queue/queue.h"

namespace tug::queue {
namespace {

constexpr int64_t kGi = int64_t{1} << 30;

QueueSpec Q(std::string name, int64_t cpu_millis = kUnlimited, int64_t max_running = kUnlimited) {
  QueueSpec q;
  q.name = std::move(name);
  q.limits.quota.cpu_millis = cpu_millis;
  q.limits.max_running = max_running;
  return q;
}

Item I(std::string id, std::string queue, std::string user = "alice", int64_t cpu = 1000,
       Micros at = 0, int priority = 0) {
  static Micros seq = 0;
  return Item{std::move(id), std::move(queue),     std::move(user),
              priority,      at != 0 ? at : ++seq, Vec{cpu, kGi, 0}};
}

Scheduler Make(std::vector<QueueSpec> queues, Vec capacity = {}) {
  auto s = Scheduler::Create(std::move(queues), capacity);
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return std::move(*s);
}

// Starts whatever Next offers until nothing fits; returns the ids in order.
std::vector<std::string> Drain(Scheduler& s) {
  std::vector<std::string> out;
  while (const Item* next = s.Next()) {
    std::string id = next->id;
    EXPECT_TRUE(s.Start(id).ok());
    out.push_back(id);
  }
  return out;
}

std::string Reason(const Scheduler& s, const std::string& id) {
  auto e = s.Explain(id);
  EXPECT_TRUE(e.ok());
  return e.ok() ? e->reason : "";
}

TEST(Footprint, ContainerAndSparkDriverPlusExecutors) {
  Resources c;
  c.cpu_millis = 1500;
  c.memory_bytes = 2 * kGi;
  c.gpu = 1;
  EXPECT_EQ(Footprint(c), (Vec{1500, 2 * kGi, 1}));

  Resources s;
  s.spark.driver = {1000, 4 * kGi, 1 * kGi};
  s.spark.executor = {2000, 8 * kGi, 2 * kGi};
  s.spark.instances = 3;
  EXPECT_EQ(Footprint(s), (Vec{1000 + 3 * 2000, 5 * kGi + 3 * 10 * kGi, 0}));
  s.spark.dynamic_allocation = true;
  s.spark.max_executors = 10;
  EXPECT_EQ(Footprint(s).cpu_millis, 1000 + 10 * 2000);
  // GPUs are per executor: every executor the run may hold counts, the driver none.
  s.gpu = 2;
  EXPECT_EQ(Footprint(s).gpu, 10 * 2);
  s.spark.dynamic_allocation = false;
  EXPECT_EQ(Footprint(s).gpu, 3 * 2);

  Resources defaults;  // Spark's defaults: 1 core, 1Gi heap + 384Mi overhead
  defaults.spark.instances = 2;
  EXPECT_EQ(Footprint(defaults), (Vec{3000, 3 * (kGi + (int64_t{384} << 20)), 0}));
}

TEST(Scheduler, QueueQuotaHoldsAndNamesTheLimit) {
  Scheduler s = Make({Q("team-a", 2000)});
  for (const char* id : {"a1", "a2", "a3", "a4"}) ASSERT_TRUE(s.Enqueue(I(id, "team-a")).ok());
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(Reason(s, "a3"), "team-a: 2 of 2 CPUs in use");
  EXPECT_EQ(s.Explain("a3")->position, 1);
  EXPECT_EQ(s.Explain("a4")->position, 2);
  EXPECT_TRUE(s.Explain("a1")->running);
  ASSERT_TRUE(s.Finish("a1").ok());
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"a3"}));
  EXPECT_EQ(s.Explain("a4")->position, 1);
}

TEST(Scheduler, ReasonsForEveryLimit) {
  struct Case {
    std::string name;
    QueueSpec spec;
    std::vector<Item> items;  // all but the last start
    std::string reason;       // of the last
  };
  QueueSpec runs = Q("q", kUnlimited, 1);
  QueueSpec mem = Q("q");
  mem.limits.quota.memory_bytes = 3 * kGi;
  QueueSpec gpu = Q("q");
  gpu.limits.quota.gpu = 1;
  QueueSpec user_runs = Q("q");
  user_runs.user_limits.max_running = 1;
  QueueSpec user_cpu = Q("q");
  user_cpu.user_limits.quota.cpu_millis = 2000;
  Item m3 = I("3", "q", "bob", 1000, 1000000);
  m3.footprint.memory_bytes = 2 * kGi;
  Item g1 = I("g1", "q"), g2 = I("g2", "q");
  g1.footprint.gpu = g2.footprint.gpu = 1;
  std::vector<Case> cases = {
      {"running runs", runs, {I("1", "q"), I("2", "q")}, "q: 1 of 1 running runs"},
      {"memory",
       mem,
       {I("1", "q"), I("2", "q"), m3},
       "q: 2Gi of 3Gi memory in use, the next run needs 2Gi"},
      {"gpu", gpu, {g1, g2}, "q: 1 of 1 GPUs in use"},
      {"user runs", user_runs, {I("1", "q"), I("2", "q")}, "alice: 1 of 1 running runs in q"},
      {"user cpu",
       user_cpu,
       {I("1", "q", "alice", 1500), I("2", "q", "alice", 1000)},
       "alice: 1.5 of 2 CPUs in use in q, the next run needs 1"},
      {"fifo head too big",
       Q("q", 4000),
       {I("1", "q", "a", 2000), I("2", "q", "b", 3000)},
       "q: 2 of 4 CPUs in use, the next run needs 3"},
  };
  for (Case& c : cases) {
    SCOPED_TRACE(c.name);
    Scheduler s = Make({c.spec});
    for (const Item& it : c.items) ASSERT_TRUE(s.Enqueue(it).ok());
    auto started = Drain(s);
    EXPECT_EQ(started.size(), c.items.size() - 1);
    EXPECT_EQ(Reason(s, c.items.back().id), c.reason);
  }
}

TEST(Scheduler, UserAtTheirLimitDoesNotBlockOthers) {
  QueueSpec q = Q("team-a");
  q.user_limits.max_running = 2;
  Scheduler s = Make({q});
  for (const char* id : {"a1", "a2", "a3"}) ASSERT_TRUE(s.Enqueue(I(id, "team-a", "alice")).ok());
  ASSERT_TRUE(s.Enqueue(I("b1", "team-a", "bob")).ok());
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ(Reason(s, "a3"), "alice: 2 of 2 running runs in team-a");
  ASSERT_TRUE(s.Finish("b1").ok());
  EXPECT_TRUE(Drain(s).empty());
  ASSERT_TRUE(s.Finish("a2").ok());
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"a3"}));
}

TEST(Scheduler, PriorityThenFifoWithinAQueue) {
  Scheduler s = Make({Q("q", 1000)});
  ASSERT_TRUE(s.Enqueue(I("old", "q", "u", 1000, 10)).ok());
  ASSERT_TRUE(s.Enqueue(I("urgent", "q", "u", 1000, 30, 5)).ok());
  ASSERT_TRUE(s.Enqueue(I("new", "q", "u", 1000, 20)).ok());
  EXPECT_EQ(s.Explain("urgent")->position, 1);
  EXPECT_EQ(s.Explain("new")->position, 3);
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    auto started = Drain(s);
    ASSERT_EQ(started.size(), 1u);
    order.push_back(started[0]);
    ASSERT_TRUE(s.Finish(started[0]).ok());
  }
  EXPECT_EQ(order, (std::vector<std::string>{"urgent", "old", "new"}));
}

TEST(Scheduler, WeightedDominantShareAcrossQueues) {
  QueueSpec a = Q("a"), b = Q("b");
  b.weight = 3;
  // 8 CPUs in the cluster; quotas unlimited, so only the order decides who gets them.
  Scheduler s = Make({a, b}, Vec{8000, 0, 0});
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s.Enqueue(I("a" + std::to_string(i), "a")).ok());
    ASSERT_TRUE(s.Enqueue(I("b" + std::to_string(i), "b")).ok());
  }
  std::map<char, int> got;
  for (int i = 0; i < 8; ++i) {
    const Item* next = s.Next();
    ASSERT_NE(next, nullptr);
    ++got[next->id[0]];
    ASSERT_TRUE(s.Start(std::string(next->id)).ok());
  }
  EXPECT_EQ(got['a'], 2);
  EXPECT_EQ(got['b'], 6);
  // Memory dominates for a queue using little CPU but much memory.
  Scheduler m = Make({Q("cpu"), Q("mem")}, Vec{10000, 10 * kGi, 0});
  Item heavy = I("m1", "mem", "u", 100);
  heavy.footprint.memory_bytes = 5 * kGi;  // share 0.5
  ASSERT_TRUE(m.AddRunning(heavy).ok());
  ASSERT_TRUE(m.AddRunning(I("c1", "cpu", "u", 4000, 0)).ok());  // share 0.4
  ASSERT_TRUE(m.Enqueue(I("m2", "mem")).ok());
  ASSERT_TRUE(m.Enqueue(I("c2", "cpu")).ok());
  EXPECT_EQ(m.Next()->id, "c2");
}

TEST(Scheduler, HigherPriorityQueueFirst) {
  QueueSpec hi = Q("hi");
  hi.priority = 10;
  Scheduler s = Make({Q("lo"), hi}, Vec{100000, 0, 0});
  ASSERT_TRUE(s.AddRunning(I("h0", "hi", "u", 50000)).ok());
  ASSERT_TRUE(s.Enqueue(I("l1", "lo")).ok());
  ASSERT_TRUE(s.Enqueue(I("h1", "hi")).ok());
  EXPECT_EQ(s.Next()->id, "h1");
}

TEST(Scheduler, CohortLendsIdleQuotaWithinItsBorrowingLimit) {
  QueueSpec a = Q("a", 2000), b = Q("b", 2000);
  a.cohort = b.cohort = "research";
  Scheduler s = Make({a, b});
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(s.Enqueue(I("a" + std::to_string(i), "a")).ok());
  EXPECT_EQ(Drain(s).size(), 4u);  // b is idle: a borrows its 2 CPUs
  EXPECT_EQ(Reason(s, "a4"), "a: 4 of 4 CPUs in use");
  ASSERT_TRUE(s.Enqueue(I("b0", "b")).ok());
  EXPECT_EQ(Reason(s, "b0"), "b: cohort research has 4 of 4 CPUs in use");
  ASSERT_TRUE(s.Finish("a0").ok());
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"b0"}));  // fair share: b is far below a

  a.borrowing_limit.cpu_millis = 1000;
  Scheduler limited = Make({a, b});
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(limited.Enqueue(I("x" + std::to_string(i), "a")).ok());
  EXPECT_EQ(Drain(limited).size(), 3u);
  EXPECT_EQ(Reason(limited, "x3"), "a: 3 of 3 CPUs in use");
}

TEST(Scheduler, RunThatCanNeverFitIsSetAsideAndBlocksNoOne) {
  QueueSpec q = Q("team-a", 4000);
  q.user_limits.quota.cpu_millis = 3000;
  Scheduler s = Make({q});
  ASSERT_TRUE(s.Enqueue(I("huge", "team-a", "alice", 8000)).ok());
  ASSERT_TRUE(s.Enqueue(I("big", "team-a", "alice", 3500)).ok());
  ASSERT_TRUE(s.Enqueue(I("small", "team-a", "alice", 1000)).ok());
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"small"}));
  EXPECT_EQ(Reason(s, "huge"),
            "the run needs 8 CPUs but team-a may use at most 4; lower the request or raise the "
            "quota");
  EXPECT_EQ(Reason(s, "big"),
            "the run needs 3.5 CPUs but one user may use at most 3 in team-a; lower the request "
            "or raise per_user");
  EXPECT_EQ(s.Snapshot().back().queued, 2);
}

TEST(Scheduler, ErrorsAndDefaultQueue) {
  Scheduler s = Make({Q("a")});
  EXPECT_TRUE(s.HasQueue("default"));
  EXPECT_EQ(s.Enqueue(I("x", "nope")).error().code(), Code::kInvalidArgument);
  ASSERT_TRUE(s.Enqueue(I("x", "a")).ok());
  EXPECT_EQ(s.Enqueue(I("x", "a")).error().code(), Code::kAlreadyExists);
  EXPECT_EQ(s.Finish("x").error().code(), Code::kNotFound);
  EXPECT_EQ(s.Remove("y").error().code(), Code::kNotFound);
  EXPECT_EQ(s.Explain("y").error().code(), Code::kNotFound);
  ASSERT_TRUE(s.Remove("x").ok());
  EXPECT_EQ(s.Next(), nullptr);
  EXPECT_EQ(s.queued(), 0u);
}

TEST(ValidateQueues, Table) {
  struct Case {
    std::function<void(QueueSpec&)> edit;
    std::string message;  // "" : valid
  };
  std::vector<Case> cases = {
      {[](QueueSpec&) {}, ""},
      {[](QueueSpec& q) { q.name = "Team A"; }, "queue: name 'Team A' must be lower-case"},
      {[](QueueSpec& q) { q.weight = 0; }, "queue 'q': weight must be a number above 0 (got 0)"},
      {[](QueueSpec& q) { q.limits.quota.cpu_millis = -5; }, "queue 'q': cpu must not be negative"},
      {[](QueueSpec& q) { q.user_limits.max_running = -2; },
       "queue 'q': per_user.max_running must not be negative"},
      {[](QueueSpec& q) { q.borrowing_limit.gpu = 1; },
       "queue 'q': borrowing_limit needs a cohort to borrow from; set cohort"},
      {[](QueueSpec& q) { q.cohort = "Bad!"; }, "queue 'q': cohort name 'Bad!'"},
  };
  for (const Case& c : cases) {
    QueueSpec q = Q("q");
    c.edit(q);
    Status st = ValidateQueues({q});
    if (c.message.empty()) {
      EXPECT_TRUE(st.ok()) << st.error().ToString();
    } else {
      ASSERT_FALSE(st.ok()) << c.message;
      EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
      EXPECT_EQ(st.error().message().rfind(c.message, 0), 0u) << st.error().message();
    }
  }
  EXPECT_FALSE(ValidateQueues({Q("a"), Q("a")}).ok());
}

// A reference model by scanning: the same policy written plainly, compared on random
// operations. Catches stale entries in the ordered sets.
struct Reference {
  std::vector<QueueSpec> specs;
  std::map<std::string, Item> queued, running;
  Vec denominator;

  const QueueSpec& Spec(const std::string& name) const {
    return *std::find_if(specs.begin(), specs.end(), [&](auto& q) { return q.name == name; });
  }
  bool Within(const Vec& used, const Vec& limit) const {
    return (limit.cpu_millis == kUnlimited || used.cpu_millis <= limit.cpu_millis) &&
           (limit.memory_bytes == kUnlimited || used.memory_bytes <= limit.memory_bytes) &&
           (limit.gpu == kUnlimited || used.gpu <= limit.gpu);
  }
  std::tuple<Vec, int64_t> Usage(const std::string& queue, const std::string* user) const {
    Vec v;
    int64_t n = 0;
    for (auto& [id, it] : running) {
      if (it.queue == queue && (user == nullptr || it.user == *user)) v += it.footprint, ++n;
    }
    return {v, n};
  }
  std::optional<std::string> Next() const {
    std::optional<std::tuple<int, double, std::string, std::string>> best;
    for (const QueueSpec& q : specs) {
      std::vector<const Item*> items;
      for (auto& [id, it] : queued) {
        if (it.queue == q.name) items.push_back(&it);
      }
      std::sort(items.begin(), items.end(), [](auto* x, auto* y) {
        return std::tuple(-x->priority, x->submitted_at, x->id) <
               std::tuple(-y->priority, y->submitted_at, y->id);
      });
      auto [qv, qn] = Usage(q.name, nullptr);
      std::set<std::string> seen_users;
      for (const Item* it : items) {
        if (!Within(it->footprint, q.limits.quota) || !Within(it->footprint, q.user_limits.quota))
          continue;                                         // never fits
        if (!seen_users.insert(it->user).second) continue;  // not the user's first
        auto [uv, un] = Usage(q.name, &it->user);
        bool user_ok =
            (q.user_limits.max_running == kUnlimited || un + 1 <= q.user_limits.max_running) &&
            Within(uv + it->footprint, q.user_limits.quota);
        if (!user_ok) continue;
        bool queue_ok = (q.limits.max_running == kUnlimited || qn + 1 <= q.limits.max_running) &&
                        Within(qv + it->footprint, q.limits.quota);
        if (queue_ok) {
          double share = std::max(double(qv.cpu_millis) / double(denominator.cpu_millis),
                                  double(qv.memory_bytes) / double(denominator.memory_bytes)) /
                         q.weight;
          auto cand = std::tuple(-q.priority, share, q.name, it->id);
          if (!best || cand < *best) best = cand;
        }
        break;  // strict FIFO among users within their limits
      }
    }
    if (!best) return std::nullopt;
    return std::get<3>(*best);
  }
};

TEST(Scheduler, MatchesAScanningReferenceOnRandomOperations) {
  std::mt19937 rng(7);
  std::vector<QueueSpec> specs;
  for (int i = 0; i < 4; ++i) {
    QueueSpec q = Q("q" + std::to_string(i), 3000 + 1000 * i, i == 2 ? 2 : kUnlimited);
    q.limits.quota.memory_bytes = 6 * kGi;
    q.weight = 1 + i;
    q.priority = i == 3 ? 1 : 0;
    if (i == 1) q.user_limits.max_running = 1;
    if (i == 0) q.user_limits.quota.cpu_millis = 2000;
    specs.push_back(q);
  }
  Vec denominator{3000 + 4000 + 5000 + 6000, 24 * kGi, 0};
  Scheduler s = Make(specs);
  Reference ref{specs, {}, {}, denominator};
  const char* users[] = {"ann", "bo", "cy"};
  for (int step = 0; step < 1500; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (op < 5) {
      Item it = I("i" + std::to_string(step), "q" + std::to_string(rng() % 4), users[rng() % 3],
                  500 * (1 + rng() % 4), static_cast<Micros>(rng() % 50) + 1,
                  static_cast<int>(rng() % 2));
      it.footprint.memory_bytes = kGi * (1 + rng() % 3);
      ASSERT_TRUE(s.Enqueue(it).ok());
      ref.queued[it.id] = it;
    } else if (op < 8) {
      auto want = ref.Next();
      const Item* got = s.Next();
      ASSERT_EQ(want.has_value(), got != nullptr) << "step " << step;
      if (!want) continue;
      ASSERT_EQ(*want, got->id) << "step " << step;
      std::string id = got->id;
      ASSERT_TRUE(s.Start(id).ok());
      ref.running[id] = ref.queued[id];
      ref.queued.erase(id);
    } else if (op < 9 && !ref.running.empty()) {
      auto it = std::next(ref.running.begin(), static_cast<long>(rng() % ref.running.size()));
      ASSERT_TRUE(s.Finish(it->first).ok());
      ref.running.erase(it);
    } else if (!ref.queued.empty()) {
      auto it = std::next(ref.queued.begin(), static_cast<long>(rng() % ref.queued.size()));
      ASSERT_TRUE(s.Remove(it->first).ok());
      ref.queued.erase(it);
    }
  }
  // No queue went over its limits, and the snapshot agrees with the reference.
  for (const QueueStatus& q : s.Snapshot()) {
    if (q.spec.name == "default") continue;
    auto [used, n] = ref.Usage(q.spec.name, nullptr);
    EXPECT_EQ(q.usage, used);
    EXPECT_EQ(q.running, n);
    EXPECT_LE(q.usage.cpu_millis, q.spec.limits.quota.cpu_millis);
    EXPECT_LE(q.usage.memory_bytes, q.spec.limits.quota.memory_bytes);
  }
}

}  // namespace
}  // namespace tug::queue
