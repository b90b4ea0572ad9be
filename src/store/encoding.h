#pragma once
/// The storage encoding every Store backend shares: the column lists of the three main tables,
/// the JSON text of a definition spec, run overrides and an attempt's Spark sizes, and the text
/// of an "ended" event. Backends differ in how they bind and read columns, not in what a column
/// holds, so a database written by one reads the same through another's decoder.
///
/// The spec is stored as JSON with raw integers (bytes, millicores, seconds), not through the API
/// mapping in core/json.h: the API format is for people (units like "512Mi", "10m") and validates
/// input, while a stored snapshot must read back exactly as written, whatever today's validation
/// rules say. Decoding tolerates missing keys so later migrations can add fields: a key an old row
/// lacks decodes to the model's default (old rows always stored max_attempts, so theirs is kept).
/// Doubles are stored as their shortest round-trip text ("1.5") because Boost.JSON 1.81 parses
/// some 16-17 digit numbers one ulp off; a stored number is still accepted.
///
/// Pure functions; safe from any thread.
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace tug::store {

/// Columns of a run row, in the order the backends' ReadRun expects:
/// "SELECT " TUG_RUN_COLUMNS " FROM runs ...".
#define TUG_RUN_COLUMNS                                                                         \
  "id, definition, definition_version, status, spec, overrides, created_at, updated_at, "       \
  "started_at, ended_at, stop_requested, exit_code, reason, message, plan, owner, group_name, " \
  "queue, priority, queue_reason, parent_run_id, cost_nanos, retries_cost_nanos"
/// Columns of an attempt row, in order.
#define TUG_ATTEMPT_COLUMNS                                                                      \
  "id, run_id, number, status, memory_bytes, cpu_millis, engine, engine_ref, claimed_by, "       \
  "lease_expires_at, created_at, due_at, launched_at, started_at, ended_at, exit_code, reason, " \
  "message, peak_memory_bytes, cpu_micros, diagnosis, capacity, executor_capacity, "             \
  "spark_resources, decision, components, app_id, gpu, cost_nanos, cost_basis"
/// Columns of a usage bucket row, in order (cpu_millis_sum / samples is the mean).
#define TUG_USAGE_COLUMNS                                                            \
  "attempt_id, component, bucket_at, width, memory_bytes, cpu_millis_sum, samples, " \
  "memory_limit_bytes, cpu_limit_millis"
/// Columns of an API token row, in order.
#define TUG_TOKEN_COLUMNS                                                                     \
  "id, name, user_name, groups, role, hash, created_by, created_at, expires_at, revoked_at, " \
  "last_used_at"
/// Columns of an event row, in order.
#define TUG_EVENT_COLUMNS "seq, run_id, attempt_id, at, type, message"

/// Costs are stored as whole nano-dollars (1e-9 $, exact integer sums and cursor comparisons;
/// int64 holds 9.2e9 $): cost_nanos of an attempt (NULL: not priced) and of a run.
int64_t UsdToNanos(double usd);
double NanosToUsd(int64_t nanos);

/// kInternal for a stored value that cannot be read back (`what`: "run status"; `why`: detail).
Error Corrupt(std::string_view what, std::string_view why);

std::string EncodeSpec(const Definition& def);
[[nodiscard]] Result<Definition> DecodeSpec(std::string_view text);
std::string EncodeOverrides(const RunOverrides& overrides);
[[nodiscard]] Result<RunOverrides> DecodeOverrides(std::string_view text);
/// An attempt's Spark sizes (attempts.spark_resources): "" for empty ones (container jobs).
std::string EncodeSparkResources(const SparkResources& spark);
[[nodiscard]] Result<SparkResources> DecodeSparkResources(std::string_view text);

/// A token's groups (api_tokens.groups): a JSON array of strings.
std::string EncodeGroups(const std::vector<std::string>& groups);
[[nodiscard]] Result<std::vector<std::string>> DecodeGroups(std::string_view text);

/// The text of an "ended" event: "OOMKilled (exit 137): <message>".
std::string DescribeEnd(AttemptStatus status, const Outcome& outcome);

}  // namespace tug::store
