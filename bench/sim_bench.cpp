// Fleet simulator speed (docs/benchmarks.md): scheduler placements per second at several node
// counts, through the node index (Cluster::Pick) and through the scan of every node it replaced
// (the same decisions, so the same work), in thread cpu time; and the time of a whole generated
// day (8,000 Spark + 2,000 container runs) per policy, wall and cpu. Medians of --runs runs. Run
// through bench/sim_bench.sh with the release preset.
//
//   sim_bench [--runs 3] [--nodes 1000,10000,100000] [--placements 2000000]
//             [--scan-work 2000000000] [--skip-scan] [--skip-day]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
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
using namespace tug::sim;

/// This thread's cpu time: the machine is shared, and wall time would count other work.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string Thousands(double x) {
  std::string digits = fmt::format("{:.0f}", x);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

/// The scheduler before the node index (issue 27): every ready node filtered and scored. A copy
/// of the reference in src/sim/node_index_test.cpp, which proves both pick the same node.
int ScanPick(const Cluster& c, int64_t cpu, int64_t mem, Affinity affinity, Scoring scoring) {
  int best = -1;
  int64_t best_score = -1;
  for (int id : c.ready_ids()) {
    const Node& n = c.node(id);
    if (!Accepts(affinity, n.capacity) || !c.Fits(n, cpu, mem)) continue;
    int64_t s = c.Score(n, cpu, mem, scoring);
    if (s > best_score || (s == best_score && id < best)) {
      best = id;
      best_score = s;
    }
  }
  return best;
}

/// A cluster of ready r5.4xlarge nodes (half spot, half on-demand) with pods of mixed shapes and
/// capacity affinities arriving; the oldest pods leave once 85 % of the cpu is requested.
struct Churn {
  struct Bound {
    int node;
    int64_t cpu;
    int64_t mem;
  };
  Cluster cluster{DefaultNodeTypes()};
  Rng rng;
  std::deque<Bound> bound;
  int64_t cap_cpu = 0;
  int64_t used = 0;

  Churn(int nodes, uint64_t seed) : rng(seed) {
    for (int i = 0; i < nodes; ++i) {
      int id = cluster.Launch(1, i % 2 == 0 ? Capacity::kSpot : Capacity::kOnDemand, 0, 0);
      cluster.MarkReady(id, 0);
    }
    cap_cpu = static_cast<int64_t>(nodes) * cluster.types()[1].cpu_millis;
  }

  /// `count` arrivals; returns the placements made.
  template <typename PickFn>
  int64_t Run(int64_t count, Scoring scoring, PickFn pick) {
    static constexpr int64_t kCpus[] = {1000, 2000, 4000, 4000, 8000};
    int64_t placed = 0;
    for (int64_t i = 0; i < count; ++i) {
      int64_t cpu = kCpus[rng.Below(5)];
      int64_t mem = cpu / 1000 * static_cast<int64_t>(1 + rng.Below(6)) * (int64_t{1} << 30);
      auto a = static_cast<Affinity>(rng.Below(3));
      while (used > cap_cpu * 85 / 100 && !bound.empty()) {
        cluster.Release(bound.front().node, 0, bound.front().cpu, bound.front().mem, 0);
        used -= bound.front().cpu;
        bound.pop_front();
      }
      int node = pick(cluster, cpu, mem, a, scoring);
      if (node < 0) continue;
      cluster.Bind(node, 0, cpu, mem, 0);
      bound.push_back({node, cpu, mem});
      used += cpu;
      ++placed;
    }
    return placed;
  }

  /// Arrivals until the cpu is 85 % requested, so that the timed part is steady churn.
  void Warm(Scoring scoring) {
    while (used <= cap_cpu * 85 / 100) {
      Run(1000, scoring, [](const Cluster& c, int64_t cpu, int64_t mem, Affinity a, Scoring s) {
        return c.Pick(cpu, mem, a, s);
      });
    }
  }
};

/// Placements per second of `count` arrivals on a warm cluster, through the index or the scan.
double Placements(int nodes, int64_t count, Scoring scoring, uint64_t seed, bool scan) {
  Churn churn(nodes, seed);
  churn.Warm(scoring);
  double start = CpuSeconds();
  int64_t placed = scan ? churn.Run(count, scoring, ScanPick)
                        : churn.Run(count, scoring,
                                    [](const Cluster& c, int64_t cpu, int64_t mem, Affinity a,
                                       Scoring s) { return c.Pick(cpu, mem, a, s); });
  return static_cast<double>(placed) / (CpuSeconds() - start);
}

std::vector<int> ParseList(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p != '\0';) {
    out.push_back(std::atoi(p));
    const char* comma = std::strchr(p, ',');
    if (comma == nullptr) break;
    p = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3;
  std::vector<int> node_counts{1000, 10000, 100000};
  int64_t placements = 2'000'000;
  double scan_work = 2e9;  // node visits per timed scan run
  bool skip_day = false;
  bool skip_scan = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    if (a == "--nodes" && i + 1 < argc) node_counts = ParseList(argv[++i]);
    if (a == "--placements" && i + 1 < argc) placements = std::atoll(argv[++i]);
    if (a == "--scan-work" && i + 1 < argc) scan_work = std::atof(argv[++i]);
    if (a == "--skip-day") skip_day = true;
    if (a == "--skip-scan") skip_scan = true;
  }
  for (int nodes : node_counts) {
    for (Scoring s : {Scoring::kMostAllocated, Scoring::kLeastAllocated}) {
      std::vector<double> index_rates;
      std::vector<double> scan_rates;
      // The scan costs one visit per node: fewer arrivals at more nodes keep its run short.
      auto scan_count = std::min<int64_t>(placements, static_cast<int64_t>(scan_work / nodes));
      for (int r = 0; r < runs; ++r) {
        index_rates.push_back(Placements(nodes, placements, s, 7 + r, false));
        if (!skip_scan) scan_rates.push_back(Placements(nodes, scan_count, s, 7 + r, true));
      }
      std::string scan = skip_scan ? std::string()
                                   : fmt::format(", scan {} ({} arrivals)",
                                                 Thousands(Median(scan_rates)), scan_count);
      fmt::print("placements/s at {} nodes, {}: index {}{} (median of {}; {} arrivals)\n",
                 Thousands(nodes), ToString(s), Thousands(Median(index_rates)), scan, runs,
                 placements);
      std::fflush(stdout);
    }
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
    std::vector<double> cpus;
    PolicyResult last;
    for (int r = 0; r < runs; ++r) {
      auto t0 = Clock::now();
      double c0 = CpuSeconds();
      auto res = Simulate(*trace, p, config);
      cpus.push_back(CpuSeconds() - c0);
      walls.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      if (!res.ok()) {
        fmt::print(stderr, "error: {}\n", res.error().message());
        return 1;
      }
      last = std::move(*res);
    }
    double cpu = Median(cpus);
    fmt::print(
        "day {}: {:.2f} s cpu, {:.2f} s wall (medians of {}), {} events, {} placements, {} "
        "placements/s of cpu, peak {} nodes\n",
        p.label, cpu, Median(walls), runs, last.events, last.placements,
        Thousands(static_cast<double>(last.placements) / cpu), last.peak_nodes);
  }
  return 0;
}
