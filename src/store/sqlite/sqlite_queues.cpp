// SqliteStore: what the queue dispatcher reads and writes (src/queue; Store's team queues part).
#include <algorithm>

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

// Two index range scans on attempts_status_due (an OR would scan the table), runs by key.
#define TUG_QUEUE_ENTRY_SELECT                                                                  \
  "SELECT a.id, a.run_id, a.status, a.memory_bytes, a.cpu_millis, a.spark_resources, r.queue, " \
  "r.priority, r.owner, r.created_at, r.queue_reason, a.due_at, a.gpu FROM attempts AS a "      \
  "JOIN runs AS r ON r.id = a.run_id "

constexpr const char* kQueueEntriesSql = TUG_QUEUE_ENTRY_SELECT
    "WHERE a.status = 'QUEUED' AND a.due_at <= ?1 UNION ALL " TUG_QUEUE_ENTRY_SELECT
    "WHERE a.status IN ('LAUNCHING', 'RUNNING')";

Result<QueueEntry> ReadQueueEntry(const Stmt& s) {
  QueueEntry e;
  e.attempt_id = s.Text(0);
  e.run_id = s.Text(1);
  ASSIGN_OR_RETURN(e.status, ParseAttemptStatus(s.Text(2)));
  e.resources.memory_bytes = s.Int(3);
  e.resources.cpu_millis = s.Int(4);
  ASSIGN_OR_RETURN(e.resources.spark, sqlite::DecodeSparkResources(s.Text(5)));
  e.queue = s.Text(6);
  e.priority = static_cast<int>(s.Int(7));
  e.owner = s.Text(8);
  e.run_created_at = s.Int(9);
  e.queue_reason = s.Text(10);
  e.due_at = s.Int(11);
  e.resources.gpu = s.Int(12);
  return e;
}

// Whether `owner` holds the named lease unexpired at `now`, read inside the write transaction
// (writes are serialised, so it cannot change before the commit).
Result<bool> HoldsLease(Connection& db, const std::string& name, const std::string& owner,
                        Micros now) {
  ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT 1 FROM leases WHERE name = ? AND owner = ? AND "
                                      "expires_at > ?"));
  s.Bind(1, name).Bind(2, owner).Bind(3, now);
  return s.Step();
}

}  // namespace

Result<std::vector<QueueEntry>> SqliteStore::ListQueueEntries(Micros now) {
  std::vector<QueueEntry> out;
  return sqlite::ValueIfOk(Read([&](Connection& db) -> Status {
                             out.clear();
                             ASSIGN_OR_RETURN(Stmt s, db.Prepare(kQueueEntriesSql));
                             s.Bind(1, now);
                             while (true) {
                               ASSIGN_OR_RETURN(bool row, s.Step());
                               if (!row) return OkStatus();
                               ASSIGN_OR_RETURN(QueueEntry e, ReadQueueEntry(s));
                               out.push_back(std::move(e));
                             }
                           }),
                           out);
}

Result<std::vector<QueueEntry>> SqliteStore::ListQueueEntriesOfRuns(
    const std::vector<std::string>& run_ids) {
  constexpr size_t kChunk = 500;  // bound parameters per statement
  std::vector<QueueEntry> out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        out.clear();
        for (size_t begin = 0; begin < run_ids.size(); begin += kChunk) {
          const size_t n = std::min(kChunk, run_ids.size() - begin);
          std::string marks = "?";
          for (size_t i = 1; i < n; ++i) marks += ",?";
          // The runs' attempts through UNIQUE (run_id, number).
          ASSIGN_OR_RETURN(Stmt s, db.Prepare(fmt::format(
                                       TUG_QUEUE_ENTRY_SELECT "WHERE a.run_id IN ({})", marks)));
          for (size_t i = 0; i < n; ++i) s.Bind(static_cast<int>(i + 1), run_ids[begin + i]);
          while (true) {
            ASSIGN_OR_RETURN(bool row, s.Step());
            if (!row) break;
            ASSIGN_OR_RETURN(QueueEntry e, ReadQueueEntry(s));
            out.push_back(std::move(e));
          }
        }
        return OkStatus();
      }),
      out);
}

