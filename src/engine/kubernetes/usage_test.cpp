// Tables for the kubernetes engine's usage parts (usage.h): metrics API quantities, PodMetrics
// objects as metrics-server serves them, pod limits, and the kUsage updates they make.
#include "engine/kubernetes/usage.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/kubernetes/pod.h"

namespace tug::engine::kubernetes {
namespace {
namespace json = boost::json;

constexpr int64_t kKi = 1024;
constexpr int64_t kMi = 1024 * kKi;

json::value Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << text;
  return v;
}

TEST(UsageQuantityTest, CpuInEveryUnitTheMetricsApiWrites) {
  struct Case {
    const char* text;
    int64_t millis;
  };
  for (const Case& c : std::vector<Case>{{"123456789n", 123},  // metrics-server: nanocores
                                         {"1500000000n", 1500},
                                         {"499999n", 0},  // under half a millicore
                                         {"500000n", 1},  // rounded to nearest
                                         {"0", 0},
                                         {"250000u", 250},
                                         {"5m", 5},
                                         {"2", 2000},
                                         {"1.5", 1500},
                                         {"0.25", 250}}) {
    auto v = ParseCpuUsage(c.text);
    ASSERT_TRUE(v.ok()) << c.text << ": " << v.error().ToString();
    EXPECT_EQ(*v, c.millis) << c.text;
  }
  for (const char* bad : {"", "n", "12x", "-5m", "1Ki", "m5", "1.2.3"}) {
    auto v = ParseCpuUsage(bad);
    EXPECT_FALSE(v.ok()) << "'" << bad << "' parsed as " << *v;
  }
}

TEST(UsageQuantityTest, MemoryInEveryUnitTheMetricsApiWrites) {
  struct Case {
    const char* text;
    int64_t bytes;
  };
  for (const Case& c : std::vector<Case>{{"20480Ki", 20 * kMi},  // metrics-server: Ki
                                         {"48Mi", 48 * kMi},
                                         {"1G", 1'000'000'000},
                                         {"123456", 123456},
                                         {"0", 0}}) {
    auto v = ParseMemoryUsage(c.text);
    ASSERT_TRUE(v.ok()) << c.text << ": " << v.error().ToString();
    EXPECT_EQ(*v, c.bytes) << c.text;
  }
  for (const char* bad : {"", "Ki", "12x", "-5Mi"}) {
    EXPECT_FALSE(ParseMemoryUsage(bad).ok()) << bad;
  }
}

// A PodMetricsList as metrics-server v0.6 answers GET
// /apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=tugboat.io/managed=true
// (the shape of the Kubernetes metrics API reference: timestamp, window, containers[].usage;
// memory is the working set).
constexpr char kPodMetricsList[] = R"({
  "kind": "PodMetricsList",
  "apiVersion": "metrics.k8s.io/v1beta1",
  "metadata": {},
  "items": [
    {
      "metadata": {
        "name": "tug-01jrun-1",
        "namespace": "default",
        "creationTimestamp": "2026-11-24T10:00:31Z",
        "labels": {"tugboat.io/managed": "true", "tugboat.io/attempt": "01JRUN-1",
                   "tugboat.io/component": "main"}
      },
      "timestamp": "2026-11-24T10:00:17Z",
      "window": "15.017s",
      "containers": [
        {"name": "main", "usage": {"cpu": "245123811n", "memory": "101324Ki"}},
        {"name": "sidecar", "usage": {"cpu": "1000000n", "memory": "4096Ki"}}
      ]
    },
    {
      "metadata": {"name": "tug-01jspark-1-exec-2", "namespace": "default"},
      "timestamp": "2026-11-24T10:00:21.5Z",
      "window": "10.5s",
      "containers": [{"name": "spark-kubernetes-executor",
                      "usage": {"cpu": "1987654321n", "memory": "1048576Ki"}}]
    }
  ]
})";

TEST(PodMetricsTest, ReadsMetricsServerObjects) {
  json::value list = Parse(kPodMetricsList);
  const json::array& items = list.at("items").as_array();
  auto a = ReadPodMetrics(items[0]);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->pod, "tug-01jrun-1");
  EXPECT_EQ(a->timestamp, ParseTime("2026-11-24T10:00:17Z"));
  EXPECT_GT(a->timestamp, 0);
  EXPECT_EQ(a->cpu_millis, 245 + 1);  // the pod's containers summed
  EXPECT_EQ(a->memory_bytes, (101324 + 4096) * kKi);
  auto b = ReadPodMetrics(items[1]);
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(b->cpu_millis, 1988);
  EXPECT_EQ(b->memory_bytes, 1024 * kMi);
  EXPECT_EQ(b->timestamp, ParseTime("2026-11-24T10:00:21Z") + 500'000);
}

