#pragma once
/// LocalEngine: runs attempts as processes on this host. Each attempt runs under its own shim
/// process (shim.h) that outlives the server, so a restarted server adopts running attempts and
/// learns the true outcome of those that ended meanwhile. Limits come from cgroups (v2, else v1);
/// without a writable cgroup a watchdog in the shim enforces memory and GetHealth() says so.
///
/// Lifecycle: Create, SetSink, then Launch/Adopt/Stop/Cleanup from any thread; Shutdown (or the
/// destructor) stops the monitor thread but never the jobs.
/// Threading: all methods are thread-safe. One monitor thread waits on a pidfd per shim, samples
/// the running attempts' usage every usage_interval_ms (only while any runs) and calls the sink,
/// never while holding the engine's mutex.
///
/// Launch errors that the spec causes (missing working directory, command not found or not
/// executable) come back from Launch as kInvalidArgument and leave nothing behind; the attempt
/// is not reported as ended. See README.md.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "engine/engine.h"
#include "engine/local/cgroup.h"
#include "engine/local/proc.h"
#include "engine/local/shim_spawn.h"
#include "engine/local/state_files.h"
#include "logs/log_store.h"

namespace tug::engine::local {

struct LocalEngineOptions {
  /// Attempt state directories live here (<state_dir>/<attempt id>/); created if missing.
  std::string state_dir;
  /// The shim is started as shim_command + [attempt dir]: `tug-shim` in production (see
  /// DefaultShimCommand), or a binary that runs RunShim for `__shim` (the server's own, tests).
  std::vector<std::string> shim_command = {"/proc/self/exe", "__shim"};
  /// auto | v2 | v1 | none (none: memory watchdog, no cpu limits).
  std::string cgroup_mode = "auto";
  /// SIGTERM to SIGKILL on stop and deadline.
  int64_t stop_grace_ms = 5000;
  /// Working directory for specs without one; empty: a "work" directory in the attempt's state.
  std::string default_working_dir;
  /// fsync each attempt's launch record (shim.pid, before the job starts) and its status.json,
  /// so a power loss can neither start an attempt twice nor lose how it ended. Without it (the
  /// default, like the store's synchronous=normal) both survive any process crash, and after a
  /// machine crash an attempt whose launch record was lost is reported LOST, never restarted.
  bool sync_files = false;
  /// When this machine booted (seconds since the epoch); 0: read /proc/stat. Attempt state from
  /// before it was left by a machine crash.
  int64_t boot_time = 0;
  /// Start shims through a long-lived launcher process that forks them (`<shim_command>
  /// --launcher`, shim/launcher.h) instead of exec'ing shim_command per launch; if the launcher
  /// cannot be started or dies, launches spawn shims directly.
  bool use_launcher = true;
  /// How long Launch waits for the shim to report the job started.
  int64_t handshake_timeout_ms = 10000;
  /// How often each running attempt's usage is sampled and sent as kUsage (usage_sampler.h);
  /// 0: never.
  int64_t usage_interval_ms = 2000;
};

class LocalEngine final : public Engine {
 public:
  /// Errors: kInvalidArgument (options), kFailedPrecondition (explicit cgroup mode unusable),
  /// kInternal (state directory, eventfd).
  [[nodiscard]] static Result<std::unique_ptr<LocalEngine>> Create(LocalEngineOptions options,
                                                                   logs::LogStore& logs,
                                                                   const Clock& clock);
  ~LocalEngine() override;
  LocalEngine(const LocalEngine&) = delete;
  LocalEngine& operator=(const LocalEngine&) = delete;

  std::string Name() const override { return "local"; }
  bool HostBound() const override { return true; }
  void SetSink(UpdateSink sink) override;
  [[nodiscard]] Result<std::string> Launch(const LaunchSpec& spec) override;
  [[nodiscard]] Status Adopt(const std::string& attempt_id, const std::string& engine_ref) override;
  [[nodiscard]] Status Stop(const std::string& attempt_id) override;
  std::vector<std::string> Active() const override;
  [[nodiscard]] Status Cleanup(const std::string& attempt_id) override;
  Health GetHealth() const override;
  void Shutdown() override;

  /// The cgroup layout chosen at Create (tests, diagnostics).
  const CgroupLayout& cgroup_layout() const { return layout_; }
  /// <state_dir>/<attempt id>.
  std::string AttemptDir(const std::string& attempt_id) const;

 private:
  struct Watch {
    int shim_pid = 0;
    UniqueFd pidfd;
    std::string dir;
    int job_pid = 0;        // its process group; 0 if the shim has not recorded it
    Micros started_at = 0;  // when the job started; 0 if not recorded
  };

  LocalEngine(LocalEngineOptions options, logs::LogStore& logs, const Clock& clock,
              CgroupLayout layout, UniqueFd wake_fd, int64_t boot_time);

  /// Starts the attempt's shim in `dir`, whose flock `lock` holds (handed to the shim).
  [[nodiscard]] Result<std::string> LaunchFresh(const LaunchSpec& spec, const std::string& dir,
                                                UniqueFd lock);
  /// The shim launcher, started if there is none or it died (at Create, so the first launch
  /// does not pay its exec); null when use_launcher is off or it could not be started.
  std::shared_ptr<ShimLauncher> Launcher();
  /// Starts the shim for `dir`: through the launcher or, without one, by spawning
  /// shim_command.
  [[nodiscard]] Result<SpawnedShim> SpawnAttemptShim(const std::string& dir, int lock_fd);
  [[nodiscard]] Result<std::string> LaunchExisting(const std::string& attempt_id,
                                                   const std::string& dir);
  [[nodiscard]] Status CheckRunnable(const LaunchSpec& spec, const std::string& working_dir) const;
  /// Reports an ended attempt (status.json) or starts watching a live shim. kNotFound if the
  /// shim is gone without a status.
  [[nodiscard]] Status AttachExisting(const std::string& attempt_id, const std::string& dir);
  /// Starts watching a live shim and queues kStarted. kNotFound if it is gone (pid reuse).
  [[nodiscard]] Status StartWatching(const std::string& attempt_id, const std::string& dir,
                                     const ShimPid& shim);
  void QueueEnded(const std::string& attempt_id, const ShimStatus& status);
  void Queue(Update update);
  void Wake();
  void MonitorLoop();
  Update EndOf(const std::string& attempt_id, const std::string& dir, int shim_pid) const;

  const LocalEngineOptions options_;
  logs::LogStore& logs_;
  const Clock& clock_;
  const CgroupLayout layout_;
  const int64_t boot_time_;  // options_.boot_time, else /proc/stat btime; 0 if unknown
  UniqueFd wake_fd_;         // eventfd: wakes the monitor when watches or updates are added

  std::mutex shutdown_mu_;  // serialises Shutdown (joins monitor_)

  std::mutex launcher_mu_;
  std::shared_ptr<ShimLauncher> launcher_;  // guarded by launcher_mu_

  mutable std::mutex mu_;
  UpdateSink sink_;                       // guarded by mu_
  std::map<std::string, Watch> watches_;  // guarded by mu_
  std::vector<Update> pending_;           // guarded by mu_; sent by the monitor thread
  std::set<std::string> ended_;           // guarded by mu_; kEnded already sent
  bool shutdown_ = false;                 // guarded by mu_
  std::thread monitor_;
};

}  // namespace tug::engine::local
