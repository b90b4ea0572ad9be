// A simulated cluster for benchmarks run by hand (bench/proxy_bench.sh): the real kube-apiserver
// of scripts/kube-testenv with the node simulator playing scheduler, kubelets and spark-submit
// (tests/kube_sim.h), two nodes (spot-1, on-demand-1), pods at 127.0.0.1. Prints
// "ready <kubeconfig>" once it is up and runs until SIGINT or SIGTERM, then stops everything.
//   kube_sim_cluster
#include <signal.h>

#include <cstdio>
#include <memory>

#include "kube/client.h"
#include "kube_sim.h"

int main() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  tug::testing::KubeTestEnv env;
  if (auto st = env.Start(); !st.ok()) {
    std::fprintf(stderr, "kube_sim_cluster: %s\n", st.error().ToString().c_str());
    return 1;
  }
  auto cfg = tug::kube::LoadKubeconfig(env.kubeconfig());
  if (!cfg.ok()) {
    std::fprintf(stderr, "kube_sim_cluster: %s\n", cfg.error().ToString().c_str());
    return 1;
  }
  auto client = tug::kube::Client::Create(*cfg);
  if (!client.ok()) {
    std::fprintf(stderr, "kube_sim_cluster: %s\n", client.error().ToString().c_str());
    return 1;
  }
  tug::testing::NodeSimulator sim(**client, "default", env.dir());
  if (auto st = sim.Start(); !st.ok()) {
    std::fprintf(stderr, "kube_sim_cluster: %s\n", st.error().ToString().c_str());
    return 1;
  }
  for (const auto& node : {tug::testing::SimNode{"spot-1", "spot"},
                           tug::testing::SimNode{"ondemand-1", "on-demand"}}) {
    if (auto st = sim.AddNode(node); !st.ok()) {
      std::fprintf(stderr, "kube_sim_cluster: %s\n", st.error().ToString().c_str());
      return 1;
    }
  }
  std::printf("ready %s\n", env.kubeconfig().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  sim.Stop();
  env.Stop();
  return 0;
}
