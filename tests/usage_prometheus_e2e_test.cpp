// usage.source: prometheus end to end. A real `tug server` runs a job on the test kube-apiserver
// (the node simulator plays scheduler and kubelets); a real Prometheus scrapes an exporter that
// plays the kubelets' cAdvisor for the job pods that run; the run's memory and CPU come back
// through tug's own API (/api/v1/runs/{id}/usage), the way the web UI charts them. Every wait is
// on a condition.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "kube_fixture.h"
#include "net/http.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "prometheus_fixture.h"

namespace tug::testing {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;
constexpr int64_t kMemory = int64_t{48} << 20;

// cAdvisor's two series for every running job pod of the namespace: a constant working set, and
// a CPU counter growing at half a core from when the exporter first saw the pod.
class CadvisorExporter {
 public:
  explicit CadvisorExporter(kube::Client& client) : client_(client) {
    net::Router router;
    router.Add("GET", "/metrics", [this](net::Request&) {
      net::Response r;
      r.content_type = "text/plain; version=0.0.4";
      auto pods = client_.List(std::string("/api/v1/namespaces/") + kNamespace + "/pods",
                               {{"labelSelector", "tugboat.io/managed=true"}});
      if (!pods.ok()) {
        r.status = 500;
        return r;
      }
      std::string memory = "# TYPE container_memory_working_set_bytes gauge\n";
      std::string cpu = "# TYPE container_cpu_usage_seconds_total counter\n";
      std::lock_guard lock(mu_);
      for (const auto& pod : pods->items) {
        if (Text(pod, {"status", "phase"}) != "Running") continue;
        const std::string name = Text(pod, {"metadata", "name"});
        auto [it, fresh] = first_seen_.try_emplace(name, steady_clock::now());
        const double s = std::chrono::duration<double>(steady_clock::now() - it->second).count();
        const std::string labels =
            fmt::format(R"(namespace="{}",pod="{}",container="main")", kNamespace, name);
        memory += fmt::format("container_memory_working_set_bytes{{{}}} {}\n", labels, kMemory);
        cpu += fmt::format("container_cpu_usage_seconds_total{{{}}} {:.6f}\n", labels, 0.5 * s);
      }
      r.body = memory + cpu;
      return r;
    });
    net::ServerOptions o;
    o.port = 0;
    o.threads = 1;
    server_ = std::make_unique<net::HttpServer>(o, std::move(router));
  }
  ~CadvisorExporter() { server_->Stop(); }
  Status Start() { return server_->Start(); }
  int port() const { return server_->port(); }

 private:
  kube::Client& client_;
  std::mutex mu_;
  std::map<std::string, steady_clock::time_point> first_seen_;
  std::unique_ptr<net::HttpServer> server_;
};

using UsagePrometheusTest = KubeServerTest;

TEST_F(UsagePrometheusTest, RunUsageChartsFromPrometheus) {
  CadvisorExporter exporter(*world_->client_);
  ASSERT_TRUE(exporter.Start().ok());
  TempDir prom_dir;
  PrometheusProcess prom(prom_dir.path(), exporter.port());
  std::string error;
  ASSERT_TRUE(prom.Start(&error)) << error;

  // The server samples every second from that Prometheus (CPU rate over 5 s of 1 s scrapes).
  TearDown();
  ::setenv("TUG_KUBE_USAGE_INTERVAL", "1s", 1);
  StartServer("30s", fmt::format("usage: {{prometheus_url: '{}', prometheus_rate_window: 5s}}\n",
                                 prom.url()));
  ::unsetenv("TUG_KUBE_USAGE_INTERVAL");
  Apply(R"y(name: prom-usage
engine: kubernetes
image: busybox:1.36
command: ["/bin/sleep", "600"]
env: {TUG_SIM: "run=600"}
resources: {memory: 64Mi, cpu: 500m}
)y");
  std::string id = Submit("prom-usage");
  ASSERT_TRUE(WaitStatus(id, "RUNNING")) << Status(id);

  auto api = net::HttpClient::Create(server_->url(), std::chrono::seconds(10));
  ASSERT_TRUE(api.ok());
  // The run's usage as tug serves it: memory exactly the exporter's, CPU its half core once the
  // rate window lies wholly after the pod's first sample.
  int64_t last_memory = -1;
  int64_t last_cpu = -1;
  int64_t limit = -1;
  auto charted = [&] {
    auto r = api->Send("GET", "/api/v1/runs/" + id + "/usage");
    if (!r.ok() || r->status != 200) return false;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec) return false;
    for (const auto& s : v.at("series").as_array()) {
      if (Text(s, {"component"}) != "main") continue;
      limit = s.at("memory_limit_bytes").to_number<int64_t>();
      for (const auto& p : s.at("points").as_array()) {
        last_memory = p.at("memory_bytes").to_number<int64_t>();
        last_cpu = p.at("cpu_millis").to_number<int64_t>();
        if (last_memory == kMemory && last_cpu >= 450 && last_cpu <= 550) return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(WaitFor(charted, seconds(120)))
      << "last point: memory " << last_memory << ", cpu " << last_cpu << "\nprometheus:\n"
      << prom.Log();
  EXPECT_EQ(limit, int64_t{64} << 20);  // the pod's limit, from the pod spec as before

  // The engine counted its reads from the usage source.
  auto metrics = api->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find(R"(tug_kube_metrics_polls_total{engine="kubernetes:sim"})"),
            std::string::npos);
  auto stop = server_->Tug({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(WaitStatus(id, "STOPPED")) << Status(id);
}

}  // namespace
}  // namespace tug::testing

TUG_KUBE_TEST_MAIN()
