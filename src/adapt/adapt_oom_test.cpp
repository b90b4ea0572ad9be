#include <vector>

#include "adapt/adapt_test_util.h"

namespace tug::adapt::testing {

/// Rows of the PlanRetryTable (adapt_retry_test.cpp): container memory and Spark memory.
std::vector<Row> OomRows() {
  std::vector<Row> rows;
  Definition c64 = Container(64 * kMi);
  Definition spark = Spark();

  // --- container memory
  rows.push_back({.name = "container_oom_grows_from_request",
                  .spec = c64,
                  .attempts = {Oom(64 * kMi)},
                  .retry = true,
                  .rule = "oom.container.grow",
                  .failure_class = "batch_container_oom",
                  .budget = "user",
                  .expect_resources = [](Resources& r) { r.memory_bytes = 96 * kMi; },
                  .placement = SpotContainer(),
                  .sentence = "attempt 2: memory 64Mi → 96Mi after attempt 1 was OOMKilled (exit "
                              "137, peak 64Mi)"});
  rows.push_back({.name = "container_oom_grows_from_peak_when_unlimited",
                  .spec = Container(0),
                  .attempts = {Oom(200 * kMi)},
                  .retry = true,
                  .rule = "oom.container.grow",
                  .failure_class = "batch_container_oom",
                  .budget = "user",
                  .expect_resources = [](Resources& r) { r.memory_bytes = 300 * kMi; },
                  .phrases = {"memory unlimited → 300Mi", "peak 200Mi"}});
  rows.push_back({.name = "container_oom_rounds_up_to_mib",
                  .spec = Container(100 * kMi + 1),
                  .attempts = {Oom()},
                  .retry = true,
                  .rule = "oom.container.grow",
                  .failure_class = "batch_container_oom",
                  .budget = "user",
                  .expect_resources = [](Resources& r) { r.memory_bytes = 151 * kMi; }});
  rows.push_back(
      {.name = "container_oom_capped_by_adapt_max_memory",
       .spec = With(Container(6 * kGi), [](Definition& d) { d.adapt.max_memory_bytes = 8 * kGi; }),
       .attempts = {Oom(6 * kGi)},
       .retry = true,
       .rule = "oom.container.grow",
       .failure_class = "batch_container_oom",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.memory_bytes = 8 * kGi; },
       .sentence = "attempt 2: memory 6Gi → 8Gi (capped at 8Gi, adapt.max_memory) after attempt 1 "
                   "was OOMKilled (exit 137, peak 6Gi)"});
  {
    Row r{.name = "container_oom_capped_by_platform",
          .spec = Container(800 * kMi),
          .attempts = {Oom()},
          .retry = true,
          .rule = "oom.container.grow",
          .failure_class = "batch_container_oom",
          .budget = "user",
          .expect_resources = [](Resources& res) { res.memory_bytes = kGi; },
          .phrases = {"capped at 1Gi, the platform limit"}};
    r.platform.limits.max_memory_bytes = kGi;
    rows.push_back(r);
  }
  {
    Definition d =
        With(Container(6 * kGi), [](Definition& x) { x.adapt.max_memory_bytes = 8 * kGi; });
    rows.push_back(
        {.name = "container_oom_at_cap_stops",
         .spec = d,
         .attempts = {{.exit_code = 137, .reason = "OOMKilled", .resources = Mem(6 * kGi)},
                      {.exit_code = 137, .reason = "OOMKilled", .resources = Mem(8 * kGi)}},
         .retry = false,
         .rule = "stop.cap",
         .failure_class = "batch_container_oom",
         .budget = "user",
         .sentence = "not retried: memory is already at the cap 8Gi (adapt.max_memory) "
                     "and the job was OOMKilled again; the job needs more memory than "
                     "allowed"});
  }
  rows.push_back(
      {.name = "container_oom_at_cap_first_time_does_not_say_again",
       .spec = With(Container(8 * kGi), [](Definition& x) { x.adapt.max_memory_bytes = 8 * kGi; }),
       .attempts = {Oom()},
       .retry = false,
       .rule = "stop.cap",
       .failure_class = "batch_container_oom",
       .budget = "user",
       .sentence = "not retried: memory is already at the cap 8Gi (adapt.max_memory) "
                   "and the job was OOMKilled; the job needs more memory than allowed"});
  rows.push_back({.name = "container_oom_with_nothing_to_grow_from",
                  .spec = Container(0),
                  .attempts = {Oom(0)},
                  .retry = false,
                  .rule = "stop.no_memory_basis",
                  .failure_class = "batch_container_oom",
                  .budget = "user",
                  .phrases = {"nothing to grow from"}});
  rows.push_back(
      {.name = "container_oom_diagnosed_not_retryable_still_grows",
       .spec = c64,
       .attempts = {{.diagnosis = Diag("batch_container_oom",
                                       "terminated: reason=OOMKilled exit_code=137", false),
                     .exit_code = 137,
                     .reason = "OOMKilled"}},
       .retry = true,
       .rule = "oom.container.grow",
       .failure_class = "batch_container_oom",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.memory_bytes = 96 * kMi; }});
  rows.push_back(
      {.name = "container_driver_oom_grows_container_memory",
       .spec = c64,
       .attempts = {WithDiag("driver_oom", "java.lang.OutOfMemoryError: Java heap space")},
       .retry = true,
       .rule = "oom.container.grow",
       .failure_class = "driver_oom",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.memory_bytes = 96 * kMi; },
       .phrases = {"ran out of memory (exit 1)"}});

  // --- Spark memory
  rows.push_back(
      {.name = "executor_heap_oom",
       .spec = spark,
       .attempts = {WithDiag("executor_oom", "java.lang.OutOfMemoryError: Java heap space")},
       .retry = true,
       .rule = "oom.executor.heap",
       .failure_class = "executor_oom",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.spark.executor.memory_bytes = 6 * kGi; },
       .placement = SparkSpot(),
       .sentence = "attempt 2: executor memory 4Gi → 6Gi after an executor ran out of "
                   "JVM heap (java.lang.OutOfMemoryError: Java heap space)"});
  rows.push_back(
      {.name = "executor_heap_oom_diagnosed_not_retryable_still_grows",
       .spec = spark,
       .attempts = {WithDiag("executor_oom", "Java heap space", false)},
       .retry = true,
       .rule = "oom.executor.heap",
       .failure_class = "executor_oom",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.spark.executor.memory_bytes = 6 * kGi; }});
  rows.push_back({.name = "memory_acquire_oom",
                  .spec = spark,
                  .attempts = {WithDiag("spark_memory_acquire_oom",
                                        "SparkOutOfMemoryError: Unable to acquire 65536 bytes of "
                                        "memory, got 0")},
                  .retry = true,
                  .rule = "oom.executor.heap",
                  .failure_class = "spark_memory_acquire_oom",
                  .budget = "user",
                  .expect_resources = [](Resources& r) { r.spark.executor.memory_bytes = 6 * kGi; },
                  .phrases = {"could not acquire execution memory"}});
  rows.push_back(
      {.name = "executor_heap_capped_so_container_total_fits",
       .spec = With(spark,
                    [](Definition& d) {
                      d.adapt.max_memory_bytes = 8 * kGi;
                      d.resources.spark.executor.memory_bytes = 6 * kGi;
                    }),
       .attempts = {WithDiag("executor_oom", "Java heap space")},
       .retry = true,
       .rule = "oom.executor.heap",
       .failure_class = "executor_oom",
       .budget = "user",
       // Largest heap h with h + h/10 <= 8Gi.
       .expect_resources = [](Resources& r) { r.spark.executor.memory_bytes = 7447 * kMi; },
       .phrases = {"capped so heap + overhead fit in 8Gi, adapt.max_memory"}});
  rows.push_back({.name = "executor_heap_at_cap_stops",
                  .spec = With(spark,
                               [](Definition& d) {
                                 d.adapt.max_memory_bytes = 8 * kGi;
                                 d.resources.spark.executor.memory_bytes = 7 * kGi;
                                 d.resources.spark.executor.memory_overhead_bytes = kGi;
                               }),
                  .attempts = {WithDiag("executor_oom", "Java heap space")},
                  .retry = false,
                  .rule = "stop.cap",
                  .failure_class = "executor_oom",
                  .budget = "user",
                  .phrases = {"already at the cap 8Gi (adapt.max_memory)"}});
  rows.push_back(
      {.name = "executor_container_oom_raises_overhead",
       .spec =
           With(spark, [](Definition& d) { d.resources.spark.executor.memory_bytes = 10 * kGi; }),
       .attempts = {{.diagnosis = Diag("executor_container_oom",
                                       "The executor with id 3 exited with exit code 137.", true,
                                       "executor-3")}},
       .retry = true,
       .rule = "oom.executor.overhead",
       .failure_class = "executor_container_oom",
       .budget = "user",
       .expect_resources =
           [](Resources& r) { r.spark.executor.memory_overhead_bytes = 3 * kGi / 2; },
       .sentence = "attempt 2: executor memoryOverhead 1Gi → 1.5Gi after executor-3 was OOMKilled "
                   "(exit 137)"});
  rows.push_back(
      {.name = "executor_container_oom_without_component",
       .spec = spark,
       .attempts = {WithDiag("executor_container_oom", "Container killed")},
       .retry = true,
       .rule = "oom.executor.overhead",
       .failure_class = "executor_container_oom",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.spark.executor.memory_overhead_bytes = 615 * kMi; },
       .sentence = "attempt 2: executor memoryOverhead 409.6Mi → 615Mi after an "
                   "executor was OOMKilled"});
  rows.push_back(
      {.name = "driver_heap_oom",
       .spec = spark,
       .attempts = {WithDiag("driver_oom", "java.lang.OutOfMemoryError: Java heap space")},
       .retry = true,
       .rule = "oom.driver",
       .failure_class = "driver_oom",
       .budget = "user",
       .expect_resources = [](Resources& r) { r.spark.driver.memory_bytes = 3 * kGi; },
       .placement = SparkSpot(),
       .sentence = "attempt 2: driver memory 2Gi → 3Gi after the driver ran out of "
                   "memory (java.lang.OutOfMemoryError: Java heap space)"});
  rows.push_back({.name = "driver_pod_oomkilled_grows_overhead_too",
                  .spec = spark,
                  .attempts = {{.diagnosis = Diag("driver_oom", "User application exited with 137"),
                                .exit_code = 137,
                                .reason = "OOMKilled"}},
                  .retry = true,
                  .rule = "oom.driver",
                  .failure_class = "driver_oom",
                  .budget = "user",
                  .expect_resources =
                      [](Resources& r) {
                        r.spark.driver.memory_bytes = 3 * kGi;
                        r.spark.driver.memory_overhead_bytes = 576 * kMi;
                      },
                  .sentence = "attempt 2: driver memory 2Gi → 3Gi and driver memoryOverhead 384Mi "
                              "→ 576Mi after the driver was OOMKilled (exit 137)"});
  rows.push_back({.name = "driver_array_size_oom_not_retried",
                  .spec = spark,
                  .attempts = {WithDiag("driver_oom",
                                        "java.lang.OutOfMemoryError: Requested array size exceeds "
                                        "VM limit",
                                        false)},
                  .retry = false,
                  .rule = "no_retry.driver_oom",
                  .failure_class = "driver_oom",
                  .budget = "user",
                  .phrases = {"not fixed by more memory", "Requested array size"}});
  rows.push_back({.name = "max_result_size_raised_once",
                  .spec = spark,
                  .attempts = {WithDiag("driver_max_result_size",
                                        "Total size of serialized results of 12 tasks (1030.1 MiB) "
                                        "is bigger than spark.driver.maxResultSize (1024.0 MiB)")},
                  .retry = true,
                  .rule = "oom.max_result_size",
                  .failure_class = "driver_max_result_size",
                  .budget = "user",
                  .expect_resources =
                      [](Resources& r) {
                        r.spark.max_result_size_bytes = 2 * kGi;
                        r.spark.driver.memory_bytes = 3 * kGi;
                      },
                  .phrases = {"driver maxResultSize 1Gi → 2Gi and driver memory 2Gi → 3Gi",
                              "collect()/toPandas()"}});
  {
    Resources grown = spark.resources;
    grown.spark.max_result_size_bytes = 2 * kGi;
    grown.spark.driver.memory_bytes = 3 * kGi;
    rows.push_back(
        {.name = "max_result_size_second_time_stops",
         .spec = spark,
         .attempts = {WithDiag("driver_max_result_size", "bigger than 1024.0 MiB"),
                      {.diagnosis = Diag("driver_max_result_size", "bigger than 2.0 GiB"),
                       .resources = grown}},
         .retry = false,
         .rule = "stop.max_result_size_once",
         .failure_class = "driver_max_result_size",
         .budget = "user",
         .phrases = {"a large collect()/toPandas() is the real issue"}});
  }
  return rows;
}

}  // namespace tug::adapt::testing
