#include "store/postgres/rows.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "store/row_decoding.h"

namespace tug::store::pg {
// Read by the shared row decoding (store/row_decoding.h), found by argument-dependent lookup.
bool RowBool(const Row& row, int column) { return row.Bool(column); }

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

Result<Run> ReadRun(const Row& row) { return DecodeRunRow(row); }

Result<Attempt> ReadAttempt(const Row& row) { return DecodeAttemptRow(row); }

Event ReadEvent(const Row& row) { return DecodeEventRow(row); }

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
  p.Add(run.plan).Add(run.owner).Add(run.group);
  p.Add(run.queue).Add(static_cast<int64_t>(run.priority)).Add(run.queue_reason);
  p.Add(run.parent_run_id);
  p.Add(UsdToNanos(run.cost_usd)).Add(UsdToNanos(run.retries_cost_usd));
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
      .Add(a.app_id)
      .Add(a.resources.gpu);
  if (a.cost_usd) {
    p.Add(UsdToNanos(*a.cost_usd));
  } else {
    p.AddNull();
  }
  p.Add(a.cost_basis);
}

Params EventParams(const Event& e) {
  Params p;
  p.Add(e.run_id).Add(e.attempt_id).Add(e.at).Add(e.type).Add(e.message);
  return p;
}

Status ReadClaimedAttempts(const Rows& rows, std::vector<Attempt>& out) {
  out.clear();
  for (int i = 0; i < rows.size(); ++i) {
    ASSIGN_OR_RETURN(Attempt a, ReadAttempt(Row(rows, i)));
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const Attempt& x, const Attempt& y) {
    return std::tie(x.due_at, x.id) < std::tie(y.due_at, y.id);
  });
  return OkStatus();
}

}  // namespace tug::store::pg
