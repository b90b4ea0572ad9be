#include "engine/local/shim_spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "engine/local/proc.h"
#include "engine/local/state_files.h"

extern char** environ;

namespace tug::engine::local {

namespace {

constexpr int kHandshakeFd = 3;
constexpr int kLockFd = 4;
// Above stdio and the handshake slot, so dup2 in the child never overwrites a source fd.
constexpr int kHighFd = 10;

int64_t MonotonicMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

UniqueFd HighFd(int fd) {
  UniqueFd original(fd);
  return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd));
}

void Reap(int pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string StateDir(const std::string& dir) { return dir.substr(0, dir.rfind('/')); }

// What this attempt's shim wrote to the shared shim.log (its lines name the attempt).
std::string ShimLogTail(const std::string& dir) {
  auto text = ReadFile(StateDir(dir) + "/" + kShimLogFile);
  if (!text.ok() || text->empty()) return "it wrote nothing";
  const std::string mark = " " + dir.substr(dir.rfind('/') + 1) + " ";
  std::string mine;
  size_t at = text->size() > (1 << 20) ? text->size() - (1 << 20) : 0;
  while (at < text->size()) {
    size_t nl = text->find('\n', at);
    if (nl == std::string::npos) nl = text->size();
    std::string_view line(text->data() + at, nl - at);
    if (line.find(mark) != std::string_view::npos) mine.append(line).push_back('\n');
    at = nl + 1;
  }
  if (mine.empty()) return "it wrote nothing";
  std::string tail = mine.size() > 400 ? mine.substr(mine.size() - 400) : mine;
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  for (char& c : tail) {
    if (c == '\n') c = ' ';
  }
  return "it wrote: " + tail;
}

// RAII for the spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

Result<SpawnedShim> SpawnShim(const std::vector<std::string>& command, const std::string& dir,
                              int lock_fd, int64_t timeout_ms) {
  if (command.empty()) return InvalidArgument("the shim command is empty; set shim_command");
  int hs[2];
  if (::pipe2(hs, O_CLOEXEC) != 0) return ErrnoError("creating the shim handshake pipe", errno);
  UniqueFd hs_read(hs[0]);
  UniqueFd hs_write = HighFd(hs[1]);
  // One shim.log for every shim (its lines name their attempt): no file per attempt.
  std::string log_path = StateDir(dir) + "/" + kShimLogFile;
  UniqueFd log_fd =
      HighFd(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  UniqueFd lock_copy =
      lock_fd >= 0 ? UniqueFd(::fcntl(lock_fd, F_DUPFD_CLOEXEC, kHighFd)) : UniqueFd();
  if (!hs_write.valid() || !log_fd.valid() || (lock_fd >= 0 && !lock_copy.valid())) {
    return ErrnoError(fmt::format("preparing the shim's files in '{}'", dir), errno);
  }

  std::vector<std::string> args = command;
  args.push_back(dir);
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string hs_env = fmt::format("{}={}", kHandshakeFdEnv, kHandshakeFd);
  std::string lock_env = fmt::format("{}={}", kLockFdEnv, kLockFd);
  std::string hs_prefix = std::string(kHandshakeFdEnv) + "=";
  std::string lock_prefix = std::string(kLockFdEnv) + "=";
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, hs_prefix.c_str(), hs_prefix.size()) != 0 &&
        std::strncmp(*e, lock_prefix.c_str(), lock_prefix.size()) != 0) {
      envp.push_back(*e);
    }
  }
  envp.push_back(hs_env.data());
  if (lock_copy.valid()) envp.push_back(lock_env.data());
  envp.push_back(nullptr);

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, log_fd.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, log_fd.get(), 2);
  posix_spawn_file_actions_adddup2(&setup.actions, hs_write.get(), kHandshakeFd);
  // The same open file description as the caller's: the flock passes to the shim.
  if (lock_copy.valid()) posix_spawn_file_actions_adddup2(&setup.actions, lock_copy.get(), kLockFd);
  // A new session: the shim leaves the server's process group and terminal, so signals aimed at
  // the server (Ctrl-C, kill of its group) do not reach jobs. Signal state is reset because the
  // server's threads may block or ignore signals the shim relies on.
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
  if (rc != 0) {
    return Internal(fmt::format("starting the shim '{}' failed; check shim_command", args[0]),
                    std::strerror(rc));
  }
  hs_write.Reset();
  log_fd.Reset();
  lock_copy.Reset();

  std::string line;
  int64_t deadline = MonotonicMs() + timeout_ms;
  for (;;) {
    size_t nl = line.find('\n');
    if (nl != std::string::npos) {
      line.resize(nl);
      break;
    }
    int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      Reap(pid);
      return Unavailable(fmt::format("the shim for '{}' did not start the job within {} ms; {}",
                                     dir, timeout_ms, ShimLogTail(dir)));
    }
    pollfd p{hs_read.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return ErrnoError("waiting for the shim", errno);
    if (ready <= 0) continue;
    char buf[512];
    ssize_t n = ::read(hs_read.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Reap(pid);
      return Internal(fmt::format("the shim for '{}' exited before starting the job; {}", dir,
                                  ShimLogTail(dir)));
    }
    line.append(buf, static_cast<size_t>(n));
  }

  if (line.rfind("ok ", 0) == 0) {
    int job_pid = 0;
    std::string_view num(line);
    num.remove_prefix(3);
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), job_pid);
    if (ec == std::errc() && job_pid > 0) return SpawnedShim{pid, job_pid};
  }
  // "error <code> <message>": the shim exits right after writing it.
  if (line.rfind("error ", 0) != 0) ::kill(pid, SIGKILL);
  Reap(pid);
  if (line.rfind("error ", 0) == 0) {
    std::string rest = line.substr(6);
    size_t sp = rest.find(' ');
    std::string code = rest.substr(0, sp);
    std::string message = sp == std::string::npos ? rest : rest.substr(sp + 1);
    if (code == "invalid_argument") return InvalidArgument(message);
    return Internal(message);
  }
  return Internal(fmt::format("the shim for '{}' answered '{}' instead of 'ok <pid>'", dir, line));
}

}  // namespace tug::engine::local
