#include "store/sqlite/rows.h"

#include <fmt/format.h>

#include "store/row_decoding.h"

namespace tug::store::sqlite {
// Read by the shared row decoding (store/row_decoding.h), found by argument-dependent lookup.
bool RowBool(const Stmt& row, int column) { return row.Int(column) != 0; }

Result<Run> ReadRun(const Stmt& row) { return DecodeRunRow(row); }

Result<Attempt> ReadAttempt(const Stmt& row) { return DecodeAttemptRow(row); }

Event ReadEvent(const Stmt& row) { return DecodeEventRow(row); }

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
                                      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
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
  s.Bind(19, a.peak_memory_bytes)
      .Bind(20, a.cpu_micros)
      .Bind(21, a.diagnosis)
      .Bind(22, a.placement.capacity)
      .Bind(23, a.placement.executor_capacity)
      .Bind(24, EncodeSparkResources(a.resources.spark))
      .Bind(25, a.decision)
      .Bind(26, a.components)
      .Bind(27, a.app_id)
      .Bind(28, a.resources.gpu);
  if (a.cost_usd) {
    s.Bind(29, UsdToNanos(*a.cost_usd));
  } else {
    s.BindNull(29);
  }
  return s.Bind(30, a.cost_basis).Run();
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
