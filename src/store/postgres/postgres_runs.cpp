// PostgresStore: runs and attempts — creating, reading, ending, stopping — and the planner's
// queries. Every state change checks CanTransition and writes its timeline event in the same
// transaction as the change. Claims, launches and starts are in postgres_claims.cpp.
#include <algorithm>
#include <array>

#include <fmt/format.h>

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

// A run, its first attempt and its "submitted" event in one statement (one round trip, atomic
// on its own). $1..$23 the run, $24 its signature, $25..$54 the attempt, $55 the event text. The
// attempt's foreign key is checked at the end of the statement, when the run is in.
constexpr const char* kCreateRunSql =
    "WITH r AS (INSERT INTO runs (" TUG_RUN_COLUMNS
    ", signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
    "$16, $17, $18, $19, $20, $21, $22, $23, $24)), "
    "a AS (INSERT INTO attempts (" TUG_ATTEMPT_COLUMNS
    ") VALUES ($25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, "
    "$41, $42, $43, $44, $45, $46, $47, $48, $49, $50, $51, $52, $53, $54)) "
    "INSERT INTO events (run_id, attempt_id, at, type, message) "
    "VALUES ($1, $25, $7, 'submitted', $55)";

// Claims an idempotency key: inserts it, or takes over an expired one; no row back means a live
// key holds it. A concurrent claim of the same key waits on the primary key until the first
// commits, then sees its row (and no row comes back): one run per key across replicas.
constexpr const char* kClaimKeySql =
    "INSERT INTO idempotency_keys (owner, key, run_id, request_hash, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner, key) DO UPDATE SET "
    "run_id = excluded.run_id, request_hash = excluded.request_hash, "
    "created_at = excluded.created_at, expires_at = excluded.expires_at "
    "WHERE idempotency_keys.expires_at <= excluded.created_at RETURNING run_id";

Status ClaimKey(Tx& tx, const NewRun& n) {
  if (!n.idempotency) return OkStatus();
  const IdempotencyKey& k = *n.idempotency;
  ASSIGN_OR_RETURN(Rows rows, tx.Exec(kClaimKeySql, P(n.run.owner, k.key, n.run.id, k.request_hash,
                                                      n.run.created_at, k.expires_at)));
  if (rows.empty()) return IdempotencyKeyTaken(n.run.owner, k.key);
  return OkStatus();
}

Params CreateRunParams(const Run& run, const Attempt& first) {
  Params p;
  pg::AddRun(p, run);
  // The signature is computed here, not taken from the caller, so history lookups can trust it.
  p.Add(CommandSignature(run.spec));
  pg::AddAttempt(p, first);
  p.Add(SubmittedMessage(run));
  return p;
}

// The error of a failed create, named after the row that was taken.
Status CreateRunError(Error e, const std::string& constraint, const Run& run,
                      const Attempt& first) {
  if (e.code() != Code::kAlreadyExists) return e;
  if (constraint == "runs_pkey") {
    return AlreadyExists(
        fmt::format("run '{}' already exists; submit again to get a new id", run.id));
  }
  return AlreadyExists(
      fmt::format("attempt '{}' already exists; submit again to get a new run id", first.id));
}

const std::string& GetRunSql() {
  static const std::string sql =
      "SELECT " + pg::Qualified(TUG_RUN_COLUMNS, "r") + ", " +
      pg::Qualified(TUG_ATTEMPT_COLUMNS, "a") +
      " FROM runs AS r LEFT JOIN attempts AS a ON a.run_id = r.id WHERE r.id = $1 "
      "ORDER BY a.number";
  return sql;
}

// The attempt and its run's state, locked (run first, as every writer locks them) for an end.
const std::string& LockForEndSql() {
  static const std::string sql = "SELECT " + pg::Qualified(TUG_ATTEMPT_COLUMNS, "a") +
                                 ", r.status, r.stop_requested FROM runs AS r "
                                 "JOIN attempts AS a ON a.run_id = r.id WHERE a.id = $1 "
                                 "FOR NO KEY UPDATE";
  return sql;
}

Status ReadAttempts(const Rows& rows, std::vector<Attempt>& out, int first_col = 0) {
  for (int i = 0; i < rows.size(); ++i) {
    ASSIGN_OR_RETURN(Attempt a, pg::ReadAttempt(Row(rows, i, first_col)));
    out.push_back(std::move(a));
  }
  return OkStatus();
}

