#include "shim/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/model.h"
#include "core/quantity.h"
#include "engine/local/cgroup.h"
#include "engine/local/log_writer.h"
#include "engine/local/outcome.h"
#include "engine/local/proc.h"
#include "engine/local/state_files.h"
#include "engine/local/watchdog.h"
#include "shim/launcher.h"
#include "shim/spawn_job.h"

namespace tug::engine::local {

namespace {

// After the job's main process exits, how long descendants may keep the output pipes open
// (they are killed first; this only bounds a process that escaped both group and cgroup).
constexpr int64_t kDrainMs = 2000;
constexpr int64_t kLeftoverKillIntervalMs = 100;

Micros Now() { return SystemClock::Instance().Now(); }

int64_t MonotonicMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

class Shim {
 public:
  explicit Shim(std::string dir) : dir_(std::move(dir)) {}
  int Main();

 private:
  struct Launch {
    std::string code;  // "invalid_argument" or "internal"
    std::string message;
  };

  std::optional<Launch> Prepare();
  std::optional<Launch> StartJob();
  void Loop();
  int Finish();
  int FailLaunch(const Launch& failure);

  void Handshake(std::string_view line);
  /// A line on the shim's stderr, the state directory's shim.log shared by every shim: one
  /// write, prefixed with the time and this attempt's id.
  void Complain(std::string_view message) const;
  void LogTugboat(std::string_view text);
  void WriteLog(const std::string& data);
  void ReadPipe(size_t index);
  void HandleSignals();
  /// Reaps what has exited; true while children remain.
  bool Reap();
  void ReapAll();
  void BeginStop(std::string_view reason, std::string why);
  void KillJob(int sig);
  void KillLeftovers();
  std::string LimitsSummary() const;

  std::string dir_;
  int handshake_fd_ = -1;
  int lock_fd_ = -1;  // kept open (never closed) until exit
  ShimSpec spec_;
  UniqueFd log_fd_;
  UniqueFd signal_fd_;
  UniqueFd pipes_[2];
  LineSplitter splitters_[2] = {LineSplitter("stdout"), LineSplitter("stderr")};
  ShimPid pid_record_;

  pid_t job_pid_ = 0;
  Micros started_at_ = 0;
  int64_t started_mono_ = 0;
  std::optional<int> wait_status_;  // the job's main process
  int64_t exited_mono_ = 0;
  int64_t last_leftover_kill_ = 0;
  int64_t ru_cpu_micros_ = 0;
  int64_t ru_maxrss_bytes_ = 0;

