#include "engine/local/shim_spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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

// Reads the shim's handshake from `hs_read` until "ok <job pid>" or "error <code> <message>".
// `pid` is the shim (0: not known yet: a launcher's child announces itself with "pid <pid>"
// first; `announced`, if given, is set to it); `child`: it is this process's child, to be
// reaped when it failed.
Result<SpawnedShim> AwaitShim(int pid, bool child, int hs_read, const std::string& dir,
                              int64_t deadline, int64_t timeout_ms, int* announced = nullptr) {
  auto reap = [&] {
    if (child && pid > 0) Reap(pid);
  };
  std::string buffer;
  std::string line;
  for (;;) {
    size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (pid == 0 && line.rfind("pid ", 0) == 0) {
        std::string_view num(line);
        num.remove_prefix(4);
        auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), pid);
        if (ec != std::errc() || pid <= 0) {
          return Internal(fmt::format("the shim launcher for '{}' answered '{}'", dir, line));
        }
        if (announced != nullptr) *announced = pid;
        continue;
      }
      break;
    }
    int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      if (pid > 0) ::kill(pid, SIGKILL);
      reap();
      return Unavailable(fmt::format("the shim for '{}' did not start the job within {} ms; {}",
                                     dir, timeout_ms, ShimLogTail(dir)));
    }
    pollfd p{hs_read, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return ErrnoError("waiting for the shim", errno);
    if (ready <= 0) continue;
    char buf[512];
    ssize_t n = ::read(hs_read, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      reap();
      if (pid == 0) {
        return Aborted(
            fmt::format("the shim launcher closed the handshake of '{}' unanswered", dir));
      }
      return Internal(fmt::format("the shim for '{}' exited before starting the job; {}", dir,
                                  ShimLogTail(dir)));
    }
    buffer.append(buf, static_cast<size_t>(n));
  }

  if (line.rfind("ok ", 0) == 0) {
    int job_pid = 0;
    std::string_view num(line);
    num.remove_prefix(3);
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), job_pid);
    if (ec == std::errc() && job_pid > 0 && pid > 0) return SpawnedShim{pid, job_pid};
  }
  // "error <code> <message>": the shim exits right after writing it.
  if (line.rfind("error ", 0) != 0 && pid > 0) ::kill(pid, SIGKILL);
  reap();
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

// Spawns `args` in a new session with stdin /dev/null, stdout/stderr on `log_path` and
// `handoff` (fd, name of the environment variable that tells the child its number): each fd
// lands on its own number from 3 on, and the variable says which.
Result<pid_t> SpawnInSession(const std::vector<std::string>& args, const std::string& log_path,
                             const std::vector<std::pair<int, const char*>>& handoff) {
  UniqueFd log_fd =
      HighFd(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd.valid()) return ErrnoError(fmt::format("opening '{}'", log_path), errno);
  std::vector<UniqueFd> copies;
  for (const auto& [fd, name] : handoff) {
    copies.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd));
    if (!copies.back().valid()) return ErrnoError("preparing the shim's files", errno);
  }
  std::vector<std::string> args_copy = args;
  std::vector<char*> argv;
  argv.reserve(args_copy.size() + 1);
  for (auto& a : args_copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> settings;
  std::vector<std::string> prefixes;
  for (const char* name : {kHandshakeFdEnv, kLockFdEnv, kLauncherFdEnv}) {
    prefixes.push_back(std::string(name) + "=");
  }
  for (size_t i = 0; i < handoff.size(); ++i) {
    settings.push_back(fmt::format("{}={}", handoff[i].second, kHandshakeFd + static_cast<int>(i)));
  }
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    bool ours = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
      return std::strncmp(*e, p.c_str(), p.size()) == 0;
    });
    if (!ours) envp.push_back(*e);
  }
  for (auto& setting : settings) envp.push_back(setting.data());
  envp.push_back(nullptr);

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, log_fd.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, log_fd.get(), 2);
  // The same open file descriptions as the caller's: a lock's flock passes to the child.
  for (size_t i = 0; i < copies.size(); ++i) {
    posix_spawn_file_actions_adddup2(&setup.actions, copies[i].get(),
                                     kHandshakeFd + static_cast<int>(i));
  }
  // A new session: the child leaves the server's process group and terminal, so signals aimed
  // at the server (Ctrl-C, kill of its group) do not reach jobs. Signal state is reset because
  // the server's threads may block or ignore signals the shim relies on.
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
  return pid;
}

}  // namespace

