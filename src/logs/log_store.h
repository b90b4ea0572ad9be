#pragma once
/// Log store: one file per (run, attempt, component), each line
///   "<RFC 3339 time> <stream> <text>\n"   (stream: "stdout", "stderr" or "tugboat")
/// Writers (the local engine's shim) append to PathFor(); readers page through by byte offset
/// and follow by polling. Filesystem today; an object-store archive later keeps this surface.
///
/// Threading: all methods are thread-safe (files are opened per call).
/// Errors: kNotFound (no such log yet), kInvalidArgument (bad component name), kInternal (I/O).
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace tug::logs {

struct Chunk {
  std::string data;         // whole lines only (a partial last line waits for its newline)
  int64_t next_offset = 0;  // where the next read starts
};

class LogStore {
 public:
  virtual ~LogStore() = default;
  /// Absolute path a local writer appends to; creates the directories.
  [[nodiscard]] virtual Result<std::string> PathFor(const std::string& run_id,
                                                    const std::string& attempt_id,
                                                    const std::string& component) = 0;
  /// Components with a log for this attempt, sorted ("main", "driver", "executor-1", ...).
  [[nodiscard]] virtual Result<std::vector<std::string>> Components(
      const std::string& run_id, const std::string& attempt_id) = 0;
  /// Up to max_bytes of whole lines from offset. kNotFound if the log does not exist.
  [[nodiscard]] virtual Result<Chunk> Read(const std::string& run_id, const std::string& attempt_id,
                                           const std::string& component, int64_t offset,
                                           size_t max_bytes) = 0;
  /// Deletes every log of a run (retention). A run without logs is fine.
  [[nodiscard]] virtual Status RemoveRun(const std::string& run_id) = 0;
  /// Called once an attempt has ended and its outcome is recorded (its writers are done): a
  /// store that archives elsewhere (S3LogStore) moves the attempt's logs there. Idempotent.
  [[nodiscard]] virtual Status Archive(const std::string& /*run_id*/,
                                       const std::string& /*attempt_id*/) {
    return OkStatus();
  }
};

/// "<time> <stream> <text>\n..." -> "<text>\n...", as users read a log; lines of the
/// platform's own stream ("tugboat") keep a "[tugboat] " marker.
std::string StripLinePrefixes(const std::string& data);

/// Component names are path segments: [a-z0-9-] only.
[[nodiscard]] Status ValidateComponent(const std::string& component);

}  // namespace tug::logs
