// LocalEngine::Launch and its parts: attempts of different ids launch in parallel; see Launch
// for how launches of one attempt are ordered.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "engine/local/local_engine.h"
#include "engine/local/local_internal.h"
#include "engine/local/shim_spawn.h"

namespace fs = std::filesystem;

namespace tug::engine::local {

using namespace internal;  // NOLINT(google-build-using-namespace): this engine's own helpers

namespace {

int64_t MonotonicMillis() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Empties an attempt directory, keeping the directory itself (its flock is held).
Status ClearDir(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    fs::remove_all(entry.path(), ec);
    if (ec) break;
  }
  if (ec) return Internal(fmt::format("removing stale attempt state in '{}'", dir), ec.message());
  return OkStatus();
}

}  // namespace

Result<std::string> LocalEngine::Launch(const LaunchSpec& spec) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return Unavailable("the local engine is shut down");
  }
  RETURN_IF_ERROR(ValidateAttemptId(spec.attempt_id));
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return InvalidArgument(
        fmt::format("attempt '{}' has no command; give a command or args", spec.attempt_id));
  }
  const std::string dir = AttemptDir(spec.attempt_id);
  // Launches of different attempts share nothing and overlap. Launches of one attempt (a
  // retried claim, a take-over, another server on the same state directory) are ordered by an
  // flock on the attempt's directory, which the winner hands to its shim for the shim's life:
  //   lock free, shim.pid or status.json present  -> launched before: report that launch
  //   lock free, neither                          -> no job was ever started: start (over)
  //   lock held                                   -> a launch or its shim is on it: wait for
  //                                                  shim.pid, then report that launch
  const int64_t give_up = MonotonicMillis() + options_.handshake_timeout_ms;
  for (;;) {
    const bool created = ::mkdir(dir.c_str(), 0755) == 0;
    if (!created && errno != EEXIST) {
      return ErrnoError(fmt::format("creating attempt state '{}'", dir), errno);
    }
    UniqueFd lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock.valid()) {
      if (errno == ENOENT) continue;  // cleaned up between mkdir and open: try again
      return ErrnoError(fmt::format("opening attempt state '{}'", dir), errno);
    }
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) {
      // The directory locked must still be the one at the path (a failed launch removes its
      // directory while holding the lock).
      struct stat locked {};
      struct stat current {};
      if (::fstat(lock.get(), &locked) != 0 || ::stat(dir.c_str(), &current) != 0 ||
          locked.st_ino != current.st_ino || locked.st_dev != current.st_dev) {
        continue;
      }
      if (!created) {
        // Launched before (or, from before this machine last booted, possibly launched: its
        // records may not have outlived the crash): report that launch, never start another.
        if (FileExists(dir + "/" + kShimPidFile) || FileExists(dir + "/" + kStatusFile) ||
            (boot_time_ > 0 && locked.st_ctim.tv_sec < boot_time_)) {
          return LaunchExisting(spec.attempt_id, dir);
        }
        // An earlier launch on this boot died before its shim recorded itself, and the shim
        // writes shim.pid before it forks the job: nothing ever ran for this attempt. Start over.
        RETURN_IF_ERROR(ClearDir(dir));
      }
      return LaunchFresh(spec, dir, std::move(lock));
    }
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return ErrnoError(fmt::format("locking attempt state '{}'", dir), errno);
    }
    if (FileExists(dir + "/" + kShimPidFile)) return LaunchExisting(spec.attempt_id, dir);
    if (MonotonicMillis() >= give_up) {
      return Unavailable(fmt::format(
          "attempt '{}' is being launched by another caller that did not finish within {} ms",
          spec.attempt_id, options_.handshake_timeout_ms));
    }
    ::usleep(1000);
  }
}

