#pragma once
/// Row mapping for the SQLite store: decoding rows into domain values and the inserts every
/// write path shares. The column lists and the JSON encoding of specs and overrides are shared
/// with the other backends (store/encoding.h).
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/model.h"
#include "store/encoding.h"
#include "store/sqlite/connection.h"

namespace tug::store::sqlite {

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

using store::DecodeOverrides;
using store::DecodeSparkResources;
using store::DecodeSpec;
using store::DescribeEnd;
using store::EncodeOverrides;
using store::EncodeSparkResources;
using store::EncodeSpec;

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

}  // namespace tug::store::sqlite
