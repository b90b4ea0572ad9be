#include <vector>

#include "adapt/adapt_test_util.h"

namespace tug::adapt::testing {

/// Rows of the PlanRetryTable (adapt_retry_test.cpp): transient / infra back-off, never retried,
/// budgets and determinism.
std::vector<Row> PolicyRows() {
  std::vector<Row> rows;
  Definition c64 = Container(64 * kMi);
  Definition spark = Spark();

  // --- transient / infra back-off
  rows.push_back({.name = "transient_backoff",
                  .spec = c64,
                  .attempts = {WithDiag("transient_dependency",
                                        "AmazonS3Exception: Slow Down (Service: Amazon S3; Status "
                                        "Code: 503)")},
                  .retry = true,
                  .rule = "transient.backoff",
                  .failure_class = "transient_dependency",
                  .budget = "user",
                  .expect_resources = [](Resources&) {},
                  .placement = SpotContainer(),
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond,
                  .phrases = {"attempt 2 in ",
                              " with the same resources after a transient error "
                              "(AmazonS3Exception: Slow Down",
                              "; back-off 1 of 2"}});
  rows.push_back(
      {.name = "k8s_scheduling_is_infra",
       .spec = c64,
       .attempts = {WithDiag("k8s_scheduling", "0/12 nodes are available")},
       .retry = true,
       .rule = "infra.retry",
       .failure_class = "k8s_scheduling",
       .budget = "infra",
       .min_delay = 30 * kMicrosPerSecond,
       .max_delay = 60 * kMicrosPerSecond,
       .phrases = {"could not be scheduled (0/12 nodes are available)", "infra retry 1 of 3"}});
  rows.push_back({.name = "lost_is_infra",
                  .spec = c64,
                  .attempts = {{.status = AttemptStatus::kLost}},
                  .retry = true,
                  .rule = "infra.retry",
                  .failure_class = "lost",
                  .budget = "infra",
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond,
                  .phrases = {"after attempt 1 was lost by the platform"}});
  rows.push_back({.name = "launch_failed_is_infra",
                  .spec = c64,
                  .attempts = {{.exit_code = std::nullopt,
                                .reason = "LaunchFailed",
                                .message = "fork failed: resource temporarily unavailable"}},
                  .retry = true,
                  .rule = "infra.retry",
                  .failure_class = "launch_failed",
                  .budget = "infra",
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond,
                  .phrases = {"failed to launch (fork failed"}});
  rows.push_back({.name = "image_pull_rate_limit_is_retried",
                  .spec = c64,
                  .attempts = {WithDiag("k8s_image_pull",
                                        "toomanyrequests: You have reached your pull rate limit")},
                  .retry = true,
                  .rule = "infra.retry",
                  .failure_class = "k8s_image_pull",
                  .budget = "infra",
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond});
  rows.push_back(
      {.name = "image_pull_not_found_is_not",
       .spec = c64,
       .attempts = {WithDiag("k8s_image_pull", "code = NotFound desc = manifest unknown")},
       .retry = false,
       .rule = "no_retry.k8s_image_pull",
       .failure_class = "k8s_image_pull",
       .budget = "user",
       .phrases = {"image cannot be pulled (code = NotFound"}});
  rows.push_back({.name = "container_timeout",
                  .spec = c64,
                  .attempts = {WithDiag("timeout", "Read timed out")},
                  .retry = true,
                  .rule = "timeout.retry",
                  .failure_class = "timeout",
                  .budget = "user",
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond});
  rows.push_back({.name = "disk_full_retried_once",
                  .spec = c64,
                  .attempts = {WithDiag("disk_full", "No space left on device")},
                  .retry = true,
                  .rule = "disk_full.retry",
                  .failure_class = "disk_full",
                  .budget = "user",
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond,
                  .phrases = {"after the disk filled up (No space left on device)"}});
  rows.push_back({.name = "disk_full_second_time_stops",
                  .spec = c64,
                  .attempts = {WithDiag("disk_full", "No space left on device"),
                               WithDiag("disk_full", "Evicted: ephemeral-storage")},
                  .retry = false,
                  .rule = "stop.disk_full_once",
                  .failure_class = "disk_full",
                  .budget = "user"});
  rows.push_back(
      {.name = "python_worker_crash_spark_raises_overhead",
       .spec = spark,
       .attempts = {WithDiag("python_worker_crash", "Python worker exited unexpectedly (crashed)")},
       .retry = true,
       .rule = "python_worker.overhead",
       .failure_class = "python_worker_crash",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.spark.executor.memory_overhead_bytes = 615 * kMi; },
       .phrases = {"executor memoryOverhead 409.6Mi → 615Mi after a Python worker "
                   "crashed"}});
  rows.push_back({.name = "python_worker_crash_container_same_resources",
                  .spec = c64,
                  .attempts = {WithDiag("python_worker_crash", "worker crashed")},
                  .retry = true,
                  .rule = "python_worker.retry",
                  .failure_class = "python_worker_crash",
                  .budget = "user",
                  .expect_resources = [](Resources&) {},
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond});
  rows.push_back({.name = "python_worker_native_crash_not_retried",
                  .spec = spark,
                  .attempts = {WithDiag("python_worker_crash",
                                        "Fatal Python error: Segmentation "
                                        "fault",
                                        false)},
                  .retry = false,
                  .rule = "no_retry.python_worker_crash",
                  .failure_class = "python_worker_crash",
                  .budget = "user"});
  rows.push_back({.name = "transient_marked_not_retryable",
                  .spec = c64,
                  .attempts = {WithDiag("transient_dependency", "Too Many Requests", false)},
                  .retry = false,
                  .rule = "no_retry.transient_dependency",
                  .failure_class = "transient_dependency",
                  .budget = "user"});

