#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>

namespace tug::metrics {
namespace {

TEST(RegistryTest, RendersPrometheusText) {
  Registry r;
  auto& requests = r.AddCounter("tug_http_requests_total", "HTTP requests by route and code");
  requests.With({{"route", "/api/v1/runs/{id}"}, {"code", "200"}}).Inc();
  requests.With({{"route", "/api/v1/runs/{id}"}, {"code", "200"}}).Inc(2);
  auto& lat = r.AddHistogram("tug_latency_seconds", "latency", {0.01, 0.1});
  lat.With({}).Observe(0.005);
  lat.With({}).Observe(0.05);
  lat.With({}).Observe(5);
  r.AddCollector([](std::string& out) {
    out += "# TYPE tug_queue_depth gauge\n";
    AppendSample(out, "tug_queue_depth", {}, 3);
  });
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE tug_http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("tug_http_requests_total{route=\"/api/v1/runs/{id}\",code=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tug_latency_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tug_latency_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("tug_latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tug_latency_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("tug_queue_depth 3\n"), std::string::npos);
}

TEST(RegistryTest, ConcurrentIncrements) {
  Registry r;
  auto& c = r.AddCounter("c_total", "c");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.With({{"k", "v"}}).Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.With({{"k", "v"}}).Value(), 40000);
}

TEST(RegistryTest, EscapesLabelValues) {
  EXPECT_EQ(FormatLabels({{"a", "x\"y\\z\n"}}), "{a=\"x\\\"y\\\\z\\n\"}");
}

}  // namespace
}  // namespace tug::metrics
