// SqliteStore: claims, leases on attempts, take-overs and launches.
#include <tuple>

#include <fmt/format.h>

#include "store/rules.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::store {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite_internal::AddEvent;
using sqlite_internal::FirstAttempt;
using sqlite_internal::LoadAttempt;

namespace {

// Claims the oldest due attempt inside the caller's write transaction; nullopt when none is due.
Result<std::optional<Attempt>> ClaimOne(Connection& db, const std::string& owner, Micros now,
                                        Micros lease) {
  // Two index range scans rather than one OR query, which SQLite would answer with a full scan:
  // QUEUED by (status, due_at); expired LAUNCHING by lease (the partial index, forced: SQLite
  // would otherwise walk every launching attempt in due order to find the expired ones).
  ASSIGN_OR_RETURN(auto queued, FirstAttempt(db,
                                             "SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts "
                                             "WHERE status = 'QUEUED' AND due_at <= ?1 "
                                             "ORDER BY due_at, id LIMIT 1",
                                             now));
  ASSIGN_OR_RETURN(auto expired, FirstAttempt(db,
                                              "SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts "
                                              "INDEXED BY attempts_launching_lease "
                                              "WHERE status = 'LAUNCHING' AND "
                                              "lease_expires_at <= ?1 ORDER BY due_at, id LIMIT 1",
                                              now));
  if (queued && expired) {
    bool expired_first =
        std::tie(expired->due_at, expired->id) < std::tie(queued->due_at, queued->id);
    (expired_first ? queued : expired).reset();
  }
  std::optional<Attempt>& pick = queued ? queued : expired;
  if (!pick) return std::optional<Attempt>();
  Attempt& a = *pick;
  std::string message;
  if (a.status == AttemptStatus::kQueued) {
    if (!CanTransition(a.status, AttemptStatus::kLaunching)) {
      return TransitionError(a.id, a.status, AttemptStatus::kLaunching);
    }
    message = fmt::format("claimed by '{}'", owner);
  } else {
    // A LAUNCHING attempt whose lease ran out: its owner died between claim and start. The
    // state stays LAUNCHING; only the owner and lease change.
    message = fmt::format("claimed by '{}'; took over expired lease of '{}'", owner, a.claimed_by);
  }
  a.status = AttemptStatus::kLaunching;
  a.claimed_by = owner;
  a.lease_expires_at = now + lease;
  ASSIGN_OR_RETURN(Stmt u, db.Prepare("UPDATE attempts SET status = ?, claimed_by = ?, "
                                      "lease_expires_at = ? WHERE id = ?"));
  RETURN_IF_ERROR(
      u.Bind(1, ToString(a.status)).Bind(2, owner).Bind(3, a.lease_expires_at).Bind(4, a.id).Run());
  RETURN_IF_ERROR(AddEvent(db, a.run_id, a.id, now, "claimed", std::move(message)));
  return std::optional<Attempt>(std::move(a));
}

}  // namespace

Result<std::optional<Attempt>> SqliteStore::ClaimAttempt(const std::string& owner, Micros now,
                                                         Micros lease) {
  RETURN_IF_ERROR(CheckClaim(owner, lease));
  std::optional<Attempt> claimed;
  return sqlite::ValueIfOk(Write([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(claimed, ClaimOne(db, owner, now, lease));
                             return OkStatus();
                           }),
                           claimed);
}

Result<std::vector<Attempt>> SqliteStore::ClaimAttempts(const std::string& owner, Micros now,
                                                        Micros lease, int max) {
  RETURN_IF_ERROR(CheckClaim(owner, lease, max));
  std::vector<Attempt> claimed;
  return sqlite::ValueIfOk(Write([&](Connection& db) -> Status {
                             claimed.clear();
                             while (static_cast<int>(claimed.size()) < max) {
                               ASSIGN_OR_RETURN(auto one, ClaimOne(db, owner, now, lease));
                               if (!one) break;
                               claimed.push_back(std::move(*one));
                             }
                             return OkStatus();
                           }),
                           claimed);
}

Result<int> SqliteStore::RenewLeases(const std::string& owner, Micros now, Micros lease) {
  RETURN_IF_ERROR(CheckOwnerLease(owner, lease, "renewing leases"));
  int renewed = 0;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(Stmt s,
                         db.Prepare("UPDATE attempts SET lease_expires_at = ? WHERE "
                                    "status IN ('LAUNCHING', 'RUNNING') AND claimed_by = ?"));
        RETURN_IF_ERROR(s.Bind(1, now + lease).Bind(2, owner).Run());
        renewed = static_cast<int>(db.Changes());
        return OkStatus();
      }),
      renewed);
}

Status SqliteStore::TakeOver(const std::string& attempt_id, const std::string& owner, Micros now,
                             Micros lease, const std::string& expected_owner) {
  RETURN_IF_ERROR(CheckOwnerLease(owner, lease, "taking over an attempt"));
  return Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Attempt a, LoadAttempt(db, attempt_id));
    RETURN_IF_ERROR(CheckTakeOver(a, expected_owner));
    ASSIGN_OR_RETURN(Stmt s, db.Prepare("UPDATE attempts SET claimed_by = ?, lease_expires_at = ? "
                                        "WHERE id = ?"));
    RETURN_IF_ERROR(s.Bind(1, owner).Bind(2, now + lease).Bind(3, a.id).Run());
    return AddEvent(db, a.run_id, a.id, now, "adopted",
                    fmt::format("taken over by '{}' from '{}'", owner, a.claimed_by));
  });
}

Status SqliteStore::MarkLaunched(const std::string& attempt_id, const std::string& owner,
                                 const std::string& engine_ref, Micros now) {
  return Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Attempt a, LoadAttempt(db, attempt_id));
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
    ASSIGN_OR_RETURN(
        Stmt s, db.Prepare("UPDATE attempts SET engine_ref = ?, launched_at = ? WHERE id = ?"));
    RETURN_IF_ERROR(s.Bind(1, engine_ref).Bind(2, now).Bind(3, a.id).Run());
    return AddEvent(db, a.run_id, a.id, now, "launched",
                    fmt::format("launched on engine '{}' by '{}'", a.engine, owner));
  });
}

}  // namespace tug::store
