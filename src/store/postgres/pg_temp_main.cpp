// tug-pg-temp: a throwaway PostgreSQL server for scripts (scripts/chaos.py, bench/): starts one
// (PgServer: initdb in a temporary directory, loopback only, a free port), creates a database,
// prints its URL on the first line of stdout, and runs until stdin closes or SIGTERM/SIGINT,
// then stops the server and removes its directory.
//   tug-pg-temp [DATABASE] [--no-fsync]
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "store/postgres/pg_test_server.h"

int main(int argc, char** argv) {
  std::string database = "tug";
  tug::store::pgtest::PgServerOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--no-fsync") {
      options.fsync = false;
    } else {
      database = std::string(arg);
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);

  auto pg = tug::store::pgtest::PgServer::Start(options);
  if (!pg.ok()) {
    std::fprintf(stderr, "tug-pg-temp: %s\n", pg.error().ToString().c_str());
    return 1;
  }
  auto url = (*pg)->CreateDatabase(database);
  if (!url.ok()) {
    std::fprintf(stderr, "tug-pg-temp: %s\n", url.error().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", url->c_str());
  std::fflush(stdout);
  // Until stdin closes (the parent went away) or a signal asks us to stop.
  pollfd fds[2] = {{0, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) break;
    if (fds[0].revents != 0) {
      char buf[256];
      if (read(0, buf, sizeof buf) <= 0) break;
    }
  }
  return 0;  // ~PgServer stops the server and removes its directory
}
