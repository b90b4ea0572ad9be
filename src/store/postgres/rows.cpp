#include "store/postgres/rows.h"

#include <fmt/format.h>

namespace tug::store::pg {
namespace {

std::optional<Outcome> ReadOutcome(const Row& row, int first) {
  // The reason column is NULL exactly when there is no outcome ('' is an outcome without reason).
  if (row.IsNull(first + 1)) return std::nullopt;
  Outcome o;
  o.exit_code = row.OptionalInt(first);
  o.reason = row.Text(first + 1);
  o.message = row.Text(first + 2);
  return o;
}

}  // namespace

std::string Qualified(std::string_view columns, std::string_view alias) {
  std::string out;
  size_t start = 0;
  while (start < columns.size()) {
    size_t comma = columns.find(',', start);
    if (comma == std::string_view::npos) comma = columns.size();
    std::string_view col = columns.substr(start, comma - start);
    while (!col.empty() && col.front() == ' ') col.remove_prefix(1);
    if (!out.empty()) out += ", ";
    out += fmt::format("{}.{}", alias, col);
    start = comma + 1;
  }
  return out;
}

Result<Run> ReadRun(const Row& row) {
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
  r.stop_requested = row.Bool(10);
  r.outcome = ReadOutcome(row, 11);
  r.plan = row.Text(14);
  return r;
}

Result<Attempt> ReadAttempt(const Row& row) {
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
  if (!spark.ok()) {
    return std::move(spark).take_error().WithContext(fmt::format("attempt '{}'", a.id));
  }
  a.resources.spark = *spark;
  a.decision = row.Text(24);
  a.components = row.Text(25);
  a.app_id = row.Text(26);
  return a;
}

Event ReadEvent(const Row& row) {
  Event e;
  e.seq = row.Int(0);
  e.run_id = row.Text(1);
  e.attempt_id = row.Text(2);
  e.at = row.Int(3);
  e.type = row.Text(4);
  e.message = row.Text(5);
  return e;
}

void AddOutcome(Params& p, const std::optional<Outcome>& outcome) {
  if (!outcome) {
    p.AddNull().AddNull().AddNull();
    return;
  }
  p.Add(outcome->exit_code).Add(outcome->reason).Add(outcome->message);
}

void AddRun(Params& p, const Run& run) {
  p.Add(run.id)
      .Add(run.definition)
      .Add(run.definition_version)
      .Add(ToString(run.status))
      .Add(EncodeSpec(run.spec))
      .Add(EncodeOverrides(run.overrides))
      .Add(run.created_at)
      .Add(run.updated_at)
      .Add(run.started_at)
      .Add(run.ended_at)
      .Add(run.stop_requested);
  AddOutcome(p, run.outcome);
  p.Add(run.plan);
}

void AddAttempt(Params& p, const Attempt& a) {
  p.Add(a.id)
      .Add(a.run_id)
      .Add(a.number)
      .Add(ToString(a.status))
      .Add(a.resources.memory_bytes)
      .Add(a.resources.cpu_millis)
      .Add(a.engine)
      .Add(a.engine_ref)
      .Add(a.claimed_by)
      .Add(a.lease_expires_at)
      .Add(a.created_at)
      .Add(a.due_at)
      .Add(a.launched_at)
      .Add(a.started_at)
      .Add(a.ended_at);
  AddOutcome(p, a.outcome);
  p.Add(a.peak_memory_bytes)
      .Add(a.cpu_micros)
      .Add(a.diagnosis)
      .Add(a.placement.capacity)
      .Add(a.placement.executor_capacity)
      .Add(EncodeSparkResources(a.resources.spark))
      .Add(a.decision)
      .Add(a.components)
      .Add(a.app_id);
}

Params EventParams(const Event& e) {
  Params p;
  p.Add(e.run_id).Add(e.attempt_id).Add(e.at).Add(e.type).Add(e.message);
  return p;
}

}  // namespace tug::store::pg