Result<std::vector<Attempt>> SqliteStore::ClaimQueuedAttempts(const std::vector<std::string>& ids,
                                                              const std::string& owner, Micros now,
                                                              Micros lease,
                                                              const std::string& lease_name) {
  RETURN_IF_ERROR(CheckClaim(owner, lease));
  std::vector<Attempt> claimed;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        claimed.clear();
        ASSIGN_OR_RETURN(bool held, HoldsLease(db, lease_name, owner, now));
        if (!held) {
          return Aborted(fmt::format("'{}' does not hold the '{}' lease; another server admits",
                                     owner, lease_name));
        }
        for (const std::string& id : ids) {
          auto a = LoadAttempt(db, id);
          if (!a.ok()) {
            if (a.error().code() == Code::kNotFound) continue;  // purged meanwhile
            return std::move(a).take_error();
          }
          if (a->status != AttemptStatus::kQueued || a->due_at > now) continue;
          a->status = AttemptStatus::kLaunching;
          a->claimed_by = owner;
          a->lease_expires_at = now + lease;
          ASSIGN_OR_RETURN(Stmt u, db.Prepare("UPDATE attempts SET status = 'LAUNCHING', "
                                              "claimed_by = ?, lease_expires_at = ? WHERE id = ?"));
          RETURN_IF_ERROR(u.Bind(1, owner).Bind(2, a->lease_expires_at).Bind(3, a->id).Run());
          RETURN_IF_ERROR(AddEvent(db, a->run_id, a->id, now, "claimed",
                                   fmt::format("claimed by '{}'", owner)));
          claimed.push_back(std::move(*a));
        }
        return OkStatus();
      }),
      claimed);
}

Result<std::vector<Attempt>> SqliteStore::ClaimExpiredAttempts(const std::string& owner, Micros now,
                                                               Micros lease, int max) {
  RETURN_IF_ERROR(CheckClaim(owner, lease, max));
  std::vector<Attempt> claimed;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        claimed.clear();
        while (static_cast<int>(claimed.size()) < max) {
          ASSIGN_OR_RETURN(auto a,
                           FirstAttempt(db,
                                        "SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts "
                                        "INDEXED BY attempts_launching_lease "
                                        "WHERE status = 'LAUNCHING' AND "
                                        "lease_expires_at <= ?1 ORDER BY due_at, id LIMIT 1",
                                        now));
          if (!a) break;
          std::string message =
              fmt::format("claimed by '{}'; took over expired lease of '{}'", owner, a->claimed_by);
          a->claimed_by = owner;
          a->lease_expires_at = now + lease;
          ASSIGN_OR_RETURN(Stmt u, db.Prepare("UPDATE attempts SET claimed_by = ?, "
                                              "lease_expires_at = ? WHERE id = ?"));
          RETURN_IF_ERROR(u.Bind(1, owner).Bind(2, a->lease_expires_at).Bind(3, a->id).Run());
          RETURN_IF_ERROR(AddEvent(db, a->run_id, a->id, now, "claimed", std::move(message)));
          claimed.push_back(std::move(*a));
        }
        return OkStatus();
      }),
      claimed);
}

Status SqliteStore::SetQueueReasons(
    const std::vector<std::pair<std::string, std::string>>& reasons) {
  if (reasons.empty()) return OkStatus();
  return Write([&](Connection& db) -> Status {
    for (const auto& [run_id, reason] : reasons) {
      ASSIGN_OR_RETURN(Stmt s, db.Prepare("UPDATE runs SET queue_reason = ? WHERE id = ?"));
      RETURN_IF_ERROR(s.Bind(1, reason).Bind(2, run_id).Run());
    }
    return OkStatus();
  });
}

Result<std::vector<QueueCount>> SqliteStore::CountRunsByQueue() {
  std::vector<QueueCount> out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        out.clear();
        ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT queue, SUM(status IN ('QUEUED', 'RETRYING')), "
                                            "SUM(status = 'RUNNING') FROM runs WHERE status IN "
                                            "('QUEUED', 'RETRYING', 'RUNNING') GROUP BY queue "
                                            "ORDER BY queue"));
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return OkStatus();
          out.push_back(QueueCount{s.Text(0), s.Int(1), s.Int(2)});
        }
      }),
      out);
}

}  // namespace tug::store
