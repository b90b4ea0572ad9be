#pragma once
/// Versioned schema migrations for the SQLite store. Each migration runs in its own BEGIN
/// IMMEDIATE transaction together with its schema_migrations(version, applied_at) row, so a crash
/// leaves either all of a migration or none of it, and two processes opening the same file at once
/// never apply one twice (the second sees the row once it gets the write lock).
#include <span>

#include "core/clock.h"
#include "core/error.h"
#include "store/sqlite/connection.h"

namespace tug::store::sqlite {

struct Migration {
  int version;
  const char* sql;  // DDL only: no values
};

/// Every migration this binary knows, in order (versions 1..N without gaps).
std::span<const Migration> Migrations();

/// Applies the migrations `db` lacks. kFailedPrecondition if the file was written by a newer
/// binary (a version above the last one known here).
[[nodiscard]] Status Migrate(Connection& db, const Clock& clock);

}  // namespace tug::store::sqlite
