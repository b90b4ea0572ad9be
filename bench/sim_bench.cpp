// Fleet simulator speed (docs/benchmarks.md): scheduler placements per second at 1,000 nodes,
// and the wall time of a whole generated day (8,000 Spark + 2,000 container runs) per policy.
// Medians of --runs runs. Run through bench/sim_bench.sh with the release preset.
//
//   sim_bench [--runs 3] [--nodes 1000] [--placements 2000000] [--skip-day]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sim/cluster.h"
#include "sim/generator.h"
#include "sim/policy.h"
#include "sim/report.h"
#include "sim/rng.h"
#include "sim/simulation.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Pick + Bind through the scheduler on a full-ish cluster: pods of mixed shapes and
/// capacity types arrive, the oldest leave once 85 % of the cpu is requested.
double Placements(int nodes, int64_t count, tug::sim::Scoring scoring, uint64_t seed) {
  using namespace tug::sim;
  Cluster c(DefaultNodeTypes());
  for (int i = 0; i < nodes; ++i) {
    int id = c.Launch(1, i % 2 == 0 ? Capacity::kSpot : Capacity::kOnDemand, 0, 0);
    c.MarkReady(id, 0);
  }
  Rng rng(seed);
  struct Bound {
    int node;
    int64_t cpu;
    int64_t mem;
  };
  std::deque<Bound> bound;
  int64_t cap_cpu = static_cast<int64_t>(nodes) * c.types()[1].cpu_millis;
  int64_t used = 0;
  const int64_t cpus[] = {1000, 2000, 4000, 4000, 8000};
  int64_t placed = 0;
  auto start = Clock::now();
  for (int64_t i = 0; i < count; ++i) {
    int64_t cpu = cpus[rng.Below(5)];
    int64_t mem = cpu / 1000 * static_cast<int64_t>(1 + rng.Below(6)) * (int64_t{1} << 30);
    Affinity a = static_cast<Affinity>(rng.Below(3));
    while (used > cap_cpu * 85 / 100 && !bound.empty()) {
      c.Release(bound.front().node, 0, bound.front().cpu, bound.front().mem, 0);
      used -= bound.front().cpu;
      bound.pop_front();
    }
    int node = c.Pick(cpu, mem, a, scoring);
    if (node < 0) continue;
    c.Bind(node, 0, cpu, mem, 0);
    bound.push_back({node, cpu, mem});
    used += cpu;
    ++placed;
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(placed) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3;
  int nodes = 1000;
  int64_t placements = 2'000'000;
  bool skip_day = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    if (a == "--nodes" && i + 1 < argc) nodes = std::atoi(argv[++i]);
    if (a == "--placements" && i + 1 < argc) placements = std::atoll(argv[++i]);
    if (a == "--skip-day") skip_day = true;
  }
  using namespace tug::sim;
  for (Scoring s : {Scoring::kMostAllocated, Scoring::kLeastAllocated}) {
    std::vector<double> rates;
    for (int r = 0; r < runs; ++r) rates.push_back(Placements(nodes, placements, s, 7 + r));
    fmt::print("placements/s at {} nodes, {}: {:.0f} (median of {})\n", nodes, ToString(s),
               Median(rates), runs);
  }
  if (skip_day) return 0;
  GeneratorParams g;
  auto start = Clock::now();
  auto trace = Generate(g);
  if (!trace.ok()) {
    fmt::print(stderr, "error: {}\n", trace.error().message());
    return 1;
  }
  fmt::print("generated {} runs in {:.2f} s\n", trace->jobs.size(),
             std::chrono::duration<double>(Clock::now() - start).count());
  auto policies = ParsePolicies("a,b,c");
  SimConfig config = DefaultSimConfig();
  for (const Policy& p : *policies) {
    std::vector<double> walls;
    PolicyResult last;
    for (int r = 0; r < runs; ++r) {
      auto t0 = Clock::now();
      auto res = Simulate(*trace, p, config);
      walls.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      if (!res.ok()) {
        fmt::print(stderr, "error: {}\n", res.error().message());
        return 1;
      }
      last = std::move(*res);
    }
    double wall = Median(walls);
    fmt::print(
        "day {}: {:.2f} s (median of {}), {} events, {} placements, {:.0f} placements/s, "
        "peak {} nodes\n",
        p.label, wall, runs, last.events, last.placements,
        static_cast<double>(last.placements) / wall, last.peak_nodes);
  }
  return 0;
}
