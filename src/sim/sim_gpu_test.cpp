// GPUs in the fleet simulator (issue 26 item 5): GPU node types with prices from src/cost, a
// scheduler that puts GPU pods only where GPUs are free and keeps other pods off tainted GPU
// nodes, an autoscaler that launches GPU types only for GPU pods, a static GPU pool, queues that
// count GPUs (a Spark run's per executor), the generator's GPU share and the report's GPU rows.
// Simulated time only.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "sim/autoscaler.h"
#include "sim/cluster.h"
#include "sim/generator.h"
#include "sim/policy.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr Micros kSec = kMicrosPerSecond;

Policy One(const std::string& spec) {
  auto p = ParsePolicies(spec);
  EXPECT_TRUE(p.ok()) << p.error().ToString();
  return p.ok() ? p->front() : Policy{};
}

int TypeIndex(const std::vector<NodeType>& types, const std::string& name) {
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

TraceJob Container(const std::string& id, Micros submit, double secs, int64_t gpu,
                   int64_t cpu = 2000, int64_t mem = 8 * kGiB) {
  TraceJob j;
  j.id = id;
  j.name = id;
  j.user = "u";
  j.kind = "container";
  j.container = {cpu, mem, 0};
  j.container_peak_bytes = mem / 2;
  j.duration_s = secs;
  j.submit = submit;
  j.gpu = gpu;
  return j;
}

TraceJob Spark(const std::string& id, Micros submit, double secs, int64_t gpu, int executors) {
  TraceJob j;
  j.id = id;
  j.name = id;
  j.user = "u";
  j.kind = "spark";
  j.driver = {1000, 2 * kGiB, 0};
  j.executor = {4000, 8 * kGiB, 0};
  j.instances = executors;
  j.driver_peak = {kGiB, 0};
  j.executor_peak = {4 * kGiB, 0};
  j.duration_s = secs;
  j.submit = submit;
  j.gpu = gpu;
  return j;
}

SimConfig Config() {
  SimConfig cfg = DefaultSimConfig();
  cfg.climate = SpotClimate{};
  cfg.steady_state = false;
  return cfg;
}

// One cpu node type and one 4-GPU type of the same size, a ready node of each.
struct TwoNodes {
  Cluster cluster{{NodeType{"cpu", 16000, 64 * kGiB, 1.0, 0.3, 0},
                   NodeType{"gpu", 16000, 64 * kGiB, 4.0, 1.2, 4}}};
  int cpu_node = -1;
  int gpu_node = -1;
  TwoNodes() {
    cpu_node = cluster.Launch(0, Capacity::kOnDemand, 0, 0);
    gpu_node = cluster.Launch(1, Capacity::kOnDemand, 0, 0);
    cluster.MarkReady(cpu_node, 0);
    cluster.MarkReady(gpu_node, 0);
  }
};

TEST(SimGpu, GpuPodsGoWhereGpusAreFreeAndOtherPodsStayOffTaintedGpuNodes) {
  struct Case {
    std::string name;
    bool shared;
    int64_t fill_cpu_node;  // cpu millis bound on the cpu node first
    int64_t gpus_taken;     // GPUs bound on the GPU node first
    int64_t cpu, gpu;       // the pod
    std::string want;       // "cpu", "gpu" or "none"
  };
  const std::vector<Case> cases = {
      {"cpu pod on the cpu node", false, 0, 0, 1000, 0, "cpu"},
      {"cpu pod never on a tainted GPU node", false, 16000, 0, 1000, 0, "none"},
      {"cpu pod on a shared GPU node", true, 16000, 0, 1000, 0, "gpu"},
      {"shared, both free: equal scores, the lower id", true, 0, 0, 1000, 0, "cpu"},
      {"GPU pod on the GPU node", false, 0, 0, 1000, 1, "gpu"},
      {"GPU pod with every GPU free", false, 0, 0, 1000, 4, "gpu"},
      {"GPU pod bigger than any node", false, 0, 0, 1000, 5, "none"},
      {"GPU pod when the GPUs are taken", false, 0, 3, 1000, 2, "none"},
      {"GPU pod in the last free GPU", false, 0, 3, 1000, 1, "gpu"},
      {"GPU pod never on the cpu node", false, 0, 4, 1000, 1, "none"},
      {"GPU pod needs cpu too", false, 0, 0, 17000, 1, "none"},
  };
  for (const Case& c : cases) {
    TwoNodes t;
    t.cluster.SetGpuNodesShared(c.shared);
    int pod = 100;
    if (c.fill_cpu_node > 0) t.cluster.Bind(t.cpu_node, pod++, c.fill_cpu_node, kGiB, 0);
    if (c.gpus_taken > 0) t.cluster.Bind(t.gpu_node, pod++, 1000, kGiB, 0, c.gpus_taken);
    for (Scoring s : {Scoring::kMostAllocated, Scoring::kLeastAllocated}) {
      int got = t.cluster.Pick(c.cpu, kGiB, Affinity::kAny, s, c.gpu);
      std::string name = got == t.cpu_node ? "cpu" : got == t.gpu_node ? "gpu" : "none";
      EXPECT_EQ(name, c.want) << c.name << " (" << ToString(s) << ")";
    }
  }
}

TEST(SimGpu, BooksCountGpuNodeTimeCostAndGpuSeconds) {
  TwoNodes t;
  t.cluster.Bind(t.gpu_node, 1, 1000, kGiB, 0, 2);
  t.cluster.Release(t.gpu_node, 1, 1000, kGiB, 1800 * kSec, 2);
  EXPECT_EQ(t.cluster.node(t.gpu_node).used_gpu, 0);
  Cluster::Books b = t.cluster.Close(3600 * kSec);
  EXPECT_DOUBLE_EQ(b.node_hours_gpu, 1.0);
  EXPECT_DOUBLE_EQ(b.cost_gpu, 4.0);
  EXPECT_DOUBLE_EQ(b.cost_on_demand, 5.0);  // both nodes
  EXPECT_DOUBLE_EQ(b.alloc_gpu_seconds, 4 * 3600.0);
  EXPECT_DOUBLE_EQ(b.used_gpu_seconds, 2 * 1800.0);
}

TEST(SimGpu, TheAutoscalerLaunchesGpuTypesOnlyForGpuPods) {
  const std::vector<NodeType> types = DefaultNodeTypes();
  struct Case {
    std::string name;
    std::vector<PendingPod> pods;
    std::string want_type;
    int want_count;
  };
  const PendingPod one_gpu{2000, 8 * kGiB, Affinity::kAny, 1};
  const std::vector<Case> cases = {
      {"a 1-GPU pod: the smallest GPU type", {one_gpu}, "g5.xlarge", 1},
      {"more cpu than g5.xlarge has", {{6000, 8 * kGiB, Affinity::kAny, 1}}, "g5.2xlarge", 1},
      {"4 GPUs", {{8000, 32 * kGiB, Affinity::kAny, 4}}, "g5.12xlarge", 1},
      {"four 1-GPU pods: least waste", {one_gpu, one_gpu, one_gpu, one_gpu}, "g5.xlarge", 4},
      {"more memory than g5.12xlarge has",
       {{8000, 200 * kGiB, Affinity::kAny, 4}},
       "p3.8xlarge",
       1},
      {"a cpu pod never gets a GPU node", {{2000, 8 * kGiB, Affinity::kAny, 0}}, "m5.4xlarge", 1},
  };
  for (const Case& c : cases) {
    Cluster cluster(types);
    ScanPlan plan = Scan(cluster, c.pods, AutoscalerConfig{}, Capacity::kOnDemand, 0);
    ASSERT_EQ(plan.add.size(), 1u) << c.name;
    EXPECT_EQ(types[plan.add[0].type].name, c.want_type) << c.name;
    EXPECT_EQ(plan.add[0].count, c.want_count) << c.name;
    EXPECT_EQ(plan.add[0].capacity, Capacity::kOnDemand) << c.name;
  }
  Cluster cluster(types);
  EXPECT_EQ(FirstTypeThatFits(cluster, AutoscalerConfig{}, 1000, kGiB, 8), -1);
  EXPECT_EQ(FirstTypeThatFits(cluster, AutoscalerConfig{}, 1000, kGiB, 1),
            TypeIndex(types, "g5.xlarge"));
  EXPECT_EQ(FirstTypeThatFits(cluster, AutoscalerConfig{}, 1000, kGiB, 0),
            TypeIndex(types, "m5.4xlarge"));
  // Spare nodes are never GPU nodes, even when a GPU type comes first.
  AutoscalerConfig spare;
  spare.spare_on_demand = 2;
  spare.node_types = {TypeIndex(types, "g5.xlarge"), TypeIndex(types, "r5.4xlarge")};
  ScanPlan plan = Scan(cluster, {}, spare, Capacity::kOnDemand, 0);
  ASSERT_EQ(plan.add.size(), 1u);
  EXPECT_EQ(types[plan.add[0].type].name, "r5.4xlarge");
}

TEST(SimGpu, AStaticClusterGetsAGpuPoolForTheGpuPods) {
  const std::vector<NodeType> types = DefaultNodeTypes();
  Trace t;
  t.jobs = {Container("c1", 0, 600, 0), Container("g1", 0, 600, 4, 8000, 32 * kGiB),
            Container("g2", 0, 600, 4, 8000, 32 * kGiB), Spark("s1", 0, 600, 1, 2)};
  auto size = SizeStaticCluster(t, StaticPolicy(), types);
  ASSERT_TRUE(size.ok()) << size.error().ToString();
  EXPECT_EQ(types[size->type].gpus, 0);
  ASSERT_GE(size->gpu_type, 0);
  EXPECT_EQ(types[size->gpu_type].name, "g5.12xlarge");
  EXPECT_EQ(size->peak_gpu, 4 + 4 + 2);  // the Spark run's two executors, not its driver
  EXPECT_EQ(size->gpu_nodes, 3);         // ceil(10 / 4 × 1.1)
  Trace cpu_only;
  cpu_only.jobs = {Container("c1", 0, 600, 0)};
  auto none = SizeStaticCluster(cpu_only, StaticPolicy(), types);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->gpu_type, -1);
  EXPECT_EQ(none->gpu_nodes, 0);
  Trace huge;
  huge.jobs = {Container("g8", 0, 600, 8)};
  auto refused = SizeStaticCluster(huge, StaticPolicy(), types);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("no GPU node type holds"), std::string::npos);
}

