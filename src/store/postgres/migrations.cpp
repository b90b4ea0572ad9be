#include "store/postgres/migrations.h"

#include <array>

#include <fmt/format.h>

namespace tug::store::pg {
namespace {

// Migration 1 is the SQLite store's schema after its migration 5, folded into one. Timestamps
// are BIGINT microseconds since the epoch (0: "not yet"); statuses are stored by name; an outcome
// is present iff its reason column is not NULL. Ids and names compare byte by byte (COLLATE "C",
// as SQLite does) whatever the database's collation, so ListRuns pages and claim order match.
//
// events.run_id has no foreign key (SQLite's has): every write of an event already holds its run
// (locked, just inserted, or kept alive by a live attempt), AppendEvent checks the run under the
// same KEY SHARE lock the key's trigger would take, and PurgeRuns deletes a run's events itself.
// The trigger's query and row lock cost about a tenth of the server time of a claim cycle.
//
// attempts_status_due holds live attempts only (a partial index): the claim, the queue depth and
// the active list read it, and the ended history does not bloat it. runs_history serves
// ListSuccessHistory; attempts_spot_ended (partial) CountSpotOutcomes; runs_ended retention.
constexpr std::array kMigrations = {
    Migration{1, R"sql(
CREATE TABLE definitions (
  name TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  spec TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT,
  PRIMARY KEY (name, version)
);

CREATE TABLE runs (
  id TEXT COLLATE "C" PRIMARY KEY,
  definition TEXT COLLATE "C" NOT NULL,
  definition_version BIGINT NOT NULL,
  status TEXT NOT NULL,
  spec TEXT NOT NULL,
  overrides TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  started_at BIGINT NOT NULL DEFAULT 0,
  ended_at BIGINT NOT NULL DEFAULT 0,
  stop_requested BOOLEAN NOT NULL DEFAULT false,
  exit_code INTEGER,
  reason TEXT,
  message TEXT,
  plan TEXT NOT NULL DEFAULT '',
  signature TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_status_id ON runs (status, id);
CREATE INDEX runs_definition_id ON runs (definition, id);
CREATE INDEX runs_history ON runs (definition, signature, status, ended_at, id);
CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at > 0;

CREATE TABLE attempts (
  id TEXT COLLATE "C" PRIMARY KEY,
  run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id),
  number INTEGER NOT NULL,
  status TEXT NOT NULL,
  memory_bytes BIGINT NOT NULL DEFAULT 0,
  cpu_millis BIGINT NOT NULL DEFAULT 0,
  engine TEXT NOT NULL,
  engine_ref TEXT NOT NULL DEFAULT '',
  claimed_by TEXT NOT NULL DEFAULT '',
  lease_expires_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  due_at BIGINT NOT NULL,
  launched_at BIGINT NOT NULL DEFAULT 0,
  started_at BIGINT NOT NULL DEFAULT 0,
  ended_at BIGINT NOT NULL DEFAULT 0,
  exit_code INTEGER,
  reason TEXT,
  message TEXT,
  peak_memory_bytes BIGINT NOT NULL DEFAULT 0,
  cpu_micros BIGINT NOT NULL DEFAULT 0,
  diagnosis TEXT NOT NULL DEFAULT '',
  capacity TEXT NOT NULL DEFAULT '',
  executor_capacity TEXT NOT NULL DEFAULT '',
  spark_resources TEXT NOT NULL DEFAULT '',
  decision TEXT NOT NULL DEFAULT '',
  failure_class TEXT NOT NULL DEFAULT '',
  components TEXT NOT NULL DEFAULT '',
  app_id TEXT NOT NULL DEFAULT '',
  UNIQUE (run_id, number)
);
CREATE INDEX attempts_status_due ON attempts (status, due_at, id)
  WHERE status IN ('QUEUED', 'LAUNCHING', 'RUNNING');
CREATE INDEX attempts_spot_ended ON attempts (ended_at)
  WHERE capacity = 'spot' OR executor_capacity = 'spot';
CREATE INDEX attempts_launching_lease ON attempts (lease_expires_at)
  WHERE status = 'LAUNCHING';

CREATE TABLE events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id TEXT COLLATE "C" NOT NULL,
  attempt_id TEXT NOT NULL DEFAULT '',
  at BIGINT NOT NULL,
  type TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX events_run_seq ON events (run_id, seq);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
)sql"},
    // Who submitted a run, and attempts' usage over time in buckets that coarsen with the
    // attempt's age (store/rules UsageBucketWidth). No foreign key: samples of a run being
    // purged are deleted with it, and a late sample must not fail the engine's update.
    Migration{2, R"sql(
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_owner_id ON runs (owner, id);
CREATE TABLE usage_samples (
  run_id TEXT NOT NULL,
  attempt_id TEXT NOT NULL,
  component TEXT NOT NULL,
  bucket_at BIGINT NOT NULL,
  width BIGINT NOT NULL,
  memory_bytes BIGINT NOT NULL,
  cpu_millis_sum BIGINT NOT NULL,
  samples BIGINT NOT NULL,
  memory_limit_bytes BIGINT NOT NULL,
  cpu_limit_millis BIGINT NOT NULL,
  PRIMARY KEY (run_id, attempt_id, component, bucket_at)
);
)sql"},
    // Authentication (src/auth), as SQLite's migration 7: groups and owners, API tokens (only
    // their SHA-256 is kept).
    Migration{3, R"sql(
ALTER TABLE runs ADD COLUMN group_name TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX runs_group_id ON runs (group_name, id);
ALTER TABLE definitions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE definitions ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
CREATE TABLE api_tokens (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL,
  user_name TEXT COLLATE "C" NOT NULL,
  groups TEXT NOT NULL,
  role TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0,
  last_used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_name, created_at);
)sql"},
    // Team queues, as SQLite's migration 8: a run's queue, priority and why it waits.
    Migration{4, R"sql(
ALTER TABLE runs ADD COLUMN queue TEXT COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE runs ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN queue_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_queue_status ON runs (queue, status);
)sql"},
    // Issue 26, as SQLite's migration 9: a run's parent, an attempt's GPU count, idempotency
    // keys unique per owner (the constraint, not a check in memory, makes concurrent duplicates
    // across replicas create one run).
    Migration{5, R"sql(
ALTER TABLE runs ADD COLUMN parent_run_id TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX runs_parent_id ON runs (parent_run_id, id) WHERE parent_run_id <> '';
ALTER TABLE attempts ADD COLUMN gpu BIGINT NOT NULL DEFAULT 0;
CREATE TABLE idempotency_keys (
  owner TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  run_id TEXT COLLATE "C" NOT NULL,
  request_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_run ON idempotency_keys (run_id);
)sql"},
    // Cost per run, as SQLite's migration 10: attempts' prices (nano-dollars, NULL: not priced)
    // and their runs' sums.
    Migration{6, R"sql(
ALTER TABLE attempts ADD COLUMN cost_nanos BIGINT;
ALTER TABLE attempts ADD COLUMN cost_basis TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cost_nanos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN retries_cost_nanos BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_cost ON runs (cost_nanos, id);
)sql"},
};

// Held for the length of each migration's transaction ("tug_migr" as an int64); advisory locks
// are per database, so replicas of other databases on the same server do not wait on it.
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(8391086466040947058)";
constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";

Status Rollback(Connection& db, Error failed) {
  if (!db.broken()) (void)db.Simple("ROLLBACK");
  return failed;
}

// One migration step under the lock: applies the next migration, if any. Sets `done` when the
// schema is current.
Status Step(Connection& db, const Clock& clock, bool& done) {
  RETURN_IF_ERROR(db.Simple("BEGIN"));
  auto locked = db.Simple(kLock);
  if (!locked.ok()) return Rollback(db, std::move(locked).take_error());
  if (auto t = db.Simple(kCreateMigrationsTable); !t.ok()) {
    return Rollback(db, std::move(t).take_error());
  }
  auto rows = db.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!rows.ok()) return Rollback(db, std::move(rows).take_error());
  const int current = static_cast<int>(rows->Int(0, 0));
  const int latest = Migrations().back().version;
  if (current > latest) {
    return Rollback(db, FailedPrecondition(fmt::format(
                            "database schema version {} is newer than this binary knows ({}); run "
                            "a newer tug, or point it at another database",
                            current, latest)));
  }
  if (current == latest) {
    done = true;
    return db.Simple("COMMIT").ok() ? OkStatus() : Rollback(db, Internal("committing failed"));
  }
  const Migration& m = Migrations()[static_cast<size_t>(current)];
  if (m.version != current + 1) {
    return Rollback(db, Internal(fmt::format("migration {} is out of order", m.version)));
  }
  if (auto st = db.Simple(m.sql); !st.ok()) {
    return Rollback(db, std::move(st).take_error().WithContext(
                            fmt::format("applying schema migration {}", m.version)));
  }
  Params p;
  p.Add(m.version).Add(clock.Now());
  auto record = db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", p);
  if (!record.ok()) return Rollback(db, std::move(record).take_error());
  auto commit = db.Simple("COMMIT");
  if (!commit.ok()) return std::move(commit).take_error();
  return OkStatus();
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

Status Migrate(Connection& db, const Clock& clock) {
  bool done = false;
  // At most one pass per migration, plus the one that finds the schema current.
  for (size_t i = 0; i <= Migrations().size() && !done; ++i) {
    RETURN_IF_ERROR(Step(db, clock, done));
  }
  return OkStatus();
}

}  // namespace tug::store::pg
