// SqliteStore: runs and attempts. Every state change checks CanTransition and
// writes its timeline event in the same transaction as the change.
#include <algorithm>
#include <array>
#include <tuple>

#include <fmt/format.h>

#include "store/rules.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::store {

using sqlite::Connection;
using sqlite::Stmt;

namespace sqlite_internal {

Result<Attempt> LoadAttempt(Connection& db, const std::string& id) {
  ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts WHERE id = ?"));
  s.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return AttemptNotFound(id);
  return sqlite::ReadAttempt(s);
}

struct RunState {
  RunStatus status;
  bool stop_requested;
};

Result<RunState> LoadRunState(Connection& db, const std::string& id) {
  ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT status, stop_requested FROM runs WHERE id = ?"));
  s.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return RunNotFound(id);
  ASSIGN_OR_RETURN(RunStatus status, ParseRunStatus(s.TextView(0)));
  return RunState{status, s.Int(1) != 0};
}

Status AddEvent(Connection& db, const std::string& run_id, const std::string& attempt_id, Micros at,
                std::string_view type, std::string message) {
  Event e;
  e.run_id = run_id;
  e.attempt_id = attempt_id;
  e.at = at;
  e.type = type;
  e.message = std::move(message);
  return sqlite::InsertEvent(db, e);
}

// Reads every row of an attempts query.
Status ReadAttempts(Stmt& s, std::vector<Attempt>& out) {
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return OkStatus();
    ASSIGN_OR_RETURN(Attempt a, sqlite::ReadAttempt(s));
    out.push_back(std::move(a));
  }
}

// The oldest claimable attempt for one query shape, if any.
Result<std::optional<Attempt>> FirstAttempt(Connection& db, std::string_view sql, Micros now) {
  ASSIGN_OR_RETURN(Stmt s, db.Prepare(sql));
  s.Bind(1, now);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Attempt>();
  ASSIGN_OR_RETURN(Attempt a, sqlite::ReadAttempt(s));
  return std::optional<Attempt>(std::move(a));
}

}  // namespace sqlite_internal

using sqlite_internal::AddEvent;
using sqlite_internal::FirstAttempt;
using sqlite_internal::LoadAttempt;
using sqlite_internal::LoadRunState;
using sqlite_internal::ReadAttempts;
using sqlite_internal::RunState;

// A batch shares one write transaction (one WAL commit, the dominant cost); each run sits in its
// own savepoint so a failing one (duplicate id) does not undo the others.
std::vector<Status> SqliteStore::CreateRuns(const std::vector<NewRun>& runs) {
  std::vector<Status> results(runs.size());
  bool any = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    results[i] = CheckNewRun(runs[i].run, runs[i].first);
    any = any || results[i].ok();
  }
  if (!any) return results;
  Status st = Write([&](Connection& db) -> Status {
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!results[i].ok()) continue;
      RETURN_IF_ERROR(db.Run("SAVEPOINT create_run"));
      const NewRun& n = runs[i];
      results[i] = n.idempotency ? sqlite_internal::ClaimIdempotencyKey(
                                       db, n.run.owner, *n.idempotency, n.run.id, n.run.created_at)
                                 : OkStatus();
      if (results[i].ok()) results[i] = InsertRun(db, n.run, n.first);
      if (!results[i].ok()) RETURN_IF_ERROR(db.Run("ROLLBACK TO create_run"));
      RETURN_IF_ERROR(db.Run("RELEASE create_run"));
    }
    return OkStatus();
  });
  if (!st.ok()) {
    // The whole transaction was rolled back: nothing of this batch was written.
    for (auto& r : results) {
      if (r.ok()) r = st;
    }
  }
  return results;
}

