// The scheduler's node index against the scan it replaced: the same node for every request,
// on random clusters (odd allocatables, ties, requests that fill a node exactly) and on every
// scheduling decision of generated days through all three policies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/cluster.h"
#include "sim/generator.h"
#include "sim/node_index.h"
#include "sim/policy.h"
#include "sim/rng.h"
#include "sim/simulation.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

// ---------------------------------------------------------------- the reference

/// Cluster::Score and Cluster::Pick as they were before the index (issue 27), verbatim apart
/// from taking the cluster as a parameter: every ready node is filtered and scored, the highest
/// score wins and ties go to the lowest id.
int64_t ReferenceScore(const Cluster& c, const Node& n, int64_t cpu, int64_t mem, Scoring scoring) {
  constexpr int64_t kMaxNodeScore = 100;
  const NodeType& t = c.type(n);
  auto one = [scoring](int64_t requested, int64_t capacity) -> int64_t {
    if (capacity <= 0 || requested > capacity) return 0;
    if (scoring == Scoring::kMostAllocated) return requested * kMaxNodeScore / capacity;
    return (capacity - requested) * kMaxNodeScore / capacity;
  };
  return (one(n.used_cpu + cpu, t.cpu_millis) + one(n.used_mem + mem, t.memory_bytes)) / 2;
}

int ReferencePick(const Cluster& c, int64_t cpu, int64_t mem, Affinity affinity, Scoring scoring) {
  int best = -1;
  int64_t best_score = -1;
  for (int id : c.ready_ids()) {
    const Node& n = c.node(id);
    if (!Accepts(affinity, n.capacity) || !c.Fits(n, cpu, mem)) continue;
    // GPU nodes are tainted for pods without GPUs unless shared.
    if (c.type(n).gpus > 0 && !c.gpu_nodes_shared()) continue;
    int64_t s = ReferenceScore(c, n, cpu, mem, scoring);
    if (s > best_score || (s == best_score && id < best)) {
      best = id;
      best_score = s;
    }
  }
  return best;
}

// ---------------------------------------------------------------- random clusters

struct Bound {
  int node;
  int64_t cpu;
  int64_t mem;
};

/// The default node types without GPUs (m5.4xlarge, r5.4xlarge, r5.8xlarge).
std::vector<NodeType> CpuTypes() {
  std::vector<NodeType> out;
  for (const NodeType& t : DefaultNodeTypes()) {
    if (t.gpus == 0) out.push_back(t);
  }
  return out;
}

struct Compared {
  int64_t picks = 0;  // requests picked both ways, with the same answer
  int64_t found = 0;  // of them, those that found a node
  int nodes = 0;      // ready nodes at the end
};