void QueueEvent(Tx& tx, const std::string& run_id, const std::string& attempt_id, Micros at,
                std::string_view type, const std::string& message) {
  tx.Queue(pg::kInsertEventSql, P(run_id, attempt_id, at, type, message));
}

// The common end (no retry planned, no events of the caller) in one statement: lock the run and
// the attempt when both are in a state the end may move them from, end both, write "ended". When
// the lock finds nothing (unknown attempt, a second end, an illegal move) nothing is written and
// the full path below runs to say why. $2 and $3 are the statuses the attempt and the run may
// move from (from CanTransition); the lock re-checks them on the newest row versions.
constexpr const char* kEndFastSql =
    "WITH lk AS (SELECT a.id, a.run_id FROM runs AS r JOIN attempts AS a ON a.run_id = r.id "
    "WHERE a.id = $1 AND a.status = ANY($2::text[]) AND r.status = ANY($3::text[]) "
    "FOR NO KEY UPDATE), "
    "ua AS (UPDATE attempts AS t SET status = $4, ended_at = $5, exit_code = $6, reason = $7, "
    "message = $8, peak_memory_bytes = $9, cpu_micros = $10, diagnosis = $11, "
    "failure_class = $12, decision = $13, components = $14, app_id = $15, lease_expires_at = 0, "
    "cost_nanos = $18::bigint, cost_basis = $19 "
    "FROM lk WHERE t.id = lk.id RETURNING t.run_id), "
    "ur AS (UPDATE runs AS t SET status = $16, ended_at = $5, updated_at = $5, exit_code = $6, "
    "reason = $7, message = $8, cost_nanos = t.cost_nanos + $20::bigint, "
    "retries_cost_nanos = t.retries_cost_nanos + $21::bigint FROM ua WHERE t.id = ua.run_id), "
    "ev AS (INSERT INTO events (run_id, attempt_id, at, type, message) "
    "SELECT run_id, $1, $5, 'ended', $17 FROM ua) "
    "SELECT COUNT(*) FROM ua";

// The attempt's cost (NULL: not priced) and basis.
void AddAttemptCost(Params& p, const AttemptEnd& end) {
  if (end.cost_usd) {
    p.Add(UsdToNanos(*end.cost_usd));
  } else {
    p.AddNull();
  }
  p.Add(end.cost_basis);
}

constexpr std::array kAttemptStatuses = {AttemptStatus::kQueued,  AttemptStatus::kLaunching,
                                         AttemptStatus::kRunning, AttemptStatus::kSucceeded,
                                         AttemptStatus::kFailed,  AttemptStatus::kStopped,
                                         AttemptStatus::kLost};
constexpr std::array kRunStatuses = {
    RunStatus::kQueued, RunStatus::kRunning, RunStatus::kRetrying, RunStatus::kSucceeded,
    RunStatus::kFailed, RunStatus::kStopped, RunStatus::kLost};

constexpr const char* kSuccessHistorySql =
    "SELECT a.run_id, a.ended_at, a.peak_memory_bytes, a.memory_bytes, a.cpu_millis, "
    "a.spark_resources FROM runs AS r JOIN attempts AS a ON a.run_id = r.id "
    "WHERE r.definition = $1 AND r.signature = $2 AND r.status = 'SUCCEEDED' AND r.ended_at >= $3 "
    "AND a.status = 'SUCCEEDED' AND a.ended_at >= $3 AND a.peak_memory_bytes > 0 "
    "ORDER BY r.ended_at DESC, r.id DESC LIMIT $4";
// The capacity term is the partial index attempts_spot_ended's WHERE, word for word.
constexpr const char* kSpotOutcomesSql =
    "SELECT COUNT(*), COUNT(*) FILTER (WHERE failure_class = 'node_loss') FROM attempts "
    "WHERE (capacity = 'spot' OR executor_capacity = 'spot') "
    "AND ended_at >= $1 AND ended_at > 0 AND claimed_by <> ''";

}  // namespace

