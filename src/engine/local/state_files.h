#pragma once
/// The files in an attempt's state directory, <state_dir>/<attempt id>/, and their formats.
/// They are the contract between the engine and the shim, and between one server process and
/// the next (adoption after a restart):
///
///   (the dir)    flock'ed by the launcher and then by its shim for the shim's whole life: a
///                free lock and no shim.pid mean no job was ever started for the attempt
///   spec.json    written by the engine before the shim starts: what to run and how
///   shim.pid     written by the shim before it starts the job: "<shim pid> <shim start
///                ticks>\n" (atomically; fsynced with sync: the record that a job may have
///                started); once the job runs, "<job pid> <job started_at micros>\n" is
///                appended (a reader that sees that line without its newline ignores it)
///   status.json  written by the shim when the job has ended (atomically): the outcome
///   work/        default working directory of the job
/// and, for all attempts, <state_dir>/shim.log: every shim's own stderr, a line per message
/// ("<attempt id>: ..."). Each file per attempt costs a launch an inode to allocate and later
/// to free, which is most of a launch's cost on some filesystems, so there are few.
///
/// Pure conversions; thread-safe.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"
#include "engine/local/cgroup.h"

namespace tug::engine::local {

inline constexpr const char* kSpecFile = "spec.json";
inline constexpr const char* kShimPidFile = "shim.pid";
inline constexpr const char* kStatusFile = "status.json";
inline constexpr const char* kShimLogFile = "shim.log";  // in the state directory
inline constexpr const char* kWorkDir = "work";

/// The environment variables that name the fds a shim inherits from its launcher: the
/// handshake pipe ("ok <job pid>" / "error <code> <message>") and the attempt's launch lock.
inline constexpr const char* kHandshakeFdEnv = "TUG_SHIM_HANDSHAKE_FD";
inline constexpr const char* kLockFdEnv = "TUG_SHIM_LOCK_FD";
/// The launcher (`<shim command> --launcher`, shim/launcher.h) takes requests on the socket
/// named by this variable.
inline constexpr const char* kLauncherFdEnv = "TUG_SHIM_LAUNCHER_FD";
inline constexpr const char* kLauncherArg = "--launcher";

struct ShimSpec {
  std::string attempt_id;
  std::string run_id;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string working_dir;
  std::string log_path;
  int64_t memory_bytes = 0;  // 0: no limit
  int64_t cpu_millis = 0;    // 0: no limit
  int64_t timeout_seconds = 0;
  int64_t stop_grace_ms = 5000;
  /// Memory limit enforced by sampling RSS (no cgroup) rather than by the kernel.
  bool watchdog = false;
  /// fsync shim.pid (before the job starts) and status.json, so they survive a power loss.
  bool sync = false;
  AttemptCgroups cgroups;
};
std::string SerializeSpec(const ShimSpec& spec);
[[nodiscard]] Result<ShimSpec> ParseSpec(std::string_view text);

/// What the shim leaves behind: the job's outcome and usage.
struct ShimStatus {
  std::optional<int> exit_code;
  std::string reason;  // reason::k*
  std::string message;
  int64_t peak_memory_bytes = 0;
  int64_t cpu_micros = 0;
  Micros started_at = 0;
  Micros ended_at = 0;
};
std::string SerializeStatus(const ShimStatus& status);
[[nodiscard]] Result<ShimStatus> ParseStatus(std::string_view text);

struct ShimPid {
  int pid = 0;
  uint64_t start_ticks = 0;
  int job_pid = 0;        // 0 until the job exists
  Micros started_at = 0;  // 0 until the job exists
};
/// The whole file as written at once (both lines when job_pid > 0).
std::string SerializeShimPid(const ShimPid& p);
/// The line appended once the job runs.
std::string SerializeShimPidJob(const ShimPid& p);
[[nodiscard]] Result<ShimPid> ParseShimPid(std::string_view text);

/// The engine ref (JSON) stored with the attempt.
struct EngineRef {
  int shim_pid = 0;
  uint64_t shim_start_ticks = 0;
  int job_pid = 0;
  std::string dir;
};
std::string SerializeRef(const EngineRef& ref);
[[nodiscard]] Result<EngineRef> ParseRef(std::string_view text);

/// Completed -> kSucceeded, Stopped -> kStopped, anything else -> kFailed.
AttemptStatus StatusForReason(std::string_view reason);

}  // namespace tug::engine::local
