// PostgresStore: claims, leases on attempts, launches and starts.
//
// Locks: a writer that touches both a run and one of its attempts locks the run first, then the
// attempt (FOR NO KEY UPDATE, which does not block the foreign-key checks of event inserts). A
// claim locks only the attempt and skips locked ones, so concurrent claimers never wait on each
// other or take one attempt twice.
#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"
#include "store/rules.h"

namespace tug::store {

using pg::P;
using pg::Row;
using pg::Rows;
using pg::Tx;

namespace {

// The oldest claimable attempt by (due_at, id) — a QUEUED one due now, or a LAUNCHING one whose
// lease ran out — claimed with its "claimed" event, in one statement. Each candidate query
// locks at most one row and skips rows another claimer holds; the loser of the two (if both
// exist) stays locked only until this statement commits. $1 now, $2 owner, $3 lease end, $4 the
// event text of a fresh claim, $5 that of a take-over up to the previous owner's name.
constexpr const char* kClaimSql =
    "WITH q AS (SELECT id, due_at, NULL::text AS prev FROM attempts "
    "WHERE status = 'QUEUED' AND due_at <= $1 ORDER BY due_at, id LIMIT 1 "
    "FOR NO KEY UPDATE SKIP LOCKED), "
    "x AS (SELECT id, due_at, claimed_by AS prev FROM attempts "
    "WHERE status = 'LAUNCHING' AND lease_expires_at <= $1 ORDER BY due_at, id LIMIT 1 "
    "FOR NO KEY UPDATE SKIP LOCKED), "
    "pick AS (SELECT id AS pick_id, prev FROM (SELECT * FROM q UNION ALL SELECT * FROM x) AS c "
    "ORDER BY due_at, id LIMIT 1), "
    "u AS (UPDATE attempts SET status = 'LAUNCHING', claimed_by = $2, lease_expires_at = $3 "
    "FROM pick WHERE id = pick.pick_id RETURNING " TUG_ATTEMPT_COLUMNS
    ", pick.prev), "
    "e AS (INSERT INTO events (run_id, attempt_id, at, type, message) "
    "SELECT run_id, id, $1, 'claimed', CASE WHEN prev IS NULL THEN $4 ELSE $5 || prev || '''' "
    "END FROM u) "
    "SELECT " TUG_ATTEMPT_COLUMNS " FROM u";

// kClaimSql for up to $6 attempts at once.
constexpr const char* kClaimManySql =
    "WITH q AS (SELECT id, due_at, NULL::text AS prev FROM attempts "
    "WHERE status = 'QUEUED' AND due_at <= $1 ORDER BY due_at, id LIMIT $6 "
    "FOR NO KEY UPDATE SKIP LOCKED), "
    "x AS (SELECT id, due_at, claimed_by AS prev FROM attempts "
    "WHERE status = 'LAUNCHING' AND lease_expires_at <= $1 ORDER BY due_at, id LIMIT $6 "
    "FOR NO KEY UPDATE SKIP LOCKED), "
    "pick AS (SELECT id AS pick_id, prev FROM (SELECT * FROM q UNION ALL SELECT * FROM x) AS c "
    "ORDER BY due_at, id LIMIT $6), "
    "u AS (UPDATE attempts SET status = 'LAUNCHING', claimed_by = $2, lease_expires_at = $3 "
    "FROM pick WHERE id = pick.pick_id RETURNING " TUG_ATTEMPT_COLUMNS
    ", pick.prev), "
    "e AS (INSERT INTO events (run_id, attempt_id, at, type, message) "
    "SELECT run_id, id, $1, 'claimed', CASE WHEN prev IS NULL THEN $4 ELSE $5 || prev || '''' "
    "END FROM u ORDER BY due_at, id) "
    "SELECT " TUG_ATTEMPT_COLUMNS " FROM u";

constexpr const char* kLockAttemptSql =
    "SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts WHERE id = $1 FOR NO KEY UPDATE";

Result<Attempt> LockAttempt(Tx& tx, const std::string& id) {
  ASSIGN_OR_RETURN(Rows rows, tx.Exec(kLockAttemptSql, P(id)));
  if (rows.empty()) return AttemptNotFound(id);
  return pg::ReadAttempt(Row(rows, 0));
}

void QueueEvent(Tx& tx, const std::string& run_id, const std::string& attempt_id, Micros at,
                std::string_view type, const std::string& message) {
  tx.Queue(pg::kInsertEventSql, P(run_id, attempt_id, at, type, message));
}

}  // namespace

Result<std::optional<Attempt>> PostgresStore::ClaimAttempt(const std::string& owner, Micros now,
                                                           Micros lease) {
  RETURN_IF_ERROR(CheckClaim(owner, lease));
  std::optional<Attempt> claimed;
  return ValueIfOk(
      Once([&](Tx& tx) -> Status {
        // The texts match what the SQLite store writes; the previous owner is filled in by SQL.
        ASSIGN_OR_RETURN(
            Rows rows,
            tx.Exec(kClaimSql,
                    P(now, owner, now + lease, fmt::format("claimed by '{}'", owner),
                      fmt::format("claimed by '{}'; took over expired lease of '", owner))));
        claimed.reset();
        if (rows.empty()) return OkStatus();
        ASSIGN_OR_RETURN(Attempt a, pg::ReadAttempt(Row(rows, 0)));
        claimed = std::move(a);
        return OkStatus();
      }),
      claimed);
}

Result<std::vector<Attempt>> PostgresStore::ClaimAttempts(const std::string& owner, Micros now,
                                                          Micros lease, int max) {
  RETURN_IF_ERROR(CheckClaim(owner, lease, max));
  std::vector<Attempt> claimed;
  return ValueIfOk(
      Once([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(
            Rows rows,
            tx.Exec(kClaimManySql,
                    P(now, owner, now + lease, fmt::format("claimed by '{}'", owner),
                      fmt::format("claimed by '{}'; took over expired lease of '", owner),
                      static_cast<int64_t>(max))));
        return pg::ReadClaimedAttempts(rows, claimed);
      }),
      claimed);
}

Result<int> PostgresStore::RenewLeases(const std::string& owner, Micros now, Micros lease) {
  RETURN_IF_ERROR(CheckOwnerLease(owner, lease, "renewing leases"));
  int renewed = 0;
  return ValueIfOk(Once([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec("UPDATE attempts SET lease_expires_at = "
                                                         "$1 WHERE status IN ('LAUNCHING', "
                                                         "'RUNNING') AND claimed_by = $2",
                                                         P(now + lease, owner)));
                     renewed = static_cast<int>(rows.affected());
                     return OkStatus();
                   }),
                   renewed);
}

