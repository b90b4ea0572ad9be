// Team queues at scale (issue 26 item 3): queue::Scheduler with 100 queues and 1,000 / 10,000 /
// 100,000 queued runs. Each queue runs at its limit (10 runs of 1 CPU in a 10-CPU quota), so
// every decision has to find a queue under its limit, the way the dispatcher does when capacity
// frees:
//  - decision: Finish the oldest running run, Next, Start (one dispatch cycle);
//  - enqueue:  Enqueue a run into a random queue (random priority 0-2);
//  - explain:  position and reason of a random queued run;
// in batches timed by hand (the untimed part puts the queued count back), reported as ns per
// operation; `bytes_per_queued` is the heap the queued runs take (mallinfo2) divided by their
// count. Run through bench/queue_bench.sh (release build, medians of repetitions, ratios).
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "queue/queue.h"

namespace {

using tug::queue::Item;
using tug::queue::QueueSpec;
using tug::queue::Scheduler;

constexpr int kQueues = 100;
constexpr int kRunningPerQueue = 10;
constexpr int64_t kGiB = int64_t{1} << 30;

struct World {
  explicit World(Scheduler sched) : s(std::move(sched)) {}
  Scheduler s;
  std::deque<std::string> running;  // oldest first
  std::vector<std::string> queued_ids;
  std::mt19937_64 rng{42};
  int64_t next = 0;
  double bytes_per_queued = 0;

  Item NewItem() {
    Item it;
    it.id = fmt::format("r{:08d}", next);
    it.queue = fmt::format("q{:03d}", rng() % kQueues);
    it.user = fmt::format("u{:03d}", rng() % 1000);
    it.priority = static_cast<int>(rng() % 3);
    it.submitted_at = next;
    it.footprint = {1000, kGiB, 0};
    ++next;
    return it;
  }
};

Scheduler MakeScheduler() {
  std::vector<QueueSpec> qs;
  for (int i = 0; i < kQueues; ++i) {
    QueueSpec q;
    q.name = fmt::format("q{:03d}", i);
    q.weight = 1 + i % 4;
    q.limits.max_running = kRunningPerQueue;
    q.limits.quota = {kRunningPerQueue * 1000, kRunningPerQueue * 4 * kGiB, 0};
    qs.push_back(std::move(q));
  }
  auto s = Scheduler::Create(std::move(qs));
  if (!s.ok()) std::abort();
  return std::move(s).value();
}

/// 100 queues, `queued` runs waiting, every queue at its running limit.
World Make(int64_t queued) {
  World w(MakeScheduler());
  size_t before = mallinfo2().uordblks;
  for (int64_t i = 0; i < queued; ++i) {
    Item it = w.NewItem();
    w.queued_ids.push_back(it.id);
    if (!w.s.Enqueue(std::move(it)).ok()) std::abort();
  }
  size_t after = mallinfo2().uordblks;
  // The ids kept here for the explain benchmark are not the scheduler's: leave them out.
  size_t ids = w.queued_ids.capacity() * sizeof(std::string);
  w.bytes_per_queued =
      static_cast<double>(after - before - ids) / static_cast<double>(std::max<int64_t>(queued, 1));
  // Fill every queue to its limit; then refill the queued count.
  while (const Item* it = w.s.Next()) {
    std::string id = it->id;
    if (!w.s.Start(id).ok()) std::abort();
    w.running.push_back(std::move(id));
  }
  while (static_cast<int64_t>(w.s.queued()) < queued) {
    if (!w.s.Enqueue(w.NewItem()).ok()) std::abort();
  }
  return w;
}

using Clock = std::chrono::steady_clock;

void Report(benchmark::State& state, double ns, int64_t ops, const World& w) {
  state.counters["ns_per_op"] = ns / static_cast<double>(ops);
  state.counters["queued"] = static_cast<double>(w.s.queued());
  state.counters["bytes_per_queued"] = w.bytes_per_queued;
}

void BM_Decision(benchmark::State& state) {
  const int64_t queued = state.range(0);
  World w = Make(queued);
  const int64_t batch = std::min<int64_t>(1000, queued / 10);
  double ns = 0;
  int64_t ops = 0;
  for (auto _ : state) {
    auto start = Clock::now();
    for (int64_t i = 0; i < batch && !w.running.empty(); ++i) {
      if (!w.s.Finish(w.running.front()).ok()) std::abort();
      w.running.pop_front();
      // nullptr (the freed queue has nothing queued, every other one is at its limit) is a
      // decision too.
      const Item* it = w.s.Next();
      if (it == nullptr) continue;
      std::string id = it->id;
      if (!w.s.Start(id).ok()) std::abort();
      w.running.push_back(std::move(id));
    }
    auto secs = std::chrono::duration<double>(Clock::now() - start).count();
    state.SetIterationTime(secs);
    ns += secs * 1e9;
    ops += batch;
    // Untimed: put the queued count back.
    for (int64_t i = 0; i < batch; ++i) {
      if (!w.s.Enqueue(w.NewItem()).ok()) std::abort();
    }
  }
  Report(state, ns, ops, w);
}

void BM_Enqueue(benchmark::State& state) {
  const int64_t queued = state.range(0);
  World w = Make(queued);
  const int64_t batch = 1000;
  std::vector<std::string> added;
  double ns = 0;
  int64_t ops = 0;
  for (auto _ : state) {
    std::vector<Item> items;
    items.reserve(batch);
    added.clear();
    for (int64_t i = 0; i < batch; ++i) {
      items.push_back(w.NewItem());
      added.push_back(items.back().id);
    }
    auto start = Clock::now();
    for (Item& it : items) {
      if (!w.s.Enqueue(std::move(it)).ok()) std::abort();
    }
    auto secs = std::chrono::duration<double>(Clock::now() - start).count();
    state.SetIterationTime(secs);
    ns += secs * 1e9;
    ops += batch;
    for (const std::string& id : added) {
      if (!w.s.Remove(id).ok()) std::abort();
    }
  }
  Report(state, ns, ops, w);
}

void BM_Explain(benchmark::State& state) {
  const int64_t queued = state.range(0);
  World w = Make(queued);
  // Only ids still queued (Make started some of the first ones).
  std::vector<std::string> ids;
  for (const std::string& id : w.queued_ids) {
    auto e = w.s.Explain(id);
    if (e.ok() && !e->running) ids.push_back(id);
  }
  const int64_t batch = 1000;
  double ns = 0;
  int64_t ops = 0;
  for (auto _ : state) {
    std::vector<const std::string*> pick;
    for (int64_t i = 0; i < batch; ++i) pick.push_back(&ids[w.rng() % ids.size()]);
    auto start = Clock::now();
    for (const std::string* id : pick) {
      auto e = w.s.Explain(*id);
      benchmark::DoNotOptimize(e);
    }
    auto secs = std::chrono::duration<double>(Clock::now() - start).count();
    state.SetIterationTime(secs);
    ns += secs * 1e9;
    ops += batch;
  }
  Report(state, ns, ops, w);
}

BENCHMARK(BM_Decision)->Arg(1000)->Arg(10000)->Arg(100000)->UseManualTime();
BENCHMARK(BM_Enqueue)->Arg(1000)->Arg(10000)->Arg(100000)->UseManualTime();
BENCHMARK(BM_Explain)->Arg(1000)->Arg(10000)->Arg(100000)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