// One run: one statement, its own transaction. A batch shares one transaction (one commit, one
// WAL flush); each run sits in its own savepoint so a failing one (duplicate id) does not undo
// the others. The savepoint, the run and the release of the previous one go out together.
std::vector<Status> PostgresStore::CreateRuns(const std::vector<NewRun>& runs) {
  std::vector<Status> checks(runs.size());
  std::vector<size_t> valid;
  for (size_t i = 0; i < runs.size(); ++i) {
    checks[i] = CheckNewRun(runs[i].run, runs[i].first);
    if (checks[i].ok()) valid.push_back(i);
  }
  if (valid.empty()) return checks;
  std::vector<Status> results = checks;
  // A run with an idempotency key takes the transaction path: its key and the run commit together.
  if (valid.size() == 1 && !runs[valid.front()].idempotency) {
    const NewRun& n = runs[valid.front()];
    results[valid.front()] = Once([&](Tx& tx) -> Status {
      auto rows = tx.Exec(kCreateRunSql, CreateRunParams(n.run, n.first));
      if (rows.ok()) return OkStatus();
      return CreateRunError(std::move(rows).take_error(), tx.last_constraint(), n.run, n.first);
    });
    return results;
  }
  Status st = Write([&](Tx& tx) -> Status {
    results = checks;  // the body may run again (a deadlock, a connection lost before COMMIT)
    for (size_t i : valid) {
      const NewRun& n = runs[i];
      tx.QueueControl("SAVEPOINT create_run");
      if (n.idempotency) {
        Status claimed = ClaimKey(tx, n);
        if (!claimed.ok()) {
          if (tx.failed_in_queue() || !IsIdempotencyKeyTaken(claimed.error())) return claimed;
          results[i] = std::move(claimed);
          tx.QueueControl("ROLLBACK TO create_run");
          tx.QueueControl("RELEASE create_run");
          continue;
        }
      }
      auto rows = tx.Exec(kCreateRunSql, CreateRunParams(n.run, n.first));
      if (rows.ok()) {
        tx.QueueControl("RELEASE create_run");
        continue;
      }
      if (tx.failed_in_queue() || rows.error().code() != Code::kAlreadyExists) {
        return std::move(rows).take_error();
      }
      results[i] =
          CreateRunError(std::move(rows).take_error(), tx.last_constraint(), n.run, n.first);
      tx.QueueControl("ROLLBACK TO create_run");
      tx.QueueControl("RELEASE create_run");
    }
    return OkStatus();
  });
  if (!st.ok()) {
    // The whole transaction was rolled back: nothing of this batch was written.
    for (size_t i : valid) results[i] = st;
  }
  return results;
}

Result<Run> PostgresStore::GetRun(const std::string& id) {
  Run run;
  // One statement, so the run and its attempts come from the same snapshot.
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec(GetRunSql(), P(id)));
                     if (rows.empty()) return RunNotFound(id);
                     ASSIGN_OR_RETURN(run, pg::ReadRun(Row(rows, 0)));
                     if (rows.IsNull(0, pg::kRunColumns)) return OkStatus();  // no attempts
                     return ReadAttempts(rows, run.attempts, pg::kRunColumns);
                   }),
                   run);
}

Result<RunPage> PostgresStore::ListRuns(const RunFilter& filter) {
  ASSIGN_OR_RETURN(PageAfter after, CheckPage(filter));
  RunPage page;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     RunsQuery q = ListRunsQuery(filter, after, TUG_RUN_COLUMNS, /*dollar=*/true);
                     Params p;
                     for (const std::string& v : q.params) p.Add(v);
                     p.Add(q.limit);
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec(q.sql, p));
                     page = RunPage();
                     for (int i = 0; i < rows.size(); ++i) {
                       if (static_cast<int>(page.runs.size()) == filter.limit) {
                         page.next_cursor = EncodeCursor(filter.sort, page.runs.back());
                         break;
                       }
                       ASSIGN_OR_RETURN(Run r, pg::ReadRun(Row(rows, i)));
                       r.attempt_count = static_cast<int>(rows.Int(i, pg::kRunColumns));
                       r.last_failure_class = rows.Text(i, pg::kRunColumns + 1);
                       page.runs.push_back(std::move(r));
                     }
                     return OkStatus();
                   }),
                   page);
}

Result<Attempt> PostgresStore::GetAttempt(const std::string& attempt_id) {
  Attempt out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec("SELECT " TUG_ATTEMPT_COLUMNS
                                                         " FROM attempts WHERE id = $1",
                                                         P(attempt_id)));
                     if (rows.empty()) return AttemptNotFound(attempt_id);
                     ASSIGN_OR_RETURN(out, pg::ReadAttempt(Row(rows, 0)));
                     return OkStatus();
                   }),
                   out);
}