Result<SpawnedShim> SpawnShim(const std::vector<std::string>& command, const std::string& dir,
                              int lock_fd, int64_t timeout_ms) {
  if (command.empty()) return InvalidArgument("the shim command is empty; set shim_command");
  int hs[2];
  if (::pipe2(hs, O_CLOEXEC) != 0) return ErrnoError("creating the shim handshake pipe", errno);
  UniqueFd hs_read(hs[0]);
  UniqueFd hs_write(hs[1]);
  std::vector<std::string> args = command;
  args.push_back(dir);
  std::vector<std::pair<int, const char*>> handoff = {{hs_write.get(), kHandshakeFdEnv}};
  if (lock_fd >= 0) handoff.emplace_back(lock_fd, kLockFdEnv);
  // One shim.log for every shim (its lines name their attempt): no file per attempt.
  ASSIGN_OR_RETURN(pid_t pid, SpawnInSession(args, StateDir(dir) + "/" + kShimLogFile, handoff));
  hs_write.Reset();
  return AwaitShim(pid, /*child=*/true, hs_read.get(), dir, MonotonicMs() + timeout_ms, timeout_ms);
}

Result<std::unique_ptr<ShimLauncher>> ShimLauncher::Start(const std::vector<std::string>& command,
                                                          const std::string& state_dir) {
  if (command.empty()) return InvalidArgument("the shim command is empty; set shim_command");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoError("creating the shim launcher's socket", errno);
  }
  UniqueFd mine(sv[0]);
  UniqueFd theirs(sv[1]);
  std::vector<std::string> args = command;
  args.emplace_back(kLauncherArg);
  ASSIGN_OR_RETURN(pid_t pid, SpawnInSession(args, state_dir + "/" + kShimLogFile,
                                             {{theirs.get(), kLauncherFdEnv}}));
  return std::unique_ptr<ShimLauncher>(new ShimLauncher(pid, std::move(mine)));
}

ShimLauncher::~ShimLauncher() {
  // The launcher exits when its socket closes; its running shims go on.
  socket_.Reset();
  Reap(pid_);
}

Result<SpawnedShim> ShimLauncher::Spawn(const std::string& dir, int lock_fd, int64_t timeout_ms) {
  int hs[2];
  if (::pipe2(hs, O_CLOEXEC) != 0) return ErrnoError("creating the shim handshake pipe", errno);
  UniqueFd hs_read(hs[0]);
  UniqueFd hs_write(hs[1]);
  int fds[2] = {hs_write.get(), lock_fd};
  const size_t nfds = lock_fd >= 0 ? 2 : 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  iovec iov{const_cast<char*>(dir.data()), dir.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
  std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  ssize_t sent = -1;
  do {
    sent = ::sendmsg(socket_.get(), &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    alive_.store(false);
    return Aborted(fmt::format("the shim launcher is gone ({})", std::strerror(errno)));
  }
  hs_write.Reset();
  int announced = 0;
  auto spawned = AwaitShim(0, /*child=*/false, hs_read.get(), dir, MonotonicMs() + timeout_ms,
                           timeout_ms, &announced);
  if (!spawned.ok() && spawned.error().code() == Code::kAborted) alive_.store(false);
  if (!spawned.ok() && spawned.error().code() == Code::kUnavailable && announced == 0) {
    // The launcher did not fork for this request in time: it is stuck. Killed, it drops the
    // request (and the attempt's lock with it), so no shim can start after this launch has
    // been reported failed; the next launch starts a new launcher.
    ::kill(pid_, SIGKILL);
    alive_.store(false);
  }
  return spawned;
}

}  // namespace tug::engine::local
