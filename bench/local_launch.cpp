// The local engine alone (no store, no HTTP): N attempts of a trivial job launched from T
// threads through LocalEngine::Launch with tug-shim, each cleaned up when it ends, as the
// controller does. Prints launches/s, the p50/p99 of one Launch call, and ends/s. Compare with
// spawn_floor in the same session (bench/launch_bench.sh).
//   local_launch --shim build/release/tug-shim [--n 2000] [--threads 8] [--cgroup auto|v1|v2|none]
//                [--state DIR] [--command CMD]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "engine/local/local_engine.h"
#include "logs/fs_log_store.h"

using namespace tug;  // NOLINT(google-build-using-namespace): a benchmark's main

int main(int argc, char** argv) {
  std::string shim;
  std::string cgroup = "auto";
  std::string command = "true";
  std::string state_dir;  // default: <tmp root>/state
  int n = 2000;
  int threads = 8;
  bool launcher = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    if (k == "--shim") shim = argv[i + 1];
    if (k == "--cgroup") cgroup = argv[i + 1];
    if (k == "--command") command = argv[i + 1];
    if (k == "--state") state_dir = argv[i + 1];
    if (k == "--n") n = std::atoi(argv[i + 1]);
    if (k == "--threads") threads = std::atoi(argv[i + 1]);
    if (k == "--launcher") launcher = std::string_view(argv[i + 1]) != "off";
  }
  if (shim.empty()) {
    std::fprintf(stderr,
                 "usage: local_launch --shim PATH [--n N] [--threads T] [--cgroup M] [--state DIR] "
                 "[--launcher on|off]\n");
    return 2;
  }
  std::string root = (std::filesystem::temp_directory_path() / "tug-local-launch-XXXXXX").string();
  if (::mkdtemp(root.data()) == nullptr) return 1;
  logs::FsLogStore logs(root + "/logs");
  engine::local::LocalEngineOptions o;
  o.state_dir = state_dir.empty() ? root + "/state" : state_dir;
  o.shim_command = {shim};
  o.cgroup_mode = cgroup;
  o.usage_interval_ms = 0;
  o.use_launcher = launcher;
  auto made = engine::local::LocalEngine::Create(o, logs, SystemClock::Instance());
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.error().ToString().c_str());
    return 1;
  }
  engine::local::LocalEngine& engine = **made;
  std::mutex mu;
  std::condition_variable cv;
  int ended = 0;
  int failed = 0;
  std::chrono::steady_clock::time_point last_end;
  // Cleanup happens on the monitor thread, as the controller's does (after the end is stored).
  engine.SetSink([&](const engine::Update& u) {
    if (u.kind != engine::Update::Kind::kEnded) return;
    (void)engine.Cleanup(u.attempt_id);
    std::lock_guard lock(mu);
    ++ended;
    if (u.status != AttemptStatus::kSucceeded) ++failed;
    last_end = std::chrono::steady_clock::now();
    cv.notify_all();
  });
  std::vector<engine::LaunchSpec> specs(static_cast<size_t>(n));
  for (auto& s : specs) {
    s.run_id = NewId(SystemClock::Instance());
    s.attempt_id = AttemptId(s.run_id, 1);
    s.argv = {"/bin/sh", "-c", command};
    s.resources.memory_bytes = 32 << 20;
  }
  std::vector<double> call_ms(static_cast<size_t>(n));
  std::atomic<int> next{0};
  std::atomic<int> launch_errors{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        auto s = std::chrono::steady_clock::now();
        auto ref = engine.Launch(specs[static_cast<size_t>(i)]);
        if (!ref.ok()) {
          ++launch_errors;
          std::fprintf(stderr, "%s\n", ref.error().ToString().c_str());
        }
        call_ms[static_cast<size_t>(i)] =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
      }
    });
  }
  for (auto& t : pool) t.join();
  double launch_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::minutes(5), [&] { return ended >= n - launch_errors; });
  }
  double end_secs = std::chrono::duration<double>(last_end - t0).count();
  std::sort(call_ms.begin(), call_ms.end());
  std::printf(
      "local engine (%s%s, cgroup %s): %d launches of '%s' on %d threads: %.0f launches/s; "
      "Launch p50 %.2f ms, p99 %.2f ms; all ended at %.0f/s; failed %d, launch errors %d\n",
      shim.c_str(), launcher ? " via its launcher" : " exec'd per launch",
      ToString(engine.cgroup_layout().version).data(), n, command.c_str(), threads, n / launch_secs,
      call_ms[call_ms.size() / 2], call_ms[std::min(call_ms.size() - 1, call_ms.size() * 99 / 100)],
      n / end_secs, failed, launch_errors.load());
  engine.Shutdown();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return failed == 0 && launch_errors == 0 ? 0 : 1;
}
