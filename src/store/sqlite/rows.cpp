#include "store/sqlite/rows.h"

#include <fmt/format.h>

namespace tug::store::sqlite {
namespace {

std::optional<Outcome> ReadOutcome(const Stmt& row, int first) {
  // The reason column is NULL exactly when there is no outcome ('' is an outcome without reason).
  if (row.IsNull(first + 1)) return std::nullopt;
  Outcome o;
  o.exit_code = row.OptionalInt(first);
  o.reason = row.Text(first + 1);
  o.message = row.Text(first + 2);
  return o;
}

}  // namespace

Result<Run> ReadRun(const Stmt& row) {
  Run r;
  r.id = row.Text(0);
  auto context = [&r](Error e) { return std::move(e).WithContext(fmt::format("run '{}'", r.id)); };
  r.definition = row.Text(1);
  r.definition_version = row.Int(2);
  auto status = ParseRunStatus(row.TextView(3));
  if (!status.ok()) return context(Corrupt("run status", row.TextView(3)));
  r.status = *status;
  auto spec = DecodeSpec(row.TextView(4));
  if (!spec.ok()) return context(std::move(spec).take_error());
  r.spec = std::move(*spec);
  auto overrides = DecodeOverrides(row.TextView(5));
  if (!overrides.ok()) return context(std::move(overrides).take_error());
  r.overrides = std::move(*overrides);
  r.created_at = row.Int(6);
  r.updated_at = row.Int(7);
  r.started_at = row.Int(8);
  r.ended_at = row.Int(9);
  r.stop_requested = row.Int(10) != 0;
  r.outcome = ReadOutcome(row, 11);
  r.plan = row.Text(14);
  return r;
}

Result<Attempt> ReadAttempt(const Stmt& row) {
  Attempt a;
  a.id = row.Text(0);
  a.run_id = row.Text(1);
  a.number = static_cast<int>(row.Int(2));
  auto status = ParseAttemptStatus(row.TextView(3));
  if (!status.ok()) {
    return Corrupt("attempt status", row.TextView(3))
        .WithContext(fmt::format("attempt '{}'", a.id));
  }
  a.status = *status;
  a.resources.memory_bytes = row.Int(4);
  a.resources.cpu_millis = row.Int(5);
  a.engine = row.Text(6);
  a.engine_ref = row.Text(7);
  a.claimed_by = row.Text(8);
  a.lease_expires_at = row.Int(9);
  a.created_at = row.Int(10);
  a.due_at = row.Int(11);
  a.launched_at = row.Int(12);
  a.started_at = row.Int(13);
  a.ended_at = row.Int(14);
  a.outcome = ReadOutcome(row, 15);
  a.peak_memory_bytes = row.Int(18);
  a.cpu_micros = row.Int(19);
  a.diagnosis = row.Text(20);
  a.placement.capacity = row.Text(21);
  a.placement.executor_capacity = row.Text(22);
  auto spark = DecodeSparkResources(row.TextView(23));
  if (!spark.ok())
    return std::move(spark).take_error().WithContext(fmt::format("attempt '{}'", a.id));
  a.resources.spark = *spark;
  a.decision = row.Text(24);
  a.components = row.Text(25);
  a.app_id = row.Text(26);
  return a;
}

Event ReadEvent(const Stmt& row) {
  Event e;
  e.seq = row.Int(0);
  e.run_id = row.Text(1);
  e.attempt_id = row.Text(2);
  e.at = row.Int(3);
  e.type = row.Text(4);
  e.message = row.Text(5);
  return e;
}

void BindOutcome(Stmt& stmt, int first_index, const std::optional<Outcome>& outcome) {
  if (!outcome) {
    stmt.BindNull(first_index).BindNull(first_index + 1).BindNull(first_index + 2);
    return;
  }
  stmt.Bind(first_index, outcome->exit_code)
      .Bind(first_index + 1, outcome->reason)
      .Bind(first_index + 2, outcome->message);
}

Status InsertAttempt(Connection& db, const Attempt& a) {
  ASSIGN_OR_RETURN(Stmt s, db.Prepare("INSERT INTO attempts (" TUG_ATTEMPT_COLUMNS
                                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  s.Bind(1, a.id)
      .Bind(2, a.run_id)
      .Bind(3, a.number)
      .Bind(4, ToString(a.status))
      .Bind(5, a.resources.memory_bytes)
      .Bind(6, a.resources.cpu_millis)
      .Bind(7, a.engine)
      .Bind(8, a.engine_ref)
      .Bind(9, a.claimed_by)
      .Bind(10, a.lease_expires_at)
      .Bind(11, a.created_at)
      .Bind(12, a.due_at)
      .Bind(13, a.launched_at)
      .Bind(14, a.started_at)
      .Bind(15, a.ended_at);
  BindOutcome(s, 16, a.outcome);
  return s.Bind(19, a.peak_memory_bytes)
      .Bind(20, a.cpu_micros)
      .Bind(21, a.diagnosis)
      .Bind(22, a.placement.capacity)
      .Bind(23, a.placement.executor_capacity)
      .Bind(24, EncodeSparkResources(a.resources.spark))
      .Bind(25, a.decision)
      .Bind(26, a.components)
      .Bind(27, a.app_id)
      .Run();
}

Status InsertEvent(Connection& db, const Event& e) {
  ASSIGN_OR_RETURN(Stmt s, db.Prepare("INSERT INTO events (run_id, attempt_id, at, type, message) "
                                      "VALUES (?, ?, ?, ?, ?)"));
  return s.Bind(1, e.run_id)
      .Bind(2, e.attempt_id)
      .Bind(3, e.at)
      .Bind(4, e.type)
      .Bind(5, e.message)
      .Run();
}

}  // namespace tug::store::sqlite
