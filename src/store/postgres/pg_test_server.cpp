#include "store/postgres/pg_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace tug::store::pgtest {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultBinDir = "/usr/lib/postgresql/15/bin";
constexpr int kPortTries = 5;

// A port nobody listens on right now (the kernel's pick for port 0). Another process may take it
// before postgres binds it; Start() then tries another.
Result<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("cannot create a socket to find a free port", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return ErrnoError("cannot bind 127.0.0.1:0 to find a free port", err);
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string Tail(const fs::path& file, size_t max_bytes = 3000) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<PgServer>> PgServer::Start(const PgServerOptions& opts) {
  std::unique_ptr<PgServer> s(new PgServer());
  s->bin_dir_ = opts.bin_dir;
  if (s->bin_dir_.empty()) {
    const char* env = std::getenv("TUG_PG_BIN");
    s->bin_dir_ = env != nullptr && *env != '\0' ? env : kDefaultBinDir;
  }
  s->fsync_ = opts.fsync;
  for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
    if (access((fs::path(s->bin_dir_) / tool).c_str(), X_OK) != 0) {
      return FailedPrecondition(fmt::format(
          "PostgreSQL's '{}' is not in '{}'; install postgresql-15 (scripts/setup.sh) or set "
          "TUG_PG_BIN to the directory holding initdb and pg_ctl",
          tool, s->bin_dir_));
    }
  }
  if (geteuid() == 0) {
    // PostgreSQL refuses to run as root; its tools run as the postgres system user instead.
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return FailedPrecondition(
          "running as root, and there is no 'postgres' user to run PostgreSQL as (it refuses "
          "root); create one (the postgresql package does) or run the tests as another user");
    }
    s->uid_ = static_cast<int>(pw->pw_uid);
    s->gid_ = static_cast<int>(pw->pw_gid);
  }
  std::string tmpl = (fs::temp_directory_path() / "tug-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return ErrnoError("cannot create a temporary directory for PostgreSQL", errno);
  }
  s->dir_ = tmpl;
  if (s->uid_ >= 0 &&
      chown(s->dir_.c_str(), static_cast<uid_t>(s->uid_), static_cast<gid_t>(s->gid_)) != 0) {
    return ErrnoError(fmt::format("cannot give '{}' to the postgres user", s->dir_), errno);
  }
  RETURN_IF_ERROR(s->RunTool("initdb",
                             {"-D", s->dir_ + "/data", "-U", "tug", "-A", "trust", "-E", "UTF8",
                              "--no-locale", "--no-sync", "--no-instructions"},
                             "initdb"));
  // The settings go in a file of our own, included from postgresql.conf, so a new port is a
  // rewrite of that file.
  {
    std::ofstream conf(s->dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "\ninclude_if_exists = 'tug.conf'\n";
    if (!conf) return Internal(fmt::format("cannot write '{}/data/postgresql.conf'", s->dir_));
  }
  Status last = OkStatus();
  for (int i = 0; i < kPortTries; ++i) {
    ASSIGN_OR_RETURN(s->port_, FreePort());
    RETURN_IF_ERROR(s->WriteConfig());
    last = s->Restart();
    if (last.ok()) return s;
    // Someone took the port between our probe and postgres's bind: try another one.
    if (Tail(s->dir_ + "/postgres.log").find("could not bind") == std::string::npos) break;
  }
  return std::move(last).take_error();
}

PgServer::~PgServer() {
  if (running_ && !Stop().ok()) {
    (void)RunTool("pg_ctl", {"-D", dir_ + "/data", "-m", "immediate", "-w", "stop"},
                  "stopping PostgreSQL");
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PgServer::Url(const std::string& database) const {
  return fmt::format("postgresql://tug@127.0.0.1:{}/{}", port_, database);
}

Status PgServer::WriteConfig() {
  const std::string path = dir_ + "/data/tug.conf";
  {
    std::ofstream conf(path, std::ios::trunc);
    conf << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << dir_ << "'\n"
         << "fsync = " << (fsync_ ? "on" : "off") << "\n"
         << "max_connections = 300\n";
    if (!conf) return Internal(fmt::format("cannot write '{}'", path));
  }
  if (uid_ >= 0 && chown(path.c_str(), static_cast<uid_t>(uid_), static_cast<gid_t>(gid_)) != 0) {
    return ErrnoError(fmt::format("cannot give '{}' to the postgres user", path), errno);
  }
  return OkStatus();
}

Status PgServer::Restart() {
  Status st = RunTool(
      "pg_ctl", {"-D", dir_ + "/data", "-l", dir_ + "/postgres.log", "-w", "-t", "60", "start"},
      "starting PostgreSQL");
  running_ = st.ok();
  return st;
}

Status PgServer::Stop() {
  Status st = RunTool("pg_ctl", {"-D", dir_ + "/data", "-m", "fast", "-w", "-t", "60", "stop"},
                      "stopping PostgreSQL");
  if (st.ok()) running_ = false;
  return st;
}

Result<std::string> PgServer::CreateDatabase(const std::string& name,
                                             const std::string& template_db) {
  if (!ValidName(name) || (!template_db.empty() && !ValidName(template_db))) {
    return InvalidArgument(fmt::format(
        "database name '{}' (template '{}') is not valid; use lower-case letters, digits and '_'",
        name, template_db));
  }
  PGconn* conn = PQconnectdb(Url().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    return Unavailable(fmt::format("cannot connect to the test server on port {}", port_), why);
  }
  // Identifiers cannot be bound; both were checked against [a-z0-9_] above.
  std::string sql = fmt::format("CREATE DATABASE \"{}\"", name);
  if (!template_db.empty()) sql += fmt::format(" TEMPLATE \"{}\"", template_db);
  PGresult* res = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string why = ok ? "" : PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (!ok) return Internal(fmt::format("creating database '{}' failed", name), why);
  return Url(name);
}

std::string PgServer::LogTail() const {
  std::string out;
  for (const char* file : {"tools.log", "postgres.log"}) {
    std::string tail = Tail(fs::path(dir_) / file);
    if (!tail.empty()) out += fmt::format("--- {} ---\n{}\n", file, tail);
  }
  return out;
}

// fork + exec, as the postgres user when we are root. Output goes to tools.log in the directory.
Status PgServer::RunTool(const std::string& tool, const std::vector<std::string>& args,
                         const std::string& what) {
  const std::string path = (fs::path(bin_dir_) / tool).string();
  std::vector<std::string> argv_storage = {path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_storage.size() + 1);
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir_ + "/tools.log";
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoError(fmt::format("cannot open '{}'", log), errno);
  const int uid = uid_;
  const int gid = gid_;
  const char* cwd = dir_.c_str();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(log_fd);
    return ErrnoError(fmt::format("cannot fork to run {}", tool), err);
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    // The server must not inherit our sockets and pipes (a ctest pipe held open by an orphaned
    // postgres would keep ctest waiting).
    close_range(3, ~0U, 0);
    if (gid >= 0) {
      if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(gid)) != 0 ||
          setuid(static_cast<uid_t>(uid)) != 0) {
        _exit(126);
      }
    }
    if (chdir(cwd) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError(fmt::format("waiting for {} failed", tool), errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return OkStatus();
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return Internal(
      fmt::format("{} failed ({} exited with {}); its log is in '{}'", what, tool, code, dir_),
      LogTail());
}

}  // namespace tug::store::pgtest