// The common end is one statement (kEndFastSql). Otherwise two round trips: BEGIN with the
// locking read; the writes, the events and COMMIT.
Status PostgresStore::EndAttempt(const std::string& attempt_id, const AttemptEnd& end) {
  if (!IsTerminal(end.status)) {
    return InvalidArgument(
        fmt::format("attempt '{}' cannot end as {}; use SUCCEEDED, FAILED, STOPPED or LOST",
                    attempt_id, ToString(end.status)));
  }
  const Micros ended_at = end.ended_at != 0 ? end.ended_at : clock_.Now();
  if (!end.next && end.events.empty()) {
    std::vector<std::string> attempt_from;
    std::vector<std::string> run_from;
    for (AttemptStatus s : kAttemptStatuses) {
      if (!IsTerminal(s) && CanTransition(s, end.status)) attempt_from.emplace_back(ToString(s));
    }
    const RunStatus run_to = RunStatusForFinalAttempt(end.status);
    for (RunStatus s : kRunStatuses) {
      if (CanTransition(s, run_to)) run_from.emplace_back(ToString(s));
    }
    bool ended = false;
    RETURN_IF_ERROR(Once([&](Tx& tx) -> Status {
      Params p = P(attempt_id);
      p.AddArray(attempt_from).AddArray(run_from).Add(ToString(end.status)).Add(ended_at);
      pg::AddOutcome(p, end.outcome);
      p.Add(end.peak_memory_bytes)
          .Add(end.cpu_micros)
          .Add(end.diagnosis)
          .Add(end.failure_class)
          .Add(end.decision)
          .Add(end.components)
          .Add(end.app_id)
          .Add(ToString(run_to))
          .Add(DescribeEnd(end.status, end.outcome));
      AddAttemptCost(p, end);
      const CostAdded add = CostOfEnd(end);
      p.Add(add.nanos).Add(add.retries_nanos);
      ASSIGN_OR_RETURN(Rows rows, tx.Exec(kEndFastSql, p));
      ended = rows.Int(0, 0) == 1;
      return OkStatus();
    }));
    if (ended) return OkStatus();
  }
  return Write([&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows rows, tx.Exec(LockForEndSql(), P(attempt_id)));
    if (rows.empty()) return AttemptNotFound(attempt_id);
    ASSIGN_OR_RETURN(Attempt a, pg::ReadAttempt(Row(rows, 0)));
    // Checked before anything else: a late second report must not plan a second retry.
    if (IsTerminal(a.status)) {
      return FailedPrecondition(fmt::format(
          "attempt '{}' already ended as {}; the first end wins, so this {} report is dropped",
          a.id, ToString(a.status), ToString(end.status)));
    }
    if (!CanTransition(a.status, end.status)) return TransitionError(a.id, a.status, end.status);
    if (end.next) RETURN_IF_ERROR(CheckNext(a, end));
    ASSIGN_OR_RETURN(std::vector<Event> events, EndEvents(a, end, ended_at));
    ASSIGN_OR_RETURN(RunStatus run_now, ParseRunStatus(rows.TextView(0, pg::kAttemptColumns)));
    const bool stop_requested = rows.Bool(0, pg::kAttemptColumns + 1);
    // A stop request wins over a planned retry: the run ends with this attempt.
    const bool retry = end.next.has_value() && !stop_requested;
    const RunStatus run_status =
        retry ? RunStatus::kRetrying : RunStatusForFinalAttempt(end.status);
    if (!CanTransition(run_now, run_status)) {
      return RunTransitionError(a.run_id, run_now, run_status);
    }
    {
      Params p = P(ToString(end.status), ended_at);
      pg::AddOutcome(p, end.outcome);
      p.Add(end.peak_memory_bytes)
          .Add(end.cpu_micros)
          .Add(end.diagnosis)
          .Add(end.failure_class)
          .Add(end.decision)
          .Add(end.components)
          .Add(end.app_id)
          .Add(a.id);
      AddAttemptCost(p, end);
      tx.Queue(
          "UPDATE attempts SET status = $1, ended_at = $2, exit_code = $3, reason = $4, "
          "message = $5, peak_memory_bytes = $6, cpu_micros = $7, diagnosis = $8, "
          "failure_class = $9, decision = $10, components = $11, app_id = $12, "
          "lease_expires_at = 0, cost_nanos = $14::bigint, cost_basis = $15 WHERE id = $13",
          std::move(p));
      tx.Queue(
          "UPDATE runs SET cost_nanos = cost_nanos + $2::bigint, "
          "retries_cost_nanos = retries_cost_nanos + $3::bigint WHERE id = $1",
          [&] {
            const CostAdded add = CostOfEnd(end);
            return P(a.run_id, add.nanos, add.retries_nanos);
          }());
    }
    if (retry) {
      // Only what the planner decides is taken from `next`; claim, lease, times and outcome
      // start empty as for any new attempt.
      Attempt next;
      next.id = end.next->id;
      next.run_id = end.next->run_id;
      next.number = end.next->number;
      next.status = AttemptStatus::kQueued;
      next.resources = end.next->resources;
      next.placement = end.next->placement;
      next.engine = end.next->engine;
      next.created_at = end.next->created_at;
      next.due_at = end.next->due_at;
      Params p;
      pg::AddAttempt(p, next);
      tx.Queue(pg::kInsertAttemptSql, std::move(p));
      tx.Queue("UPDATE runs SET status = 'RETRYING', updated_at = $1 WHERE id = $2",
               P(ended_at, a.run_id));
    } else {
      Params p = P(ToString(run_status), ended_at, ended_at);
      pg::AddOutcome(p, end.outcome);
      p.Add(a.run_id);
      tx.Queue(
          "UPDATE runs SET status = $1, ended_at = $2, updated_at = $3, exit_code = $4, "
          "reason = $5, message = $6 WHERE id = $7",
          std::move(p));
    }
    QueueEvent(tx, a.run_id, a.id, ended_at, "ended", DescribeEnd(end.status, end.outcome));
    // The caller's events are written either way (they record what was decided); when the stop
    // wins, the timeline says so right after them, so a "retrying" sentence is not the last word.
    for (const Event& e : events) tx.Queue(pg::kInsertEventSql, pg::EventParams(e));
    if (end.next && !retry) {
      QueueEvent(tx, a.run_id, a.id, ended_at, "retry_dropped",
                 fmt::format("attempt {} was not queued: a stop was requested", end.next->number));
    }
    Status committed = tx.Commit();
    if (retry && !committed.ok() && committed.error().code() == Code::kAlreadyExists) {
      return InvalidArgument(fmt::format(
          "the retry '{}' of attempt '{}' already exists; give it a new id", end.next->id, a.id));
    }
    return committed;
  });
}

