#pragma once
/// A real Prometheus (Debian's `prometheus`, installed by scripts/setup.sh) for tests: its own
/// config, TSDB and loopback port, scraping the targets a test serves every second; killed with
/// the test. Its readiness is waited on (/-/ready), never slept for.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "net/http_client.h"
#include "test_util.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace tug::testing {

/// A loopback port free right now (Prometheus takes no port 0 and does not say which it got).
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

/// $TUG_PROMETHEUS, else Debian's; "" when there is none.
inline std::string PrometheusBinary() {
  if (const char* p = std::getenv("TUG_PROMETHEUS"); p != nullptr && *p != '\0') return p;
  for (const char* c : {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
    if (::access(c, X_OK) == 0) return c;
  }
  return "";
}

class PrometheusProcess {
 public:
  /// Scrapes 127.0.0.1:<target_port>/metrics every second (job "fixture").
  PrometheusProcess(std::string dir, int target_port) : dir_(std::move(dir)) {
    std::ofstream(dir_ + "/prometheus.yml") << fmt::format(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
        "scrape_configs:\n"
        "  - job_name: fixture\n"
        "    static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
        target_port);
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  /// Starts it and waits until it answers /-/ready (or exits); false with its log otherwise.
  bool Start(std::string* error) {
    const std::string binary = PrometheusBinary();
    if (binary.empty()) {
      *error = "prometheus not found; run scripts/setup.sh (Debian package prometheus) or set "
               "TUG_PROMETHEUS";
      return false;
    }
    port_ = FreeLoopbackPort();
    std::vector<std::string> args = {binary,
                                     "--config.file=" + dir_ + "/prometheus.yml",
                                     "--storage.tsdb.path=" + dir_ + "/data",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = dir_ + "/prometheus.log";
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int rc = ::posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      *error = "starting " + binary + " failed";
      return false;
    }
    auto client = net::HttpClient::Create(url(), std::chrono::seconds(5));
    bool ready = client.ok() && WaitFor(
                                    [&] {
                                      if (!Alive()) return true;
                                      auto r = client->Send("GET", "/-/ready");
                                      return r.ok() && r->status == 200;
                                    },
                                    std::chrono::seconds(60));
    if (!ready || !Alive()) {
      *error = "prometheus did not become ready:\n" + Log();
      return false;
    }
    return true;
  }
  bool Alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Log() const {
    std::ifstream in(dir_ + "/prometheus.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace tug::testing
