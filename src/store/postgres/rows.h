#pragma once
/// Row mapping for the PostgreSQL store: reading runs, attempts and events from result rows, and
/// the parameters of the inserts every write path shares. Column lists and the JSON encoding are
/// shared with the other backends (store/encoding.h).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "store/encoding.h"
#include "store/postgres/connection.h"

namespace tug::store::pg {

/// A column list (TUG_RUN_COLUMNS...) with every column qualified by `alias` ("r.id, r.definition,
/// ..."), for joins. Build SQL with it once, in a function-local static.
std::string Qualified(std::string_view columns, std::string_view alias);
/// How many columns ReadRun / ReadAttempt read.
inline constexpr int kRunColumns = 23;
inline constexpr int kAttemptColumns = 30;

[[nodiscard]] Result<Run> ReadRun(const Row& row);
[[nodiscard]] Result<Attempt> ReadAttempt(const Row& row);
/// Replaces `out` with the attempts of `rows` (TUG_ATTEMPT_COLUMNS), ordered as claims are
/// (due_at, then id): what a claiming statement's RETURNING gives back in no particular order.
[[nodiscard]] Status ReadClaimedAttempts(const Rows& rows, std::vector<Attempt>& out);
Event ReadEvent(const Row& row);

/// Appends the values of TUG_RUN_COLUMNS (23), of TUG_ATTEMPT_COLUMNS (30) and of an optional
/// outcome (exit_code, reason, message: three NULLs when absent).
void AddRun(Params& p, const Run& run);
void AddAttempt(Params& p, const Attempt& attempt);
void AddOutcome(Params& p, const std::optional<Outcome>& outcome);

/// INSERT of one attempt: $1..$30 in TUG_ATTEMPT_COLUMNS order (AddAttempt).
inline constexpr const char* kInsertAttemptSql =
    "INSERT INTO attempts (" TUG_ATTEMPT_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
    "$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)";
/// INSERT of one event: $1 run_id, $2 attempt_id, $3 at, $4 type, $5 message.
inline constexpr const char* kInsertEventSql =
    "INSERT INTO events (run_id, attempt_id, at, type, message) VALUES ($1, $2, $3, $4, $5)";
/// The event's parameters for kInsertEventSql.
Params EventParams(const Event& e);

}  // namespace tug::store::pg
