#pragma once
/// Time is injected: production uses SystemClock, tests and the simulator use ManualClock.
/// Timestamps are microseconds since the Unix epoch (UTC), stored as int64 everywhere.
#include <atomic>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace tug {

using Micros = int64_t;
constexpr Micros kMicrosPerSecond = 1'000'000;
constexpr Micros kMicrosPerMilli = 1'000;

class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time (for records); thread-safe.
  virtual Micros Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Micros Now() const override;
  /// Process-wide instance.
  static SystemClock& Instance();
};

/// A clock that moves only when told; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start = 1'700'000'000 * kMicrosPerSecond) : now_(start) {}
  Micros Now() const override { return now_.load(); }
  void Advance(Micros delta) { now_ += delta; }
  void Set(Micros t) { now_ = t; }

 private:
  std::atomic<Micros> now_;
};

/// "2026-11-24T08:30:00.123456Z"
std::string FormatTimestamp(Micros t);
/// Parses what FormatTimestamp writes (fraction optional, "Z" required).
Result<Micros> ParseTimestamp(const std::string& text);

}  // namespace tug
