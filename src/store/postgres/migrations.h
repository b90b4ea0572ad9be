#pragma once
/// Versioned schema migrations for the PostgreSQL store. Each migration runs in its own
/// transaction together with its schema_migrations(version, applied_at) row, under a
/// transaction-scoped advisory lock, so two replicas starting at once never apply one twice (the
/// second waits for the lock, then sees the row) and a crash leaves all of a migration or none.
#include <span>

#include "core/clock.h"
#include "core/error.h"
#include "store/postgres/connection.h"

namespace tug::store::pg {

struct Migration {
  int version;
  const char* sql;  // DDL only: no values
};

/// Every migration this binary knows, in order (versions 1..N without gaps).
std::span<const Migration> Migrations();

/// Applies the migrations the database lacks. kFailedPrecondition if it was migrated by a newer
/// binary (a version above the last one known here).
[[nodiscard]] Status Migrate(Connection& db, const Clock& clock);

}  // namespace tug::store::pg
