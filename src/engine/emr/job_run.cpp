#include "engine/emr/job_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>

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

// EMR's ResourceNameString: [\.\-_/#A-Za-z0-9]+, 1-64 characters.
bool NameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_' ||
         c == '/' || c == '#';
}

// The service model's String1024 / StringEmpty256 pattern `.*\S.*`: something not blank.
bool Blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// Lower-case copy.
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string JobRunName(const LaunchSpec& spec) {
  std::string name = fmt::format("{}-{}", spec.definition, spec.attempt_number);
  for (char& c : name) {
    if (!NameChar(c)) c = '-';
  }
  // Keep the end: the attempt number must survive.
  if (name.size() > 64) name = name.substr(name.size() - 64);
  return name;
}

std::string SparkMemoryMiB(int64_t bytes) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  return std::to_string((bytes + kMiB - 1) / kMiB) + "m";
}

Result<std::string> ReleaseLabelFor(const EmrSettings& settings, const std::string& spark_version) {
  if (auto it = settings.release_labels.find(spark_version); it != settings.release_labels.end()) {
    return it->second;
  }
  // "3.5.1" takes the label of "3.5" (the minor version decides the EMR release line).
  if (size_t dot = spark_version.find('.', spark_version.find('.') + 1);
      dot != std::string::npos && spark_version.find('.') != std::string::npos) {
    if (auto it = settings.release_labels.find(spark_version.substr(0, dot));
        it != settings.release_labels.end()) {
      return it->second;
    }
  }
  if (!settings.default_release_label.empty()) return settings.default_release_label;
  return FailedPrecondition(
      fmt::format("no EMR release label for Spark '{}'; add it under emr.release_labels (or set "
                  "emr.default_release_label)",
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
  if (spec.resources.gpu > 0) {
    return FailedPrecondition(
        "emr-on-eks does not schedule GPUs here; run GPU Spark definitions on the spark engine");
  }
  if (settings.virtual_cluster_id.empty() || settings.execution_role_arn.empty()) {
    return FailedPrecondition(
        "emr-on-eks needs emr.virtual_cluster_id and emr.execution_role_arn in the server config");
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
  for (const auto& [k, v] : spec.env) {
    props["spark.kubernetes.driverEnv." + k] = v;
    props["spark.executorEnv." + k] = v;
  }
  // Secrets by reference only: EMR keeps the job run's configuration (DescribeJobRun returns
  // it), so an inline value would be readable by anyone who may describe job runs.
  for (const auto& [k, v] : spec.secret_env) {
    if (!v.from_secret()) {
      return InvalidArgument(fmt::format(
          "env '{}' has an inline secret value, which emr-on-eks would send to EMR in the job "
          "run's configuration; store it in a Kubernetes Secret in the virtual cluster's "
          "namespace and reference it (valueFrom.secretKeyRef)",
          k));
    }
    props["spark.kubernetes.driver.secretKeyRef." + k] = v.secret_name + ":" + v.secret_key;
    props["spark.kubernetes.executor.secretKeyRef." + k] = v.secret_name + ":" + v.secret_key;
  }
  // The service model: at most 100 properties, each value 1-1024 characters and not blank.
  if (props.size() > 100) {
    return InvalidArgument(fmt::format(
        "the job run would carry {} spark-defaults properties and EMR accepts at most 100; move "
        "some spark.conf entries into the application or its image",
        props.size()));
  }
  for (const auto& [k, v] : props) {
    const std::string value = v.is_string() ? std::string(v.as_string()) : std::string();
    if (Blank(value) || value.size() > 1024 || k.size() > 1024) {
      return InvalidArgument(fmt::format(
          "EMR refuses the property '{}': values must be 1-1024 characters and not blank; give "
          "it a value or drop it",
          std::string(k)));
    }
  }

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

  boost::json::object tags{{"tugboat.run", spec.run_id}, {"tugboat.attempt", spec.attempt_id}};
  if (!Blank(spec.definition)) tags["tugboat.definition"] = spec.definition;
  return boost::json::object{{"name", JobRunName(spec)},
                             {"virtualClusterId", settings.virtual_cluster_id},
                             {"clientToken", spec.attempt_id},
                             {"executionRoleArn", settings.execution_role_arn},
                             {"releaseLabel", release},
                             {"jobDriver", {{"sparkSubmitJobDriver", driver}}},
                             {"configurationOverrides", overrides},
                             {"tags", std::move(tags)}};
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
    } else {
      // INTERNAL_ERROR, or a reason this version does not know: EMR's own failure, at any point
      // of the run. No exit code: the `emr` log line's diagnosis (transient_dependency) decides
      // the retry, with back-off, rather than a node-loss reading of "Lost".
      p.outcome.reason = reason::kError;
    }
    std::string why = failure_reason.empty() ? "" : "EMR " + failure_reason;
    if (!why.empty()) {
      p.outcome.message = state_details.empty() ? why : why + ": " + state_details;
    }
    return p;
  }
  return InvalidArgument(fmt::format("job run state '{}' is unknown", state));
}

std::string JobRunEndLine(const std::string& job_run_id, const std::string& state,
                          const std::string& failure_reason, const std::string& state_details) {
  std::string line = "job run " + job_run_id + " " + state;
  if (!failure_reason.empty()) line += " (failureReason " + failure_reason + ")";
  if (!state_details.empty()) line += ": " + state_details;
  return line;
}

std::optional<DriverExit> DriverExitFromJobRunnerLog(std::string_view log,
                                                     std::string_view container) {
  // Lines of the form "<tabs> <key>: <value>" after "Container final statuses:"; Spark 2 wrote
  // the keys capitalised ("Container name", "Exit code"), Spark 3 in lower case.
  std::optional<DriverExit> found;
  bool in_final = false;
  bool in_driver = false;
  DriverExit current;
  bool have_current = false;
  auto flush = [&] {
    if (in_driver && have_current) found = current;
    current = DriverExit{};
    have_current = false;
  };
  size_t pos = 0;
  while (pos <= log.size()) {
    size_t nl = log.find('\n', pos);
    std::string_view line =
        log.substr(pos, nl == std::string_view::npos ? log.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? log.size() + 1 : nl + 1;
    const std::string lower = Lower(line);
    if (lower.find("container final statuses") != std::string::npos) {
      flush();
      in_final = true;
      in_driver = false;
      continue;
    }
    if (!in_final) continue;
    if (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())) == 0) {
      // The block's lines are indented; the next log record ends it.
      flush();
      in_final = false;
      in_driver = false;
      continue;
    }
    size_t colon = lower.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trim(std::string_view(lower).substr(0, colon));
    const std::string value = Trim(line.substr(colon + 1));
    if (key == "container name") {
      flush();
      in_driver = value == container;
    } else if (in_driver && key == "exit code") {
      int code = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), code).ec == std::errc()) {
        current.exit_code = code;
        have_current = true;
      }
    } else if (in_driver && key == "termination reason" && value != "N/A") {
      current.reason = value;
      have_current = true;
    }
  }
  flush();
  return found;
}

Micros NextPollDelay(const std::string& state, int unchanged_polls, int consecutive_errors,
                     const PollTiming& timing) {
  auto doubling = [](Micros base, int n, Micros cap) {
    Micros d = base;
    for (int i = 0; i < n && d < cap; ++i) d *= 2;
    return std::min(d, cap);
  };
  if (consecutive_errors > 0) {
    return doubling(timing.base, consecutive_errors - 1, timing.error_cap);
  }
  Micros cap = state == "RUNNING" ? timing.running_cap : timing.cap;
  return doubling(timing.base, unchanged_polls, cap);
}

}  // namespace tug::engine::emr
