// The PromQL reader against a real Prometheus (Debian's `prometheus`, installed by
// scripts/setup.sh) scraping a small exporter this test serves on loopback: cAdvisor's two usage
// series for the pods of one Spark attempt, plus series the reader must leave out (the pod-level
// cgroup, the pause container, another attempt, another namespace). The test waits for
// Prometheus to have ingested enough samples (a condition, not a sleep), then reads the usage
// back through the same code the server would use.
#include <chrono>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "metrics/promql.h"
#include "net/http.h"
#include "net/http_server.h"
#include "prometheus_fixture.h"
#include "test_util.h"

namespace tug {
namespace {

using std::chrono::steady_clock;

Micros WallNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// cAdvisor's series as the kubelet exposes them, for one moment. CPU counters grow at a fixed
// rate from the exporter's start (0.25 and 1.5 cores), so rate() over them is that rate.
class FixtureExporter {
 public:
  FixtureExporter() : start_(steady_clock::now()) {
    net::Router router;
    router.Add("GET", "/metrics", [this](net::Request&) {
      const double s = std::chrono::duration<double>(steady_clock::now() - start_).count();
      net::Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = fmt::format(
          "# TYPE container_memory_working_set_bytes gauge\n"
          "container_memory_working_set_bytes{{namespace=\"batch\",pod=\"tug-01jrun-1-driver\","
          "container=\"spark-kubernetes-driver\"}} 536870912\n"
          "container_memory_working_set_bytes{{namespace=\"batch\",pod=\"tug-01jrun-1-driver\","
          "container=\"\"}} 999999999\n"
          "container_memory_working_set_bytes{{namespace=\"batch\",pod=\"tug-01jrun-1-driver\","
          "container=\"POD\"}} 1000000\n"
          "container_memory_working_set_bytes{{namespace=\"batch\",pod=\"tug-01jrun-1-exec-1\","
          "container=\"spark-kubernetes-executor\"}} 1073741824\n"
          "container_memory_working_set_bytes{{namespace=\"batch\",pod=\"tug-01jrun-10\","
          "container=\"main\"}} 7\n"
          "container_memory_working_set_bytes{{namespace=\"other\",pod=\"tug-01jrun-1-driver\","
          "container=\"x\"}} 5\n"
          "# TYPE container_cpu_usage_seconds_total counter\n"
          "container_cpu_usage_seconds_total{{namespace=\"batch\",pod=\"tug-01jrun-1-driver\","
          "container=\"spark-kubernetes-driver\"}} {:.6f}\n"
          "container_cpu_usage_seconds_total{{namespace=\"batch\",pod=\"tug-01jrun-1-exec-1\","
          "container=\"spark-kubernetes-executor\"}} {:.6f}\n",
          0.25 * s, 1.5 * s);
      return r;
    });
    net::ServerOptions o;
    o.port = 0;
    o.threads = 1;
    server_ = std::make_unique<net::HttpServer>(o, std::move(router));
  }
  ~FixtureExporter() { server_->Stop(); }
  Status Start() { return server_->Start(); }
  int port() const { return server_->port(); }

 private:
  steady_clock::time_point start_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST(PromqlPrometheusTest, UsageOfOneAttemptsPodsFromARealPrometheus) {
  FixtureExporter exporter;
  ASSERT_TRUE(exporter.Start().ok());
  testing::TempDir dir;
  const Micros start = WallNow();
  testing::PrometheusProcess prom(dir.path(), exporter.port());
  std::string error;
  ASSERT_TRUE(prom.Start(&error)) << error;

  metrics::PrometheusOptions o;
  o.url = prom.url();
  auto reader = metrics::PrometheusReader::Create(o);
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  metrics::PodUsageQuery q;
  q.namespace_ = "batch";
  q.pod_base = "tug-01jrun-1";
  q.start = start;
  q.step_seconds = 1;
  q.rate_window_seconds = 5;
  // rate() over a window the series only partly covers (its first seconds) extrapolates to
  // the series' start and reads low; points whose whole window lies after the first sample
  // read the true slope. Ingested enough: both pods have three such points.
  const Micros settled = (q.rate_window_seconds + 2) * kMicrosPerSecond;
  auto steady = [&](const std::vector<metrics::PodUsagePoint>& points) {
    std::vector<metrics::PodUsagePoint> out;
    if (points.empty()) return out;
    for (const auto& p : points) {
      if (p.at >= points.front().at + settled && p.cpu_millis >= 0) out.push_back(p);
    }
    return out;
  };
  Result<std::map<std::string, std::vector<metrics::PodUsagePoint>>> usage =
      Internal("not read yet");
  auto enough = [&] {
    q.end = WallNow();
    usage = metrics::ReadPodUsage(**reader, q);
    if (!usage.ok() || usage->size() < 2) return false;
    for (const auto& [pod, points] : *usage) {
      if (steady(points).size() < 3) return false;
    }
    return true;
  };
  ASSERT_TRUE(testing::WaitFor(enough, std::chrono::seconds(90)))
      << (usage.ok() ? fmt::format("{} pods so far", usage->size()) : usage.error().ToString())
      << "\n"
      << prom.Log();

  // Only this attempt's pods in this namespace; the pod-level cgroup and pause container left
  // out (else the driver would show 999999999 + 1000000 more).
  ASSERT_EQ(usage->size(), 2u);
  const auto& driver = usage->at("tug-01jrun-1-driver");
  const auto& exec = usage->at("tug-01jrun-1-exec-1");
  for (const auto& p : driver) {
    if (p.memory_bytes >= 0) {
      EXPECT_EQ(p.memory_bytes, 536870912);
    }
  }
  for (const auto& p : exec) {
    if (p.memory_bytes >= 0) {
      EXPECT_EQ(p.memory_bytes, 1073741824);
    }
  }
  // CPU in millicores: the counters' slopes, 250 and 1500. Prometheus stamps a sample with the
  // scrape's start, the exporter reads its clock a little later, so allow a tenth either way.
  for (const auto& p : steady(driver)) EXPECT_NEAR(p.cpu_millis, 250, 25) << p.at;
  for (const auto& p : steady(exec)) EXPECT_NEAR(p.cpu_millis, 1500, 150) << p.at;
  // Points are on the step grid, oldest first, within the range.
  for (size_t i = 1; i < driver.size(); ++i) {
    EXPECT_GT(driver[i].at, driver[i - 1].at);
    EXPECT_EQ((driver[i].at - driver[i - 1].at) % kMicrosPerSecond, 0);
  }

  // The real server's error envelope comes back as our code, with its message.
  auto bad = (*reader)->QueryRange("rate(container_cpu_usage_seconds_total[", q.start, q.end, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument) << bad.error().ToString();
  EXPECT_NE(bad.error().message().find("parse error"), std::string::npos)
      << bad.error().ToString();
  auto raw = (*reader)->QueryRange("container_memory_working_set_bytes", q.start, q.end, 1);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 6u);  // every exported memory series, unfiltered
}

}  // namespace
}  // namespace tug