Status SqliteStore::InsertRun(Connection& db, const Run& run, const Attempt& first) {
  // The signature is computed here, not taken from the caller, so history lookups can trust it.
  ASSIGN_OR_RETURN(Stmt r, db.Prepare("INSERT INTO runs (" TUG_RUN_COLUMNS ", signature) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                      "?, ?, ?, ?, ?, ?, ?, ?)"));
  r.Bind(1, run.id)
      .Bind(2, run.definition)
      .Bind(3, run.definition_version)
      .Bind(4, ToString(run.status))
      .Bind(5, sqlite::EncodeSpec(run.spec))
      .Bind(6, sqlite::EncodeOverrides(run.overrides))
      .Bind(7, run.created_at)
      .Bind(8, run.updated_at)
      .Bind(9, run.started_at)
      .Bind(10, run.ended_at)
      .Bind(11, run.stop_requested);
  sqlite::BindOutcome(r, 12, run.outcome);
  r.Bind(15, run.plan).Bind(16, run.owner).Bind(17, run.group);
  r.Bind(18, run.queue).Bind(19, run.priority).Bind(20, run.queue_reason);
  r.Bind(21, run.parent_run_id);
  r.Bind(22, UsdToNanos(run.cost_usd)).Bind(23, UsdToNanos(run.retries_cost_usd));
  r.Bind(24, CommandSignature(run.spec));
  if (auto st = r.Run(); !st.ok()) {
    if (st.error().code() != Code::kAlreadyExists) return st;
    return AlreadyExists(
        fmt::format("run '{}' already exists; submit again to get a new id", run.id));
  }
  if (auto st = sqlite::InsertAttempt(db, first); !st.ok()) {
    if (st.error().code() != Code::kAlreadyExists) return st;
    return AlreadyExists(
        fmt::format("attempt '{}' already exists; submit again to get a new run id", first.id));
  }
  return AddEvent(db, run.id, first.id, run.created_at, "submitted", SubmittedMessage(run));
}

Result<Run> SqliteStore::GetRun(const std::string& id) {
  Run run;
  // One read transaction: the run and its attempts come from the same snapshot.
  return sqlite::ValueIfOk(
      Read(
          [&](Connection& db) -> Status {
            {
              ASSIGN_OR_RETURN(Stmt s,
                               db.Prepare("SELECT " TUG_RUN_COLUMNS " FROM runs WHERE id = ?"));
              s.Bind(1, id);
              ASSIGN_OR_RETURN(bool row, s.Step());
              if (!row) return RunNotFound(id);
              ASSIGN_OR_RETURN(run, sqlite::ReadRun(s));
            }
            ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT " TUG_ATTEMPT_COLUMNS
                                                " FROM attempts WHERE run_id = ? ORDER BY number"));
            s.Bind(1, id);
            return ReadAttempts(s, run.attempts);
          },
          /*snapshot=*/true),
      run);
}

Result<RunPage> SqliteStore::ListRuns(const RunFilter& filter) {
  ASSIGN_OR_RETURN(PageAfter after, CheckPage(filter));
  RunPage page;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        RunsQuery q = ListRunsQuery(filter, after, TUG_RUN_COLUMNS, /*dollar=*/false);
        ASSIGN_OR_RETURN(Stmt s, db.Prepare(q.sql));
        int n = 0;
        for (const std::string& v : q.params) s.Bind(++n, v);
        s.Bind(++n, q.limit);
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return OkStatus();
          if (static_cast<int>(page.runs.size()) == filter.limit) {
            page.next_cursor = EncodeCursor(filter.sort, page.runs.back());
            return OkStatus();
          }
          ASSIGN_OR_RETURN(Run r, sqlite::ReadRun(s));
          r.attempt_count = static_cast<int>(s.Int(23));  // after the 23 run columns
          r.last_failure_class = s.Text(24);
          page.runs.push_back(std::move(r));
        }
      }),
      page);
}

Result<Attempt> SqliteStore::GetAttempt(const std::string& attempt_id) {
  Attempt out;
  return sqlite::ValueIfOk(Read([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(out, LoadAttempt(db, attempt_id));
                             return OkStatus();
                           }),
                           out);
}