Status LocalEngine::CheckRunnable(const LaunchSpec& spec, const std::string& working_dir) const {
  for (const auto& [name, secret] : spec.secret_env) {
    if (secret.from_secret()) {
      return FailedPrecondition(fmt::format(
          "env '{}' comes from the Kubernetes Secret '{}', which the local engine cannot read; "
          "give it an inline value ({{secret: true, value: ...}}) or run on kubernetes",
          name, secret.secret_name));
    }
  }
  if (!working_dir.empty() && !IsDir(working_dir)) {
    return InvalidArgument(fmt::format(
        "working directory '{}' does not exist or is not a directory; create it or change "
        "working_dir",
        working_dir));
  }
  const std::string& cmd = spec.argv[0];
  if (cmd.find('/') != std::string::npos) {
    std::string path = cmd[0] == '/' || working_dir.empty() ? cmd : working_dir + "/" + cmd;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        ::access(path.c_str(), X_OK) != 0) {
      return InvalidArgument(fmt::format(
          "command '{}' is not an executable file; check the path and its permissions", cmd));
    }
    return OkStatus();
  }
  auto it = spec.env.find("PATH");
  std::string path = it != spec.env.end() ? it->second : kDefaultJobPath;
  if (!FindExecutable(cmd, path)) {
    return InvalidArgument(fmt::format(
        "command '{}' was not found in PATH '{}'; install it or give an absolute path", cmd, path));
  }
  return OkStatus();
}

Result<std::string> LocalEngine::LaunchFresh(const LaunchSpec& spec, const std::string& dir,
                                             UniqueFd lock) {
  std::string working_dir =
      !spec.working_dir.empty() ? spec.working_dir : options_.default_working_dir;
  // A spec that cannot run leaves nothing behind (the directory goes while still locked).
  auto refuse = [&](Error e) -> Result<std::string> {
    std::error_code ec;
    fs::remove_all(dir, ec);
    return e;
  };
  if (Status st = CheckRunnable(spec, working_dir); !st.ok()) {
    return refuse(std::move(st).take_error());
  }
  auto log = logs_.PathFor(spec.run_id, spec.attempt_id, "main");
  if (!log.ok()) return refuse(std::move(log).take_error());
  const std::string log_path = *log;
  AttemptCgroups groups;
  auto fail = [&](Error e) -> Result<std::string> {
    (void)RemoveAttemptCgroups(groups);
    std::error_code ec;
    fs::remove_all(dir, ec);
    return std::move(e).WithContext(fmt::format("launching attempt '{}'", spec.attempt_id));
  };
  if (working_dir.empty()) {
    working_dir = dir + "/" + kWorkDir;
    if (::mkdir(working_dir.c_str(), 0755) != 0) {
      return fail(ErrnoError(fmt::format("creating '{}'", working_dir), errno));
    }
  }
  auto created = CreateAttemptCgroups(layout_, spec.attempt_id, spec.resources);
  if (!created.ok()) return fail(std::move(created).take_error());
  groups = std::move(*created);

  ShimSpec shim_spec;
  shim_spec.attempt_id = spec.attempt_id;
  shim_spec.run_id = spec.run_id;
  shim_spec.argv = spec.argv;
  shim_spec.env = spec.env;
  // Secrets reach the job through its environment (and the shim's spec file in the attempt's
  // private state directory), nowhere else.
  for (const auto& [name, secret] : spec.secret_env) shim_spec.env[name] = secret.value;
  // Who am I, for the job: its run, this attempt and its number (1 for the first try).
  shim_spec.env["TUG_RUN_ID"] = spec.run_id;
  shim_spec.env["TUG_ATTEMPT_ID"] = spec.attempt_id;
  shim_spec.env["TUG_ATTEMPT"] = std::to_string(spec.attempt_number);
  shim_spec.working_dir = working_dir;
  shim_spec.log_path = log_path;
  shim_spec.memory_bytes = spec.resources.memory_bytes;
  shim_spec.cpu_millis = spec.resources.cpu_millis;
  shim_spec.timeout_seconds = spec.timeout_seconds;
  shim_spec.stop_grace_ms = options_.stop_grace_ms;
  shim_spec.watchdog = layout_.version == CgroupVersion::kNone;
  shim_spec.sync = options_.sync_files;
  shim_spec.cgroups = groups;
  // Read by the shim right away and by Cleanup (cgroup paths): a process crash never loses it,
  // and after a machine crash nothing it describes is left, so no fsync.
  if (Status st = WriteFileAtomic(dir + "/" + kSpecFile, SerializeSpec(shim_spec), Sync::kNone);
      !st.ok()) {
    return fail(std::move(st).take_error());
  }

  auto spawned = SpawnAttemptShim(dir, lock.get());
  if (!spawned.ok()) return fail(std::move(spawned).take_error());

  // The shim wrote shim.pid (with the job) before answering the handshake.
  ShimPid shim;
  if (auto recorded = ReadShimPid(dir); recorded.ok()) {
    shim = *recorded;
  } else {
    shim.pid = spawned->pid;
    shim.job_pid = spawned->job_pid;
    if (auto st = ReadProcStat(spawned->pid); st.ok()) shim.start_ticks = st->start_ticks;
  }
  EngineRef ref{shim.pid, shim.start_ticks, spawned->job_pid, dir};
  std::string ref_text = SerializeRef(ref);
  Status attached = StartWatching(spec.attempt_id, dir, shim);
  if (!attached.ok()) {
    // The shim is already gone (a very short job): report what it left.
    if (!AttachExisting(spec.attempt_id, dir).ok()) {
      ShimStatus lost;
      lost.reason = std::string(reason::kLost);
      lost.message = Gone(spec.attempt_id).message();
      lost.ended_at = clock_.Now();
      Queue(Started(spec.attempt_id, shim.started_at, shim));
      QueueEnded(spec.attempt_id, lost);
    }
  }
  return ref_text;
}

