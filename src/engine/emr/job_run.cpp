#include "engine/emr/job_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

namespace tug::engine::emr {
namespace {

std::string Cores(int64_t cpu_millis) {
  return std::to_string(std::max<int64_t>(1, (cpu_millis + 999) / 1000));
}

// sparkSubmitParameters is one string spark-submit splits on spaces; a value with a space
// would split, so such conf goes to spark-defaults instead (see StartJobRunBody).
std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

}  // namespace

std::string SparkMemoryMiB(int64_t bytes) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  return std::to_string((bytes + kMiB - 1) / kMiB) + "m";
}

Result<std::string> ReleaseLabelFor(const EmrSettings& settings, const std::string& spark_version) {
  if (auto it = settings.release_labels.find(spark_version); it != settings.release_labels.end()) {
    return it->second;
  }
  if (!settings.default_release_label.empty()) return settings.default_release_label;
  return FailedPrecondition(
      fmt::format("no EMR release label for Spark '{}'; add it under engines.emr.release_labels",
                  spark_version));
}

Result<boost::json::object> StartJobRunBody(const LaunchSpec& spec, const EmrSettings& settings) {
  if (spec.kind != "spark") {
    return InvalidArgument(
        fmt::format("definition '{}' is not a Spark application; emr-on-eks runs kind spark only",
                    spec.definition));
  }
  if (spec.spark.main.empty()) {
    return InvalidArgument("a Spark application needs spark.main (an s3:// or local:// file)");
  }
  if (settings.virtual_cluster_id.empty() || settings.execution_role_arn.empty()) {
    return FailedPrecondition(
        "emr-on-eks needs engines.emr.virtual_cluster_id and engines.emr.execution_role_arn");
  }
  ASSIGN_OR_RETURN(std::string release, ReleaseLabelFor(settings, spec.spark.version));

  std::string params;
  if (!spec.spark.main_class.empty()) params += "--class " + spec.spark.main_class;
  auto add_list = [&](const char* flag, const std::vector<std::string>& items) {
    if (items.empty()) return;
    params += std::string(params.empty() ? "" : " ") + flag + " " + Join(items);
  };
  add_list("--py-files", spec.spark.py_files);
  add_list("--jars", spec.spark.jars);
  add_list("--files", spec.spark.files);

  // The user's conf first, then what the planner decided (it wins: the sizes are what the
  // attempt was admitted with).
  boost::json::object props;
  for (const auto& [k, v] : spec.spark.conf) props[k] = v;
  const SparkResources& r = spec.resources.spark;
  if (r.driver.memory_bytes > 0)
    props["spark.driver.memory"] = SparkMemoryMiB(r.driver.memory_bytes);
  if (r.driver.memory_overhead_bytes > 0) {
    props["spark.driver.memoryOverhead"] = SparkMemoryMiB(r.driver.memory_overhead_bytes);
  }
  if (r.driver.cpu_millis > 0) props["spark.driver.cores"] = Cores(r.driver.cpu_millis);
  if (r.executor.memory_bytes > 0) {
    props["spark.executor.memory"] = SparkMemoryMiB(r.executor.memory_bytes);
  }
  if (r.executor.memory_overhead_bytes > 0) {
    props["spark.executor.memoryOverhead"] = SparkMemoryMiB(r.executor.memory_overhead_bytes);
  }
  if (r.executor.cpu_millis > 0) props["spark.executor.cores"] = Cores(r.executor.cpu_millis);
  if (r.instances > 0) props["spark.executor.instances"] = std::to_string(r.instances);
  if (r.dynamic_allocation) {
    props["spark.dynamicAllocation.enabled"] = "true";
    props["spark.dynamicAllocation.shuffleTracking.enabled"] = "true";
    props["spark.dynamicAllocation.minExecutors"] = std::to_string(r.min_executors);
    props["spark.dynamicAllocation.maxExecutors"] =
        std::to_string(r.max_executors > 0 ? r.max_executors : r.instances);
  }
  if (r.max_result_size_bytes > 0) {
    props["spark.driver.maxResultSize"] = SparkMemoryMiB(r.max_result_size_bytes);
  }
  // Capacity: the driver always on on-demand nodes (losing it loses the job); executors where
  // the planner put them.
  auto capacity_value = [&](const std::string& c) {
    return c == kSpot ? settings.spot_value : settings.on_demand_value;
  };
  if (!settings.capacity_label.empty()) {
    props["spark.kubernetes.driver.node.selector." + settings.capacity_label] =
        settings.on_demand_value;
    if (!spec.placement.executor_capacity.empty()) {
      props["spark.kubernetes.executor.node.selector." + settings.capacity_label] =
          capacity_value(spec.placement.executor_capacity);
    }
  }
  for (const auto& [k, v] : spec.env) props["spark.kubernetes.driverEnv." + k] = v;

  boost::json::array args;
  for (const auto& a : spec.spark.args) args.emplace_back(a);
  boost::json::object driver{{"entryPoint", spec.spark.main}};
  if (!args.empty()) driver["entryPointArguments"] = std::move(args);
  if (!params.empty()) driver["sparkSubmitParameters"] = params;

  boost::json::object overrides{
      {"applicationConfiguration",
       boost::json::array{
           boost::json::object{{"classification", "spark-defaults"}, {"properties", props}}}}};
  if (!settings.log_uri.empty()) {
    overrides["monitoringConfiguration"] = {
        {"persistentAppUI", "ENABLED"},
        {"s3MonitoringConfiguration", {{"logUri", settings.log_uri}}}};
  }

  // Job run names are at most 64 characters.
  std::string name = fmt::format("{}-{}", spec.definition, spec.attempt_number);
  if (name.size() > 64) name = name.substr(name.size() - 64);
  return boost::json::object{{"name", name},
                             {"virtualClusterId", settings.virtual_cluster_id},
                             {"clientToken", spec.attempt_id},
                             {"executionRoleArn", settings.execution_role_arn},
                             {"releaseLabel", release},
                             {"jobDriver", {{"sparkSubmitJobDriver", driver}}},
                             {"configurationOverrides", overrides},
                             {"tags",
                              {{"tugboat.run", spec.run_id},
                               {"tugboat.attempt", spec.attempt_id},
                               {"tugboat.definition", spec.definition}}}};
}

