// The floor for local launches: fork+exec (posix_spawn) of /bin/true and wait, on T threads.
// Prints spawns/s and the p50/p99 of one spawn-to-exit. Run by bench/launch_bench.sh next to the
// engine's figures, in the same session, so the ratio means something on a noisy machine.
//   spawn_floor [N] [THREADS] [PROGRAM]
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  std::string program = argc > 3 ? argv[3] : "/bin/true";
  if (n <= 0 || threads <= 0) {
    std::fprintf(stderr, "usage: spawn_floor [N > 0] [THREADS > 0] [PROGRAM]\n");
    return 2;
  }
  std::vector<double> lat(static_cast<size_t>(n));
  std::atomic<int> next{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      char* args[] = {program.data(), nullptr};
      for (int i = next++; i < n; i = next++) {
        auto s = std::chrono::steady_clock::now();
        pid_t pid = 0;
        if (posix_spawn(&pid, program.c_str(), nullptr, nullptr, args, environ) != 0) {
          std::perror("posix_spawn");
          std::exit(1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        lat[static_cast<size_t>(i)] =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
      }
    });
  }
  for (auto& t : pool) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::sort(lat.begin(), lat.end());
  std::printf("floor: %d spawns of %s on %d threads: %.0f/s; spawn-to-exit p50 %.2f ms, p99 %.2f ms\n",
              n, program.c_str(), threads, n / secs, lat[lat.size() / 2],
              lat[std::min(lat.size() - 1, lat.size() * 99 / 100)]);
  return 0;
}
