// PostgresStore: what the queue dispatcher reads and writes (src/queue; Store's team queues part).
//
// Locks: ClaimQueuedAttempts takes the admission lease's row FOR SHARE before it updates the
// attempts, so a replica taking the lease over (an UPDATE of that row) waits for the claim to
// commit, and a claim after a take-over finds the new owner and claims nothing. Either way the
// new admitter reads the usage after every claim of the old one.
#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "store/encoding.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"
#include "store/rules.h"

namespace tug::store {

using pg::P;
using pg::Params;
using pg::Row;
using pg::Rows;
using pg::Tx;

namespace {

#define TUG_PG_QUEUE_ENTRY_SELECT                                                               \
  "SELECT a.id, a.run_id, a.status, a.memory_bytes, a.cpu_millis, a.spark_resources, r.queue, " \
  "r.priority, r.owner, r.created_at, r.queue_reason, a.due_at, a.gpu FROM attempts AS a "      \
  "JOIN runs AS r ON r.id = a.run_id "

constexpr const char* kQueueEntriesSql = TUG_PG_QUEUE_ENTRY_SELECT
    "WHERE a.status = 'QUEUED' AND a.due_at <= $1 UNION ALL " TUG_PG_QUEUE_ENTRY_SELECT
    "WHERE a.status IN ('LAUNCHING', 'RUNNING')";

// $1 now, $2 owner, $3 lease end, $4 ids, $5 the event text.
constexpr const char* kClaimIdsSql =
    "WITH u AS (UPDATE attempts SET status = 'LAUNCHING', claimed_by = $2, lease_expires_at = $3 "
    "WHERE id = ANY($4::text[]) AND status = 'QUEUED' AND due_at <= $1 "
    "RETURNING " TUG_ATTEMPT_COLUMNS
    "), e AS (INSERT INTO events (run_id, attempt_id, at, type, message) "
    "SELECT run_id, id, $1, 'claimed', $5 FROM u ORDER BY due_at, id) "
    "SELECT " TUG_ATTEMPT_COLUMNS " FROM u";

// The take-over half of ClaimAttempts' statement: expired LAUNCHING leases only. $1 now, $2
// owner, $3 lease end, $4 the event text up to the previous owner's name, $5 max.
constexpr const char* kClaimExpiredSql =
    "WITH x AS (SELECT id AS pick_id, claimed_by AS prev FROM attempts "
    "WHERE status = 'LAUNCHING' AND lease_expires_at <= $1 ORDER BY due_at, id LIMIT $5 "
    "FOR NO KEY UPDATE SKIP LOCKED), "
    "u AS (UPDATE attempts SET claimed_by = $2, lease_expires_at = $3 FROM x WHERE "
    "id = x.pick_id RETURNING " TUG_ATTEMPT_COLUMNS
    ", x.prev), "
    "e AS (INSERT INTO events (run_id, attempt_id, at, type, message) "
    "SELECT run_id, id, $1, 'claimed', $4 || prev || '''' FROM u ORDER BY due_at, id) "
    "SELECT " TUG_ATTEMPT_COLUMNS " FROM u";

Status ReadQueueEntries(const Rows& rows, std::vector<QueueEntry>& out) {
  for (int i = 0; i < rows.size(); ++i) {
    QueueEntry e;
    e.attempt_id = rows.Text(i, 0);
    e.run_id = rows.Text(i, 1);
    ASSIGN_OR_RETURN(e.status, ParseAttemptStatus(rows.TextView(i, 2)));
    e.resources.memory_bytes = rows.Int(i, 3);
    e.resources.cpu_millis = rows.Int(i, 4);
    ASSIGN_OR_RETURN(e.resources.spark, DecodeSparkResources(rows.TextView(i, 5)));
    e.queue = rows.Text(i, 6);
    e.priority = static_cast<int>(rows.Int(i, 7));
    e.owner = rows.Text(i, 8);
    e.run_created_at = rows.Int(i, 9);
    e.queue_reason = rows.Text(i, 10);
    e.due_at = rows.Int(i, 11);
    e.resources.gpu = rows.Int(i, 12);
    out.push_back(std::move(e));
  }
  return OkStatus();
}

}  // namespace

Result<std::vector<QueueEntry>> PostgresStore::ListQueueEntries(Micros now) {
  std::vector<QueueEntry> out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     out.clear();
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec(kQueueEntriesSql, P(now)));
                     return ReadQueueEntries(rows, out);
                   }),
                   out);
}