  std::string stop_reason_;  // "", Stopped or DeadlineExceeded
  std::string stop_why_;
  int64_t kill_at_mono_ = 0;  // SIGKILL escalation, 0: none pending
  bool escalated_ = false;
  std::optional<Watchdog> watchdog_;
  bool watchdog_killed_ = false;
  int64_t next_sample_mono_ = 0;
};

int Shim::Main() {
  handshake_fd_ = TakeFdFromEnv(kHandshakeFdEnv);
  // The attempt's launch lock, taken by the launcher and passed on: held until this process
  // exits, so a later Launch of the same attempt knows a shim is (or was, if shim.pid exists)
  // on it. Closed in the job at exec.
  lock_fd_ = TakeFdFromEnv(kLockFdEnv);
  // Nothing the server left open may reach the job: keep stdio, the handshake and the lock.
  unsigned next = 3;
  for (int keep : {std::min(handshake_fd_, lock_fd_), std::max(handshake_fd_, lock_fd_)}) {
    if (keep < 0) continue;
    if (static_cast<unsigned>(keep) > next) ::close_range(next, static_cast<unsigned>(keep) - 1, 0);
    next = static_cast<unsigned>(keep) + 1;
    ::fcntl(keep, F_SETFD, FD_CLOEXEC);
  }
  ::close_range(next, ~0U, 0);

  if (auto failure = Prepare()) return FailLaunch(*failure);
  if (auto failure = StartJob()) return FailLaunch(*failure);
  Loop();
  return Finish();
}

std::optional<Shim::Launch> Shim::Prepare() {
  // Orphaned descendants of the job are re-parented to us, so we can reap and kill them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  signal_fd_.Reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_.valid()) return Launch{"internal", fmt::format("signalfd: {}", strerror(errno))};

  auto self = ReadProcStat(::getpid());
  if (!self.ok()) return Launch{"internal", self.error().ToString()};
  pid_record_ = ShimPid{::getpid(), self->start_ticks, 0, 0};
  auto text = ReadFile(dir_ + "/" + kSpecFile);
  if (!text.ok()) return Launch{"internal", text.error().ToString()};
  auto spec = ParseSpec(*text);
  if (!spec.ok()) return Launch{"internal", spec.error().ToString()};
  spec_ = std::move(*spec);
  // Before any job exists: the record that the attempt may have run, so a relaunch adopts it or
  // reports it LOST, never starts it again. A process crash cannot lose it; with `sync` (the
  // store's synchronous=full) neither can a power loss.
  if (Status st = WriteFileAtomic(dir_ + "/" + kShimPidFile, SerializeShimPid(pid_record_),
                                  spec_.sync ? Sync::kFileAndDir : Sync::kNone);
      !st.ok()) {
    return Launch{"internal", st.error().ToString()};
  }
  if (spec_.sync) {
    // The attempt directory's own entry in the state directory.
    if (Status st = SyncDir(dir_.substr(0, dir_.rfind('/') + 1)); !st.ok()) {
      return Launch{"internal", st.error().ToString()};
    }
  }
  int fd = ::open(spec_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Launch{"internal", fmt::format("opening log '{}': {}", spec_.log_path, strerror(errno))};
  }
  log_fd_.Reset(fd);
  if (spec_.watchdog) watchdog_.emplace(spec_.memory_bytes);
  return std::nullopt;
}

std::optional<Shim::Launch> Shim::StartJob() {
  std::map<std::string, std::string> env = spec_.env;
  if (env.find("PATH") == env.end()) env["PATH"] = kDefaultJobPath;
  std::optional<std::string> exe = FindExecutable(spec_.argv[0], env["PATH"]);
  if (!exe) {
    return Launch{"invalid_argument",
                  fmt::format("command '{}' was not found in PATH '{}'; install it or give an "
                              "absolute path",
                              spec_.argv[0], env["PATH"])};
  }
  JobCommand command;
  command.exe = *exe;
  command.argv = spec_.argv;
  command.env.reserve(env.size());
  for (const auto& [k, v] : env) command.env.push_back(fmt::format("{}={}", k, v));
  command.working_dir = spec_.working_dir;
  command.cgroups = spec_.cgroups;

  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int out[2], err[2];
  if (!devnull.valid() || ::pipe2(out, O_CLOEXEC) != 0) {
    return Launch{"internal", fmt::format("creating pipes: {}", strerror(errno))};
  }
  pipes_[0].Reset(out[0]);
  UniqueFd out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) {
    return Launch{"internal", fmt::format("creating pipes: {}", strerror(errno))};
  }
  pipes_[1].Reset(err[0]);
  UniqueFd err_w(err[1]);
  command.stdin_fd = devnull.get();
  command.stdout_fd = out_w.get();
  command.stderr_fd = err_w.get();

