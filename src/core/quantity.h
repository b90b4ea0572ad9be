#pragma once
/// Human sizes as Kubernetes writes them: memory "512Mi", "2Gi", "1G", "1000"; cpu "500m", "2",
/// "1.5"; durations "10m", "1h30m", "45s", "90" (seconds).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace tug {

/// Bytes from "64Mi", "1.5Gi", "100M", "4096". Rejects negatives, garbage and overflow.
Result<int64_t> ParseMemory(std::string_view text);
/// Millicores from "500m", "2", "0.25".
Result<int64_t> ParseCpu(std::string_view text);
/// Seconds from "10m", "1h30m", "45s", "2h", "90".
Result<int64_t> ParseDuration(std::string_view text);

/// 67108864 -> "64Mi"; exact binary units where possible, else bytes.
std::string FormatMemory(int64_t bytes);
/// 500 -> "500m"; 2000 -> "2".
std::string FormatCpu(int64_t millis);
/// 600 -> "10m"; 5400 -> "1h30m".
std::string FormatDuration(int64_t seconds);

}  // namespace tug
