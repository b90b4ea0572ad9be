#pragma once
// Row decoding shared by the store backends: a Run, Attempt or Event from a result row with the
// columns of TUG_RUN_COLUMNS / TUG_ATTEMPT_COLUMNS / the events table, in that order. `Row` is
// the backend's row type with Text, TextView, Int, OptionalInt and IsNull by column index; the
// backend also provides `bool RowBool(const Row&, int column)` in the row type's namespace.
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/error.h"
#include "core/model.h"
#include "store/encoding.h"
#include "store/store.h"

namespace tug::store {

template <class Row>
std::optional<Outcome> DecodeOutcomeRow(const Row& row, int first) {
  // The reason column is NULL exactly when there is no outcome ('' is an outcome without reason).
  if (row.IsNull(first + 1)) return std::nullopt;
  Outcome o;
  o.exit_code = row.OptionalInt(first);
  o.reason = row.Text(first + 1);
  o.message = row.Text(first + 2);
  return o;
}

template <class Row>
Result<Run> DecodeRunRow(const Row& row) {
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
  r.stop_requested = RowBool(row, 10);  // found by ADL in the backend's namespace
  r.outcome = DecodeOutcomeRow(row, 11);
  r.plan = row.Text(14);
  r.owner = row.Text(15);
  r.group = row.Text(16);
  r.queue = row.Text(17);
  r.priority = static_cast<int>(row.Int(18));
  r.queue_reason = row.Text(19);
  r.parent_run_id = row.Text(20);
  r.cost_usd = NanosToUsd(row.Int(21));
  r.retries_cost_usd = NanosToUsd(row.Int(22));
  return r;
}

template <class Row>
Result<Attempt> DecodeAttemptRow(const Row& row) {
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
  a.outcome = DecodeOutcomeRow(row, 15);
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
  a.resources.gpu = row.Int(27);
  if (!row.IsNull(28)) a.cost_usd = NanosToUsd(row.Int(28));
  a.cost_basis = row.Text(29);
  return a;
}

template <class Row>
Event DecodeEventRow(const Row& row) {
  Event e;
  e.seq = row.Int(0);
  e.run_id = row.Text(1);
  e.attempt_id = row.Text(2);
  e.at = row.Int(3);
  e.type = row.Text(4);
  e.message = row.Text(5);
  return e;
}

/// The columns of TUG_USAGE_COLUMNS, in order; the CPU is the bucket's mean.
template <class Row>
UsagePoint DecodeUsageRow(const Row& row) {
  UsagePoint p;
  p.attempt_id = row.Text(0);
  p.component = row.Text(1);
  p.at = row.Int(2);
  p.width = row.Int(3);
  p.memory_bytes = row.Int(4);
  p.samples = row.Int(6);
  p.cpu_millis = p.samples > 0 ? row.Int(5) / p.samples : 0;
  p.memory_limit_bytes = row.Int(7);
  p.cpu_limit_millis = row.Int(8);
  return p;
}

template <class Row>
Result<ApiToken> DecodeTokenRow(const Row& row) {
  ApiToken t;
  t.id = row.Text(0);
  t.name = row.Text(1);
  t.user = row.Text(2);
  auto groups = DecodeGroups(row.TextView(3));
  if (!groups.ok()) {
    return std::move(groups).take_error().WithContext(fmt::format("token '{}'", t.id));
  }
  t.groups = std::move(*groups);
  t.role = row.Text(4);
  t.hash = row.Text(5);
  t.created_by = row.Text(6);
  t.created_at = row.Int(7);
  t.expires_at = row.Int(8);
  t.revoked_at = row.Int(9);
  t.last_used_at = row.Int(10);
  return t;
}

}  // namespace tug::store