  JobStart started = SpawnJob(command);
  started_at_ = Now();
  started_mono_ = MonotonicMs();
  out_w.Reset();
  err_w.Reset();
  devnull.Reset();
  if (started.pid == 0) {
    const JobStartFailure& f = started.failure;
    std::string why = strerror(f.err);
    switch (f.step) {
      case JobStartFailure::kCgroup:
        return Launch{"internal", fmt::format("joining cgroup '{}': {}", f.detail, why)};
      case JobStartFailure::kChdir:
        return Launch{"invalid_argument",
                      fmt::format("working directory '{}' cannot be entered ({}); create it or "
                                  "change working_dir",
                                  f.detail, why)};
      case JobStartFailure::kExec:
        return Launch{"invalid_argument",
                      fmt::format("cannot execute '{}' ({}); check the command", f.detail, why)};
      default:
        return Launch{"internal", fmt::format("{}: {}", f.detail, why)};
    }
  }
  const pid_t pid = started.pid;
  job_pid_ = pid;
  pid_record_.job_pid = pid;
  pid_record_.started_at = started_at_;
  // The job's pid is a convenience (adoption checks the shim's pid and start time): appended to
  // the file, not a new one, and not fsynced.
  {
    UniqueFd fd(::open((dir_ + "/" + kShimPidFile).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd.valid() || !WriteAll(fd.get(), SerializeShimPidJob(pid_record_))) {
      Complain(fmt::format("recording the job's pid in {}: {}", kShimPidFile, strerror(errno)));
    }
  }
  Handshake(fmt::format("ok {}\n", pid));
  std::string cmd;
  for (const auto& a : spec_.argv) cmd += (cmd.empty() ? "" : " ") + a;
  LogTugboat(fmt::format("started process {}: {} ({})", pid, cmd, LimitsSummary()));
  if (watchdog_) next_sample_mono_ = started_mono_;
  return std::nullopt;
}

std::string Shim::LimitsSummary() const {
  std::string s;
  if (spec_.memory_bytes > 0) {
    s = fmt::format("memory limit {} by {}", FormatMemory(spec_.memory_bytes),
                    spec_.watchdog ? std::string("watchdog")
                                   : fmt::format("cgroup {}", ToString(spec_.cgroups.version)));
  } else {
    s = "no memory limit";
  }
  if (spec_.cpu_millis > 0) {
    bool enforced = !spec_.cgroups.cpu.empty() || !spec_.cgroups.unified.empty();
    s += fmt::format(", cpu limit {}{}", FormatCpu(spec_.cpu_millis),
                     enforced ? "" : " not enforced (no cpu cgroup)");
  }
  if (spec_.timeout_seconds > 0) {
    s += fmt::format(", timeout {}", FormatDuration(spec_.timeout_seconds));
  }
  return s;
}

int Shim::FailLaunch(const Launch& failure) {
  Complain("launch failed: " + failure.message);
  if (log_fd_.valid()) LogTugboat("launch failed: " + failure.message);
  ShimStatus st;
  st.reason = std::string(reason::kLaunchFailed);
  st.message = failure.message;
  st.started_at = Now();
  st.ended_at = st.started_at;
  Status written = WriteFileAtomic(dir_ + "/" + kStatusFile, SerializeStatus(st),
                                   spec_.sync ? Sync::kFile : Sync::kNone);
  Handshake(fmt::format("error {} {}\n", failure.code, failure.message));
  return written.ok() ? 0 : 1;
}

void Shim::Complain(std::string_view message) const {
  std::string line = FormatLogLine(Now(), dir_.substr(dir_.rfind('/') + 1), message);
  (void)WriteAll(2, line);
}

void Shim::Handshake(std::string_view line) {
  if (handshake_fd_ < 0) return;
  // The server may be gone (EPIPE, SIGPIPE ignored): the job runs on regardless.
  (void)WriteAll(handshake_fd_, line);
  ::close(handshake_fd_);
  handshake_fd_ = -1;
}

void Shim::WriteLog(const std::string& data) {
  if (data.empty() || !log_fd_.valid()) return;
  if (!WriteAll(log_fd_.get(), data)) {
    Complain(fmt::format("writing log '{}': {}", spec_.log_path, strerror(errno)));
  }
}

void Shim::LogTugboat(std::string_view text) {
  std::string line;
  for (char c : text) line.push_back(c == '\n' ? ' ' : c);
  WriteLog(FormatLogLine(Now(), "tugboat", line));
}

void Shim::ReadPipe(size_t index) {
  char buf[64 * 1024];
  ssize_t n = ::read(pipes_[index].get(), buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  std::string out;
  if (n <= 0) {
    splitters_[index].Flush(Now(), out);
    pipes_[index].Reset();
  } else {
    splitters_[index].Feed(std::string_view(buf, static_cast<size_t>(n)), Now(), out);
  }
  WriteLog(out);
}

void Shim::HandleSignals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGTERM || sig == SIGINT) {
      BeginStop(reason::kStopped, "stopped on request");
    }
    // SIGCHLD: reaped below for every wake-up anyway; SIGHUP: ignored (no terminal).
  }
  Reap();
}