Result<bool> PostgresStore::RequestStop(const std::string& run_id, Micros now,
                                        const std::string& requested_by) {
  bool stopped_now = false;
  return ValueIfOk(
      Write([&](Tx& tx) -> Status {
        stopped_now = false;
        ASSIGN_OR_RETURN(Rows run, tx.Exec("SELECT status, stop_requested FROM runs WHERE id = $1 "
                                           "FOR NO KEY UPDATE",
                                           P(run_id)));
        if (run.empty()) return RunNotFound(run_id);
        ASSIGN_OR_RETURN(RunStatus status, ParseRunStatus(run.TextView(0, 0)));
        if (IsTerminal(status)) {
          return FailedPrecondition(fmt::format(
              "run '{}' already ended as {}; there is nothing to stop", run_id, ToString(status)));
        }
        tx.Queue("UPDATE runs SET stop_requested = true, updated_at = $1 WHERE id = $2",
                 P(now, run_id));
        if (!run.Bool(0, 1)) {
          QueueEvent(tx, run_id, "", now, "stop_requested", StopRequestedMessage(requested_by));
        }
        if (status != RunStatus::kQueued && status != RunStatus::kRetrying) return OkStatus();
        // A queued (or retrying) run stops at once only if none of its attempts was claimed: a
        // LAUNCHING attempt may have a process starting, which only the engine can stop. The
        // lock makes a claim racing with us either finish first (we see LAUNCHING) or skip it.
        std::vector<Attempt> live;
        {
          ASSIGN_OR_RETURN(Rows rows,
                           tx.Exec("SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts WHERE run_id = $1 "
                                   "AND status IN ('QUEUED', 'LAUNCHING', 'RUNNING') "
                                   "ORDER BY number FOR NO KEY UPDATE",
                                   P(run_id)));
          RETURN_IF_ERROR(ReadAttempts(rows, live));
        }
        for (const Attempt& a : live) {
          if (a.status != AttemptStatus::kQueued) return OkStatus();
        }
        const bool retrying = status == RunStatus::kRetrying;
        Outcome outcome{std::nullopt, std::string(reason::kStopped),
                        retrying ? "stopped while waiting to retry" : "stopped before it started"};
        for (const Attempt& a : live) {
          if (!CanTransition(a.status, AttemptStatus::kStopped)) {
            return TransitionError(a.id, a.status, AttemptStatus::kStopped);
          }
          Params p = P(now);
          pg::AddOutcome(p, outcome);
          p.Add(a.id);
          tx.Queue(
              "UPDATE attempts SET status = 'STOPPED', ended_at = $1, exit_code = $2, "
              "reason = $3, message = $4 WHERE id = $5",
              std::move(p));
        }
        if (!CanTransition(status, RunStatus::kStopped)) {
          return RunTransitionError(run_id, status, RunStatus::kStopped);
        }
        Params p = P(now);
        pg::AddOutcome(p, outcome);
        p.Add(run_id);
        tx.Queue(
            "UPDATE runs SET status = 'STOPPED', ended_at = $1, exit_code = $2, "
            "reason = $3, message = $4 WHERE id = $5",
            std::move(p));
        QueueEvent(tx, run_id, live.empty() ? std::string() : live.front().id, now, "stopped",
                   retrying ? "stopped while waiting to retry; the next attempt never started"
                            : "stopped while queued; it never started");
        stopped_now = true;
        return OkStatus();
      }),
      stopped_now);
}