// A day of GPU and cpu jobs under every policy: every run succeeds, no pod without GPUs ever
// lands on a GPU node, GPU time and cost are booked, and the report shows them.
TEST(SimGpu, GpuJobsRunUnderEveryPolicyAndTheReportShowsThem) {
  Trace t;
  t.source = "gpu test";
  for (int i = 0; i < 6; ++i) {
    t.jobs.push_back(Container("c" + std::to_string(i), i * 60 * kSec, 900, 0));
    t.jobs.push_back(Container("g" + std::to_string(i), i * 60 * kSec, 900, i % 3 == 2 ? 4 : 1,
                               i % 3 == 2 ? 8000 : 2000, i % 3 == 2 ? 32 * kGiB : 8 * kGiB));
  }
  t.jobs.push_back(Spark("s0", 0, 1200, 1, 3));
  t.jobs.push_back(Spark("s1", 0, 1200, 0, 3));
  ASSERT_TRUE(Normalize(t).ok());
  SimConfig cfg = Config();
  const std::vector<NodeType>& types = cfg.node_types;
  int cpu_picks = 0;
  cfg.on_pick = [&](const Cluster& c, int64_t, int64_t, Affinity, Scoring, int node) {
    ++cpu_picks;  // only pods without GPUs come here
    if (node >= 0) {
      EXPECT_EQ(c.type(c.node(node)).gpus, 0)
          << "a pod without GPUs on " << c.type(c.node(node)).name;
    }
  };
  std::vector<Policy> policies;
  for (const char* p : {"static", "autoscaled", "tugboat"}) policies.push_back(One(p));
  auto cmp = Compare(t, policies, cfg);
  ASSERT_TRUE(cmp.ok()) << cmp.error().ToString();
  EXPECT_GT(cpu_picks, 0);
  for (const PolicyResult& r : cmp->results) {
    SCOPED_TRACE(r.policy.name);
    EXPECT_EQ(r.succeeded, r.jobs);
    EXPECT_EQ(r.gpu_jobs, 7);
    EXPECT_EQ(r.gpu_succeeded, 7);
    EXPECT_EQ(r.gpu_attempt_delay.count, 7);
    EXPECT_GT(r.books.node_hours_gpu, 0);
    EXPECT_GT(r.books.cost_gpu, 0);
    EXPECT_LT(r.books.cost_gpu, r.cost());
    EXPECT_GT(r.gpu_utilisation(), 0);
    EXPECT_LE(r.gpu_utilisation(), 1);
    // GPU-seconds: each container's GPUs and the GPU Spark run's 3 executors, for about their
    // durations (executors wait for their driver; nothing runs longer than twice its length).
    double want = 0;
    for (const TraceJob& j : t.jobs)
      want += static_cast<double>(j.gpu * (j.spark() ? 3 : 1)) * j.duration_s;
    EXPECT_GE(r.books.used_gpu_seconds, want * 0.9);
    EXPECT_LE(r.books.used_gpu_seconds, want * 2);
  }
  EXPECT_EQ(cmp->results.front().static_gpu_type, "g5.12xlarge");
  EXPECT_GT(cmp->results.front().static_gpu_nodes, 0);
  const std::string md = Markdown(*cmp);
  for (const char* row : {"GPU runs succeeded / total", "GPUs allocated / allocatable",
                          "GPU runs' scheduling delay p50 / p99", "GPU node cost"}) {
    EXPECT_NE(md.find(row), std::string::npos) << row;
  }
  boost::json::value j = ToJson(*cmp, false);
  const auto& gpu = j.at("policies").as_array()[1].at("gpu").as_object();
  EXPECT_EQ(gpu.at("runs").as_int64(), 7);
  EXPECT_GT(gpu.at("gpus_allocated").as_double(), 0);
  // g5.xlarge is in the config's node types with its GPUs.
  bool listed = false;
  for (const auto& nt : j.at("config").at("node_types").as_array()) {
    if (nt.at("name") == "g5.xlarge") listed = nt.at("gpus").as_int64() == 1;
  }
  EXPECT_TRUE(listed);
  EXPECT_GE(TypeIndex(types, "p3.8xlarge"), 0);
}