bool Shim::Reap() {
  for (;;) {
    int status = 0;
    rusage ru{};
    pid_t pid = ::wait4(-1, &status, WNOHANG, &ru);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return pid == 0;  // 0: children remain; -1 (ECHILD): none left
    // Each reaped process's usage includes its own reaped descendants, so the sum over
    // everything we reap (the job and orphans re-parented to us) covers the whole tree.
    ru_cpu_micros_ += (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * kMicrosPerSecond +
                      ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    ru_maxrss_bytes_ = std::max<int64_t>(ru_maxrss_bytes_, ru.ru_maxrss * 1024);
    if (pid == job_pid_ && !wait_status_) {
      wait_status_ = status;
      exited_mono_ = MonotonicMs();
      KillLeftovers();
    }
  }
}

void Shim::BeginStop(std::string_view reason, std::string why) {
  if (wait_status_) return;  // the job has ended on its own; its real outcome stands
  if (!stop_reason_.empty()) {
    // A second stop request does not wait for the grace period.
    if (reason == reason::kStopped && !escalated_) {
      escalated_ = true;
      KillJob(SIGKILL);
      LogTugboat("second stop request: sent SIGKILL");
    }
    return;
  }
  stop_reason_ = std::string(reason);
  stop_why_ = std::move(why);
  KillJob(SIGTERM);
  kill_at_mono_ = MonotonicMs() + std::max<int64_t>(spec_.stop_grace_ms, 0);
  LogTugboat(
      fmt::format("{}: sent SIGTERM, SIGKILL follows in {} ms", stop_why_, spec_.stop_grace_ms));
}

void Shim::KillJob(int sig) {
  if (job_pid_ > 0) ::kill(-job_pid_, sig);
  SignalCgroup(spec_.cgroups, sig);
}

void Shim::KillLeftovers() {
  last_leftover_kill_ = MonotonicMs();
  KillJob(SIGKILL);
  // Orphans that left the process group (setsid) but were re-parented to us.
  pid_t self = ::getpid();
  auto children = ReadFile(fmt::format("/proc/{}/task/{}/children", self, self));
  if (!children.ok()) return;
  for (const std::string& w : SplitWords(*children)) {
    int pid = std::atoi(w.c_str());
    if (pid > 0) ::kill(pid, SIGKILL);
  }
}

void Shim::Loop() {
  for (;;) {
    int64_t now = MonotonicMs();
    bool pipes_open = pipes_[0].valid() || pipes_[1].valid();
    if (wait_status_ && (!pipes_open || now - exited_mono_ >= kDrainMs)) break;

    // Timers: deadline, SIGKILL escalation, watchdog sample, leftover kills while draining.
    int64_t wake = -1;
    auto at = [&](int64_t t) { wake = wake < 0 ? t : std::min(wake, t); };
    if (!wait_status_) {
      if (spec_.timeout_seconds > 0 && stop_reason_.empty()) {
        int64_t deadline = started_mono_ + spec_.timeout_seconds * 1000;
        if (now >= deadline) {
          BeginStop(reason::kDeadlineExceeded,
                    fmt::format("deadline of {} exceeded", FormatDuration(spec_.timeout_seconds)));
          continue;
        }
        at(deadline);
      }
      if (kill_at_mono_ > 0 && !escalated_) {
        if (now >= kill_at_mono_) {
          escalated_ = true;
          KillJob(SIGKILL);
          LogTugboat(fmt::format("still running after {} ms: sent SIGKILL", spec_.stop_grace_ms));
          continue;
        }
        at(kill_at_mono_);
      }
      if (watchdog_ && !watchdog_killed_) {
        if (now >= next_sample_mono_) {
          if (watchdog_->Check(::getpid(), job_pid_)) {
            watchdog_killed_ = true;
            KillJob(SIGKILL);
          }
          next_sample_mono_ = now + kWatchdogIntervalMs;
          continue;
        }
        at(next_sample_mono_);
      }
    } else {
      if (now - last_leftover_kill_ >= kLeftoverKillIntervalMs) KillLeftovers();
      at(std::min(exited_mono_ + kDrainMs, last_leftover_kill_ + kLeftoverKillIntervalMs));
    }

    pollfd fds[3];
    size_t nfds = 0;
    size_t pipe_slot[2] = {3, 3};
    fds[nfds++] = pollfd{signal_fd_.get(), POLLIN, 0};
    for (size_t i = 0; i < 2; ++i) {
      if (!pipes_[i].valid()) continue;
      pipe_slot[i] = nfds;
      fds[nfds++] = pollfd{pipes_[i].get(), POLLIN, 0};
    }
    int timeout = wake < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, wake - now));
    int ready = ::poll(fds, nfds, timeout);
    if (ready < 0 && errno != EINTR) {
      Complain(fmt::format("poll: {}", strerror(errno)));
      break;
    }
    if (ready <= 0) continue;
    if (fds[0].revents != 0) HandleSignals();
    for (size_t i = 0; i < 2; ++i) {
      if (pipe_slot[i] < nfds && fds[pipe_slot[i]].revents != 0) ReadPipe(i);
    }
  }
  // Anything still pending is flushed; a process that kept a pipe open past the drain loses
  // the rest of its output.
  for (size_t i = 0; i < 2; ++i) {
    std::string out;
    splitters_[i].Flush(Now(), out);
    WriteLog(out);
    pipes_[i].Reset();
  }
}

