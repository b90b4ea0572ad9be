#pragma once
/// Structured server logs: one JSON object per line on stderr
///   {"ts":"...","level":"info","msg":"attempt launched","run":"01j...","attempt":"01j...-1"}
/// Field values are JSON-escaped. Never log secrets (env values, tokens): log names only.
/// Threading: thread-safe (spdlog's mt sink).
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tug::log {

enum class Level { kDebug, kInfo, kWarn, kError };
using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// "debug" | "info" | "warn" | "error"; unknown names leave the level unchanged (returns false).
bool SetLevel(std::string_view level);
void Write(Level level, std::string_view msg, Fields fields);
inline void Debug(std::string_view msg, Fields fields = {}) { Write(Level::kDebug, msg, fields); }
inline void Info(std::string_view msg, Fields fields = {}) { Write(Level::kInfo, msg, fields); }
inline void Warn(std::string_view msg, Fields fields = {}) { Write(Level::kWarn, msg, fields); }
inline void Error(std::string_view msg, Fields fields = {}) { Write(Level::kError, msg, fields); }

}  // namespace tug::log