/// Random launches, readiness, binds (to the picked node and to random nodes, so that states
/// are varied), releases and removals; after every step, random requests are picked both ways.
/// Stops at the first difference.
Compared CompareOnRandomCluster(const std::vector<NodeType>& types, uint64_t seed, int steps,
                                const std::vector<int64_t>& cpus, const std::vector<int64_t>& mems,
                                bool gpu_nodes_shared = false) {
  Cluster c(types);
  c.SetGpuNodesShared(gpu_nodes_shared);
  Rng rng(seed);
  std::vector<Bound> bound;
  Compared compared;
  auto request = [&] {
    return std::pair{cpus[rng.Below(cpus.size())], mems[rng.Below(mems.size())]};
  };
  for (int step = 0; step < steps; ++step) {
    uint64_t op = rng.Below(100);
    if (op < 6) {
      int type = static_cast<int>(rng.Below(types.size()));
      Capacity cap = rng.Bernoulli(0.5) ? Capacity::kSpot : Capacity::kOnDemand;
      int id = c.Launch(type, cap, 0, 0);
      if (rng.Bernoulli(0.8)) c.MarkReady(id, 0);
    } else if (op < 8) {
      // Provisioning nodes become ready.
      for (const Node& n : c.nodes()) {
        if (!n.ready && !n.removed && rng.Bernoulli(0.5)) c.MarkReady(n.id, 0);
      }
    } else if (op < 10) {
      // Remove an empty node, ready or not.
      for (const Node& n : c.nodes()) {
        if (!n.removed && n.pods.empty() && rng.Bernoulli(0.3)) {
          c.Remove(n.id, 0);
          break;
        }
      }
    } else if (op < 55) {
      auto [cpu, mem] = request();
      auto aff = static_cast<Affinity>(rng.Below(3));
      auto scoring = rng.Bernoulli(0.5) ? Scoring::kMostAllocated : Scoring::kLeastAllocated;
      int node = c.Pick(cpu, mem, aff, scoring);
      if (node >= 0) {
        c.Bind(node, 0, cpu, mem, 0);
        bound.push_back({node, cpu, mem});
      }
    } else if (op < 70) {
      // A bind the scheduler would not have made: any ready node that holds it.
      auto [cpu, mem] = request();
      const std::vector<int>& ready = c.ready_ids();
      if (!ready.empty()) {
        int node = ready[rng.Below(ready.size())];
        if (c.Fits(c.node(node), cpu, mem)) {
          c.Bind(node, 0, cpu, mem, 0);
          bound.push_back({node, cpu, mem});
        }
      }
    } else if (!bound.empty()) {
      size_t i = rng.Below(bound.size());
      c.Release(bound[i].node, 0, bound[i].cpu, bound[i].mem, 0);
      bound[i] = bound.back();
      bound.pop_back();
    }
    for (int q = 0; q < 4; ++q) {
      auto [cpu, mem] = request();
      auto aff = static_cast<Affinity>(rng.Below(3));
      for (Scoring s : {Scoring::kMostAllocated, Scoring::kLeastAllocated}) {
        int want = ReferencePick(c, cpu, mem, aff, s);
        int got = c.Pick(cpu, mem, aff, s);
        EXPECT_EQ(got, want) << "step " << step << " cpu " << cpu << " mem " << mem << " affinity "
                             << static_cast<int>(aff) << " " << ToString(s);
        if (got != want) return compared;
        ++compared.picks;
        compared.found += got >= 0;
      }
    }
  }
  compared.nodes = static_cast<int>(c.ready_ids().size());
  return compared;
}

TEST(NodeIndex, SamePickAsTheScanOnRoundSizes) {
  // The simulator's node types, pods in whole cores and GiB: many nodes share a state.
  std::vector<int64_t> cpus{500, 1000, 2000, 4000, 8000, 15750};
  std::vector<int64_t> mems;
  for (int64_t g : {1, 2, 3, 4, 6, 8, 16, 32, 57}) mems.push_back(g * kGiB);
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE(seed);
    Compared c = CompareOnRandomCluster(CpuTypes(), seed, 3000, cpus, mems);
    EXPECT_EQ(c.picks, 3000 * 4 * 2);
    EXPECT_GT(c.found, c.picks / 2);
    EXPECT_GT(c.nodes, 50);
  }
}

TEST(NodeIndex, SamePickAsTheScanWithGpuNodesTaintedOrShared) {
  // Every default type, GPU types included: pods without GPUs skip tainted GPU nodes, and may
  // use them when they are shared.
  std::vector<int64_t> cpus{500, 1000, 2000, 4000, 8000};
  std::vector<int64_t> mems{1 * kGiB, 4 * kGiB, 8 * kGiB, 16 * kGiB};
  for (bool shared : {false, true}) {
    for (uint64_t seed = 1; seed <= 2; ++seed) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << (shared ? " shared" : " tainted"));
      Compared c = CompareOnRandomCluster(DefaultNodeTypes(), seed, 1500, cpus, mems, shared);
      EXPECT_EQ(c.picks, 1500 * 4 * 2);
      EXPECT_GT(c.found, 0);
    }
  }
}

TEST(NodeIndex, SamePickAsTheScanOnOddSizes) {
  // Allocatables that are not multiples of 100, requests of a few millicores and bytes: cell
  // boundaries fall between values, and scores differ inside a cell.
  // A type with nothing allocatable takes only empty requests, scored 0.
  std::vector<NodeType> types{{"odd", 999, 1000003, 1, 0.3},
                              {"tiny", 7, 13, 1, 0.3},
                              {"prime", 15749, 61847529063, 1, 0.3},
                              {"none", 0, 0, 1, 0.3}};
  std::vector<int64_t> cpus{0, 1, 3, 7, 10, 99, 333, 998, 999, 5000, 15749};
  std::vector<int64_t> mems{0, 1, 2, 13, 9999, 10000, 333334, 1000003, 3 * kGiB, 61847529063};
  for (uint64_t seed = 11; seed <= 14; ++seed) {
    SCOPED_TRACE(seed);
    Compared c = CompareOnRandomCluster(types, seed, 3000, cpus, mems);
    EXPECT_EQ(c.picks, 3000 * 4 * 2);
    EXPECT_GT(c.found, c.picks / 4);
    EXPECT_GT(c.nodes, 50);
  }
}