Status SqliteStore::MarkRunning(const std::string& attempt_id, Micros started_at) {
  return Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Attempt a, LoadAttempt(db, attempt_id));
    if (a.status == AttemptStatus::kRunning) return OkStatus();  // repeated report
    if (!CanTransition(a.status, AttemptStatus::kRunning)) {
      return TransitionError(a.id, a.status, AttemptStatus::kRunning);
    }
    ASSIGN_OR_RETURN(RunState run, LoadRunState(db, a.run_id));
    if (run.status != RunStatus::kRunning) {
      if (!CanTransition(run.status, RunStatus::kRunning)) {
        return RunTransitionError(a.run_id, run.status, RunStatus::kRunning);
      }
      // started_at is the first start: a retried run keeps the time it first ran.
      ASSIGN_OR_RETURN(Stmt r,
                       db.Prepare("UPDATE runs SET status = 'RUNNING', updated_at = ?1, "
                                  "started_at = CASE WHEN started_at = 0 THEN ?1 ELSE started_at "
                                  "END WHERE id = ?2"));
      RETURN_IF_ERROR(r.Bind(1, started_at).Bind(2, a.run_id).Run());
    }
    ASSIGN_OR_RETURN(
        Stmt s, db.Prepare("UPDATE attempts SET status = 'RUNNING', started_at = ? WHERE id = ?"));
    RETURN_IF_ERROR(s.Bind(1, started_at).Bind(2, a.id).Run());
    return AddEvent(db, a.run_id, a.id, started_at, "started",
                    fmt::format("attempt {} started", a.number));
  });
}

Status SqliteStore::EndAttempt(const std::string& attempt_id, const AttemptEnd& end) {
  if (!IsTerminal(end.status)) {
    return InvalidArgument(
        fmt::format("attempt '{}' cannot end as {}; use SUCCEEDED, FAILED, STOPPED or LOST",
                    attempt_id, ToString(end.status)));
  }
  const Micros ended_at = end.ended_at != 0 ? end.ended_at : clock_.Now();
  return Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Attempt a, LoadAttempt(db, attempt_id));
    // Checked before anything else: a late second report must not plan a second retry.
    if (IsTerminal(a.status)) {
      return FailedPrecondition(fmt::format(
          "attempt '{}' already ended as {}; the first end wins, so this {} report is dropped",
          a.id, ToString(a.status), ToString(end.status)));
    }
    if (!CanTransition(a.status, end.status)) return TransitionError(a.id, a.status, end.status);
    if (end.next) RETURN_IF_ERROR(CheckNext(a, end));
    ASSIGN_OR_RETURN(std::vector<Event> events, EndEvents(a, end, ended_at));
    ASSIGN_OR_RETURN(RunState run, LoadRunState(db, a.run_id));
    // A stop request wins over a planned retry: the run ends with this attempt.
    const bool retry = end.next.has_value() && !run.stop_requested;
    const RunStatus run_status =
        retry ? RunStatus::kRetrying : RunStatusForFinalAttempt(end.status);
    if (!CanTransition(run.status, run_status)) {
      return RunTransitionError(a.run_id, run.status, run_status);
    }
    {
      ASSIGN_OR_RETURN(Stmt s,
                       db.Prepare("UPDATE attempts SET status = ?, ended_at = ?, exit_code = ?, "
                                  "reason = ?, message = ?, peak_memory_bytes = ?, cpu_micros = ?, "
                                  "diagnosis = ?, failure_class = ?, decision = ?, "
                                  "components = ?, app_id = ?, cost_nanos = ?, cost_basis = ?, "
                                  "lease_expires_at = 0 WHERE id = ?"));
      s.Bind(1, ToString(end.status)).Bind(2, ended_at);
      sqlite::BindOutcome(s, 3, end.outcome);
      s.Bind(6, end.peak_memory_bytes)
          .Bind(7, end.cpu_micros)
          .Bind(8, end.diagnosis)
          .Bind(9, end.failure_class)
          .Bind(10, end.decision)
          .Bind(11, end.components)
          .Bind(12, end.app_id);
      if (end.cost_usd) {
        s.Bind(13, UsdToNanos(*end.cost_usd));
      } else {
        s.BindNull(13);
      }
      RETURN_IF_ERROR(s.Bind(14, end.cost_basis).Bind(15, a.id).Run());
    }
    if (end.cost_usd) {
      const CostAdded add = CostOfEnd(end);
      ASSIGN_OR_RETURN(Stmt c, db.Prepare("UPDATE runs SET cost_nanos = cost_nanos + ?, "
                                          "retries_cost_nanos = retries_cost_nanos + ? "
                                          "WHERE id = ?"));
      RETURN_IF_ERROR(c.Bind(1, add.nanos).Bind(2, add.retries_nanos).Bind(3, a.run_id).Run());
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
      if (auto st = sqlite::InsertAttempt(db, next); !st.ok()) {
        if (st.error().code() != Code::kAlreadyExists) return st;
        return InvalidArgument(fmt::format(
            "the retry '{}' of attempt '{}' already exists; give it a new id", next.id, a.id));
      }
      ASSIGN_OR_RETURN(
          Stmt r, db.Prepare("UPDATE runs SET status = 'RETRYING', updated_at = ? WHERE id = ?"));
      RETURN_IF_ERROR(r.Bind(1, ended_at).Bind(2, a.run_id).Run());
    } else {
      ASSIGN_OR_RETURN(Stmt r,
                       db.Prepare("UPDATE runs SET status = ?, ended_at = ?, updated_at = ?, "
                                  "exit_code = ?, reason = ?, message = ? WHERE id = ?"));
      r.Bind(1, ToString(run_status)).Bind(2, ended_at).Bind(3, ended_at);
      sqlite::BindOutcome(r, 4, end.outcome);
      RETURN_IF_ERROR(r.Bind(7, a.run_id).Run());
    }
    RETURN_IF_ERROR(AddEvent(db, a.run_id, a.id, ended_at, "ended",
                             sqlite::DescribeEnd(end.status, end.outcome)));
    // The caller's events are written either way (they record what was decided); when the stop
    // wins, the timeline says so right after them, so a "retrying" sentence is not the last word.
    for (const Event& e : events) RETURN_IF_ERROR(sqlite::InsertEvent(db, e));
    if (end.next && !retry) {
      RETURN_IF_ERROR(AddEvent(
          db, a.run_id, a.id, ended_at, "retry_dropped",
          fmt::format("attempt {} was not queued: a stop was requested", end.next->number)));
    }
    return OkStatus();
  });
}

