#pragma once
/// A throwaway PostgreSQL server for tests, end-to-end runs and benchmarks.
///
/// Lifecycle: Start() runs initdb into a fresh temporary directory (trust authentication, user
/// "tug", UTF8, C locale) and starts postgres listening on 127.0.0.1 only, on a free port, with
/// its unix socket and its log inside that directory; it returns once the server accepts
/// connections. Stop()/Restart() stop and restart it on the same port with the same data (outage
/// tests; Restart). The destructor stops it (fast, then immediate) and removes the directory.
///
/// PostgreSQL refuses to run as root: as root, the directory belongs to the `postgres` system
/// user and initdb/pg_ctl run as that user; otherwise as the current user.
///
/// Threading: not thread-safe; one owner drives it. Url()/port() may be read from any thread.
/// Errors: kFailedPrecondition when the binaries (or, as root, the postgres user) are missing;
/// kInternal when initdb or the server fails, with the tail of its log.
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace tug::store::pgtest {

struct PgServerOptions {
  /// initdb, pg_ctl, postgres...: default $TUG_PG_BIN, else /usr/lib/postgresql/15/bin.
  std::string bin_dir;
  /// fsync on commit; tests turn it off for speed (a crash of the test machine loses nothing
  /// worth keeping).
  bool fsync = true;
};

class PgServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PgServer>> Start(const PgServerOptions& opts = {});
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  /// "postgresql://tug@127.0.0.1:<port>/<database>".
  std::string Url(const std::string& database = "postgres") const;
  /// CREATE DATABASE `name` (copied from `template_db` when given; nobody may be connected to
  /// it); returns its URL. Names are lower-case letters, digits and '_'.
  [[nodiscard]] Result<std::string> CreateDatabase(const std::string& name,
                                                   const std::string& template_db = "");
  /// pg_ctl stop -m fast: the server goes away, the data stays.
  [[nodiscard]] Status Stop();
  /// Starts the stopped server again on the same port, with the same data. (Not an overload of
  /// Start: PgServer::Start() with no arguments must stay the static factory.)
  [[nodiscard]] Status Restart();
  const std::string& bin_dir() const { return bin_dir_; }
  /// The temporary directory (data/, the socket, postgres.log).
  const std::string& dir() const { return dir_; }

 private:
  PgServer() = default;
  [[nodiscard]] Status RunTool(const std::string& tool, const std::vector<std::string>& args,
                               const std::string& what);
  [[nodiscard]] Status WriteConfig();
  std::string LogTail() const;

  std::string bin_dir_;
  std::string dir_;
  bool fsync_ = true;
  int port_ = 0;
  bool running_ = false;
  // The postgres user's ids when we run as root (-1: run tools as ourselves).
  int uid_ = -1;
  int gid_ = -1;
};

}  // namespace tug::store::pgtest