std::shared_ptr<ShimLauncher> LocalEngine::Launcher() {
  if (!options_.use_launcher) return nullptr;
  std::lock_guard lock(launcher_mu_);
  if (launcher_ == nullptr || !launcher_->alive()) {
    launcher_.reset();
    auto started = ShimLauncher::Start(options_.shim_command, options_.state_dir);
    // Without one (it could not be started), this launch spawns its shim directly and the
    // next one tries again.
    if (started.ok()) launcher_ = std::move(*started);
  }
  return launcher_;
}

Result<SpawnedShim> LocalEngine::SpawnAttemptShim(const std::string& dir, int lock_fd) {
  if (std::shared_ptr<ShimLauncher> launcher = Launcher(); launcher != nullptr) {
    auto spawned = launcher->Spawn(dir, lock_fd, options_.handshake_timeout_ms);
    if (spawned.ok() || spawned.error().code() != Code::kAborted) return spawned;
    // The launcher died before a shim started for this attempt: spawn it the direct way.
  }
  return SpawnShim(options_.shim_command, dir, lock_fd, options_.handshake_timeout_ms);
}

Result<std::string> LocalEngine::LaunchExisting(const std::string& attempt_id,
                                                const std::string& dir) {
  // The ref is derived from shim.pid, which holds the same facts (no file of its own: every
  // file per attempt costs a launch an inode).
  EngineRef ref;
  ref.dir = dir;
  if (auto shim = ReadShimPid(dir); shim.ok()) {
    ref = EngineRef{shim->pid, shim->start_ticks, shim->job_pid, dir};
  }
  const std::string ref_text = SerializeRef(ref);
  bool known = false;
  {
    std::lock_guard lock(mu_);
    known = watches_.count(attempt_id) > 0 || ended_.count(attempt_id) > 0;
  }
  // Launched by an earlier server process: watch it (or report its end) as Adopt would, so the
  // caller that lost the first answer still hears how the attempt goes.
  if (!known && !AttachExisting(attempt_id, dir).ok()) {
    ShimStatus lost;
    lost.reason = std::string(reason::kLost);
    lost.message = Gone(attempt_id).message();
    lost.ended_at = clock_.Now();
    QueueEnded(attempt_id, lost);
  }
  return ref_text;
}

}  // namespace tug::engine::local