Result<JobRunPhase> PhaseOf(const std::string& state, const std::string& failure_reason,
                            const std::string& state_details) {
  JobRunPhase p;
  if (state == "PENDING" || state == "SUBMITTED") return p;
  if (state == "RUNNING" || state == "CANCEL_PENDING") {
    p.started = true;
    p.status = AttemptStatus::kRunning;
    return p;
  }
  p.ended = true;
  p.outcome.message = state_details;
  if (state == "COMPLETED") {
    p.started = true;
    p.status = AttemptStatus::kSucceeded;
    p.outcome.exit_code = 0;
    p.outcome.reason = reason::kCompleted;
    return p;
  }
  if (state == "CANCELLED") {
    p.status = AttemptStatus::kStopped;
    p.outcome.reason = reason::kStopped;
    return p;
  }
  if (state == "FAILED") {
    p.status = AttemptStatus::kFailed;
    if (failure_reason == "USER_ERROR") {
      p.started = true;
      p.outcome.exit_code = 1;
      p.outcome.reason = reason::kError;
    } else if (failure_reason == "VALIDATION_ERROR") {
      p.outcome.reason = reason::kInvalidSpec;
    } else if (failure_reason == "CLUSTER_UNAVAILABLE") {
      p.outcome.reason = reason::kLaunchFailed;
    } else {  // INTERNAL_ERROR, or a reason this version does not know
      p.outcome.reason = reason::kLost;
    }
    std::string why = failure_reason.empty() ? "" : "EMR " + failure_reason;
    if (!why.empty()) {
      p.outcome.message = state_details.empty() ? why : why + ": " + state_details;
    }
    return p;
  }
  return InvalidArgument(fmt::format("job run state '{}' is unknown", state));
}

Micros NextPollDelay(const std::string& state, int unchanged_polls, int consecutive_errors) {
  auto doubling = [](Micros base, int n, Micros cap) {
    Micros d = base;
    for (int i = 0; i < n && d < cap; ++i) d *= 2;
    return std::min(d, cap);
  };
  if (consecutive_errors > 0) {
    return doubling(5 * kMicrosPerSecond, consecutive_errors - 1, 300 * kMicrosPerSecond);
  }
  Micros cap = state == "RUNNING" ? 30 * kMicrosPerSecond : 60 * kMicrosPerSecond;
  return doubling(5 * kMicrosPerSecond, unchanged_polls, cap);
}

}  // namespace tug::engine::emr
