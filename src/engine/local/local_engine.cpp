#include "engine/local/local_engine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "core/thread_name.h"
#include "engine/local/local_internal.h"
#include "engine/local/usage_sampler.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace fs = std::filesystem;

namespace tug::engine::local {

namespace internal {

Status ValidateAttemptId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 200 && id.front() != '.' && id.front() != '-';
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return InvalidArgument(
        fmt::format("attempt id '{}' is not valid; use letters, digits, '-', '_' and '.'", id));
  }
  return OkStatus();
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Reaps `pidfd`'s process if it is a child of this process (a shim this process spawned);
// harmless (ECHILD) otherwise.
void ReapIfChild(int pidfd) {
  siginfo_t info{};
  ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
}

Update Started(const std::string& attempt_id, Micros at, const ShimPid& shim) {
  Update u;
  u.kind = Update::Kind::kStarted;
  u.attempt_id = attempt_id;
  u.at = at;
  u.message = shim.job_pid > 0 ? fmt::format("process {} under shim {}", shim.job_pid, shim.pid)
                               : fmt::format("shim {}", shim.pid);
  return u;
}

Update Ended(const std::string& attempt_id, const ShimStatus& st) {
  Update u;
  u.kind = Update::Kind::kEnded;
  u.attempt_id = attempt_id;
  u.at = st.ended_at;
  u.message = st.message;
  u.status = StatusForReason(st.reason);
  u.outcome = Outcome{st.exit_code, st.reason, st.message};
  u.peak_memory_bytes = st.peak_memory_bytes;
  u.cpu_micros = st.cpu_micros;
  return u;
}

Error Gone(const std::string& attempt_id) {
  return NotFound(
      fmt::format("process of attempt '{}' is gone and left no exit status", attempt_id));
}

Result<ShimStatus> ReadStatus(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/" + kStatusFile));
  return ParseStatus(text);
}

Result<ShimPid> ReadShimPid(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/" + kShimPidFile));
  return ParseShimPid(text);
}

// A pidfd for the shim recorded in `shim`, if that very process is still alive. A zombie child
// of ours is reaped on the way (it ended; its status.json tells the rest).
UniqueFd OpenLiveShim(const ShimPid& shim) {
  UniqueFd pidfd(PidfdOpen(shim.pid));
  if (!pidfd.valid()) return {};
  // Checked after opening: the pidfd pins one process, and its start time proves it is ours
  // and not a later process that reused the pid.
  auto st = ReadProcStat(shim.pid);
  if (!st.ok() || st->start_ticks != shim.start_ticks) return {};
  if (st->state == 'Z' || st->state == 'X') {
    ReapIfChild(pidfd.get());
    return {};
  }
  return pidfd;
}

}  // namespace internal

using namespace internal;  // NOLINT(google-build-using-namespace): this engine's own helpers

Result<std::unique_ptr<LocalEngine>> LocalEngine::Create(LocalEngineOptions options,
                                                         logs::LogStore& logs, const Clock& clock) {
  if (options.state_dir.empty()) {
    return InvalidArgument("local engine: state_dir is empty; set a directory for attempt state");
  }
  if (options.shim_command.empty()) {
    return InvalidArgument("local engine: shim_command is empty; leave it at its default");
  }
  std::error_code ec;
  options.state_dir = fs::absolute(options.state_dir, ec).lexically_normal().string();
  while (options.state_dir.size() > 1 && options.state_dir.back() == '/') {
    options.state_dir.pop_back();
  }
  fs::create_directories(options.state_dir, ec);
  if (ec) {
    return Internal(
        fmt::format("creating the local engine state directory '{}'", options.state_dir),
        ec.message());
  }
  ASSIGN_OR_RETURN(CgroupLayout layout, DetectCgroups(options.cgroup_mode));
  const int64_t boot = options.boot_time > 0 ? options.boot_time : BootTime().value_or(0);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return ErrnoError("creating the local engine's eventfd", errno);
  std::unique_ptr<LocalEngine> engine(
      new LocalEngine(std::move(options), logs, clock, std::move(layout), std::move(wake), boot));
  engine->monitor_ = std::thread([e = engine.get()] {
    SetThreadName("tug-local-mon");
    e->MonitorLoop();
  });
  (void)engine->Launcher();  // a failure here is retried by the first launch
  return engine;
}

