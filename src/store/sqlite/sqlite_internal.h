#pragma once
// Helpers shared by the SqliteStore's run and claim files (not part of the store's surface).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/store.h"

namespace tug::store::sqlite_internal {

Result<Attempt> LoadAttempt(sqlite::Connection& db, const std::string& id);
Status AddEvent(sqlite::Connection& db, const std::string& run_id, const std::string& attempt_id,
                Micros at, std::string_view type, std::string message);
Status ReadAttempts(sqlite::Stmt& s, std::vector<Attempt>& out);
/// The first attempt a query returns (?1 bound to `now`), or nullopt.
Result<std::optional<Attempt>> FirstAttempt(sqlite::Connection& db, std::string_view sql,
                                            Micros now);
/// Claims `key` of `owner` for `run_id` at `now` (insert, or take over an expired one); kAborted
/// when a live key holds it.
Status ClaimIdempotencyKey(sqlite::Connection& db, const std::string& owner,
                           const IdempotencyKey& key, const std::string& run_id, Micros now);

}  // namespace tug::store::sqlite_internal
