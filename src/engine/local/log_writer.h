#pragma once
/// Turns a job's raw stdout/stderr bytes into log-store lines
///   "<RFC 3339 time> <stream> <text>\n"
/// Bytes are split on '\n'; a partial line waits for the rest of its line, is flushed at EOF,
/// and a line longer than kMaxLineBytes is cut into pieces of that size. Used by the shim only
/// (single-threaded); not thread-safe.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace tug::engine::local {

inline constexpr size_t kMaxLineBytes = size_t{64} * 1024;

/// "<time> <stream> <text>\n"; `text` must not contain '\n'.
std::string FormatLogLine(Micros at, std::string_view stream, std::string_view text);

class LineSplitter {
 public:
  explicit LineSplitter(std::string stream, size_t max_line = kMaxLineBytes)
      : stream_(std::move(stream)), max_line_(max_line) {}

  /// Appends the complete lines in `data` (plus what was pending) to `out`, stamped `at`.
  void Feed(std::string_view data, Micros at, std::string& out);
  /// At EOF: the pending partial line, if any, becomes a line.
  void Flush(Micros at, std::string& out);
  size_t pending() const { return pending_.size(); }

 private:
  std::string stream_;
  size_t max_line_;
  std::string pending_;
};

}  // namespace tug::engine::local
