#include "core/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace tug {

Micros SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

std::string FormatTimestamp(Micros t) {
  time_t secs = static_cast<time_t>(t / kMicrosPerSecond);
  Micros frac = t % kMicrosPerSecond;
  if (frac < 0) {
    frac += kMicrosPerSecond;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

Result<Micros> ParseTimestamp(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return InvalidArgument(
        fmt::format("timestamp '{}' is not RFC 3339; write e.g. 2026-11-24T08:30:00Z", text));
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  Micros frac = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < text.size() && text[i] == '.') {
    ++i;
    Micros scale = 100000;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      frac += (text[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
  }
  if (i >= text.size() || (text[i] != 'Z' && text[i] != 'z')) {
    return InvalidArgument(fmt::format("timestamp '{}' must be UTC and end in Z", text));
  }
  return static_cast<Micros>(timegm(&tm)) * kMicrosPerSecond + frac;
}

}  // namespace tug