Result<std::vector<Attempt>> PostgresStore::ListActiveAttempts() {
  std::vector<Attempt> out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(
                         Rows rows,
                         tx.Exec("SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts WHERE "
                                 "status IN ('LAUNCHING', 'RUNNING') ORDER BY due_at, id"));
                     out.clear();
                     return ReadAttempts(rows, out);
                   }),
                   out);
}

Result<std::optional<Micros>> PostgresStore::NextDueAt() {
  std::optional<Micros> next;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(
                         Rows rows,
                         tx.Exec("SELECT MIN(due_at) FROM attempts WHERE status = 'QUEUED'"));
                     next.reset();
                     if (!rows.IsNull(0, 0)) next = rows.Int(0, 0);
                     return OkStatus();
                   }),
                   next);
}

// The run-level terms restate what the attempt-level ones imply, so the runs_history index can
// answer the query: a SUCCEEDED attempt always ends its run as SUCCEEDED at the same time (no
// retry follows a success), so the run's status and ended_at match the attempt's.
Result<std::vector<HistoryRow>> PostgresStore::ListSuccessHistory(const std::string& definition,
                                                                  const std::string& signature,
                                                                  Micros since, int limit) {
  limit = std::clamp(limit, 1, kMaxHistoryRows);
  std::vector<HistoryRow> out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec(kSuccessHistorySql,
                                                         P(definition, signature, since, limit)));
                     out.clear();
                     for (int i = 0; i < rows.size(); ++i) {
                       HistoryRow h;
                       h.run_id = rows.Text(i, 0);
                       h.ended_at = rows.Int(i, 1);
                       h.peak_memory_bytes = rows.Int(i, 2);
                       h.resources.memory_bytes = rows.Int(i, 3);
                       h.resources.cpu_millis = rows.Int(i, 4);
                       auto spark = DecodeSparkResources(rows.TextView(i, 5));
                       if (!spark.ok()) {
                         return std::move(spark).take_error().WithContext(
                             fmt::format("a successful attempt of run '{}'", h.run_id));
                       }
                       h.resources.spark = *spark;
                       out.push_back(std::move(h));
                     }
                     return OkStatus();
                   }),
                   out);
}

// Attempts that were never claimed (stopped while queued) never ran anywhere and are not counted.
Result<SpotOutcomes> PostgresStore::CountSpotOutcomes(Micros since) {
  SpotOutcomes out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec(kSpotOutcomesSql, P(since)));
                     out.spot_attempts = rows.Int(0, 0);
                     out.node_losses = rows.Int(0, 1);
                     return OkStatus();
                   }),
                   out);
}

}  // namespace tug::store
