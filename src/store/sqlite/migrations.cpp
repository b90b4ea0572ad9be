#include "store/sqlite/migrations.h"

#include <array>

#include <fmt/format.h>

namespace tug::store::sqlite {
namespace {

// Timestamps are int64 microseconds since the epoch; 0 means "not yet". Statuses are stored by
// name (QUEUED, RUNNING...) so the file reads well in the sqlite3 shell. An outcome is present
// iff its reason column is not NULL.
constexpr std::array kMigrations = {
    Migration{1, R"sql(
CREATE TABLE definitions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  spec TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER,
  PRIMARY KEY (name, version)
);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  definition_version INTEGER NOT NULL,
  status TEXT NOT NULL,
  spec TEXT NOT NULL,
  overrides TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL DEFAULT 0,
  ended_at INTEGER NOT NULL DEFAULT 0,
  stop_requested INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER,
  reason TEXT,
  message TEXT
);
CREATE INDEX runs_status_id ON runs (status, id);
CREATE INDEX runs_definition_id ON runs (definition, id);

CREATE TABLE attempts (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id),
  number INTEGER NOT NULL,
  status TEXT NOT NULL,
  memory_bytes INTEGER NOT NULL DEFAULT 0,
  cpu_millis INTEGER NOT NULL DEFAULT 0,
  engine TEXT NOT NULL,
  engine_ref TEXT NOT NULL DEFAULT '',
  claimed_by TEXT NOT NULL DEFAULT '',
  lease_expires_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  launched_at INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  ended_at INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER,
  reason TEXT,
  message TEXT,
  peak_memory_bytes INTEGER NOT NULL DEFAULT 0,
  cpu_micros INTEGER NOT NULL DEFAULT 0,
  UNIQUE (run_id, number)
);
CREATE INDEX attempts_status_due ON attempts (status, due_at);

CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  attempt_id TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX events_run_seq ON events (run_id, seq);
)sql"},
    // Diagnosis of an ended attempt (class, root cause, highlights), as a JSON object.
    Migration{2, R"sql(
ALTER TABLE attempts ADD COLUMN diagnosis TEXT NOT NULL DEFAULT '';
)sql"},
    // Adaptive retries: where an attempt ran (capacity of the container or Spark driver, and of
    // the executors: 'spot', 'on-demand' or ''), its Spark sizes (JSON, '' for container jobs),
    // the planner's decision (JSON) and the failure class it acted on; the plan of a run's first
    // attempt (JSON) and its command signature (CommandSignature, '' for runs created before this
    // migration: they never match a right-sizing lookup).
    //
    // runs_history serves ListSuccessHistory: equality on (definition, signature, status), then
    // newest first by ended_at without a sort. attempts_spot_ended is partial, so it holds only
    // spot attempts; CountSpotOutcomes repeats its WHERE term word for word, which is what lets
    // SQLite use it.
    Migration{3, R"sql(
ALTER TABLE attempts ADD COLUMN capacity TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN executor_capacity TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN spark_resources TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN decision TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN failure_class TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN signature TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_history ON runs (definition, signature, status, ended_at, id);
CREATE INDEX attempts_spot_ended ON attempts (ended_at)
  WHERE capacity = 'spot' OR executor_capacity = 'spot';
)sql"},
    // Spark: an attempt's components as it ended (controller, driver, executor-N with their
    // states; JSON array) and the application id for the history server.
    Migration{4, R"sql(
ALTER TABLE attempts ADD COLUMN components TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
)sql"},
    // Singleton loops (reconcile sweep, retention) run under a named lease; retention deletes
    // ended runs oldest first by ended_at (the partial index holds ended runs only). A claim
    // finds expired LAUNCHING leases through attempts_launching_lease instead of scanning every
    // launching attempt (thousands while pods are pending).
    Migration{5, R"sql(
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at > 0;
CREATE INDEX attempts_launching_lease ON attempts (lease_expires_at) WHERE status = 'LAUNCHING';
)sql"},
    // Who submitted a run (the runs list filters by it), and attempts' resource usage over time,
    // one row per (attempt, component, bucket): the newest minutes at fine resolution, older
    // ones coarser (store/rules UsageBucketWidth), so a day-long attempt keeps ~500 rows.
    Migration{6, R"sql(
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_owner_id ON runs (owner, id);
CREATE TABLE usage_samples (
  run_id TEXT NOT NULL,
  attempt_id TEXT NOT NULL,
  component TEXT NOT NULL,
  bucket_at INTEGER NOT NULL,
  width INTEGER NOT NULL,
  memory_bytes INTEGER NOT NULL,
  cpu_millis_sum INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  memory_limit_bytes INTEGER NOT NULL,
  cpu_limit_millis INTEGER NOT NULL,
  PRIMARY KEY (run_id, attempt_id, component, bucket_at)
) WITHOUT ROWID;
)sql"},
    // Authentication (src/auth): the group a run or definition belongs to and a definition's
    // owner (lists filter by group or owner, so each has an index), and API bearer tokens, of
    // which only the SHA-256 is kept (looked up by it, so it is unique).
    Migration{7, R"sql(
ALTER TABLE runs ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_group_id ON runs (group_name, id);
ALTER TABLE definitions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE definitions ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  user_name TEXT NOT NULL,
  groups TEXT NOT NULL,
  role TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_name, created_at);
)sql"},
    // Team queues (src/queue): the queue a run waits in, its priority there, and why it waits
    // (written by the dispatcher only when the reason changes). The dispatcher reads due QUEUED
    // and active attempts through attempts_status_due and joins their runs by key; the queue
    // listing counts runs by (queue, status).
    Migration{8, R"sql(
ALTER TABLE runs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN queue_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_queue_status ON runs (queue, status);
)sql"},
    // Issue 26: a run's parent (lineage: listed by parent), an attempt's GPU count, and
    // idempotency keys. A key is unique per owner, so two replicas racing with one key cannot
    // both create a run: the loser's insert conflicts. An expired key is taken over in place
    // (the insert's ON CONFLICT ... WHERE expires_at <= now), and retention deletes the rest.
    Migration{9, R"sql(
ALTER TABLE runs ADD COLUMN parent_run_id TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_parent_id ON runs (parent_run_id, id) WHERE parent_run_id <> '';
ALTER TABLE attempts ADD COLUMN gpu INTEGER NOT NULL DEFAULT 0;
CREATE TABLE idempotency_keys (
  owner TEXT NOT NULL,
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_run ON idempotency_keys (run_id);
)sql"},
    // Cost per run (src/cost): each attempt's price when it ended, in nano-dollars (NULL: not
    // priced), and its run's sums, kept as attempts end so a listing sorts by cost on an index.
    Migration{10, R"sql(
ALTER TABLE attempts ADD COLUMN cost_nanos INTEGER;
ALTER TABLE attempts ADD COLUMN cost_basis TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cost_nanos INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN retries_cost_nanos INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_cost ON runs (cost_nanos, id);
)sql"},
};

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";