// Without GPU jobs the report has no GPU rows and the results are those of the cpu types alone
// (the GPU types exist but are never launched).
TEST(SimGpu, ADayWithoutGpusIsUnchangedByTheGpuTypes) {
  GeneratorParams p;
  p.spark_jobs = 120;
  p.container_jobs = 60;
  auto trace = Generate(p);
  ASSERT_TRUE(trace.ok());
  SimConfig with = Config();
  SimConfig without = Config();
  without.node_types.resize(3);  // m5.4xlarge, r5.4xlarge, r5.8xlarge
  for (const char* policy : {"static", "autoscaled", "tugboat"}) {
    auto a = Simulate(*trace, One(policy), with);
    auto b = Simulate(*trace, One(policy), without);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->gpu_jobs, 0);
    EXPECT_EQ(a->books.node_hours_gpu, 0);
    EXPECT_DOUBLE_EQ(a->cost(), b->cost()) << policy;
    EXPECT_EQ(a->placements, b->placements) << policy;
    EXPECT_EQ(a->attempt_delay.p99, b->attempt_delay.p99) << policy;
  }
  auto cmp = Compare(*trace, {One("tugboat")}, with);
  ASSERT_TRUE(cmp.ok());
  EXPECT_EQ(Markdown(*cmp).find("GPU"), std::string::npos);
}