LocalEngine::LocalEngine(LocalEngineOptions options, logs::LogStore& logs, const Clock& clock,
                         CgroupLayout layout, UniqueFd wake_fd, int64_t boot_time)
    : options_(std::move(options)),
      logs_(logs),
      clock_(clock),
      layout_(std::move(layout)),
      boot_time_(boot_time),
      wake_fd_(std::move(wake_fd)) {}

LocalEngine::~LocalEngine() { Shutdown(); }

std::string LocalEngine::AttemptDir(const std::string& attempt_id) const {
  return options_.state_dir + "/" + attempt_id;
}

void LocalEngine::SetSink(UpdateSink sink) {
  std::lock_guard lock(mu_);
  sink_ = std::move(sink);
}

Status LocalEngine::StartWatching(const std::string& attempt_id, const std::string& dir,
                                  const ShimPid& shim) {
  UniqueFd pidfd = OpenLiveShim(shim);
  if (!pidfd.valid()) return Gone(attempt_id);
  std::lock_guard lock(mu_);
  if (shutdown_) return Unavailable("the local engine is shut down");
  if (watches_.count(attempt_id) > 0) return OkStatus();
  watches_[attempt_id] = Watch{shim.pid, std::move(pidfd), dir, shim.job_pid, shim.started_at};
  ended_.erase(attempt_id);
  pending_.push_back(
      Started(attempt_id, shim.started_at != 0 ? shim.started_at : clock_.Now(), shim));
  Wake();
  return OkStatus();
}

Status LocalEngine::AttachExisting(const std::string& attempt_id, const std::string& dir) {
  // Order matters: a shim writes status.json before it exits, so "not alive" followed by "no
  // status.json" means it died without one.
  ShimPid shim;
  if (auto recorded = ReadShimPid(dir); recorded.ok()) {
    shim = *recorded;
    if (StartWatching(attempt_id, dir, shim).ok()) return OkStatus();
  }
  auto status = ReadStatus(dir);
  if (status.ok()) {
    Queue(
        Started(attempt_id, status->started_at != 0 ? status->started_at : status->ended_at, shim));
    QueueEnded(attempt_id, *status);
    return OkStatus();
  }
  if (status.error().code() != Code::kNotFound) return std::move(status).take_error();
  return Gone(attempt_id);
}

Status LocalEngine::Adopt(const std::string& attempt_id, const std::string& engine_ref) {
  (void)engine_ref;  // the state directory is the truth; the ref only mirrors shim.pid
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return Unavailable("the local engine is shut down");
  }
  RETURN_IF_ERROR(ValidateAttemptId(attempt_id));
  std::string dir = AttemptDir(attempt_id);
  if (!IsDir(dir)) {
    return NotFound(fmt::format(
        "attempt '{}' has no state in '{}'; it was never launched here or was cleaned up",
        attempt_id, dir));
  }
  {
    std::lock_guard lock(mu_);
    if (watches_.count(attempt_id) > 0) return OkStatus();
  }
  return AttachExisting(attempt_id, dir);
}

