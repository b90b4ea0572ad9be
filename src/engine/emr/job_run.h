#pragma once
/// Pure policy for the emr-on-eks engine (no I/O): the StartJobRun body built from a launch
/// spec and the configured settings, what a DescribeJobRun state means for the attempt, and how
/// long to wait before the next poll. Tested with tables; the engine and `--dry-run` share it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"
#include "engine/engine.h"

namespace tug::engine::emr {

/// `engines.emr` in the server config.
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

/// The release label for a Spark version; kFailedPrecondition naming the config key when none.
[[nodiscard]] Result<std::string> ReleaseLabelFor(const EmrSettings& settings,
                                                  const std::string& spark_version);

/// The StartJobRun request body (API 2020-10-01): name, virtualClusterId, clientToken (the
/// attempt id: a retried launch is idempotent), executionRoleArn, releaseLabel,
/// jobDriver.sparkSubmitJobDriver, configurationOverrides (spark-defaults with the planner's
/// sizes and capacity choice; monitoringConfiguration to S3) and tags. kInvalidArgument for a
/// spec that is not a Spark application, kFailedPrecondition for missing settings.
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
/// CANCELLED: stopped; FAILED by failureReason: USER_ERROR -> failed (Error, diagnosed from the
/// driver's log), VALIDATION_ERROR -> failed (InvalidSpec: a configuration error, not retried),
/// CLUSTER_UNAVAILABLE and INTERNAL_ERROR -> failed (LaunchFailed / Lost: the platform's fault,
/// retried). Unknown states are kInvalidArgument.
[[nodiscard]] Result<JobRunPhase> PhaseOf(const std::string& state,
                                          const std::string& failure_reason,
                                          const std::string& state_details);

/// DescribeJobRun back-off: 5 s while the job is queued and after a change, doubling while
/// nothing changes up to 60 s (30 s while running); after an error, doubling up to 5 minutes.
Micros NextPollDelay(const std::string& state, int unchanged_polls, int consecutive_errors);

}  // namespace tug::engine::emr