// Waits (bounded) until every process of the job is gone: all of them are our descendants and,
// as subreaper, we inherit the orphans, so "no children left" means nothing of the job runs.
void Shim::ReapAll() {
  int64_t until = MonotonicMs() + kDrainMs;
  // No child left: nothing of the job runs (the leftovers were killed when the job exited), so
  // the groups need not be read again.
  if (!Reap()) return;
  KillLeftovers();
  while (Reap()) {
    int64_t left = until - MonotonicMs();
    if (left <= 0) {
      Complain(fmt::format("processes of the job survived SIGKILL for {} ms", kDrainMs));
      return;
    }
    pollfd p{signal_fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, kLeftoverKillIntervalMs))) == 0) {
      KillLeftovers();
    }
    signalfd_siginfo info{};
    while (::read(signal_fd_.get(), &info, sizeof info) > 0) {
    }
  }
}

int Shim::Finish() {
  ReapAll();
  CgroupUsage usage = ReadCgroupUsage(spec_.cgroups);
  ShimStatus st;
  st.started_at = started_at_;
  st.ended_at = Now();
  JobEnd end;
  end.wait_status = wait_status_;
  end.oom_kills = usage.oom_kills;
  end.watchdog_killed = watchdog_killed_;
  end.watchdog_resident_bytes = watchdog_ ? watchdog_->last_bytes() : 0;
  end.watchdog_interval_ms = kWatchdogIntervalMs;
  end.stop_reason = stop_reason_;
  end.stop_why = stop_why_;
  end.escalated = escalated_;
  end.stop_grace_ms = spec_.stop_grace_ms;
  end.memory_limit_bytes = spec_.memory_bytes;
  Outcome outcome = DecideOutcome(end);
  st.exit_code = outcome.exit_code;
  st.reason = outcome.reason;
  st.message = outcome.message;
  // ru_maxrss also counts what a process held before exec (a copy of the shim), so it only
  // serves as a hint that a job may have gone over between two samples.
  if (watchdog_ && !watchdog_killed_ && spec_.memory_bytes > 0 &&
      ru_maxrss_bytes_ > spec_.memory_bytes) {
    LogTugboat(
        fmt::format("warning: a process of the job may have gone over the memory limit "
                    "{} between watchdog samples (max resident {})",
                    FormatMemory(spec_.memory_bytes), FormatMemory(ru_maxrss_bytes_)));
  }
  if (usage.peak_bytes) {
    st.peak_memory_bytes = *usage.peak_bytes;
  } else if (watchdog_) {
    st.peak_memory_bytes = watchdog_->peak_bytes();
  } else {
    st.peak_memory_bytes = ru_maxrss_bytes_;
  }
  st.cpu_micros = usage.cpu_micros.value_or(ru_cpu_micros_);
  // The last log line goes out before status.json: once the end is reported the log is whole.
  LogTugboat(st.message);
  if (Status w = WriteFileAtomic(dir_ + "/" + kStatusFile, SerializeStatus(st),
                                 spec_.sync ? Sync::kFile : Sync::kNone);
      !w.ok()) {
    Complain(w.error().ToString());
    return 1;
  }
  return 0;
}

}  // namespace

int TakeFdFromEnv(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr) return -1;
  int fd = std::atoi(text);
  ::unsetenv(name);
  return fd > 2 ? fd : -1;
}

int RunShim(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[argc - 1], kLauncherArg) == 0) return RunLauncher(argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ATTEMPT_DIR (started by the local engine of tug server)\n",
                 argc > 0 ? argv[0] : "tug-shim");
    return 2;
  }
  Shim shim(argv[argc - 1]);
  return shim.Main();
}

}  // namespace tug::engine::local