Status PostgresStore::TakeOver(const std::string& attempt_id, const std::string& owner, Micros now,
                               Micros lease, const std::string& expected_owner) {
  RETURN_IF_ERROR(CheckOwnerLease(owner, lease, "taking over an attempt"));
  return Write([&](Tx& tx) -> Status {
    // The lock makes racing take-overs of one orphan run one after the other: each reads the
    // owner the previous one wrote, so only the first finds `expected_owner`.
    ASSIGN_OR_RETURN(Attempt a, LockAttempt(tx, attempt_id));
    RETURN_IF_ERROR(CheckTakeOver(a, expected_owner));
    tx.Queue("UPDATE attempts SET claimed_by = $1, lease_expires_at = $2 WHERE id = $3",
             P(owner, now + lease, a.id));
    QueueEvent(tx, a.run_id, a.id, now, "adopted",
               fmt::format("taken over by '{}' from '{}'", owner, a.claimed_by));
    return OkStatus();
  });
}

Status PostgresStore::MarkLaunched(const std::string& attempt_id, const std::string& owner,
                                   const std::string& engine_ref, Micros now) {
  return Write([&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Attempt a, LockAttempt(tx, attempt_id));
    if (IsTerminal(a.status)) {
      return FailedPrecondition(
          fmt::format("attempt '{}' already ended as {}; there is no launch to record", a.id,
                      ToString(a.status)));
    }
    // RUNNING is accepted: a fast engine can report the start before the launcher records it.
    if (a.status == AttemptStatus::kQueued || a.claimed_by != owner) {
      return Aborted(fmt::format(
          "attempt '{}' is held by '{}', not '{}'; another server took it over, so leave it alone",
          a.id, a.claimed_by, owner));
    }
    tx.Queue("UPDATE attempts SET engine_ref = $1, launched_at = $2 WHERE id = $3",
             P(engine_ref, now, a.id));
    QueueEvent(tx, a.run_id, a.id, now, "launched",
               fmt::format("launched on engine '{}' by '{}'", a.engine, owner));
    return OkStatus();
  });
}

Status PostgresStore::MarkRunning(const std::string& attempt_id, Micros started_at) {
  static const std::string lock_sql = "SELECT " + pg::Qualified(TUG_ATTEMPT_COLUMNS, "a") +
                                      ", r.status FROM runs AS r JOIN attempts AS a "
                                      "ON a.run_id = r.id WHERE a.id = $1 FOR NO KEY UPDATE";
  return Write([&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows rows, tx.Exec(lock_sql, P(attempt_id)));
    if (rows.empty()) return AttemptNotFound(attempt_id);
    ASSIGN_OR_RETURN(Attempt a, pg::ReadAttempt(Row(rows, 0)));
    if (a.status == AttemptStatus::kRunning) return OkStatus();  // repeated report
    if (!CanTransition(a.status, AttemptStatus::kRunning)) {
      return TransitionError(a.id, a.status, AttemptStatus::kRunning);
    }
    ASSIGN_OR_RETURN(RunStatus run, ParseRunStatus(rows.TextView(0, pg::kAttemptColumns)));
    if (run != RunStatus::kRunning) {
      if (!CanTransition(run, RunStatus::kRunning)) {
        return RunTransitionError(a.run_id, run, RunStatus::kRunning);
      }
      // started_at is the first start: a retried run keeps the time it first ran.
      tx.Queue(
          "UPDATE runs SET status = 'RUNNING', updated_at = $1, "
          "started_at = CASE WHEN started_at = 0 THEN $1 ELSE started_at END WHERE id = $2",
          P(started_at, a.run_id));
    }
    tx.Queue("UPDATE attempts SET status = 'RUNNING', started_at = $1 WHERE id = $2",
             P(started_at, a.id));
    QueueEvent(tx, a.run_id, a.id, started_at, "started",
               fmt::format("attempt {} started", a.number));
    return OkStatus();
  });
}

}  // namespace tug::store