Result<bool> SqliteStore::RequestStop(const std::string& run_id, Micros now,
                                      const std::string& requested_by) {
  bool stopped_now = false;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(RunState run, LoadRunState(db, run_id));
        if (IsTerminal(run.status)) {
          return FailedPrecondition(
              fmt::format("run '{}' already ended as {}; there is nothing to stop", run_id,
                          ToString(run.status)));
        }
        {
          ASSIGN_OR_RETURN(
              Stmt s,
              db.Prepare("UPDATE runs SET stop_requested = 1, updated_at = ? WHERE id = ?"));
          RETURN_IF_ERROR(s.Bind(1, now).Bind(2, run_id).Run());
        }
        if (!run.stop_requested) {
          RETURN_IF_ERROR(
              AddEvent(db, run_id, "", now, "stop_requested", StopRequestedMessage(requested_by)));
        }
        if (run.status != RunStatus::kQueued && run.status != RunStatus::kRetrying) {
          return OkStatus();
        }
        // A queued (or retrying) run stops at once only if none of its attempts was claimed: a
        // LAUNCHING attempt may have a process starting, which only the engine can stop.
        std::vector<Attempt> live;
        {
          ASSIGN_OR_RETURN(
              Stmt s, db.Prepare("SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts WHERE run_id = ? "
                                 "AND status IN ('QUEUED', 'LAUNCHING', 'RUNNING')"));
          s.Bind(1, run_id);
          RETURN_IF_ERROR(ReadAttempts(s, live));
        }
        for (const Attempt& a : live) {
          if (a.status != AttemptStatus::kQueued) return OkStatus();
        }
        const bool retrying = run.status == RunStatus::kRetrying;
        Outcome outcome{std::nullopt, std::string(reason::kStopped),
                        retrying ? "stopped while waiting to retry" : "stopped before it started"};
        for (const Attempt& a : live) {
          if (!CanTransition(a.status, AttemptStatus::kStopped)) {
            return TransitionError(a.id, a.status, AttemptStatus::kStopped);
          }
          ASSIGN_OR_RETURN(Stmt s,
                           db.Prepare("UPDATE attempts SET status = 'STOPPED', ended_at = ?, "
                                      "exit_code = ?, reason = ?, message = ? WHERE id = ?"));
          s.Bind(1, now);
          sqlite::BindOutcome(s, 2, outcome);
          RETURN_IF_ERROR(s.Bind(5, a.id).Run());
        }
        if (!CanTransition(run.status, RunStatus::kStopped)) {
          return RunTransitionError(run_id, run.status, RunStatus::kStopped);
        }
        ASSIGN_OR_RETURN(
            Stmt r, db.Prepare("UPDATE runs SET status = 'STOPPED', ended_at = ?, exit_code = ?, "
                               "reason = ?, message = ? WHERE id = ?"));
        r.Bind(1, now);
        sqlite::BindOutcome(r, 2, outcome);
        RETURN_IF_ERROR(r.Bind(5, run_id).Run());
        RETURN_IF_ERROR(AddEvent(db, run_id, live.empty() ? std::string() : live.front().id, now,
                                 "stopped",
                                 retrying ? "stopped while waiting to retry; the next attempt "
                                            "never started"
                                          : "stopped while queued; it never started"));
        stopped_now = true;
        return OkStatus();
      }),
      stopped_now);
}

