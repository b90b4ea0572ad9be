// PostgresStore: opening, the transaction helpers, definitions, events, metrics, named leases and
// retention. Runs and attempts are in postgres_runs.cpp, claims and launches in
// postgres_claims.cpp.
#include "store/postgres/postgres_store.h"

#include <fmt/format.h>

#include "store/postgres/migrations.h"
#include "store/postgres/pool.h"
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

constexpr int kMaxPoolSize = 1000;
constexpr int kMaxTries = 5;

// Runs the body, turning exceptions (std::bad_alloc, a throwing callee) into kInternal so none
// escapes the store.
Status Guarded(FunctionRef<Status(Tx&)> body, Tx& tx) {
  try {
    return body(tx);
  } catch (const std::exception& e) {
    return Internal("the store failed unexpectedly; retry, and report a bug if it persists",
                    e.what());
  } catch (...) {
    return Internal("the store failed unexpectedly; retry, and report a bug if it persists");
  }
}

}  // namespace

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresOptions& opts,
                                                           const Clock& clock) {
  if (opts.pool_size < 1 || opts.pool_size > kMaxPoolSize) {
    return InvalidArgument(fmt::format("pool_size {} is out of range; use 1 to {} connections",
                                       opts.pool_size, kMaxPoolSize));
  }
  if (opts.connect_timeout_seconds < 0 || opts.statement_timeout_ms < 0) {
    return InvalidArgument(
        "connect_timeout_seconds and statement_timeout_ms must not be negative; use 0 for no "
        "limit");
  }
  ASSIGN_OR_RETURN(pg::ConnectSettings settings, pg::ParseUrl(opts.url));
  settings.connect_timeout_seconds = opts.connect_timeout_seconds;
  settings.statement_timeout_ms = opts.statement_timeout_ms;
  const std::string shown = settings.shown;
  auto pool = std::make_unique<pg::Pool>(std::move(settings), opts.pool_size, clock);
  {
    ASSIGN_OR_RETURN(pg::Pool::Lease conn, pool->Acquire());
    if (auto st = pg::Migrate(*conn, clock); !st.ok()) {
      return std::move(st).take_error().WithContext(fmt::format("migrating database '{}'", shown));
    }
  }
  return std::unique_ptr<PostgresStore>(new PostgresStore(clock, std::move(pool)));
}

PostgresStore::PostgresStore(const Clock& clock, std::unique_ptr<pg::Pool> pool)
    : clock_(clock), pool_(std::move(pool)) {}

PostgresStore::~PostgresStore() = default;

Status PostgresStore::InTx(Body body, int kind_value) {
  const auto kind = static_cast<Tx::Kind>(kind_value);
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(pg::Pool::Lease conn, pool_->Acquire());
    Tx tx(*conn, kind);
    Status st = Guarded(body, tx);
    if (st.ok() && !tx.committed()) st = tx.Commit();
    if (st.ok()) return st;
    tx.Abandon();
    if (!tx.retryable() || attempt >= kMaxTries) return st;
  }
}

Status PostgresStore::Write(Body body) { return InTx(body, static_cast<int>(Tx::Kind::kWrite)); }

Status PostgresStore::Once(Body body) {
  return InTx(body, static_cast<int>(Tx::Kind::kAutocommit));
}

Status PostgresStore::Read(Body body) { return InTx(body, static_cast<int>(Tx::Kind::kRead)); }

// --- definitions ---

Result<Definition> PostgresStore::PutDefinition(const Definition& def, Micros now) {
  if (def.name.empty()) {
    return InvalidArgument("definition name is empty; set a name, e.g. name: hello");
  }
  // The stored spec carries neither version nor created_at nor owner and group: those are
  // columns.
  Definition spec = def;
  spec.version = 0;
  spec.created_at = 0;
  spec.owner.clear();
  spec.group.clear();
  Definition out;
  auto body = [&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows rows, tx.Exec("SELECT version, spec, created_at, deleted_at, owner, "
                                        "group_name FROM definitions "
                                        "WHERE name = $1 ORDER BY version DESC LIMIT 1",
                                        P(def.name)));
    int64_t next = 1;
    if (!rows.empty()) {
      Row row(rows, 0);
      next = row.Int(0) + 1;
      if (row.IsNull(3) && row.TextView(4) == def.owner && row.TextView(5) == def.group) {
        ASSIGN_OR_RETURN(Definition current, DecodeSpec(row.TextView(1)));
        if (current == spec) {  // an unchanged apply keeps the version (idempotent)
          out = std::move(current);
          out.version = row.Int(0);
          out.created_at = row.Int(2);
          out.owner = def.owner;
          out.group = def.group;
          return OkStatus();
        }
      }
    }
    tx.Queue(
        "INSERT INTO definitions (name, version, spec, created_at, owner, group_name) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        P(def.name, next, EncodeSpec(spec), now, def.owner, def.group));
    // Committed here so that a concurrent apply of the same name, which took version `next`
    // first, shows up as kAlreadyExists: the loop below reads again and makes `next` + 1.
    RETURN_IF_ERROR(tx.Commit());
    out = spec;
    out.version = next;
    out.created_at = now;
    out.owner = def.owner;
    out.group = def.group;
    return OkStatus();
  };
  for (int attempt = 1;; ++attempt) {
    Status st = Write(body);
    if (st.ok() || st.error().code() != Code::kAlreadyExists || attempt >= kMaxTries) {
      return ValueIfOk(std::move(st), out);
    }
  }
}

