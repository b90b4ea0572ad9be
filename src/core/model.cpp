#include "core/model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/quantity.h"

namespace tug {

std::string_view ToString(RunStatus s) {
  switch (s) {
    case RunStatus::kQueued:
      return "QUEUED";
    case RunStatus::kRunning:
      return "RUNNING";
    case RunStatus::kRetrying:
      return "RETRYING";
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
  for (auto v :
       {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kRetrying, RunStatus::kSucceeded,
        RunStatus::kFailed, RunStatus::kStopped, RunStatus::kLost}) {
    std::string_view name = ToString(v);
    if (name.size() == s.size() &&
        std::equal(name.begin(), name.end(), s.begin(), [](char a, char b) {
          return a == std::toupper(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return InvalidArgument(fmt::format(
      "status '{}' is unknown; use QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED, STOPPED or LOST",
      s));
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
      // A run can end before it ever ran: stopped while queued, or its launch failed (and may
      // then be retried).
      return to == RunStatus::kRunning || to == RunStatus::kStopped || to == RunStatus::kFailed ||
             to == RunStatus::kLost || to == RunStatus::kSucceeded || to == RunStatus::kRetrying;
    case RunStatus::kRunning:
      return to == RunStatus::kSucceeded || to == RunStatus::kFailed || to == RunStatus::kStopped ||
             to == RunStatus::kLost || to == RunStatus::kRetrying;
    case RunStatus::kRetrying:
      // The next attempt starts, is stopped while waiting, or ends (or is lost) before it ran;
      // RETRYING -> RETRYING when an attempt that never ran is retried again.
      return to == RunStatus::kRunning || to == RunStatus::kStopped || to == RunStatus::kFailed ||
             to == RunStatus::kLost || to == RunStatus::kSucceeded || to == RunStatus::kRetrying;
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

int64_t EffectiveOverhead(const SparkRole& role) {
  if (role.memory_overhead_bytes > 0) return role.memory_overhead_bytes;
  return std::max<int64_t>(int64_t{384} << 20, role.memory_bytes / 10);
}

std::string CommandSignature(const Definition& def) {
  // FNV-1a over length-prefixed fields: stable across versions and platforms.
  uint64_t h = 1469598103934665603ULL;
  auto add = [&h](std::string_view s) {
    std::string len = std::to_string(s.size()) + ":";
    for (char c : len) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  };
  add(def.kind);
  add(def.image);
  add(def.command);
  for (const auto& a : def.args) add(a);
  add(def.spark.main);
  add(def.spark.main_class);
  for (const auto& a : def.spark.args) add(a);
  return fmt::format("{:016x}", h);
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

Definition ApplyOverrides(const Definition& def, const RunOverrides& o) {
  Definition out = def;
  for (const auto& [k, v] : o.env) {
    out.env[k] = v;
    out.secret_env.erase(k);  // an override replaces a secret with its (plain) value
  }
  if (o.resources.memory_bytes > 0) out.resources.memory_bytes = o.resources.memory_bytes;
  if (o.resources.cpu_millis > 0) out.resources.cpu_millis = o.resources.cpu_millis;
  if (o.resources.gpu > 0) out.resources.gpu = o.resources.gpu;
  if (o.timeout_seconds > 0) out.timeout_seconds = o.timeout_seconds;
  if (!o.engine.empty()) out.engine = o.engine;
  return out;
}

}  // namespace tug