Result<int> CurrentVersion(Connection& db) {
  ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<int>(s.Int(0)) : 0;
}

Status Rollback(Connection& db, Status failed) {
  if (!db.InAutocommit()) (void)db.Exec("ROLLBACK");
  return failed;
}

// Applies one migration unless another process got there first.
Status ApplyOne(Connection& db, const Migration& m, const Clock& clock) {
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto current = CurrentVersion(db);
  if (!current.ok()) return Rollback(db, std::move(current).take_error());
  if (*current >= m.version) return Rollback(db, OkStatus());
  if (*current != m.version - 1) {
    return Rollback(db, FailedPrecondition(fmt::format(
                            "database schema is at version {} but migration {} comes next; the "
                            "file was changed by hand or by another tool, restore it from a backup",
                            *current, m.version)));
  }
  if (auto st = db.Exec(m.sql); !st.ok()) {
    return Rollback(db, std::move(st).take_error().WithContext(
                            fmt::format("applying schema migration {}", m.version)));
  }
  auto record = [&]() -> Status {
    ASSIGN_OR_RETURN(
        Stmt s, db.Prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"));
    return s.Bind(1, m.version).Bind(2, clock.Now()).Run();
  }();
  if (!record.ok()) return Rollback(db, std::move(record));
  return db.Exec("COMMIT");
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

Status Migrate(Connection& db, const Clock& clock) {
  RETURN_IF_ERROR(db.Exec(kCreateMigrationsTable));
  ASSIGN_OR_RETURN(int current, CurrentVersion(db));
  int latest = Migrations().back().version;
  if (current > latest) {
    return FailedPrecondition(fmt::format(
        "database schema version {} is newer than this binary knows ({}); run a newer tug, or "
        "point it at another database file",
        current, latest));
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= current) continue;
    RETURN_IF_ERROR(ApplyOne(db, m, clock));
  }
  return OkStatus();
}

}  // namespace tug::store::sqlite