Result<Definition> PostgresStore::GetDefinition(const std::string& name) {
  Definition out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows,
                                      tx.Exec("SELECT version, spec, created_at, owner, group_name "
                                              "FROM definitions "
                                              "WHERE name = $1 AND deleted_at IS NULL "
                                              "ORDER BY version DESC LIMIT 1",
                                              P(name)));
                     if (rows.empty()) return DefinitionNotFound(name);
                     Row row(rows, 0);
                     ASSIGN_OR_RETURN(out, DecodeSpec(row.TextView(1)));
                     out.version = row.Int(0);
                     out.created_at = row.Int(2);
                     out.owner = row.Text(3);
                     out.group = row.Text(4);
                     return OkStatus();
                   }),
                   out);
}

Result<std::vector<Definition>> PostgresStore::ListDefinitions(const Visibility& visible) {
  std::vector<Definition> out;
  std::vector<std::string> values;
  // Deleting hides every version of a name, so the newest live row is the newest row.
  const std::string sql =
      "SELECT version, spec, created_at, owner, group_name FROM definitions AS d "
      "WHERE deleted_at IS NULL AND version = "
      "(SELECT MAX(version) FROM definitions WHERE name = d.name)" +
      VisibilityCondition(visible, values, /*dollar=*/true) + " ORDER BY name";
  Params params;
  for (const std::string& v : values) params.Add(v);
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     out.clear();
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec(sql, params));
                     for (int i = 0; i < rows.size(); ++i) {
                       Row row(rows, i);
                       ASSIGN_OR_RETURN(Definition d, DecodeSpec(row.TextView(1)));
                       d.version = row.Int(0);
                       d.created_at = row.Int(2);
                       d.owner = row.Text(3);
                       d.group = row.Text(4);
                       out.push_back(std::move(d));
                     }
                     return OkStatus();
                   }),
                   out);
}

Status PostgresStore::DeleteDefinition(const std::string& name, Micros now) {
  return Once([&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows rows, tx.Exec("UPDATE definitions SET deleted_at = $1 "
                                        "WHERE name = $2 AND deleted_at IS NULL",
                                        P(now, name)));
    if (rows.affected() == 0) return DefinitionNotFound(name);
    return OkStatus();
  });
}

// --- timeline ---

Status PostgresStore::AppendEvent(const Event& event) {
  if (event.run_id.empty() || event.type.empty()) {
    return InvalidArgument("an event needs a run_id and a type; set both");
  }
  // The run is checked under KEY SHARE, as a foreign key would: a PurgeRuns of it that locked it
  // first makes this find nothing (kNotFound). One that comes second waits for this commit and
  // then misses the new event (its snapshot is older), which outlives the run unseen; with a key
  // that purge would fail instead.
  bool inserted = false;
  RETURN_IF_ERROR(Once([&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows rows,
                     tx.Exec("INSERT INTO events (run_id, attempt_id, at, type, message) "
                             "SELECT $1, $2, $3::bigint, $4, $5 "
                             "WHERE EXISTS (SELECT 1 FROM runs WHERE id = $1 FOR KEY SHARE)",
                             pg::EventParams(event)));
    inserted = rows.affected() == 1;
    return OkStatus();
  }));
  if (!inserted) {
    return NotFound(
        fmt::format("run '{}' not found; events can only be added to existing runs", event.run_id));
  }
  return OkStatus();
}

Result<std::vector<Event>> PostgresStore::ListEvents(const std::string& run_id, int64_t after_seq,
                                                     int limit) {
  if (limit < 1 || limit > kMaxEventsPerPage) {
    return InvalidArgument(fmt::format("event limit {} is out of range; ask for 1 to {} events",
                                       limit, kMaxEventsPerPage));
  }
  std::vector<Event> out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(
                         Rows rows, tx.Exec("SELECT " TUG_EVENT_COLUMNS " FROM events "
                                            "WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                                            P(run_id, after_seq, limit)));
                     out.clear();
                     for (int i = 0; i < rows.size(); ++i)
                       out.push_back(pg::ReadEvent(Row(rows, i)));
                     return OkStatus();
                   }),
                   out);
}

// --- metrics ---

