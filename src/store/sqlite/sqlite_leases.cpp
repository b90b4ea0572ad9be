// SqliteStore: named leases for singleton loops, retention, and idempotency keys.
#include <fmt/format.h>

#include "store/rules.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::store {

using sqlite::Connection;
using sqlite::Stmt;

Result<bool> SqliteStore::AcquireLease(const std::string& name, const std::string& owner,
                                       Micros now, Micros ttl) {
  RETURN_IF_ERROR(CheckLease(name, owner, ttl));
  bool held = false;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        // One statement: insert, or take the row over when it is ours or has expired.
        ASSIGN_OR_RETURN(
            Stmt s, db.Prepare("INSERT INTO leases (name, owner, expires_at) VALUES (?1, ?2, ?3) "
                               "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                               "expires_at = excluded.expires_at "
                               "WHERE leases.owner = excluded.owner OR leases.expires_at <= ?4"));
        RETURN_IF_ERROR(s.Bind(1, name).Bind(2, owner).Bind(3, now + ttl).Bind(4, now).Run());
        held = db.Changes() > 0;
        return OkStatus();
      }),
      held);
}

Status SqliteStore::ReleaseLease(const std::string& name, const std::string& owner) {
  return Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Stmt s, db.Prepare("DELETE FROM leases WHERE name = ? AND owner = ?"));
    return s.Bind(1, name).Bind(2, owner).Run();
  });
}

Result<std::vector<std::string>> SqliteStore::PurgeRuns(Micros ended_before, int limit) {
  RETURN_IF_ERROR(CheckPurgeLimit(limit));
  std::vector<std::string> ids;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        ids.clear();
        {
          ASSIGN_OR_RETURN(Stmt s,
                           db.Prepare("SELECT id FROM runs WHERE ended_at > 0 AND ended_at < ? "
                                      "ORDER BY ended_at, id LIMIT ?"));
          s.Bind(1, ended_before).Bind(2, limit);
          while (true) {
            ASSIGN_OR_RETURN(bool row, s.Step());
            if (!row) break;
            ids.push_back(s.Text(0));
          }
        }
        for (const std::string& id : ids) {
          ASSIGN_OR_RETURN(Stmt e, db.Prepare("DELETE FROM events WHERE run_id = ?"));
          RETURN_IF_ERROR(e.Bind(1, id).Run());
          ASSIGN_OR_RETURN(Stmt u, db.Prepare("DELETE FROM usage_samples WHERE run_id = ?"));
          RETURN_IF_ERROR(u.Bind(1, id).Run());
          ASSIGN_OR_RETURN(Stmt a, db.Prepare("DELETE FROM attempts WHERE run_id = ?"));
          RETURN_IF_ERROR(a.Bind(1, id).Run());
          ASSIGN_OR_RETURN(Stmt k, db.Prepare("DELETE FROM idempotency_keys WHERE run_id = ?"));
          RETURN_IF_ERROR(k.Bind(1, id).Run());
          ASSIGN_OR_RETURN(Stmt r, db.Prepare("DELETE FROM runs WHERE id = ?"));
          RETURN_IF_ERROR(r.Bind(1, id).Run());
        }
        return OkStatus();
      }),
      ids);
}

Status sqlite_internal::ClaimIdempotencyKey(Connection& db, const std::string& owner,
                                            const IdempotencyKey& key, const std::string& run_id,
                                            Micros now) {
  // One statement, as AcquireLease: the primary key (owner, key) makes a second live claim a
  // no-op, and an expired row is taken over in place.
  ASSIGN_OR_RETURN(
      Stmt s,
      db.Prepare("INSERT INTO idempotency_keys (owner, key, run_id, request_hash, created_at, "
                 "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                 "ON CONFLICT (owner, key) DO UPDATE SET run_id = excluded.run_id, "
                 "request_hash = excluded.request_hash, created_at = excluded.created_at, "
                 "expires_at = excluded.expires_at "
                 "WHERE idempotency_keys.expires_at <= excluded.created_at"));
  RETURN_IF_ERROR(s.Bind(1, owner)
                      .Bind(2, key.key)
                      .Bind(3, run_id)
                      .Bind(4, key.request_hash)
                      .Bind(5, now)
                      .Bind(6, key.expires_at)
                      .Run());
  if (db.Changes() == 0) return IdempotencyKeyTaken(owner, key.key);
  return OkStatus();
}

Result<std::optional<IdempotencyRecord>> SqliteStore::FindIdempotencyKey(const std::string& owner,
                                                                         const std::string& key,
                                                                         Micros now) {
  std::optional<IdempotencyRecord> out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT run_id, request_hash, created_at, expires_at "
                                            "FROM idempotency_keys WHERE owner = ? AND key = ? "
                                            "AND expires_at > ?"));
        s.Bind(1, owner).Bind(2, key).Bind(3, now);
        ASSIGN_OR_RETURN(bool row, s.Step());
        out.reset();
        if (!row) return OkStatus();
        out = IdempotencyRecord{owner, key, s.Text(0), s.Text(1), s.Int(2), s.Int(3)};
        return OkStatus();
      }),
      out);
}

Result<int> SqliteStore::PurgeIdempotencyKeys(Micros now, int limit) {
  RETURN_IF_ERROR(CheckPurgeLimit(limit));
  int deleted = 0;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(
            Stmt s, db.Prepare("DELETE FROM idempotency_keys WHERE (owner, key) IN (SELECT owner, "
                               "key FROM idempotency_keys WHERE expires_at <= ? "
                               "ORDER BY expires_at LIMIT ?)"));
        RETURN_IF_ERROR(s.Bind(1, now).Bind(2, limit).Run());
        deleted = static_cast<int>(db.Changes());
        return OkStatus();
      }),
      deleted);
}

}  // namespace tug::store
