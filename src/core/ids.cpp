#include "core/ids.h"

#include <array>
#include <mutex>
#include <random>

namespace tug {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

struct IdState {
  std::mutex mu;
  uint64_t last_ms = 0;
  // 80 random bits as hi (16) + lo (64); incremented within the same millisecond.
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::mt19937_64 rng{std::random_device{}()};
};

IdState& State() {
  static IdState state;
  return state;
}

}  // namespace

std::string NewId(const Clock& clock) {
  auto now_ms = static_cast<uint64_t>(clock.Now() / kMicrosPerMilli);
  uint64_t ms;
  uint64_t hi;
  uint64_t lo;
  {
    IdState& s = State();
    std::lock_guard lock(s.mu);
    if (now_ms <= s.last_ms) {
      // Same (or earlier: clock stepped back) millisecond: keep order by incrementing.
      now_ms = s.last_ms;
      if (++s.lo == 0) ++s.hi;
    } else {
      s.last_ms = now_ms;
      s.hi = s.rng() & 0x7fff;  // leave headroom so increments never overflow 16 bits
      s.lo = s.rng();
    }
    ms = now_ms;
    hi = s.hi;
    lo = s.lo;
  }
  std::array<char, 26> out{};
  // 48-bit time -> 10 chars (50 bits, top 2 zero).
  for (int i = 9; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  // 80 random bits -> 16 chars.
  for (int i = 25; i >= 10; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[lo & 31];
    lo = (lo >> 5) | ((hi & 31) << 59);
    hi >>= 5;
  }
  return {out.begin(), out.end()};
}

std::string IdFloor(Micros at) {
  auto ms = static_cast<uint64_t>(at < 0 ? 0 : at / kMicrosPerMilli) & ((uint64_t{1} << 48) - 1);
  std::string out(26, '0');
  for (int i = 9; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  return out;
}

std::string AttemptId(std::string_view run_id, int number) {
  return std::string(run_id) + "-" + std::to_string(number);
}

std::string RunIdOfAttempt(std::string_view attempt_id) {
  const size_t dash = attempt_id.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return "";
  return std::string(attempt_id.substr(0, dash));
}

bool IsValidId(std::string_view id) {
  if (id.size() != 26) return false;
  for (char c : id) {
    bool ok = false;
    for (const char* p = kAlphabet; *p != '\0'; ++p) {
      if (*p == c) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace tug
