#pragma once
/// The domain: definitions (versioned job templates), runs (one request to execute a definition),
/// attempts (one execution with concrete resources, ending in an outcome) and timeline events.
/// Plain values: no I/O, copyable, compared field by field.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace tug {

enum class RunStatus { kQueued, kRunning, kSucceeded, kFailed, kStopped, kLost };
enum class AttemptStatus { kQueued, kLaunching, kRunning, kSucceeded, kFailed, kStopped, kLost };

std::string_view ToString(RunStatus s);
std::string_view ToString(AttemptStatus s);
Result<RunStatus> ParseRunStatus(std::string_view s);
Result<AttemptStatus> ParseAttemptStatus(std::string_view s);
bool IsTerminal(RunStatus s);
bool IsTerminal(AttemptStatus s);
/// The state machines: only these moves are legal (a no-op move to the same state is not).
bool CanTransition(RunStatus from, RunStatus to);
bool CanTransition(AttemptStatus from, AttemptStatus to);
/// The run status that follows from its (last) attempt ending in `s` when no retry follows.
RunStatus RunStatusForFinalAttempt(AttemptStatus s);

/// Termination reasons, as Kubernetes names them where it has a name.
namespace reason {
inline constexpr std::string_view kCompleted = "Completed";
inline constexpr std::string_view kError = "Error";
inline constexpr std::string_view kOomKilled = "OOMKilled";
inline constexpr std::string_view kDeadlineExceeded = "DeadlineExceeded";
inline constexpr std::string_view kStopped = "Stopped";
inline constexpr std::string_view kLost = "Lost";
inline constexpr std::string_view kLaunchFailed = "LaunchFailed";
inline constexpr std::string_view kSignaled = "Signaled";
}  // namespace reason

struct Resources {
  int64_t memory_bytes = 0;  // 0: unset
  int64_t cpu_millis = 0;    // 0: unset
  bool operator==(const Resources&) const = default;
};

struct RetryPolicy {
  int max_attempts = 1;  // placeholder until the planner issue; 1 = no automatic retry
  bool operator==(const RetryPolicy&) const = default;
};

struct Definition {
  std::string name;
  int64_t version = 0;  // assigned by the store
  std::string kind = "container";
  std::string description;
  std::string image;  // recorded for container engines; the local engine runs on the host
  /// Either a shell string (run by /bin/sh -c) or an argv list.
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string working_dir;
  Resources resources;
  int64_t timeout_seconds = 0;  // 0: no deadline
  RetryPolicy retry;
  std::map<std::string, std::string> labels;
  Micros created_at = 0;
  bool operator==(const Definition&) const = default;

  /// The argv the engine executes.
  std::vector<std::string> Argv() const;
};

/// Submission-time changes to a definition, kept on the run.
struct RunOverrides {
  std::map<std::string, std::string> env;
  Resources resources;
  int64_t timeout_seconds = 0;
  bool operator==(const RunOverrides&) const = default;
};

struct Outcome {
  std::optional<int> exit_code;
  std::string reason;  // reason::k*
  std::string message;
  bool operator==(const Outcome&) const = default;
};

struct Attempt {
  std::string id;  // "<run id>-<number>"
  std::string run_id;
  int number = 1;
  AttemptStatus status = AttemptStatus::kQueued;
  Resources resources;
  std::string engine = "local";
  std::string engine_ref;  // engine-specific handle (JSON), for stop/adopt
  std::string claimed_by;
  Micros lease_expires_at = 0;
  Micros created_at = 0;
  Micros due_at = 0;
  Micros launched_at = 0;
  Micros started_at = 0;
  Micros ended_at = 0;
  std::optional<Outcome> outcome;
  int64_t peak_memory_bytes = 0;
  int64_t cpu_micros = 0;
  /// Why it failed, as a JSON object written by the diagnoser ("" when not diagnosed).
  std::string diagnosis;
  bool operator==(const Attempt&) const = default;
};

struct Run {
  std::string id;
  std::string definition;
  int64_t definition_version = 0;
  RunStatus status = RunStatus::kQueued;
  /// The definition as resolved at submission (overrides applied): what every attempt runs.
  Definition spec;
  RunOverrides overrides;
  Micros created_at = 0;
  Micros updated_at = 0;
  Micros started_at = 0;
  Micros ended_at = 0;
  bool stop_requested = false;
  std::optional<Outcome> outcome;
  std::vector<Attempt> attempts;  // filled by GetRun
  bool operator==(const Run&) const = default;
};

struct Event {
  int64_t seq = 0;  // store-assigned, increasing per store
  std::string run_id;
  std::string attempt_id;
  Micros at = 0;
  std::string type;  // "submitted", "claimed", "launched", "started", "ended", "stop_requested"...
  std::string message;
  bool operator==(const Event&) const = default;
};

/// Limits a definition or run is checked against (from server config).
struct Limits {
  int64_t max_memory_bytes = int64_t{64} << 30;
  int64_t max_cpu_millis = 64'000;
  int64_t max_timeout_seconds = int64_t{7} * 86400;
};

/// Checks fields a user wrote; messages say what to fix.
Status Validate(const Definition& def, const Limits& limits);
Status ValidateName(std::string_view name);
/// The definition with overrides applied (env merged, resources and timeout replaced where set).
Definition ApplyOverrides(const Definition& def, const RunOverrides& overrides);

}  // namespace tug
