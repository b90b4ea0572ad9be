#include "core/quantity.h"

#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace tug {
namespace {

// Splits "1.5Gi" into number "1.5" and suffix "Gi"; digits and at most one dot.
bool SplitNumber(std::string_view text, std::string_view& number, std::string_view& suffix) {
  size_t i = 0;
  bool dot = false;
  bool digit = false;
  while (i < text.size()) {
    char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++i;
  }
  number = text.substr(0, i);
  suffix = text.substr(i);
  return digit;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<int64_t> ParseMemory(std::string_view raw) {
  std::string_view text = Trim(raw);
  if (!text.empty() && text.front() == '-') {
    return InvalidArgument(fmt::format("memory '{}' must be positive, e.g. 512Mi or 2Gi", raw));
  }
  std::string_view number;
  std::string_view suffix;
  if (!SplitNumber(text, number, suffix)) {
    return InvalidArgument(
        fmt::format("memory '{}' is not a size; write e.g. 512Mi, 2Gi or 1G", raw));
  }
  long double mult = 1;
  if (suffix.empty())
    mult = 1;
  else if (suffix == "Ki")
    mult = 1024.0L;
  else if (suffix == "Mi")
    mult = 1024.0L * 1024;
  else if (suffix == "Gi")
    mult = 1024.0L * 1024 * 1024;
  else if (suffix == "Ti")
    mult = 1024.0L * 1024 * 1024 * 1024;
  else if (suffix == "Pi")
    mult = 1024.0L * 1024 * 1024 * 1024 * 1024;
  else if (suffix == "k" || suffix == "K")
    mult = 1e3L;
  else if (suffix == "M")
    mult = 1e6L;
  else if (suffix == "G")
    mult = 1e9L;
  else if (suffix == "T")
    mult = 1e12L;
  else if (suffix == "P")
    mult = 1e15L;
  else {
    return InvalidArgument(fmt::format(
        "memory '{}' has unknown unit '{}'; use Ki, Mi, Gi, Ti (or k, M, G, T)", raw, suffix));
  }
  long double value = std::strtold(std::string(number).c_str(), nullptr) * mult;
  if (value > static_cast<long double>(std::numeric_limits<int64_t>::max() / 2)) {
    return InvalidArgument(fmt::format("memory '{}' is too large", raw));
  }
  auto bytes = static_cast<int64_t>(std::llround(value));
  if (bytes <= 0) {
    return InvalidArgument(fmt::format("memory '{}' must be positive, e.g. 512Mi or 2Gi", raw));
  }
  return bytes;
}

Result<int64_t> ParseCpu(std::string_view raw) {
  std::string_view text = Trim(raw);
  if (!text.empty() && text.front() == '-') {
    return InvalidArgument(fmt::format("cpu '{}' must be positive, e.g. 500m or 2", raw));
  }
  std::string_view number;
  std::string_view suffix;
  if (!SplitNumber(text, number, suffix)) {
    return InvalidArgument(fmt::format("cpu '{}' is not a cpu amount; write e.g. 500m or 2", raw));
  }
  long double value = std::strtold(std::string(number).c_str(), nullptr);
  if (suffix == "m") {
    // already millicores
  } else if (suffix.empty()) {
    value *= 1000;
  } else {
    return InvalidArgument(fmt::format(
        "cpu '{}' has unknown unit '{}'; use cores (2) or millicores (500m)", raw, suffix));
  }
  if (value > 1e9L) return InvalidArgument(fmt::format("cpu '{}' is too large", raw));
  auto millis = static_cast<int64_t>(std::llround(value));
  if (millis <= 0) {
    return InvalidArgument(fmt::format("cpu '{}' must be at least 1m, e.g. 500m or 2", raw));
  }
  return millis;
}

Result<int64_t> ParseDuration(std::string_view raw) {
  std::string_view text = Trim(raw);
  if (text.empty()) return InvalidArgument("duration is empty; write e.g. 30s, 10m or 1h");
  if (text.front() == '-') {
    return InvalidArgument(fmt::format("duration '{}' must be positive, e.g. 10m", raw));
  }
  int64_t total = 0;
  bool any = false;
  while (!text.empty()) {
    size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == 0 || i > 9) {
      return InvalidArgument(
          fmt::format("duration '{}' is not a duration; write e.g. 45s, 10m, 1h30m", raw));
    }
    int64_t n = std::stoll(std::string(text.substr(0, i)));
    text.remove_prefix(i);
    int64_t unit = 1;
    if (text.empty()) {
      if (any) {
        return InvalidArgument(
            fmt::format("duration '{}' needs a unit after the last number", raw));
      }
    } else if (text.front() == 's') {
      text.remove_prefix(1);
    } else if (text.front() == 'm') {
      unit = 60;
      text.remove_prefix(1);
    } else if (text.front() == 'h') {
      unit = 3600;
      text.remove_prefix(1);
    } else if (text.front() == 'd') {
      unit = 86400;
      text.remove_prefix(1);
    } else {
      return InvalidArgument(
          fmt::format("duration '{}' has unknown unit; use s, m, h or d (e.g. 1h30m)", raw));
    }
    total += n * unit;
    any = true;
    if (total > int64_t{366} * 86400 * 10) {
      return InvalidArgument(fmt::format("duration '{}' is too long", raw));
    }
  }
  if (total <= 0) return InvalidArgument(fmt::format("duration '{}' must be positive", raw));
  return total;
}

std::string FormatMemory(int64_t bytes) {
  struct Unit {
    int64_t size;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{int64_t{1} << 40, "Ti"},
                                    {int64_t{1} << 30, "Gi"},
                                    {int64_t{1} << 20, "Mi"},
                                    {int64_t{1} << 10, "Ki"}};
  for (const auto& u : kUnits) {
    if (bytes >= u.size && bytes % u.size == 0) return fmt::format("{}{}", bytes / u.size, u.name);
  }
  for (const auto& u : kUnits) {
    if (bytes >= u.size) {
      return fmt::format("{:.1f}{}", static_cast<double>(bytes) / static_cast<double>(u.size),
                         u.name);
    }
  }
  return std::to_string(bytes);
}

std::string FormatCpu(int64_t millis) {
  if (millis % 1000 == 0) return std::to_string(millis / 1000);
  return fmt::format("{}m", millis);
}

std::string FormatDuration(int64_t seconds) {
  if (seconds <= 0) return "0s";
  std::string out;
  int64_t h = seconds / 3600;
  int64_t m = (seconds % 3600) / 60;
  int64_t s = seconds % 60;
  if (h > 0) out += fmt::format("{}h", h);
  if (m > 0) out += fmt::format("{}m", m);
  if (s > 0) out += fmt::format("{}s", s);
  return out;
}

}  // namespace tug