Result<std::vector<QueueEntry>> PostgresStore::ListQueueEntriesOfRuns(
    const std::vector<std::string>& run_ids) {
  std::vector<QueueEntry> out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     out.clear();
                     if (run_ids.empty()) return OkStatus();
                     Params p;
                     p.AddArray(run_ids);
                     ASSIGN_OR_RETURN(
                         Rows rows,
                         tx.Exec(TUG_PG_QUEUE_ENTRY_SELECT "WHERE a.run_id = ANY($1::text[])", p));
                     return ReadQueueEntries(rows, out);
                   }),
                   out);
}

Result<std::vector<Attempt>> PostgresStore::ClaimQueuedAttempts(const std::vector<std::string>& ids,
                                                                const std::string& owner,
                                                                Micros now, Micros lease,
                                                                const std::string& lease_name) {
  RETURN_IF_ERROR(CheckClaim(owner, lease));
  std::vector<Attempt> claimed;
  return ValueIfOk(
      Write([&](Tx& tx) -> Status {
        claimed.clear();
        ASSIGN_OR_RETURN(Rows held, tx.Exec("SELECT 1 FROM leases WHERE name = $1 AND owner = $2 "
                                            "AND expires_at > $3 FOR SHARE",
                                            P(lease_name, owner, now)));
        if (held.empty()) {
          return Aborted(fmt::format("'{}' does not hold the '{}' lease; another server admits",
                                     owner, lease_name));
        }
        if (ids.empty()) return OkStatus();
        Params p;
        p.Add(now)
            .Add(owner)
            .Add(now + lease)
            .AddArray(ids)
            .Add(fmt::format("claimed by '{}'", owner));
        ASSIGN_OR_RETURN(Rows rows, tx.Exec(kClaimIdsSql, p));
        return pg::ReadClaimedAttempts(rows, claimed);
      }),
      claimed);
}

Result<std::vector<Attempt>> PostgresStore::ClaimExpiredAttempts(const std::string& owner,
                                                                 Micros now, Micros lease,
                                                                 int max) {
  RETURN_IF_ERROR(CheckClaim(owner, lease, max));
  std::vector<Attempt> claimed;
  return ValueIfOk(
      Once([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(
            Rows rows,
            tx.Exec(kClaimExpiredSql,
                    P(now, owner, now + lease,
                      fmt::format("claimed by '{}'; took over expired lease of '", owner),
                      static_cast<int64_t>(max))));
        return pg::ReadClaimedAttempts(rows, claimed);
      }),
      claimed);
}

Status PostgresStore::SetQueueReasons(
    const std::vector<std::pair<std::string, std::string>>& reasons) {
  if (reasons.empty()) return OkStatus();
  std::vector<std::string> ids, texts;
  for (const auto& [id, reason] : reasons) {
    ids.push_back(id);
    texts.push_back(reason);
  }
  return Once([&](Tx& tx) -> Status {
    Params p;
    p.AddArray(ids).AddArray(texts);
    ASSIGN_OR_RETURN(Rows rows,
                     tx.Exec("UPDATE runs SET queue_reason = v.reason FROM unnest($1::text[], "
                             "$2::text[]) AS v(id, reason) WHERE runs.id = v.id",
                             p));
    return OkStatus();
  });
}

Result<std::vector<QueueCount>> PostgresStore::CountRunsByQueue() {
  std::vector<QueueCount> out;
  return ValueIfOk(
      Read([&](Tx& tx) -> Status {
        out.clear();
        ASSIGN_OR_RETURN(
            Rows rows,
            tx.Exec("SELECT queue, COUNT(*) FILTER (WHERE status IN ('QUEUED', 'RETRYING')), "
                    "COUNT(*) FILTER (WHERE status = 'RUNNING') FROM runs WHERE status IN "
                    "('QUEUED', 'RETRYING', 'RUNNING') GROUP BY queue ORDER BY queue",
                    Params{}));
        for (int i = 0; i < rows.size(); ++i) {
          out.push_back(QueueCount{rows.Text(i, 0), rows.Int(i, 1), rows.Int(i, 2)});
        }
        return OkStatus();
      }),
      out);
}

}  // namespace tug::store
