// The hello route of hello_beast served through src/net (HttpServer + Router), to measure what
// our HTTP layer costs on top of raw Beast.
//   hello_tug_net --port 8082 --threads 2 [--hook]
// --hook adds a completion hook that counts requests, as `tug server` has one for metrics.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "net/http_server.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: hello_tug_net [--port N] [--threads T] [--hook]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  tug::net::ServerOptions options;
  options.port = 8082;
  bool hook = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      options.port = static_cast<uint16_t>(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      options.threads = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--hook") == 0) {
      hook = true;
    } else {
      return Usage();
    }
  }

  // Block the stop signals before the io threads start so only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  tug::net::Router router;
  router.Add("GET", "/", [](tug::net::Request&) {
    tug::net::Response r;
    r.content_type = "text/plain";
    r.body = "hello";
    return r;
  });
  std::atomic<uint64_t> requests{0};
  tug::net::CompletionHook completion;
  if (hook) {
    completion = [&requests](const tug::net::Request&, const std::string&, int, double) {
      requests.fetch_add(1, std::memory_order_relaxed);
    };
  }
  tug::net::HttpServer server(options, std::move(router), completion);
  if (auto st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "hello_tug_net: %s\n", st.error().message().c_str());
    return 1;
  }
  std::printf("hello_tug_net listening on http://%s:%u (%d threads)\n", options.host.c_str(),
              server.port(), options.threads);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  server.Stop();
  if (hook) std::printf("requests: %llu\n", static_cast<unsigned long long>(requests.load()));
  return 0;
}