  // --- never retried
  rows.push_back(
      {.name = "user_code_error",
       .spec = c64,
       .attempts = {WithDiag("user_code_error", "NameError: name 'x' is not defined", false)},
       .retry = false,
       .rule = "no_retry.user_code_error",
       .failure_class = "user_code_error",
       .budget = "user",
       .sentence = "not retried: user_code_error is an error in the job's own code "
                   "(NameError: name 'x' is not defined); fix it and submit again"});
  rows.push_back({.name = "user_code_error_even_if_marked_retryable",
                  .spec = c64,
                  .attempts = {WithDiag("user_code_error", "KeyError: 'exe'", true)},
                  .retry = false,
                  .rule = "no_retry.user_code_error"});
  rows.push_back({.name = "data_error",
                  .spec = spark,
                  .attempts = {WithDiag("data_error", "ParquetDecodingException", false)},
                  .retry = false,
                  .rule = "no_retry.data_error",
                  .phrases = {"input data"}});
  rows.push_back(
      {.name = "config_error",
       .spec = spark,
       .attempts = {WithDiag("config_error", "Forbidden!Configured service account", false)},
       .retry = false,
       .rule = "no_retry.config_error"});
  rows.push_back({.name = "benign_noise",
                  .spec = spark,
                  .attempts = {WithDiag("benign_noise", "ContextCleaner: Error cleaning", false)},
                  .retry = false,
                  .rule = "no_retry.benign_noise"});
  rows.push_back({.name = "no_diagnosis_is_unknown",
                  .spec = c64,
                  .attempts = {{.exit_code = 2}},
                  .retry = false,
                  .rule = "no_retry.unknown",
                  .failure_class = "unknown",
                  .budget = "user",
                  .sentence = "not retried: attempt 1 failed with exit 2 and there is no diagnosis "
                              "saying why; check the logs and submit again"});
  rows.push_back({.name = "malformed_diagnosis_is_none",
                  .spec = c64,
                  .attempts = {{.diagnosis = R"({"class": "transient_dep)", .exit_code = 1}},
                  .retry = false,
                  .rule = "no_retry.unknown",
                  .failure_class = "unknown"});
  rows.push_back({.name = "malformed_diagnosis_oomkilled_container_still_grows",
                  .spec = c64,
                  .attempts = {{.diagnosis = "[1,2", .exit_code = 137, .reason = "OOMKilled"}},
                  .retry = true,
                  .rule = "oom.container.grow",
                  .failure_class = "batch_container_oom"});
  rows.push_back({.name = "spark_137_without_diagnosis_not_retried",
                  .spec = spark,
                  .attempts = {Oom()},
                  .retry = false,
                  .rule = "no_retry.unknown",
                  .failure_class = "unknown",
                  .phrases = {"no diagnosis saying which Spark container"}});
  rows.push_back({.name = "unrecognised_class",
                  .spec = c64,
                  .attempts = {WithDiag("cosmic_ray", "bit flip")},
                  .retry = false,
                  .rule = "no_retry.unknown",
                  .failure_class = "cosmic_ray"});

  // --- budgets
  rows.push_back({.name = "user_failures_exhaust_max_attempts",
                  .spec = c64,
                  .attempts = {WithDiag("transient_dependency", "503 Slow Down"),
                               WithDiag("transient_dependency", "Connection reset by peer"),
                               WithDiag("transient_dependency", "502 Bad Gateway")},
                  .retry = false,
                  .rule = "stop.max_attempts",
                  .failure_class = "transient_dependency",
                  .budget = "user",
                  .sentence = "not retried: no attempts left: attempt 3 failed with "
                              "transient_dependency, the 3rd failure of the job "
                              "(retry.max_attempts 3)"});
  rows.push_back({.name = "infra_failures_do_not_use_max_attempts",
                  .spec = With(c64, [](Definition& d) { d.retry.max_attempts = 1; }),
                  .attempts = {{.status = AttemptStatus::kLost},
                               WithDiag("node_loss", "preempted"),
                               WithDiag("k8s_scheduling", "Insufficient memory")},
                  .retry = true,
                  .rule = "infra.retry",
                  .failure_class = "k8s_scheduling",
                  .budget = "infra",
                  .min_delay = 480 * kMicrosPerSecond,
                  .max_delay = 960 * kMicrosPerSecond});
  rows.push_back({.name = "one_user_failure_with_max_attempts_1",
                  .spec = With(c64, [](Definition& d) { d.retry.max_attempts = 1; }),
                  .attempts = {{.status = AttemptStatus::kLost}, Oom()},
                  .retry = false,
                  .rule = "stop.max_attempts",
                  .failure_class = "batch_container_oom",
                  .budget = "user"});
  rows.push_back({.name = "infra_budget_exhausted",
                  .spec = With(c64, [](Definition& d) { d.retry.max_infra_retries = 2; }),
                  .attempts = {{.status = AttemptStatus::kLost},
                               {.status = AttemptStatus::kLost},
                               {.status = AttemptStatus::kLost}},
                  .retry = false,
                  .rule = "stop.infra_budget",
                  .failure_class = "lost",
                  .budget = "infra",
                  .sentence = "not retried: attempt 3 failed with lost, the 3rd infrastructure "
                              "failure of the run (retry.max_infra_retries 2)"});
  rows.push_back({.name = "infra_budget_last_retry",
                  .spec = With(c64, [](Definition& d) { d.retry.max_infra_retries = 2; }),
                  .attempts = {{.status = AttemptStatus::kLost}, {.status = AttemptStatus::kLost}},
                  .retry = true,
                  .rule = "infra.retry",
                  .min_delay = 120 * kMicrosPerSecond,
                  .max_delay = 240 * kMicrosPerSecond,
                  .phrases = {"infra retry 2 of 2"}});
  rows.push_back({.name = "no_infra_retries_at_all",
                  .spec = With(c64, [](Definition& d) { d.retry.max_infra_retries = 0; }),
                  .attempts = {WithDiag("node_loss", "preempted")},
                  .retry = false,
                  .rule = "stop.infra_budget"});

  // --- determinism
  rows.push_back({.name = "same_failure_twice_is_deterministic",
                  .spec = c64,
                  .attempts = {WithDiag("timeout", "Task 17 timed out after 300 s"),
                               WithDiag("timeout", "Task 18 timed out after 301 s")},
                  .retry = false,
                  .rule = "stop.deterministic",
                  .failure_class = "timeout",
                  .budget = "user",
                  .sentence = "not retried: attempt 2 failed exactly like attempt 1 (timeout: "
                              "Task 18 timed out after 301 s) with the same resources; the failure "
                              "is deterministic"});
  rows.push_back({.name = "same_transient_failure_twice_is_not",
                  .spec = c64,
                  .attempts = {WithDiag("transient_dependency", "503 Slow Down"),
                               WithDiag("transient_dependency", "503 Slow Down")},
                  .retry = true,
                  .rule = "transient.backoff",
                  .min_delay = 120 * kMicrosPerSecond,
                  .max_delay = 240 * kMicrosPerSecond,
                  .phrases = {"back-off 2 of 2"}});
  rows.push_back({.name = "same_node_loss_twice_is_not",
                  .spec = c64,
                  .attempts = {WithDiag("node_loss", "preempted"),
                               {.diagnosis = Diag("node_loss", "preempted"),
                                .placement = Placement{"on-demand", ""}}},
                  .retry = true,
                  .rule = "node_loss.on_demand"});
  rows.push_back({.name = "different_root_cause_is_not_deterministic",
                  .spec = c64,
                  .attempts = {WithDiag("timeout", "Read timed out"),
                               WithDiag("timeout", "Futures timed out")},
                  .retry = true,
                  .rule = "timeout.retry",
                  .min_delay = 120 * kMicrosPerSecond,
                  .max_delay = 240 * kMicrosPerSecond});
  rows.push_back({.name = "different_placement_is_not_deterministic",
                  .spec = c64,
                  .attempts = {WithDiag("timeout", "Read timed out"),
                               {.diagnosis = Diag("timeout", "Read timed out"),
                                .placement = Placement{"on-demand", ""}}},
                  .retry = true,
                  .rule = "timeout.retry",
                  .min_delay = 120 * kMicrosPerSecond,
                  .max_delay = 240 * kMicrosPerSecond});
  rows.push_back({.name = "own_deadline_is_not_retried",
                  .spec = With(c64, [](Definition& d) { d.timeout_seconds = 120; }),
                  .attempts = {{.diagnosis = Diag("timeout", "terminated: reason=DeadlineExceeded"),
                                .exit_code = 143,
                                .reason = "DeadlineExceeded"}},
                  .retry = false,
                  .rule = "no_retry.deadline",
                  .sentence = "not retried: attempt 1 ran past its timeout (2m); if the job is "
                              "healthy but slow, raise timeout"});
  rows.push_back({.name = "oom_growth_keeps_going_64_96_144",
                  .spec = With(c64, [](Definition& d) { d.retry.max_attempts = 5; }),
                  .attempts = {{.exit_code = 137, .reason = "OOMKilled", .peak = 64 * kMi},
                               {.exit_code = 137,
                                .reason = "OOMKilled",
                                .peak = 96 * kMi,
                                .resources = Mem(96 * kMi)}},
                  .retry = true,
                  .rule = "oom.container.grow",
                  .expect_resources = [](Resources& r) { r.memory_bytes = 144 * kMi; },
                  .sentence = "attempt 3: memory 96Mi → 144Mi after attempt 2 was OOMKilled (exit "
                              "137, peak 96Mi)"});
  return rows;
}

}  // namespace tug::adapt::testing
