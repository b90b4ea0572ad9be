#pragma once
/// Pure policy for the emr-on-eks engine (no I/O): the StartJobRun body built from a launch
/// spec and the configured settings, what a DescribeJobRun state means for the attempt, and how
/// long to wait before the next poll. Tested with tables; the engine and `--dry-run` share it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"
#include "engine/engine.h"

namespace tug::engine::emr {

/// The `emr:` section of the server config (src/server/config.h maps it here).
struct EmrSettings {
  std::string virtual_cluster_id;
  std::string execution_role_arn;
  /// Spark version ("3.5") -> EMR release label ("emr-7.1.0-latest"); `default_release_label`
  /// when the version is not listed.
  std::map<std::string, std::string> release_labels;
  std::string default_release_label;
  /// s3://bucket/prefix EMR writes driver/executor logs under (monitoringConfiguration).
  std::string log_uri;
  /// The node label EKS puts capacity types on, and its values.
  std::string capacity_label = "eks.amazonaws.com/capacityType";
  std::string spot_value = "SPOT";
  std::string on_demand_value = "ON_DEMAND";
};

/// The job run's name: "<definition>-<attempt number>", cut to the 64 characters EMR allows and
/// with characters outside its pattern ([.-_/#A-Za-z0-9]) replaced by '-'. Re-attach lists job
/// runs by it.
std::string JobRunName(const LaunchSpec& spec);

/// The release label for a Spark version; kFailedPrecondition naming the config key when none.
[[nodiscard]] Result<std::string> ReleaseLabelFor(const EmrSettings& settings,
                                                  const std::string& spark_version);

/// The StartJobRun request body (API 2020-10-01): name, virtualClusterId, clientToken (the
/// attempt id: a retried launch is idempotent), executionRoleArn, releaseLabel,
/// jobDriver.sparkSubmitJobDriver, configurationOverrides (spark-defaults with the planner's
/// sizes and capacity choice, the environment as driver/executor env and Kubernetes Secret
/// references as secretKeyRef confs; monitoringConfiguration to S3) and tags. kInvalidArgument
/// for a spec that is not a Spark application or that the service model refuses (an empty conf
/// value, more than 100 confs, an inline secret value), kFailedPrecondition for missing
/// settings.
[[nodiscard]] Result<boost::json::object> StartJobRunBody(const LaunchSpec& spec,
                                                          const EmrSettings& settings);

/// Spark's memory syntax in MiB, rounded up: 4 GiB -> "4096m".
std::string SparkMemoryMiB(int64_t bytes);

/// What a job run's state means for its attempt.
struct JobRunPhase {
  bool started = false;  // the job is (or was) running: kStarted is due
  bool ended = false;    // terminal: kEnded with `status` and `outcome`
  AttemptStatus status = AttemptStatus::kLaunching;
  Outcome outcome;
};
/// PENDING/SUBMITTED: launching; RUNNING/CANCEL_PENDING: running; COMPLETED: succeeded;
/// CANCELLED: stopped; FAILED by failureReason: USER_ERROR -> failed (Error, exit 1 until the
/// job runner's log says better; diagnosed from the driver's log), VALIDATION_ERROR -> failed
/// (InvalidSpec: a configuration error, not retried), CLUSTER_UNAVAILABLE -> failed
/// (LaunchFailed: the platform's, retried on the infrastructure budget), INTERNAL_ERROR or a
/// reason this version does not know -> failed (Error without an exit code: the diagnosis of
/// the `emr` log line decides, transient_dependency with back-off). Unknown states are
/// kInvalidArgument.
[[nodiscard]] Result<JobRunPhase> PhaseOf(const std::string& state,
                                          const std::string& failure_reason,
                                          const std::string& state_details);

/// The line the engine writes to the attempt's `emr` log when a job run ends (the diagnosis
/// catalog's emr.* patterns read it):
///   "job run <id> FAILED (failureReason USER_ERROR): <stateDetails>"
///   "job run <id> COMPLETED"
std::string JobRunEndLine(const std::string& job_run_id, const std::string& state,
                          const std::string& failure_reason, const std::string& state_details);

/// What the job runner (spark-submit in cluster mode) logged about the driver container when
/// it ended: Spark's LoggingPodStatusWatcherImpl prints "Container final statuses:" and, per
/// container, "container name: ...", "exit code: N" and (Spark 3) "termination reason: R".
/// EMR's API has no exit code; this is where it comes from.
struct DriverExit {
  std::optional<int> exit_code;
  std::string reason;  // OOMKilled, Error, Completed, ... ("" when not logged)
};
/// The driver container's final status from the job runner's log text (the last one printed);
/// nullopt when the log has none. `container` is Spark's driver container name.
std::optional<DriverExit> DriverExitFromJobRunnerLog(
    std::string_view log, std::string_view container = "spark-kubernetes-driver");

/// DescribeJobRun back-off. Defaults: 5 s while the job is queued and after a change, doubling
/// while nothing changes up to 60 s (30 s while running); after an error, doubling up to 5 min.
struct PollTiming {
  Micros base = 5 * kMicrosPerSecond;
  Micros running_cap = 30 * kMicrosPerSecond;
  Micros cap = 60 * kMicrosPerSecond;
  Micros error_cap = 300 * kMicrosPerSecond;
};
Micros NextPollDelay(const std::string& state, int unchanged_polls, int consecutive_errors,
                     const PollTiming& timing = {});

}  // namespace tug::engine::emr