TEST(NodeIndex, TiesGoToTheLowestIdAcrossGroups) {
  // Equal states in both capacity groups and in two types: the lowest id wins, whatever the
  // order nodes became ready in.
  std::vector<NodeType> types{{"a", 4000, 16 * kGiB, 1, 0.3}, {"b", 4000, 16 * kGiB, 1, 0.3}};
  Cluster c(types);
  std::vector<int> ids;
  ids.reserve(6);
  for (int i = 0; i < 6; ++i) {
    ids.push_back(c.Launch(i % 2, i % 3 == 0 ? Capacity::kSpot : Capacity::kOnDemand, 0, 0));
  }
  for (int i = 5; i >= 0; --i) c.MarkReady(ids[i], 0);
  for (Scoring s : {Scoring::kMostAllocated, Scoring::kLeastAllocated}) {
    EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kAny, s), ids[0]);
    EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kOnDemand, s), ids[1]);
    EXPECT_EQ(c.Pick(1000, kGiB, Affinity::kSpot, s), ids[0]);
  }
  // Scores are halved sums: (cpu 49 + mem 25) / 2 = 37 ties with (cpu 25 + mem 50) / 2 = 37,
  // and the lower id wins although its sum is lower.
  c.Bind(ids[2], 0, 960, 0, 0);       // after the request: cpu 49 %, mem 25 %
  c.Bind(ids[4], 0, 0, 4 * kGiB, 0);  // cpu 25 %, mem 50 %
  EXPECT_EQ(ReferencePick(c, 1000, 4 * kGiB, Affinity::kOnDemand, Scoring::kMostAllocated), ids[2]);
  EXPECT_EQ(c.Pick(1000, 4 * kGiB, Affinity::kOnDemand, Scoring::kMostAllocated), ids[2]);
  // A request that fills a node exactly still fits.
  EXPECT_EQ(c.Pick(4000, 16 * kGiB, Affinity::kSpot, Scoring::kMostAllocated), ids[0]);
  c.Bind(ids[0], 0, 4000, 16 * kGiB, 0);
  EXPECT_EQ(c.Pick(1, 1, Affinity::kSpot, Scoring::kMostAllocated), ids[3]);
}

// ---------------------------------------------------------------- generated days

TEST(NodeIndex, SamePlacementsAsTheScanOnGeneratedDays) {
  // Every Pick of the simulation is checked against the scan on the cluster as the scheduler
  // saw it; since nothing else changed, equal picks mean equal days.
  struct Day {
    uint64_t seed;
    int spark;
    int containers;
    const char* policies;
  };
  const Day days[] = {
      {1, 400, 80, "a,b,c"},
      {7, 300, 300, "b+scoring=most,c+scoring=least,a+scoring=least"},
      {23, 600, 100, "a,c+capacity=on-demand,c+spare=5"},
  };
  for (const Day& d : days) {
    GeneratorParams g;
    g.seed = d.seed;
    g.spark_jobs = d.spark;
    g.container_jobs = d.containers;
    auto trace = Generate(g);
    ASSERT_TRUE(trace.ok()) << trace.error().ToString();
    auto policies = ParsePolicies(d.policies);
    ASSERT_TRUE(policies.ok()) << policies.error().ToString();
    for (const Policy& p : *policies) {
      SCOPED_TRACE(std::to_string(d.seed) + " " + p.label);
      SimConfig config = DefaultSimConfig();
      config.seed = d.seed;
      int64_t picks = 0;
      int64_t mismatches = 0;
      int64_t bound = 0;
      config.on_pick = [&](const Cluster& c, int64_t cpu, int64_t mem, Affinity a, Scoring s,
                           int node) {
        ++picks;
        bound += node >= 0;
        if (ReferencePick(c, cpu, mem, a, s) != node) ++mismatches;
      };
      auto r = Simulate(*trace, p, config);
      ASSERT_TRUE(r.ok()) << r.error().ToString();
      EXPECT_EQ(mismatches, 0);
      EXPECT_EQ(bound, r->placements);
      EXPECT_GT(r->placements, 3 * (d.spark + d.containers));
      EXPECT_GT(picks, bound);  // some picks found no node: those are compared too
    }
  }
}

}  // namespace
}  // namespace tug::sim