TEST(PodMetricsTest, RejectsMalformedObjects) {
  EXPECT_FALSE(ReadPodMetrics(Parse(R"({"timestamp": "2026-11-24T10:00:17Z",
      "containers": []})"))
                   .ok());                                                     // no name
  EXPECT_FALSE(ReadPodMetrics(Parse(R"({"metadata": {"name": "p"}})")).ok());  // no containers
  auto bad = ReadPodMetrics(Parse(R"({"metadata": {"name": "p"},
      "containers": [{"name": "c", "usage": {"cpu": "lots", "memory": "1Ki"}}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("pod p"), std::string::npos) << bad.error().message();
  // No timestamp: still a sample (UsageUpdates stamps it with the time of the poll).
  auto untimed = ReadPodMetrics(Parse(R"({"metadata": {"name": "p"}, "containers": []})"));
  ASSERT_TRUE(untimed.ok());
  EXPECT_EQ(untimed->timestamp, 0);
}

TEST(PodLimitsTest, SumsContainersAndAnUnlimitedOneMeansNoLimit) {
  LaunchSpec spec;
  spec.run_id = "01JRUN";
  spec.attempt_id = "01JRUN-1";
  spec.image = "busybox:1.36";
  spec.argv = {"true"};
  spec.resources.memory_bytes = 96 * kMi;
  spec.resources.cpu_millis = 250;
  // The engine's own pods: memory limit = request, cpu request only (no cpu limit).
  PodLimits own = LimitsOf(BuildPod(spec, PodSettings{}));
  EXPECT_EQ(own.memory_bytes, 96 * kMi);
  EXPECT_EQ(own.cpu_millis, 0);

  json::value two = Parse(R"({"spec": {"containers": [
      {"name": "a", "resources": {"limits": {"memory": "1Gi", "cpu": "1"}}},
      {"name": "b", "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}}}]}})");
  PodLimits both = LimitsOf(two);
  EXPECT_EQ(both.memory_bytes, 1536 * kMi);
  EXPECT_EQ(both.cpu_millis, 1500);

  json::value half = Parse(R"({"spec": {"containers": [
      {"name": "a", "resources": {"limits": {"memory": "1Gi", "cpu": "1"}}},
      {"name": "b", "resources": {"limits": {"memory": "512Mi"}}}]}})");
  PodLimits partly = LimitsOf(half);
  EXPECT_EQ(partly.memory_bytes, 1536 * kMi);
  EXPECT_EQ(partly.cpu_millis, 0);
  EXPECT_EQ(LimitsOf(Parse("{}")).memory_bytes, 0);
}

TEST(MetricsDiscoveryTest, ServesPodsOnlyWhenListed) {
  EXPECT_TRUE(ServesPodMetrics(Parse(R"({"kind": "APIResourceList",
      "groupVersion": "metrics.k8s.io/v1beta1", "resources": [
      {"name": "nodes", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
      {"name": "pods", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}]})")));
  EXPECT_FALSE(ServesPodMetrics(Parse(R"({"kind": "APIResourceList", "resources": [
      {"name": "nodes", "kind": "NodeMetrics"}]})")));
  EXPECT_FALSE(ServesPodMetrics(Parse(R"({"kind": "Status", "code": 404})")));
}

TEST(UsageUpdatesTest, OneUpdatePerAttemptWithAReadingPerComponent) {
  const Micros t0 = ParseTime("2026-11-24T10:00:00Z");
  std::vector<PodMetricsSample> samples = {
      {"tug-a-1", t0 + 2, 100 * kMi, 250},
      {"tug-s-1", t0 + 5, 200 * kMi, 30},  // spark controller
      {"tug-s-1-driver", t0 + 7, 900 * kMi, 1200},
      {"tug-s-1-exec-1", t0 + 6, 4000 * kMi, 3900},
      {"tug-s-1-exec-1-old", t0 + 1, 1, 1},  // an older pod of the same component
      {"tug-unknown", t0 + 9, 5, 5},         // not ours
  };
  std::map<std::string, UsagePod> pods = {
      {"tug-a-1", {"a-1", "main", t0 - 60, {128 * kMi, 0}}},
      {"tug-s-1", {"s-1", "controller", t0 - 30, {1024 * kMi, 0}}},
      {"tug-s-1-driver", {"s-1", "driver", t0 - 30, {1408 * kMi, 0}}},
      {"tug-s-1-exec-1", {"s-1", "executor-1", t0 - 30, {4480 * kMi, 4000}}},
      {"tug-s-1-exec-1-old", {"s-1", "executor-1", t0 - 30, {4480 * kMi, 4000}}},
  };
  std::vector<Update> got = UsageUpdates(samples, pods, t0 + 100);
  ASSERT_EQ(got.size(), 2u);
  const Update& a = got[0];
  EXPECT_EQ(a.kind, Update::Kind::kUsage);
  EXPECT_EQ(a.attempt_id, "a-1");
  EXPECT_EQ(a.at, t0 + 2);
  EXPECT_EQ(a.started_at, t0 - 60);
  ASSERT_EQ(a.usage.size(), 1u);
  EXPECT_EQ(a.usage[0], (UsageReading{"main", 100 * kMi, 250, 128 * kMi, 0}));
  const Update& s = got[1];
  EXPECT_EQ(s.attempt_id, "s-1");
  EXPECT_EQ(s.at, t0 + 7);  // the newest of its samples
  EXPECT_EQ(s.started_at, t0 - 30);
  ASSERT_EQ(s.usage.size(), 3u);
  EXPECT_EQ(s.usage[0], (UsageReading{"controller", 200 * kMi, 30, 1024 * kMi, 0}));
  EXPECT_EQ(s.usage[1], (UsageReading{"driver", 900 * kMi, 1200, 1408 * kMi, 0}));
  EXPECT_EQ(s.usage[2], (UsageReading{"executor-1", 4000 * kMi, 3900, 4480 * kMi, 4000}));

  // Samples without a timestamp are stamped with the poll's time.
  got = UsageUpdates({{"tug-a-1", 0, 1, 1}}, pods, t0 + 100);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].at, t0 + 100);
  EXPECT_TRUE(UsageUpdates({{"tug-unknown", t0, 1, 1}}, pods, t0).empty());
}

}  // namespace
}  // namespace tug::engine::kubernetes