Result<std::vector<StatusCount>> PostgresStore::CountRunsByStatus() {
  std::vector<StatusCount> out;
  return ValueIfOk(
      Read([&](Tx& tx) -> Status {
        // Every status is reported, zeros included, so gauges fall back to 0 instead of going
        // stale.
        out.clear();
        for (auto s :
             {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kRetrying, RunStatus::kSucceeded,
              RunStatus::kFailed, RunStatus::kStopped, RunStatus::kLost}) {
          out.push_back({s, 0});
        }
        ASSIGN_OR_RETURN(Rows rows, tx.Exec("SELECT status, COUNT(*) FROM runs GROUP BY status"));
        for (int i = 0; i < rows.size(); ++i) {
          auto status = ParseRunStatus(rows.TextView(i, 0));
          if (!status.ok()) continue;  // unreadable rows are reported by GetRun, not here
          for (auto& c : out) {
            if (c.status == *status) c.count += rows.Int(i, 1);
          }
        }
        return OkStatus();
      }),
      out);
}

Result<int64_t> PostgresStore::QueueDepth(Micros now) {
  int64_t depth = 0;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec("SELECT COUNT(*) FROM attempts "
                                                         "WHERE status = 'QUEUED' AND due_at <= $1",
                                                         P(now)));
                     depth = rows.Int(0, 0);
                     return OkStatus();
                   }),
                   depth);
}

// --- singleton work and retention ---

Result<bool> PostgresStore::AcquireLease(const std::string& name, const std::string& owner,
                                         Micros now, Micros ttl) {
  RETURN_IF_ERROR(CheckLease(name, owner, ttl));
  bool held = false;
  return ValueIfOk(Once([&](Tx& tx) -> Status {
                     // One statement: insert, or take the row over when it is ours or has expired.
                     // Concurrent inserts of one name serialise on its key; the losers see the
                     // winner's row.
                     ASSIGN_OR_RETURN(
                         Rows rows,
                         tx.Exec("INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $3) "
                                 "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                                 "expires_at = excluded.expires_at "
                                 "WHERE leases.owner = excluded.owner OR leases.expires_at <= $4",
                                 P(name, owner, now + ttl, now)));
                     held = rows.affected() > 0;
                     return OkStatus();
                   }),
                   held);
}

Status PostgresStore::ReleaseLease(const std::string& name, const std::string& owner) {
  return Once([&](Tx& tx) {
    return pg::Done(tx.Exec("DELETE FROM leases WHERE name = $1 AND owner = $2", P(name, owner)));
  });
}

// One statement: the doomed runs are locked, and their events, attempts and the runs go in
// sibling CTEs (the attempts' foreign key is checked at the end of the statement, when all are
// gone).
Result<std::vector<std::string>> PostgresStore::PurgeRuns(Micros ended_before, int limit) {
  RETURN_IF_ERROR(CheckPurgeLimit(limit));
  std::vector<std::string> ids;
  return ValueIfOk(
      Once([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(
            Rows rows,
            tx.Exec("WITH doomed AS (SELECT id, ended_at FROM runs "
                    "WHERE ended_at > 0 AND ended_at < $1 ORDER BY ended_at, id LIMIT $2 "
                    "FOR UPDATE), "
                    "e AS (DELETE FROM events WHERE run_id IN (SELECT id FROM doomed)), "
                    "u AS (DELETE FROM usage_samples WHERE run_id IN (SELECT id FROM doomed)), "
                    "a AS (DELETE FROM attempts WHERE run_id IN (SELECT id FROM doomed)), "
                    "k AS (DELETE FROM idempotency_keys WHERE run_id IN (SELECT id FROM doomed)), "
                    "r AS (DELETE FROM runs WHERE id IN (SELECT id FROM doomed) RETURNING id) "
                    "SELECT d.id FROM doomed AS d JOIN r ON r.id = d.id ORDER BY d.ended_at, d.id",
                    P(ended_before, limit)));
        ids.clear();
        for (int i = 0; i < rows.size(); ++i) ids.push_back(rows.Text(i, 0));
        return OkStatus();
      }),
      ids);
}

Result<int> PostgresStore::PurgeIdempotencyKeys(Micros now, int limit) {
  RETURN_IF_ERROR(CheckPurgeLimit(limit));
  int deleted = 0;
  return ValueIfOk(Once([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(
                         Rows rows,
                         tx.Exec("DELETE FROM idempotency_keys WHERE (owner, key) IN (SELECT "
                                 "owner, key FROM idempotency_keys WHERE expires_at <= $1 "
                                 "ORDER BY expires_at LIMIT $2)",
                                 P(now, limit)));
                     deleted = static_cast<int>(rows.affected());
                     return OkStatus();
                   }),
                   deleted);
}

Result<std::optional<IdempotencyRecord>> PostgresStore::FindIdempotencyKey(const std::string& owner,
                                                                           const std::string& key,
                                                                           Micros now) {
  std::optional<IdempotencyRecord> out;
  return ValueIfOk(
      Read([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Rows rows, tx.Exec("SELECT run_id, request_hash, created_at, expires_at "
                                            "FROM idempotency_keys WHERE owner = $1 AND key = $2 "
                                            "AND expires_at > $3",
                                            P(owner, key, now)));
        out.reset();
        if (rows.empty()) return OkStatus();
        out = IdempotencyRecord{owner,          key,           rows.Text(0, 0), rows.Text(0, 1),
                                rows.Int(0, 2), rows.Int(0, 3)};
        return OkStatus();
      }),
      out);
}

}  // namespace tug::store