Status LocalEngine::Stop(const std::string& attempt_id) {
  RETURN_IF_ERROR(ValidateAttemptId(attempt_id));
  {
    std::lock_guard lock(mu_);
    auto it = watches_.find(attempt_id);
    if (it != watches_.end()) {
      // The shim turns SIGTERM into: SIGTERM to the job, grace, SIGKILL, reason Stopped.
      if (PidfdSendSignal(it->second.pidfd.get(), SIGTERM) != 0 && errno != ESRCH) {
        return ErrnoError(fmt::format("signalling the shim of attempt '{}'", attempt_id), errno);
      }
      return OkStatus();
    }
  }
  std::string dir = AttemptDir(attempt_id);
  if (!IsDir(dir)) {
    return NotFound(fmt::format("attempt '{}' is not known to the local engine", attempt_id));
  }
  if (FileExists(dir + "/" + kStatusFile)) return OkStatus();  // already ended
  auto shim = ReadShimPid(dir);
  if (!shim.ok()) return Gone(attempt_id);
  UniqueFd pidfd = OpenLiveShim(*shim);
  if (!pidfd.valid()) {
    if (FileExists(dir + "/" + kStatusFile)) return OkStatus();
    return Gone(attempt_id);
  }
  if (PidfdSendSignal(pidfd.get(), SIGTERM) != 0 && errno != ESRCH) {
    return ErrnoError(fmt::format("signalling the shim of attempt '{}'", attempt_id), errno);
  }
  return OkStatus();
}

std::vector<std::string> LocalEngine::Active() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, w] : watches_) out.push_back(id);
  // Ended, with the end sent (or on its way) to the sink, and not cleaned up yet: still in hand.
  // Left out, a sweep that runs while the sink records a burst of ends would take them for
  // attempts nobody handles and adopt them again.
  for (const std::string& id : ended_) {
    if (watches_.count(id) == 0) out.push_back(id);
  }
  return out;
}

