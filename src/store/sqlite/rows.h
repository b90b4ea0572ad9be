#pragma once
/// Row mapping for the SQLite store: the column lists every SELECT uses, decoding rows into domain
/// values, and the storage encoding of a definition spec and run overrides.
///
/// The spec is stored as JSON with raw integers (bytes, millicores, seconds), not through the API
/// mapping in core/json.h: the API format is for people (units like "512Mi", "10m") and validates
/// input, while a stored snapshot must read back exactly as written, whatever today's validation
/// rules say. Decoding tolerates missing keys so later migrations can add fields: a key an old row
/// lacks decodes to the model's default (old rows always stored max_attempts, so theirs is kept).
/// Doubles are stored as their shortest round-trip text ("1.5") because Boost.JSON 1.81 parses
/// some 16-17 digit numbers one ulp off; a stored number is still accepted.
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/model.h"
#include "store/sqlite/connection.h"

namespace tug::store::sqlite {

/// Columns for ReadRun, in order: "SELECT " TUG_RUN_COLUMNS " FROM runs ...".
#define TUG_RUN_COLUMNS                                                                   \
  "id, definition, definition_version, status, spec, overrides, created_at, updated_at, " \
  "started_at, ended_at, stop_requested, exit_code, reason, message, plan"
/// Columns for ReadAttempt, in order.
#define TUG_ATTEMPT_COLUMNS                                                                      \
  "id, run_id, number, status, memory_bytes, cpu_millis, engine, engine_ref, claimed_by, "       \
  "lease_expires_at, created_at, due_at, launched_at, started_at, ended_at, exit_code, reason, " \
  "message, peak_memory_bytes, cpu_micros, diagnosis, capacity, executor_capacity, "             \
  "spark_resources, decision, components, app_id"
/// Columns for ReadEvent, in order.
#define TUG_EVENT_COLUMNS "seq, run_id, attempt_id, at, type, message"

/// The two queries migration 3 made indexes for (runs_history, attempts_spot_ended); here so the
/// backend test can check their plans. ?1 definition, ?2 signature, ?3 since, ?4 limit.
inline constexpr const char* kSuccessHistorySql =
    "SELECT a.run_id, a.ended_at, a.peak_memory_bytes, a.memory_bytes, a.cpu_millis, "
    "a.spark_resources FROM runs AS r JOIN attempts AS a ON a.run_id = r.id "
    "WHERE r.definition = ?1 AND r.signature = ?2 AND r.status = 'SUCCEEDED' AND r.ended_at >= ?3 "
    "AND a.status = 'SUCCEEDED' AND a.ended_at >= ?3 AND a.peak_memory_bytes > 0 "
    "ORDER BY r.ended_at DESC, r.id DESC LIMIT ?4";
/// ?1 since. The capacity term is the partial index's WHERE, word for word.
inline constexpr const char* kSpotOutcomesSql =
    "SELECT COUNT(*), COALESCE(SUM(failure_class = 'node_loss'), 0) FROM attempts "
    "WHERE (capacity = 'spot' OR executor_capacity = 'spot') "
    "AND ended_at >= ?1 AND ended_at > 0 AND claimed_by <> ''";

[[nodiscard]] Result<Run> ReadRun(const Stmt& row);
[[nodiscard]] Result<Attempt> ReadAttempt(const Stmt& row);
Event ReadEvent(const Stmt& row);

std::string EncodeSpec(const Definition& def);
[[nodiscard]] Result<Definition> DecodeSpec(std::string_view text);
std::string EncodeOverrides(const RunOverrides& overrides);
[[nodiscard]] Result<RunOverrides> DecodeOverrides(std::string_view text);
/// An attempt's Spark sizes (attempts.spark_resources): "" for empty ones (container jobs).
std::string EncodeSparkResources(const SparkResources& spark);
[[nodiscard]] Result<SparkResources> DecodeSparkResources(std::string_view text);

/// Inserts `attempt` with every column ReadAttempt reads (failure_class stays '') inside the
/// caller's transaction. kAlreadyExists when its id or (run_id, number) is taken, kNotFound when
/// its run does not exist.
[[nodiscard]] Status InsertAttempt(Connection& db, const Attempt& attempt);

/// Binds an optional outcome to three consecutive parameters (exit_code, reason, message); an
/// absent outcome is three NULLs.
void BindOutcome(Stmt& stmt, int first_index, const std::optional<Outcome>& outcome);

/// Inserts `event` (its seq is assigned by the database) inside the caller's transaction.
/// kNotFound when its run does not exist.
[[nodiscard]] Status InsertEvent(Connection& db, const Event& event);

/// The text of an "ended" event: "OOMKilled (exit 137): <message>".
std::string DescribeEnd(AttemptStatus status, const Outcome& outcome);

}  // namespace tug::store::sqlite
