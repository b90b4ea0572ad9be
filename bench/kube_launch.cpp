// Pods launched per second through the kubernetes engine (BuildPod + POST + the engine's
// bookkeeping) against a real kube-apiserver, with the client limiter raised and at a given QPS.
// Usage: kube_launch KUBECONFIG NAMESPACE PODS THREADS QPS BURST   (QPS 0: no limiter)
// Run through bench/kube_launch.sh, which starts the API server.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "engine/kubernetes/kubernetes_engine.h"
#include "kube/client.h"
#include "logs/fs_log_store.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s KUBECONFIG NAMESPACE PODS THREADS QPS BURST\n", argv[0]);
    return 2;
  }
  const std::string kubeconfig = argv[1];
  const std::string ns = argv[2];
  const int pods = std::atoi(argv[3]);
  const int threads = std::atoi(argv[4]);
  const double qps = std::atof(argv[5]);
  const int burst = std::atoi(argv[6]);
  auto cfg = tug::kube::LoadKubeconfig(kubeconfig);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.error().ToString().c_str());
    return 1;
  }
  tug::kube::ClientOptions co;
  co.qps = qps;
  co.burst = burst;
  co.pool_size = threads;
  auto client = tug::kube::Client::Create(*cfg, co);
  if (!client.ok()) return 1;
  tug::logs::FsLogStore logs("/tmp/tug-kube-bench-logs");
  tug::engine::kubernetes::KubernetesEngineOptions eo;
  eo.pod.namespace_ = ns;
  tug::engine::kubernetes::KubernetesEngine engine(eo, **client, logs,
                                                   tug::SystemClock::Instance());
  engine.SetSink([](const tug::engine::Update&) {});
  const std::string prefix = "b" + std::to_string(std::time(nullptr) % 100000) + "q" +
                             std::to_string(static_cast<int>(qps));
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < pods; i = next++) {
        tug::engine::LaunchSpec s;
        s.run_id = prefix + "r" + std::to_string(i);
        s.attempt_id = s.run_id + "-1";
        s.definition = "bench";
        s.argv = {"/bin/true"};
        s.image = "busybox:1.36";
        s.resources.memory_bytes = int64_t{64} << 20;
        s.resources.cpu_millis = 100;
        s.placement.capacity = "spot";
        if (!engine.Launch(s).ok()) ++failed;
      }
    });
  }
  for (auto& w : workers) w.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto stats = (*client)->stats();
  std::printf(
      "pods=%d threads=%d qps_limit=%g burst=%d failed=%d seconds=%.2f launches_per_s=%.1f "
      "throttled=%lld\n",
      pods, threads, qps, burst, failed.load(), secs, pods / secs,
      static_cast<long long>(stats.throttled));
  engine.Shutdown();
  return failed.load() == 0 ? 0 : 1;
}