// Shared GPU nodes: cpu jobs fill a static GPU pool's cpu, so the GPU job waits behind them;
// tainted, it does not.
TEST(SimGpu, SharedGpuNodesLetCpuJobsKeepAGpuJobWaiting) {
  Trace t;
  // One cpu node's worth of 15 cpu pods arrives first, then more, then a GPU job that needs 8
  // cpu beside its GPU.
  for (int i = 0; i < 40; ++i)
    t.jobs.push_back(Container("c" + std::to_string(i), 0, 1800, 0, 1000, kGiB));
  t.jobs.push_back(Container("g", 10 * kSec, 600, 1, 8000, 8 * kGiB));
  ASSERT_TRUE(Normalize(t).ok());
  SimConfig cfg = Config();
  cfg.node_types = {NodeType{"cpu", 15750, 57 * kGiB, 0.768, 0.27, 0},
                    NodeType{"gpu", 15750, 57 * kGiB, 2.0, 0.7, 1}};
  auto tainted = Simulate(t, One("static+nodes=1"), cfg);
  auto shared = Simulate(t, One("static+nodes=1+gpu_nodes=shared"), cfg);
  ASSERT_TRUE(tainted.ok()) << tainted.error().ToString();
  ASSERT_TRUE(shared.ok()) << shared.error().ToString();
  EXPECT_EQ(tainted->gpu_succeeded, 1);
  EXPECT_EQ(shared->gpu_succeeded, 1);
  EXPECT_LT(tainted->gpu_attempt_delay.max, 60);
  EXPECT_GE(shared->gpu_attempt_delay.max, 1000);  // behind the first cpu pods on its node
  EXPECT_FALSE(ParsePolicies("a+gpu_nodes=maybe").ok());
}