Result<std::vector<Attempt>> SqliteStore::ListActiveAttempts() {
  std::vector<Attempt> out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(Stmt s,
                         db.Prepare("SELECT " TUG_ATTEMPT_COLUMNS " FROM attempts WHERE "
                                    "status IN ('LAUNCHING', 'RUNNING') ORDER BY due_at, id"));
        return ReadAttempts(s, out);
      }),
      out);
}

Result<std::optional<Micros>> SqliteStore::NextDueAt() {
  std::optional<Micros> next;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(Stmt s,
                         db.Prepare("SELECT MIN(due_at) FROM attempts WHERE status = 'QUEUED'"));
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (row && !s.IsNull(0)) next = s.Int(0);
        return OkStatus();
      }),
      next);
}

// The run-level terms restate what the attempt-level ones imply, so the runs_history index can
// answer the query: a SUCCEEDED attempt always ends its run as SUCCEEDED at the same time (no
// retry follows a success), so the run's status and ended_at match the attempt's. Scanning that
// index newest first stops after `limit` rows, without sorting the definition's history.
Result<std::vector<HistoryRow>> SqliteStore::ListSuccessHistory(const std::string& definition,
                                                                const std::string& signature,
                                                                Micros since, int limit) {
  limit = std::clamp(limit, 1, kMaxHistoryRows);
  std::vector<HistoryRow> out;
  auto body = [&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Stmt s, db.Prepare(sqlite::kSuccessHistorySql));
    s.Bind(1, definition).Bind(2, signature).Bind(3, since).Bind(4, limit);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return OkStatus();
      HistoryRow h;
      h.run_id = s.Text(0);
      h.ended_at = s.Int(1);
      h.peak_memory_bytes = s.Int(2);
      h.resources.memory_bytes = s.Int(3);
      h.resources.cpu_millis = s.Int(4);
      auto spark = sqlite::DecodeSparkResources(s.TextView(5));
      if (!spark.ok()) {
        return std::move(spark).take_error().WithContext(
            fmt::format("a successful attempt of run '{}'", h.run_id));
      }
      h.resources.spark = *spark;
      out.push_back(std::move(h));
    }
  };
  return sqlite::ValueIfOk(Read(body), out);
}

// The capacity terms repeat the WHERE of the partial index attempts_spot_ended word for word
// (SQLite only uses a partial index when the query contains its condition). Attempts that were
// never claimed (stopped while queued) never ran anywhere and are not counted.
Result<SpotOutcomes> SqliteStore::CountSpotOutcomes(Micros since) {
  SpotOutcomes out;
  auto body = [&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Stmt s, db.Prepare(sqlite::kSpotOutcomesSql));
    s.Bind(1, since);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      out.spot_attempts = s.Int(0);
      out.node_losses = s.Int(1);
    }
    return OkStatus();
  };
  return sqlite::ValueIfOk(Read(body), out);
}

}  // namespace tug::store