Status LocalEngine::Cleanup(const std::string& attempt_id) {
  RETURN_IF_ERROR(ValidateAttemptId(attempt_id));
  auto still_running = [&] {
    return FailedPrecondition(fmt::format(
        "attempt '{}' is still running; stop it and wait for its end before cleaning up",
        attempt_id));
  };
  {
    std::lock_guard lock(mu_);
    if (watches_.count(attempt_id) > 0) return still_running();
  }
  std::string dir = AttemptDir(attempt_id);
  if (!IsDir(dir)) return OkStatus();
  if (auto shim = ReadShimPid(dir); shim.ok() && OpenLiveShim(*shim).valid()) {
    return still_running();
  }
  AttemptCgroups groups;
  if (auto text = ReadFile(dir + "/" + kSpecFile); text.ok()) {
    if (auto spec = ParseSpec(*text); spec.ok()) groups = spec->cgroups;
  }
  // The attempt has ended, so anything still in its groups is a leftover. The groups are
  // nearly always empty (the shim killed what was left), so they are removed first; only a
  // group still busy is read, its processes killed, and the kernel given a moment to let them
  // go.
  Status removed = RemoveAttemptCgroups(groups);
  for (int i = 0; i < 200 && !removed.ok() && removed.error().code() == Code::kFailedPrecondition;
       ++i) {
    SignalCgroup(groups, SIGKILL);
    ::usleep(10'000);
    removed = RemoveAttemptCgroups(groups);
  }
  RETURN_IF_ERROR(removed);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Internal(fmt::format("removing attempt state '{}'", dir), ec.message());
  std::lock_guard lock(mu_);
  ended_.erase(attempt_id);
  return OkStatus();
}

Health LocalEngine::GetHealth() const {
  Health h;
  {
    std::lock_guard lock(mu_);
    h.ready = !shutdown_;
  }
  if (layout_.version == CgroupVersion::kNone) {
    h.degraded = true;
    h.message =
        "memory limits enforced by a watchdog: no writable cgroup; cpu limits not "
        "enforced";
    if (!layout_.note.empty()) h.message += " (" + layout_.note + ")";
  } else if (!layout_.cpu_limits) {
    h.degraded = true;
    h.message = fmt::format(
        "memory limits by cgroup {}; cpu limits not enforced: no writable "
        "cpu controller",
        ToString(layout_.version));
  } else {
    h.message = fmt::format("limits by cgroup {}", ToString(layout_.version));
  }
  return h;
}

void LocalEngine::Shutdown() {
  std::lock_guard serial(shutdown_mu_);
  {
    std::lock_guard lock(mu_);
    if (shutdown_ && !monitor_.joinable()) return;
    shutdown_ = true;
    Wake();
  }
  if (monitor_.joinable()) {
    // Called from the sink (the monitor thread itself): it exits at its next turn.
    if (monitor_.get_id() == std::this_thread::get_id()) {
      monitor_.detach();
    } else {
      monitor_.join();
    }
  }
  {
    // The launcher exits once the last in-flight launch has let go of it; its shims run on.
    std::lock_guard lock(launcher_mu_);
    launcher_.reset();
  }
  std::lock_guard lock(mu_);
  watches_.clear();  // closes the pidfds; the shims and jobs run on
  pending_.clear();
}

void LocalEngine::QueueEnded(const std::string& attempt_id, const ShimStatus& status) {
  std::lock_guard lock(mu_);
  ended_.insert(attempt_id);
  pending_.push_back(Ended(attempt_id, status));
  Wake();
}

void LocalEngine::Queue(Update update) {
  std::lock_guard lock(mu_);
  pending_.push_back(std::move(update));
  Wake();
}

void LocalEngine::Wake() {
  uint64_t one = 1;
  // EAGAIN only if the counter is saturated, which still wakes the monitor.
  ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  (void)n;
}

Update LocalEngine::EndOf(const std::string& attempt_id, const std::string& dir,
                          int shim_pid) const {
  auto status = ReadStatus(dir);
  if (status.ok()) return Ended(attempt_id, *status);
  ShimStatus lost;
  lost.reason = std::string(reason::kLost);
  lost.message = fmt::format(
      "the shim of attempt '{}' (pid {}) ended without writing an exit status ({}); the job "
      "may have been killed with it; see its lines in {}/{}",
      attempt_id, shim_pid, status.error().message(), options_.state_dir, kShimLogFile);
  lost.ended_at = clock_.Now();
  Update u = Ended(attempt_id, lost);
  u.status = AttemptStatus::kLost;
  return u;
}

void LocalEngine::MonitorLoop() {
  UsageSampler sampler(clock_, layout_.cpu_limits);
  UsageTicker ticker(options_.usage_interval_ms * kMicrosPerMilli);
  for (;;) {
    std::vector<Update> deliver;
    UpdateSink sink;
    std::vector<pollfd> fds;
    std::vector<std::string> ids;
    std::vector<UsageTarget> sample;
    const Micros mono = MonotonicMicros();
    {
      std::lock_guard lock(mu_);
      if (shutdown_) return;
      deliver.swap(pending_);
      sink = sink_;
      fds.push_back(pollfd{wake_fd_.get(), POLLIN, 0});
      const bool due = ticker.Due(!watches_.empty(), mono);
      for (const auto& [id, w] : watches_) {
        fds.push_back(pollfd{w.pidfd.get(), POLLIN, 0});
        ids.push_back(id);
        // Chosen with the pending swap: its kStarted goes out first (now or earlier), and its
        // kEnded can only come later, from this thread.
        if (due) sample.push_back(UsageTarget{id, w.dir, w.job_pid, w.started_at});
      }
    }
    // Queued updates (kStarted, ends found at adopt) go out before any end seen below, so an
    // attempt's kStarted always precedes its kEnded.
    for (const Update& u : deliver) {
      if (sink) sink(u);
    }
    for (const Update& u : sample.empty() ? std::vector<Update>() : sampler.Sample(sample, mono)) {
      if (sink) sink(u);
    }
    int ready = ::poll(fds.data(), fds.size(), ticker.TimeoutMs(MonotonicMicros()));
    if (ready <= 0) continue;
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
      (void)n;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const std::string& id = ids[i - 1];
      Watch w;
      {
        std::lock_guard lock(mu_);
        if (shutdown_) return;
        auto it = watches_.find(id);
        if (it == watches_.end() || it->second.pidfd.get() != fds[i].fd) continue;
        w = std::move(it->second);
        watches_.erase(it);
      }
      ReapIfChild(w.pidfd.get());
      Update u = EndOf(id, w.dir, w.shim_pid);
      {
        std::lock_guard lock(mu_);
        ended_.insert(id);
      }
      if (sink) sink(u);
    }
  }
}

}  // namespace tug::engine::local