// Team queues count GPUs: a queue with 2 GPUs of quota runs one 2-GPU job at a time (and a Spark
// run's GPUs per executor), and its bound pods never hold more.
TEST(SimGpu, QueuesCountGpusOfContainersAndSparkExecutors) {
  Trace t;
  for (int i = 0; i < 3; ++i) {
    t.jobs.push_back(Container("g" + std::to_string(i), 0, 600, 2));
    t.jobs.back().queue = "ml";
  }
  t.jobs.push_back(Spark("s", 0, 600, 1, 2));  // 2 executors × 1 GPU
  t.jobs.back().queue = "ml";
  ASSERT_TRUE(Normalize(t).ok());
  SimConfig cfg = Config();
  auto q = ParseQueueSpec("ml:gpu=2");
  ASSERT_TRUE(q.ok());
  cfg.queues = {*q};
  int64_t most_admitted = 0, most_bound = 0;
  cfg.on_queue = [&](const QueueBooks& b) {
    size_t ml = 0;
    while (ml < b.specs->size() && (*b.specs)[ml].name != "ml") ++ml;
    ASSERT_LT(ml, b.specs->size());
    const QueueBooks::Usage& u = (*b.usage)[ml];
    most_admitted = std::max(most_admitted, u.admitted.gpu);
    most_bound = std::max(most_bound, u.bound.gpu);
    EXPECT_LE(u.admitted.gpu, 2);
    EXPECT_LE(u.bound.gpu, 2);
  };
  auto r = Simulate(t, One("tugboat+queues=on"), cfg);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->gpu_succeeded, 4);
  EXPECT_EQ(most_admitted, 2);
  EXPECT_EQ(most_bound, 2);
  // One at a time: the last of the four waits for the three before it.
  EXPECT_GE(r->gpu_attempt_delay.max, 3 * 600);
  ASSERT_EQ(r->teams.count("ml"), 1u);
  EXPECT_GE(r->teams.at("ml").queued.max, 3 * 600);
}

TEST(SimGpu, TracesCarryGpusAndTheGeneratorMakesAShareOfGpuJobs) {
  TraceJob g = Container("g", 0, 60, 2);
  auto back = ParseTrace(ToJsonLine(g));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->jobs[0].gpu, 2);
  EXPECT_EQ(ToJsonLine(Container("c", 0, 60, 0)).find("gpu"), std::string::npos);
  for (const char* bad : {R"("gpu":-1)", R"("gpu":1.5)", R"("gpu":"two")", R"("gpu":65)"}) {
    std::string line = std::string(R"({"id":"x","submit":0,"kind":"container","cpu":"1",)") +
                       R"("memory":"1Gi","peak":{"memory":"1Gi"},"duration":60,)" + bad + "}";
    auto st = ParseTrace(line);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.error().message().find("'gpu'"), std::string::npos) << st.error().message();
  }

  GeneratorParams p;
  p.spark_jobs = 400;
  p.container_jobs = 400;
  auto plain = Generate(p);
  ASSERT_TRUE(SetParam(p, "gpu_share", "0.3").ok());
  ASSERT_TRUE(SetParam(p, "spark_gpu_share", "0.2").ok());
  EXPECT_FALSE(SetParam(p, "gpu_share", "1.5").ok());
  auto gpus = Generate(p);
  ASSERT_TRUE(plain.ok() && gpus.ok());
  ASSERT_EQ(plain->jobs.size(), gpus->jobs.size());
  int gpu_containers = 0, gpu_spark = 0, containers = 0, spark = 0;
  for (size_t i = 0; i < gpus->jobs.size(); ++i) {
    const TraceJob& a = plain->jobs[i];
    const TraceJob& b = gpus->jobs[i];
    // The same day, some pipelines asking for GPUs.
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.submit, b.submit);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.duration_s, b.duration_s);
    EXPECT_EQ(a.gpu, 0);
    (b.spark() ? spark : containers)++;
    if (b.gpu == 0) {
      EXPECT_EQ(a.container, b.container);
      continue;
    }
    if (b.spark()) {
      ++gpu_spark;
      EXPECT_EQ(b.gpu, 1);
    } else {
      ++gpu_containers;
      EXPECT_TRUE(b.gpu == 1 || b.gpu == 2 || b.gpu == 4) << b.gpu;
      EXPECT_GE(b.container.cpu_millis, 2000 * b.gpu);
      EXPECT_GE(b.container.memory_bytes, 8 * kGiB * b.gpu);
    }
  }
  // Shares are of pipelines, so of runs only roughly.
  EXPECT_GT(gpu_containers, containers / 10);
  EXPECT_LT(gpu_containers, containers * 6 / 10);
  EXPECT_GT(gpu_spark, 0);
  EXPECT_LT(gpu_spark, spark / 2);
}

}  // namespace
}  // namespace tug::sim
