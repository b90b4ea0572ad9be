#pragma once
/// Row mapping for the SQLite store: the column lists every SELECT uses, decoding rows into domain
/// values, and the storage encoding of a definition spec and run overrides.
///
/// The spec is stored as JSON with raw integers (bytes, millicores, seconds), not through the API
/// mapping in core/json.h: the API format is for people (units like "512Mi", "10m") and validates
/// input, while a stored snapshot must read back exactly as written, whatever today's validation
/// rules say. Decoding tolerates missing keys so later migrations can add fields.
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/model.h"
#include "store/sqlite/connection.h"

namespace tug::store::sqlite {

/// Columns for ReadRun, in order: "SELECT " TUG_RUN_COLUMNS " FROM runs ...".
#define TUG_RUN_COLUMNS                                                                   \
  "id, definition, definition_version, status, spec, overrides, created_at, updated_at, " \
  "started_at, ended_at, stop_requested, exit_code, reason, message"
/// Columns for ReadAttempt, in order.
#define TUG_ATTEMPT_COLUMNS                                                                      \
  "id, run_id, number, status, memory_bytes, cpu_millis, engine, engine_ref, claimed_by, "       \
  "lease_expires_at, created_at, due_at, launched_at, started_at, ended_at, exit_code, reason, " \
  "message, peak_memory_bytes, cpu_micros, diagnosis"
/// Columns for ReadEvent, in order.
#define TUG_EVENT_COLUMNS "seq, run_id, attempt_id, at, type, message"

[[nodiscard]] Result<Run> ReadRun(const Stmt& row);
[[nodiscard]] Result<Attempt> ReadAttempt(const Stmt& row);
Event ReadEvent(const Stmt& row);

std::string EncodeSpec(const Definition& def);
[[nodiscard]] Result<Definition> DecodeSpec(std::string_view text);
std::string EncodeOverrides(const RunOverrides& overrides);
[[nodiscard]] Result<RunOverrides> DecodeOverrides(std::string_view text);

/// Binds an optional outcome to three consecutive parameters (exit_code, reason, message); an
/// absent outcome is three NULLs.
void BindOutcome(Stmt& stmt, int first_index, const std::optional<Outcome>& outcome);

/// Inserts `event` (its seq is assigned by the database) inside the caller's transaction.
/// kNotFound when its run does not exist.
[[nodiscard]] Status InsertEvent(Connection& db, const Event& event);

/// The text of an "ended" event: "OOMKilled (exit 137): <message>".
std::string DescribeEnd(AttemptStatus status, const Outcome& outcome);

}  // namespace tug::store::sqlite
