#include "core/model.h"

#include <fmt/format.h>

#include "core/quantity.h"

namespace tug {

std::string_view ToString(RunStatus s) {
  switch (s) {
    case RunStatus::kQueued:
      return "QUEUED";
    case RunStatus::kRunning:
      return "RUNNING";
    case RunStatus::kSucceeded:
      return "SUCCEEDED";
    case RunStatus::kFailed:
      return "FAILED";
    case RunStatus::kStopped:
      return "STOPPED";
    case RunStatus::kLost:
      return "LOST";
  }
  return "UNKNOWN";
}

std::string_view ToString(AttemptStatus s) {
  switch (s) {
    case AttemptStatus::kQueued:
      return "QUEUED";
    case AttemptStatus::kLaunching:
      return "LAUNCHING";
    case AttemptStatus::kRunning:
      return "RUNNING";
    case AttemptStatus::kSucceeded:
      return "SUCCEEDED";
    case AttemptStatus::kFailed:
      return "FAILED";
    case AttemptStatus::kStopped:
      return "STOPPED";
    case AttemptStatus::kLost:
      return "LOST";
  }
  return "UNKNOWN";
}

Result<RunStatus> ParseRunStatus(std::string_view s) {
  for (auto v : {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kSucceeded, RunStatus::kFailed,
                 RunStatus::kStopped, RunStatus::kLost}) {
    std::string_view name = ToString(v);
    if (name.size() == s.size() &&
        std::equal(name.begin(), name.end(), s.begin(), [](char a, char b) {
          return a == std::toupper(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return InvalidArgument(fmt::format(
      "status '{}' is unknown; use QUEUED, RUNNING, SUCCEEDED, FAILED, STOPPED or LOST", s));
}

Result<AttemptStatus> ParseAttemptStatus(std::string_view s) {
  for (auto v : {AttemptStatus::kQueued, AttemptStatus::kLaunching, AttemptStatus::kRunning,
                 AttemptStatus::kSucceeded, AttemptStatus::kFailed, AttemptStatus::kStopped,
                 AttemptStatus::kLost}) {
    if (ToString(v) == s) return v;
  }
  return InvalidArgument(fmt::format("attempt status '{}' is unknown", s));
}

bool IsTerminal(RunStatus s) {
  return s == RunStatus::kSucceeded || s == RunStatus::kFailed || s == RunStatus::kStopped ||
         s == RunStatus::kLost;
}

bool IsTerminal(AttemptStatus s) {
  return s == AttemptStatus::kSucceeded || s == AttemptStatus::kFailed ||
         s == AttemptStatus::kStopped || s == AttemptStatus::kLost;
}

bool CanTransition(RunStatus from, RunStatus to) {
  switch (from) {
    case RunStatus::kQueued:
      // A run can end before it ever ran: stopped while queued, or its launch failed.
      return to == RunStatus::kRunning || to == RunStatus::kStopped || to == RunStatus::kFailed ||
             to == RunStatus::kLost || to == RunStatus::kSucceeded;
    case RunStatus::kRunning:
      // Back to QUEUED when a retry attempt is planned.
      return to == RunStatus::kSucceeded || to == RunStatus::kFailed || to == RunStatus::kStopped ||
             to == RunStatus::kLost || to == RunStatus::kQueued;
    default:
      return false;
  }
}

bool CanTransition(AttemptStatus from, AttemptStatus to) {
  switch (from) {
    case AttemptStatus::kQueued:
      return to == AttemptStatus::kLaunching || to == AttemptStatus::kStopped;
    case AttemptStatus::kLaunching:
      // A process can finish before its start was recorded (fast jobs, or a restart in between).
      return to == AttemptStatus::kRunning || IsTerminal(to);
    case AttemptStatus::kRunning:
      return IsTerminal(to);
    default:
      return false;
  }
}

RunStatus RunStatusForFinalAttempt(AttemptStatus s) {
  switch (s) {
    case AttemptStatus::kSucceeded:
      return RunStatus::kSucceeded;
    case AttemptStatus::kStopped:
      return RunStatus::kStopped;
    case AttemptStatus::kLost:
      return RunStatus::kLost;
    default:
      return RunStatus::kFailed;
  }
}

std::vector<std::string> Definition::Argv() const {
  if (!args.empty()) return args;
  return {"/bin/sh", "-c", command};
}

Status ValidateName(std::string_view name) {
  if (name.empty()) return InvalidArgument("name is required, e.g. name: hello");
  if (name.size() > 63) {
    return InvalidArgument(fmt::format("name '{}' is longer than 63 characters; shorten it", name));
  }
  auto is_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = is_alnum(name.front()) && is_alnum(name.back());
  for (char c : name) ok = ok && (is_alnum(c) || c == '-' || c == '_' || c == '.');
  if (!ok) {
    return InvalidArgument(fmt::format(
        "name '{}' must be lower-case letters, digits, '-', '_' or '.', starting and ending with a "
        "letter or digit",
        name));
  }
  return OkStatus();
}

Status Validate(const Definition& def, const Limits& limits) {
  RETURN_IF_ERROR(ValidateName(def.name));
  if (def.kind != "container") {
    return InvalidArgument(
        fmt::format("definition '{}': kind '{}' is not supported here; use kind: container",
                    def.name, def.kind));
  }
  if (def.command.empty() && def.args.empty()) {
    return InvalidArgument(
        fmt::format("definition '{}' has no command; add e.g. command: echo hello", def.name));
  }
  if (!def.command.empty() && !def.args.empty()) {
    return InvalidArgument(fmt::format(
        "definition '{}' has both a command string and an args list; keep one", def.name));
  }
  if (def.resources.memory_bytes < 0) {
    return InvalidArgument(fmt::format("definition '{}': memory must be positive", def.name));
  }
  if (def.resources.memory_bytes > limits.max_memory_bytes) {
    return FailedPrecondition(fmt::format(
        "definition '{}': memory '{}' exceeds the largest allowed ({}); lower it", def.name,
        FormatMemory(def.resources.memory_bytes), FormatMemory(limits.max_memory_bytes)));
  }
  if (def.resources.memory_bytes > 0 && def.resources.memory_bytes < (int64_t{4} << 20)) {
    return FailedPrecondition(fmt::format(
        "definition '{}': memory '{}' is below the 4Mi minimum a process needs; raise it", def.name,
        FormatMemory(def.resources.memory_bytes)));
  }
  if (def.resources.cpu_millis < 0) {
    return InvalidArgument(fmt::format("definition '{}': cpu must be positive", def.name));
  }
  if (def.resources.cpu_millis > limits.max_cpu_millis) {
    return FailedPrecondition(fmt::format(
        "definition '{}': cpu '{}' exceeds the largest allowed ({}); lower it", def.name,
        FormatCpu(def.resources.cpu_millis), FormatCpu(limits.max_cpu_millis)));
  }
  if (def.timeout_seconds < 0) {
    return InvalidArgument(fmt::format("definition '{}': timeout must be positive", def.name));
  }
  if (def.timeout_seconds > limits.max_timeout_seconds) {
    return FailedPrecondition(fmt::format(
        "definition '{}': timeout '{}' exceeds the longest allowed ({}); lower it", def.name,
        FormatDuration(def.timeout_seconds), FormatDuration(limits.max_timeout_seconds)));
  }
  if (def.retry.max_attempts < 1 || def.retry.max_attempts > 20) {
    return InvalidArgument(
        fmt::format("definition '{}': retry.max_attempts must be between 1 and 20", def.name));
  }
  for (const auto& [k, v] : def.env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
      return InvalidArgument(fmt::format(
          "definition '{}': env name '{}' is not valid; use letters, digits and '_'", def.name, k));
    }
    if (v.find('\0') != std::string::npos) {
      return InvalidArgument(
          fmt::format("definition '{}': env '{}' contains a NUL byte", def.name, k));
    }
  }
  if (!def.working_dir.empty() && def.working_dir.front() != '/') {
    return InvalidArgument(fmt::format("definition '{}': working_dir '{}' must be an absolute path",
                                       def.name, def.working_dir));
  }
  return OkStatus();
}

Definition ApplyOverrides(const Definition& def, const RunOverrides& o) {
  Definition out = def;
  for (const auto& [k, v] : o.env) out.env[k] = v;
  if (o.resources.memory_bytes > 0) out.resources.memory_bytes = o.resources.memory_bytes;
  if (o.resources.cpu_millis > 0) out.resources.cpu_millis = o.resources.cpu_millis;
  if (o.timeout_seconds > 0) out.timeout_seconds = o.timeout_seconds;
  return out;
}

}  // namespace tug
