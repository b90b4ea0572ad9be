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

namespace {

// Howard Hinnant's days-to-civil: proleptic Gregorian date of a day count since 1970-01-01.
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

void Put(char*& p, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  p += width;
}

}  // namespace

// Hand-rolled: this runs for every time field of every API response.
std::string FormatTimestamp(Micros t) {
  int64_t secs = t / kMicrosPerSecond;
  Micros frac = t % kMicrosPerSecond;
  if (frac < 0) {
    frac += kMicrosPerSecond;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  CivilFromDays(days, year, month, day);
  std::string out(27, '\0');
  char* p = out.data();
  Put(p, year, 4);
  *p++ = '-';
  Put(p, month, 2);
  *p++ = '-';
  Put(p, day, 2);
  *p++ = 'T';
  Put(p, rem / 3600, 2);
  *p++ = ':';
  Put(p, (rem % 3600) / 60, 2);
  *p++ = ':';
  Put(p, rem % 60, 2);
  *p++ = '.';
  Put(p, frac, 6);
  *p++ = 'Z';
  return out;
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
