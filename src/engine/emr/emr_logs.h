#pragma once
/// EMR on EKS's own logs: with monitoringConfiguration.s3MonitoringConfiguration, EMR's log agent
/// writes each pod's stdout.gz/stderr.gz under
///   <logUri>/<virtual cluster id>/jobs/<job run id>/containers/<pod>/              (job runner)
///   <logUri>/<virtual cluster id>/jobs/<job run id>/containers/<app id>/<pod>/     (driver,
///   executors)
/// ImportEmrLogs copies them into the run's log store as components "controller" (the job
/// runner, which runs spark-submit), "driver" and "executor-N", so `tug logs`, the UI and the
/// diagnosis read them like any other engine's.
///
/// Threading: thread-safe (no state). Errors: S3's (kNotFound for a missing bucket), kInternal for
/// an object that is not gzip.
#include <string>
#include <string_view>
#include <vector>

#include "aws/s3_client.h"
#include "core/clock.h"
#include "logs/log_store.h"

namespace tug::engine::emr {

/// "s3://bucket/a/b" -> {"bucket", "a/b/"}; kInvalidArgument for anything else.
[[nodiscard]] Result<std::pair<std::string, std::string>> SplitS3Uri(const std::string& uri);

/// For a key below ".../containers/": the component and stream ("driver", "stderr"), or empty
/// strings for an object that is not a pod's stdout.gz/stderr.gz.
std::pair<std::string, std::string> EmrLogComponent(std::string_view relative_key);

/// The bytes of a gzip stream; kInternal when it is not one.
[[nodiscard]] Result<std::string> Gunzip(std::string_view data);

/// Copies the job run's logs into `store` (stdout lines, then stderr lines, each stamped `at`),
/// replacing what an earlier import wrote. Returns the components written, sorted.
[[nodiscard]] Result<std::vector<std::string>> ImportEmrLogs(
    aws::S3Client& s3, const std::string& log_uri, const std::string& virtual_cluster_id,
    const std::string& job_run_id, logs::LogStore& store, const std::string& run_id,
    const std::string& attempt_id, Micros at);

}  // namespace tug::engine::emr
