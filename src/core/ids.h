#pragma once
/// Time-ordered ids: 26 lower-case Crockford base32 characters, 48 bits of milliseconds then 80
/// random bits, monotonic within one process (like ULID). Lexical order is creation order, so
/// ids double as pagination cursors. Attempt ids are "<run id>-<number>" (DNS-safe, readable).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace tug {

/// Thread-safe.
std::string NewId(const Clock& clock);
std::string AttemptId(std::string_view run_id, int number);
/// The run id of an attempt id (AttemptId's inverse: the id without its "-<number>"); "" when
/// `attempt_id` has no such suffix.
std::string RunIdOfAttempt(std::string_view attempt_id);
/// The smallest id NewId gives at `at` (millisecond precision): ids of runs created at or after
/// `at` compare >= IdFloor(at), so a creation-time range is an id range (the primary key).
std::string IdFloor(Micros at);
/// True for strings NewId could have produced.
bool IsValidId(std::string_view id);

}  // namespace tug
