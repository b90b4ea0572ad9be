#include "adapt/adapt.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/quantity.h"

// Table rows and attempt specs name only the fields they care about (designated initializers);
// the rest keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace tug::adapt {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;
constexpr Micros kDay = Micros{24} * 3600 * kMicrosPerSecond;
constexpr Micros kNow = 1'800'000'000 * kMicrosPerSecond;

// ---------------------------------------------------------------- builders

std::string Diag(const std::string& cls, const std::string& text, bool retryable = true,
                 const std::string& component = "main") {
  boost::json::object o{{"class", cls},
                        {"retryable", retryable},
                        {"root_cause", {{"component", component}, {"line", 12}, {"text", text}}},
                        {"highlights", boost::json::array{}},
                        {"remediation", ""},
                        {"summary", ""}};
  return boost::json::serialize(o);
}

Definition Container(int64_t memory) {
  Definition d;
  d.name = "job";
  d.command = "run";
  d.resources.memory_bytes = memory;
  return d;
}

Definition Spark() {
  Definition d;
  d.name = "etl";
  d.kind = "spark";
  d.spark.version = "3.5";
  d.spark.main = "local:///app.py";
  SparkResources& s = d.resources.spark;
  s.driver.memory_bytes = 2 * kGi;
  s.executor.memory_bytes = 4 * kGi;
  s.instances = 4;
  return d;
}

Placement SpotContainer() { return {"spot", ""}; }
Placement SparkSpot() { return {"on-demand", "spot"}; }

struct AttemptSpec {
  std::string diagnosis;
  std::optional<int> exit_code = 1;
  std::string reason = "Error";
  int64_t peak = 0;
  AttemptStatus status = AttemptStatus::kFailed;
  std::optional<Resources> resources;  // default: the definition's
  std::optional<Placement> placement;  // default: spot (executors on spot for Spark)
  std::string message;
};

std::vector<Attempt> Attempts(const Definition& spec, const std::vector<AttemptSpec>& specs) {
  std::vector<Attempt> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    const AttemptSpec& s = specs[i];
    Attempt a;
    a.number = static_cast<int>(i) + 1;
    a.run_id = "01jrun";
    a.id = "01jrun-" + std::to_string(a.number);
    a.status = s.status;
    a.resources = s.resources.value_or(spec.resources);
    a.placement = s.placement.value_or(spec.kind == "spark" ? SparkSpot() : SpotContainer());
    if (s.status != AttemptStatus::kLost) {
      a.outcome = Outcome{s.exit_code, s.reason, s.message};
    }
    a.peak_memory_bytes = s.peak;
    a.diagnosis = s.diagnosis;
    out.push_back(std::move(a));
  }
  return out;
}

AttemptSpec Oom(int64_t peak = 0) {
  return {.diagnosis = "", .exit_code = 137, .reason = "OOMKilled", .peak = peak};
}
AttemptSpec WithDiag(const std::string& cls, const std::string& text, bool retryable = true) {
  return {.diagnosis = Diag(cls, text, retryable)};
}

Resources Mem(int64_t bytes) {
  Resources r;
  r.memory_bytes = bytes;
  return r;
}

// ---------------------------------------------------------------- the table

struct Row {
  std::string name;
  Definition spec;
  std::vector<AttemptSpec> attempts;
  bool retry = false;
  std::string rule;
  std::string failure_class;
  std::string budget;
  std::function<void(Resources&)> expect_resources;  // applied to the last attempt's resources
  std::optional<Placement> placement;
  Micros min_delay = 0;
  Micros max_delay = 0;  // exclusive when > 0; 0: delay must be 0
  std::vector<std::string> phrases;
  std::string sentence;  // exact, when set
  Climate climate;
  Platform platform;
};

Definition With(Definition d, const std::function<void(Definition&)>& f) {
  f(d);
  return d;
}

std::vector<Row> Rows() {
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

  // --- executor progression
  rows.push_back(
      {.name = "executor_lost_ambiguous_once",
       .spec = spark,
       .attempts = {WithDiag("executor_lost_ambiguous",
                             "Lost executor 3 on 10.0.0.7: Remote RPC client "
                             "disassociated")},
       .retry = true,
       .rule = "executor_lost.overhead",
       .failure_class = "executor_lost_ambiguous",
       .budget = "user",
       .expect_resources =
           [](Resources& r) {
             r.spark.executor.memory_overhead_bytes = 512 * kMi;  // 410Mi × 1.25
             r.spark.instances = 6;
           },
       .phrases = {"executor memoryOverhead 409.6Mi → 512Mi and executors 4 → 6", "retried once"}});
  {
    Resources grown = spark.resources;
    grown.spark.executor.memory_overhead_bytes = 512 * kMi;
    grown.spark.instances = 6;
    rows.push_back({.name = "executor_lost_ambiguous_second_time_stops",
                    .spec = spark,
                    .attempts = {WithDiag("executor_lost_ambiguous", "Lost executor 3"),
                                 {.diagnosis = Diag("executor_lost_ambiguous", "Lost executor 5"),
                                  .resources = grown}},
                    .retry = false,
                    .rule = "stop.executor_lost_once",
                    .failure_class = "executor_lost_ambiguous",
                    .budget = "user"});
  }
  rows.push_back({.name = "shuffle_fetch_failure_grows_executors",
                  .spec = spark,
                  .attempts = {WithDiag("shuffle_fetch_failure", "FetchFailed(BlockManagerId(3))")},
                  .retry = true,
                  .rule = "executors.grow",
                  .failure_class = "shuffle_fetch_failure",
                  .budget = "user",
                  .expect_resources = [](Resources& r) { r.spark.instances = 6; },
                  .phrases = {"executors 4 → 6 after shuffle fetch failures"}});
  rows.push_back({.name = "executor_growth_capped",
                  .spec = With(spark,
                               [](Definition& d) {
                                 d.adapt.max_executors = 5;
                                 d.resources.spark.max_executors = 4;
                               }),
                  .attempts = {WithDiag("shuffle_fetch_failure", "FetchFailed")},
                  .retry = true,
                  .rule = "executors.grow",
                  .failure_class = "shuffle_fetch_failure",
                  .budget = "user",
                  .expect_resources =
                      [](Resources& r) {
                        r.spark.instances = 5;
                        r.spark.max_executors = 5;
                      },
                  .phrases = {"executors 4 → 5, maxExecutors 4 → 5 (capped at 5)"}});
  rows.push_back({.name = "executors_at_cap_retry_with_backoff",
                  .spec = With(spark, [](Definition& d) { d.adapt.max_executors = 4; }),
                  .attempts = {WithDiag("shuffle_fetch_failure", "FetchFailed")},
                  .retry = true,
                  .rule = "retry.same_resources",
                  .failure_class = "shuffle_fetch_failure",
                  .budget = "user",
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond,
                  .phrases = {"executors stay at the cap 4", "with the same resources"}});
  rows.push_back({.name = "spark_timeout_grows_dynamic_max",
                  .spec = With(spark,
                               [](Definition& d) {
                                 d.resources.spark.dynamic_allocation = true;
                                 d.resources.spark.instances = 0;
                                 d.resources.spark.min_executors = 1;
                                 d.resources.spark.max_executors = 10;
                               }),
                  .attempts = {WithDiag("timeout", "Futures timed out after [120 seconds]")},
                  .retry = true,
                  .rule = "executors.grow",
                  .failure_class = "timeout",
                  .budget = "user",
                  .expect_resources = [](Resources& r) { r.spark.max_executors = 15; },
                  .phrases = {"maxExecutors 10 → 15 after a timeout"}});

  // --- node loss and placement
  rows.push_back({.name = "container_node_loss_moves_to_on_demand",
                  .spec = c64,
                  .attempts = {WithDiag("node_loss", "node was preempted")},
                  .retry = true,
                  .rule = "node_loss.on_demand",
                  .failure_class = "node_loss",
                  .budget = "infra",
                  .expect_resources = [](Resources&) {},
                  .placement = Placement{"on-demand", ""},
                  .sentence = "attempt 2 on on-demand capacity after attempt 1 lost its node "
                              "(spot interruption)"});
  rows.push_back({.name = "spark_node_loss_moves_executors_and_grows_them",
                  .spec = spark,
                  .attempts = {{.status = AttemptStatus::kLost},
                               WithDiag("node_loss", "ExecutorLostFailure: node lost")},
                  .retry = true,
                  .rule = "node_loss.on_demand",
                  .failure_class = "node_loss",
                  .budget = "infra",
                  .expect_resources = [](Resources& r) { r.spark.instances = 6; },
                  .placement = Placement{"on-demand", "on-demand"},
                  .sentence = "attempt 3 on on-demand capacity after attempt 2 lost its node (spot "
                              "interruption); executors 4 → 6"});
  {
    Row r{.name = "bad_climate_moves_container_to_on_demand",
          .spec = c64,
          .attempts = {WithDiag("transient_dependency", "503 Slow Down")},
          .retry = true,
          .rule = "transient.backoff",
          .failure_class = "transient_dependency",
          .budget = "user",
          .expect_resources = [](Resources&) {},
          .placement = Placement{"on-demand", ""},
          .min_delay = 30 * kMicrosPerSecond,
          .max_delay = 60 * kMicrosPerSecond,
          .phrases = {"the job moved to on-demand: the recent spot interruption rate 34% is "
                      "above 20%"}};
    r.climate = {.spot_interruption_rate = 0.34, .samples = 50};
    rows.push_back(r);
  }
  {
    Row r{.name = "bad_climate_moves_spark_executors_to_on_demand",
          .spec = spark,
          .attempts = {WithDiag("executor_oom", "Java heap space")},
          .retry = true,
          .rule = "oom.executor.heap",
          .failure_class = "executor_oom",
          .budget = "user",
          .placement = Placement{"on-demand", "on-demand"},
          .phrases = {"; executors moved to on-demand: the recent spot interruption rate 34% is "
                      "above 20%"}};
    r.climate = {.spot_interruption_rate = 0.34, .samples = 50};
    rows.push_back(r);
  }
  {
    Row r{.name = "climate_ignored_for_explicit_spot",
          .spec = With(c64, [](Definition& d) { d.adapt.capacity = "spot"; }),
          .attempts = {WithDiag("transient_dependency", "503")},
          .retry = true,
          .rule = "transient.backoff",
          .placement = SpotContainer(),
          .min_delay = 30 * kMicrosPerSecond,
          .max_delay = 60 * kMicrosPerSecond};
    r.climate = {.spot_interruption_rate = 0.9, .samples = 50};
    rows.push_back(r);
  }
  rows.push_back({.name = "critical_is_on_demand",
                  .spec = With(c64, [](Definition& d) { d.adapt.critical = true; }),
                  .attempts = {{.diagnosis = Diag("transient_dependency", "503"),
                                .placement = Placement{"on-demand", ""}}},
                  .retry = true,
                  .rule = "transient.backoff",
                  .placement = Placement{"on-demand", ""},
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond});
  rows.push_back({.name = "after_node_loss_stays_on_demand_even_for_spot",
                  .spec = With(c64, [](Definition& d) { d.adapt.capacity = "spot"; }),
                  .attempts = {WithDiag("node_loss", "preempted"),
                               {.diagnosis = Diag("transient_dependency", "Connection reset"),
                                .placement = Placement{"on-demand", ""}}},
                  .retry = true,
                  .rule = "transient.backoff",
                  .budget = "user",
                  .placement = Placement{"on-demand", ""},
                  .min_delay = 30 * kMicrosPerSecond,
                  .max_delay = 60 * kMicrosPerSecond});

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

class PlanRetryTable : public ::testing::TestWithParam<Row> {};

TEST_P(PlanRetryTable, Decides) {
  const Row& row = GetParam();
  std::vector<Attempt> attempts = Attempts(row.spec, row.attempts);
  Decision d = PlanRetry(row.spec, attempts, row.climate, row.platform);
  SCOPED_TRACE(d.sentence);
  EXPECT_EQ(d.retry, row.retry);
  EXPECT_EQ(d.rule, row.rule);
  if (!row.failure_class.empty()) {
    EXPECT_EQ(d.failure_class, row.failure_class);
  }
  if (!row.budget.empty()) {
    EXPECT_EQ(d.budget, row.budget);
  }
  if (row.expect_resources) {
    Resources want = attempts.back().resources;
    row.expect_resources(want);
    EXPECT_EQ(d.resources, want);
  }
  if (!row.retry) {
    EXPECT_EQ(d.resources, attempts.back().resources);
    EXPECT_EQ(d.placement, attempts.back().placement);
    EXPECT_EQ(d.delay, 0);
    EXPECT_TRUE(d.sentence.starts_with("not retried: "));
  } else {
    std::string head = "attempt " + std::to_string(attempts.back().number + 1);
    EXPECT_TRUE(d.sentence.starts_with(head)) << head;
  }
  if (row.placement) {
    EXPECT_EQ(d.placement, *row.placement);
  }
  if (row.max_delay > 0) {
    EXPECT_GE(d.delay, row.min_delay);
    EXPECT_LT(d.delay, row.max_delay);
  } else {
    EXPECT_EQ(d.delay, 0);
  }
  for (const std::string& p : row.phrases) {
    EXPECT_NE(d.sentence.find(p), std::string::npos) << "missing phrase: " << p;
  }
  if (!row.sentence.empty()) {
    EXPECT_EQ(d.sentence, row.sentence);
  }
  EXPECT_EQ(d.sentence.find('\n'), std::string::npos);
  // Pure: the same inputs give the same decision.
  EXPECT_EQ(d, PlanRetry(row.spec, attempts, row.climate, row.platform));
}

INSTANTIATE_TEST_SUITE_P(Rules, PlanRetryTable, ::testing::ValuesIn(Rows()),
                         [](const auto& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------- focused checks

TEST(PlanRetry, CountsAndChanges) {
  Definition d = Container(64 * kMi);
  auto attempts = Attempts(d, {{.status = AttemptStatus::kLost}, Oom(64 * kMi)});
  Decision dec = PlanRetry(d, attempts, {}, {});
  EXPECT_EQ(dec.user_failures, 1);
  EXPECT_EQ(dec.infra_failures, 1);
  ASSERT_EQ(dec.changes.size(), 1u);
  EXPECT_EQ(dec.changes[0], (Change{"memory", "64Mi", "96Mi"}));
}

TEST(PlanRetry, PlacementChangeIsListed) {
  Definition d = Container(64 * kMi);
  auto attempts = Attempts(d, {WithDiag("node_loss", "preempted")});
  Decision dec = PlanRetry(d, attempts, {}, {});
  ASSERT_EQ(dec.changes.size(), 1u);
  EXPECT_EQ(dec.changes[0], (Change{"capacity", "spot", "on-demand"}));
}

TEST(PlanRetry, LongRootCauseIsTrimmed) {
  Definition d = Container(64 * kMi);
  std::string text = "ValueError: " + std::string(400, 'x') + "\nsecond line";
  Decision dec = PlanRetry(d, Attempts(d, {WithDiag("user_code_error", text, false)}), {}, {});
  EXPECT_LT(dec.sentence.size(), 260u);
  EXPECT_NE(dec.sentence.find("x...)"), std::string::npos) << dec.sentence;
}

TEST(PlanRetry, EmptyAndSucceeded) {
  Definition d = Container(64 * kMi);
  EXPECT_FALSE(PlanRetry(d, {}, {}, {}).retry);
  auto attempts = Attempts(d, {{}});
  attempts.back().status = AttemptStatus::kSucceeded;
  Decision dec = PlanRetry(d, attempts, {}, {});
  EXPECT_FALSE(dec.retry);
  EXPECT_EQ(dec.rule, "stop.not_failed");
}

// ---------------------------------------------------------------- back-off

Micros BaseMicros(int64_t seconds) { return seconds * kMicrosPerSecond; }

TEST(Backoff, ExponentialCappedAndJittered) {
  Definition d = Container(64 * kMi);
  d.retry.max_attempts = 10;
  d.retry.backoff = {.initial_seconds = 10, .max_seconds = 25, .multiplier = 2};
  std::vector<AttemptSpec> specs;
  const int64_t bases[] = {10, 20, 25, 25};
  for (int k = 1; k <= 4; ++k) {
    specs.push_back(WithDiag("transient_dependency", "503 Slow Down"));
    Decision dec = PlanRetry(d, Attempts(d, specs), {}, {});
    ASSERT_TRUE(dec.retry) << dec.sentence;
    Micros base = BaseMicros(bases[k - 1]);
    EXPECT_GE(dec.delay, base / 2) << k;
    EXPECT_LT(dec.delay, base) << k;
    EXPECT_NE(dec.sentence.find("back-off " + std::to_string(k) + " of 9"), std::string::npos)
        << dec.sentence;
  }
}

TEST(Backoff, JitterIsDeterministicPerAttemptId) {
  Definition d = Container(64 * kMi);
  auto attempts = Attempts(d, {WithDiag("transient_dependency", "503")});
  Micros first = PlanRetry(d, attempts, {}, {}).delay;
  EXPECT_EQ(first, PlanRetry(d, attempts, {}, {}).delay);
  // Over many ids: always within [base/2, base), and actually spread out.
  Micros lo = BaseMicros(60), hi = 0;
  for (int i = 0; i < 500; ++i) {
    attempts.back().id = "run" + std::to_string(i) + "-1";
    Micros delay = PlanRetry(d, attempts, {}, {}).delay;
    EXPECT_GE(delay, BaseMicros(30));
    EXPECT_LT(delay, BaseMicros(60));
    lo = std::min(lo, delay);
    hi = std::max(hi, delay);
  }
  EXPECT_LT(lo, BaseMicros(33));
  EXPECT_GT(hi, BaseMicros(57));
}

TEST(Backoff, SentenceShowsTheWait) {
  Definition d = Container(64 * kMi);
  d.retry.backoff = {.initial_seconds = 180, .max_seconds = 1800, .multiplier = 4};
  Decision dec =
      PlanRetry(d, Attempts(d, {WithDiag("transient_dependency", "503 Slow Down")}), {}, {});
  int64_t secs = (dec.delay + kMicrosPerSecond / 2) / kMicrosPerSecond;
  EXPECT_EQ(dec.sentence, "attempt 2 in " + FormatDuration(secs) +
                              " with the same resources after a transient error (503 Slow Down); "
                              "back-off 1 of 2");
}

// ---------------------------------------------------------------- JSON

TEST(DecisionJson, Fields) {
  Definition d = Container(64 * kMi);
  Decision dec = PlanRetry(d, Attempts(d, {Oom(64 * kMi)}), {}, {});
  boost::json::object o = ToJson(dec).as_object();
  EXPECT_EQ(o.at("retry").as_bool(), true);
  EXPECT_EQ(o.at("delay_seconds").to_number<double>(), 0.0);
  EXPECT_EQ(o.at("rule").as_string(), "oom.container.grow");
  EXPECT_EQ(o.at("class").as_string(), "batch_container_oom");
  EXPECT_EQ(o.at("budget").as_string(), "user");
  EXPECT_EQ(o.at("user_failures").as_int64(), 1);
  EXPECT_EQ(o.at("infra_failures").as_int64(), 0);
  EXPECT_EQ(o.at("placement").at("capacity").as_string(), "spot");
  EXPECT_TRUE(o.at("resources").is_object());
  const auto& changes = o.at("changes").as_array();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].at("field").as_string(), "memory");
  EXPECT_EQ(changes[0].at("from").as_string(), "64Mi");
  EXPECT_EQ(changes[0].at("to").as_string(), "96Mi");
  EXPECT_EQ(o.at("sentence").as_string(), dec.sentence);
  EXPECT_TRUE(o.at("recommended_memory").is_null());

  Decision with_delay;
  with_delay.delay = 42'500'000;
  with_delay.recommended_memory_bytes = 2 * kGi;
  boost::json::object w = ToJson(with_delay).as_object();
  EXPECT_DOUBLE_EQ(w.at("delay_seconds").to_number<double>(), 42.5);
  EXPECT_EQ(w.at("recommended_memory").as_string(), "2Gi");
}

// ---------------------------------------------------------------- right-sizing

std::vector<HistorySample> Samples(int n, int64_t peak, Micros age, Micros step = kDay / 24) {
  std::vector<HistorySample> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back({kNow - age - i * step, peak, {}});
  return out;
}

TEST(EstimateMemory, P95TimesHeadroom) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(10, kGi, kDay), {}, p, kNow), 1280 * kMi);
}

TEST(EstimateMemory, WeightedPercentileWalk) {
  Platform p;
  p.half_life = 0;  // equal weights
  p.headroom = 1.0;
  std::vector<HistorySample> h;
  for (int i = 1; i <= 20; ++i) h.push_back({kNow - i * kDay / 10, int64_t{i} * 100 * kMi, {}});
  // Cumulative weight reaches 95 % of 20 at the 19th smallest peak.
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 1900 * kMi);
}

TEST(EstimateMemory, FloorAndCap) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(5, 10 * kMi, kDay), {}, p, kNow), 64 * kMi);
  EXPECT_EQ(EstimateMemory(Samples(5, 100 * kGi, kDay), {}, p, kNow), 64 * kGi);
  AdaptPolicy a;
  a.max_memory_bytes = 8 * kGi;
  EXPECT_EQ(EstimateMemory(Samples(5, 100 * kGi, kDay), a, p, kNow), 8 * kGi);
}

TEST(EstimateMemory, MinSamplesAndZeroPeaks) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(2, kGi, kDay), {}, p, kNow), std::nullopt);
  auto h = Samples(2, kGi, kDay);
  auto zeros = Samples(5, 0, kDay);
  h.insert(h.end(), zeros.begin(), zeros.end());
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), std::nullopt);
  EXPECT_EQ(EstimateMemory({}, {}, p, kNow), std::nullopt);
}

TEST(EstimateMemory, MaxAge) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(5, kGi, 31 * kDay), {}, p, kNow), std::nullopt);
  auto h = Samples(5, 8 * kGi, 31 * kDay);  // too old: ignored
  auto recent = Samples(3, kGi, kDay);
  h.insert(h.end(), recent.begin(), recent.end());
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 1280 * kMi);
}

TEST(EstimateMemory, NewestMaxSamplesOnly) {
  Platform p;
  p.half_life = 0;
  p.max_samples = 50;
  auto h = Samples(10, 8 * kGi, 10 * kDay);  // older than the 50 below
  auto recent = Samples(50, kGi, kDay, kDay / 100);
  h.insert(h.begin(), recent.begin(), recent.end());
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 1280 * kMi);
  p.max_samples = 60;
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 10 * kGi);
}

TEST(EstimateMemory, DecayLetsTheEstimateShrink) {
  Platform p;
  auto all_big = Samples(3, 4 * kGi, 28 * kDay);
  auto more_big = Samples(20, 4 * kGi, kDay);
  all_big.insert(all_big.end(), more_big.begin(), more_big.end());
  EXPECT_EQ(EstimateMemory(all_big, {}, p, kNow), 5 * kGi);

  auto shrunk = Samples(3, 4 * kGi, 28 * kDay);
  auto small = Samples(20, kGi, kDay);
  shrunk.insert(shrunk.end(), small.begin(), small.end());
  // Unweighted, 3 of 23 big peaks would make the p95 big; the old ones weigh ~1 % together.
  EXPECT_EQ(EstimateMemory(shrunk, {}, p, kNow), 1280 * kMi);
  p.half_life = 0;
  EXPECT_EQ(EstimateMemory(shrunk, {}, p, kNow), 5 * kGi);
}

TEST(PlanFirst, AsRequested) {
  Definition d = Container(256 * kMi);
  Decision dec = PlanFirst(d, {}, {}, {}, {}, kNow);
  EXPECT_FALSE(dec.retry);
  EXPECT_EQ(dec.rule, "first.as_requested");
  EXPECT_EQ(dec.resources, d.resources);
  EXPECT_EQ(dec.placement, SpotContainer());
  EXPECT_EQ(dec.sentence, "attempt 1 as requested: memory 256Mi on spot capacity");
  EXPECT_FALSE(dec.recommended_memory_bytes.has_value());
  EXPECT_EQ(dec.failure_class, "");
  EXPECT_EQ(dec.budget, "");
}

TEST(PlanFirst, Placement) {
  Definition d = Container(256 * kMi);
  Climate bad{.spot_interruption_rate = 0.34, .samples = 40};
  Decision dec = PlanFirst(d, {}, {}, bad, {}, kNow);
  EXPECT_EQ(dec.placement, (Placement{"on-demand", ""}));
  EXPECT_EQ(dec.sentence,
            "attempt 1 as requested: memory 256Mi on on-demand capacity (the recent spot "
            "interruption rate 34% is above 20%)");
  // No samples: the rate means nothing.
  EXPECT_EQ(PlanFirst(d, {}, {}, {.spot_interruption_rate = 1, .samples = 0}, {}, kNow).placement,
            SpotContainer());
  d.adapt.critical = true;
  EXPECT_EQ(PlanFirst(d, {}, {}, {}, {}, kNow).placement, (Placement{"on-demand", ""}));
  d.adapt.critical = false;
  d.adapt.capacity = "on-demand";
  EXPECT_EQ(PlanFirst(d, {}, {}, {}, {}, kNow).placement, (Placement{"on-demand", ""}));

  Definition s = Spark();
  Decision sd = PlanFirst(s, {}, {}, {}, {}, kNow);
  EXPECT_EQ(sd.placement, SparkSpot());
  EXPECT_EQ(sd.sentence,
            "attempt 1 as requested: driver memory 2Gi, 4 executors with memory 4Gi; driver on "
            "on-demand, executors on spot capacity");
  EXPECT_EQ(PlanFirst(s, {}, {}, bad, {}, kNow).placement, (Placement{"on-demand", "on-demand"}));
}

TEST(PlanFirst, Recommend) {
  Definition d = Container(8 * kGi);
  auto h = Samples(12, 1638 * kMi, kDay);
  Decision dec = PlanFirst(d, {}, h, {}, {}, kNow);
  EXPECT_EQ(dec.rule, "rightsize.recommend");
  EXPECT_EQ(dec.resources, d.resources);
  EXPECT_EQ(dec.recommended_memory_bytes, 2048 * kMi);
  EXPECT_EQ(dec.sentence,
            "recommendation: memory 2Gi (p95 of 12 recent successful runs' peaks × 1.25); "
            "requested 8Gi — set adapt.rightsizing: apply to use it");
  EXPECT_TRUE(dec.changes.empty());
}

TEST(PlanFirst, Apply) {
  Definition d = Container(8 * kGi);
  d.adapt.rightsizing = "apply";
  Decision dec = PlanFirst(d, {}, Samples(12, 1638 * kMi, kDay), {}, {}, kNow);
  EXPECT_EQ(dec.rule, "rightsize.apply");
  EXPECT_EQ(dec.resources.memory_bytes, 2 * kGi);
  EXPECT_EQ(dec.recommended_memory_bytes, 2 * kGi);
  ASSERT_EQ(dec.changes.size(), 1u);
  EXPECT_EQ(dec.changes[0], (Change{"memory", "8Gi", "2Gi"}));
  EXPECT_EQ(dec.sentence,
            "attempt 1: memory 8Gi → 2Gi right-sized from the p95 of 12 recent successful runs' "
            "peaks × 1.25 on spot capacity");
}

TEST(PlanFirst, OverrideWins) {
  Definition d = Container(4 * kGi);
  d.adapt.rightsizing = "apply";
  RunOverrides o;
  o.resources.memory_bytes = 4 * kGi;
  Decision dec = PlanFirst(d, o, Samples(12, 1638 * kMi, kDay), {}, {}, kNow);
  EXPECT_EQ(dec.rule, "rightsize.override");
  EXPECT_EQ(dec.resources.memory_bytes, 4 * kGi);
  EXPECT_EQ(dec.recommended_memory_bytes, 2 * kGi);
  EXPECT_NE(dec.sentence.find("memory 4Gi set at submission wins over the right-sized 2Gi"),
            std::string::npos)
      << dec.sentence;
}

TEST(PlanFirst, OffTooLittleHistoryAndSpark) {
  Definition d = Container(8 * kGi);
  auto h = Samples(12, kGi, kDay);
  d.adapt.rightsizing = "off";
  Decision off = PlanFirst(d, {}, h, {}, {}, kNow);
  EXPECT_EQ(off.rule, "first.as_requested");
  EXPECT_FALSE(off.recommended_memory_bytes.has_value());

  d.adapt.rightsizing = "apply";
  Decision few = PlanFirst(d, {}, Samples(2, kGi, kDay), {}, {}, kNow);
  EXPECT_EQ(few.rule, "first.as_requested");
  EXPECT_EQ(few.resources.memory_bytes, 8 * kGi);

  Definition s = Spark();
  s.adapt.rightsizing = "apply";
  Decision sp = PlanFirst(s, {}, h, {}, {}, kNow);
  EXPECT_EQ(sp.rule, "first.as_requested");
  EXPECT_EQ(sp.resources, s.resources);
}

TEST(PlanFirst, ApplyRespectsCapAndFloor) {
  Definition d = Container(0);
  d.adapt.rightsizing = "apply";
  d.adapt.max_memory_bytes = 2 * kGi;
  EXPECT_EQ(PlanFirst(d, {}, Samples(5, 10 * kGi, kDay), {}, {}, kNow).resources.memory_bytes,
            2 * kGi);
  EXPECT_EQ(PlanFirst(d, {}, Samples(5, kMi, kDay), {}, {}, kNow).resources.memory_bytes, 64 * kMi);
}

// ---------------------------------------------------------------- property test

constexpr const char* kClasses[] = {"executor_oom",
                                    "executor_container_oom",
                                    "driver_oom",
                                    "driver_max_result_size",
                                    "spark_memory_acquire_oom",
                                    "shuffle_fetch_failure",
                                    "node_loss",
                                    "executor_lost_ambiguous",
                                    "disk_full",
                                    "python_worker_crash",
                                    "user_code_error",
                                    "data_error",
                                    "transient_dependency",
                                    "timeout",
                                    "k8s_scheduling",
                                    "k8s_image_pull",
                                    "config_error",
                                    "batch_container_oom",
                                    "benign_noise"};

int64_t SparkTotal(const SparkRole& r) {
  SparkRole e = r;
  if (e.memory_bytes == 0) e.memory_bytes = kGi;
  return e.memory_bytes + EffectiveOverhead(e);
}

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int64_t I64(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  double Real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  bool Coin(double p = 0.5) { return Real(0, 1) < p; }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }
  int64_t Memory(int64_t cap) {
    switch (Int(0, 4)) {
      case 0:
        return 0;
      case 1:
        return I64(4 * kMi, 2 * kGi);
      case 2:
        return I64(kGi, std::max(cap, kGi));
      case 3:
        return cap;
      default:
        return I64(cap, int64_t{4} << 40);  // huge, above the cap
    }
  }
  SparkRole Role(int64_t cap) {
    SparkRole r;
    r.memory_bytes = Coin(0.2) ? 0 : Memory(cap);
    r.memory_overhead_bytes = Coin(0.5) ? 0 : I64(0, cap);
    return r;
  }

 private:
  std::mt19937 rng_;
};

TEST(Property, NeverPastTheCapsAndBudgets) {
  Gen g(20261124);
  const std::vector<int64_t> platform_mem = {kGi, 8 * kGi, 64 * kGi, int64_t{1} << 40};
  int retries = 0, stops = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    Platform p;
    p.limits.max_memory_bytes = g.Pick(platform_mem);
    p.limits.max_executors = g.Int(1, 300);
    p.climate_threshold = g.Real(0, 1);
    Climate climate{.spot_interruption_rate = g.Real(0, 1), .samples = g.Int(0, 5)};
    Definition spec = g.Coin() ? Container(0) : Spark();
    spec.adapt.memory_factor = g.Real(1.05, 4);
    spec.adapt.executor_factor = g.Real(1, 4);
    spec.adapt.max_memory_bytes = g.Coin() ? 0 : g.I64(kMi, p.limits.max_memory_bytes);
    spec.adapt.max_executors = g.Coin() ? 0 : g.Int(1, p.limits.max_executors);
    spec.adapt.capacity = g.Pick(std::vector<std::string>{"spot", "on-demand", "auto"});
    spec.adapt.critical = g.Coin(0.1);
    spec.adapt.rightsizing = g.Pick(std::vector<std::string>{"off", "recommend", "apply"});
    spec.retry.max_attempts = g.Int(1, 20);
    spec.retry.max_infra_retries = g.Int(0, 20);
    spec.retry.backoff.initial_seconds = g.I64(1, 86400);
    spec.retry.backoff.max_seconds = g.I64(spec.retry.backoff.initial_seconds, 86400);
    spec.retry.backoff.multiplier = g.Real(1, 10);
    int64_t mem_cap =
        spec.adapt.max_memory_bytes > 0 ? spec.adapt.max_memory_bytes : p.limits.max_memory_bytes;
    int exec_cap = spec.adapt.max_executors > 0 ? spec.adapt.max_executors : p.limits.max_executors;
    if (spec.kind == "spark") {
      SparkResources& s = spec.resources.spark;
      s.driver = g.Role(mem_cap);
      s.executor = g.Role(mem_cap);
      s.instances = g.Coin(0.2) ? 0 : g.Int(1, exec_cap * 2);
      s.dynamic_allocation = g.Coin(0.3);
      s.max_executors = g.Coin() ? 0 : g.Int(1, exec_cap * 2);
      s.min_executors = g.Int(0, 3);
      s.max_result_size_bytes = g.Coin() ? 0 : g.Memory(mem_cap);
    } else {
      spec.resources.memory_bytes = g.Memory(mem_cap);
    }
    SCOPED_TRACE("iteration " + std::to_string(iter));

    // PlanFirst with random history.
    std::vector<HistorySample> history;
    for (int i = g.Int(0, 12); i > 0; --i) {
      history.push_back({kNow - g.I64(0, 40 * kDay), g.Coin(0.1) ? 0 : g.Memory(mem_cap), {}});
    }
    RunOverrides overrides;
    if (g.Coin(0.2)) overrides.resources.memory_bytes = spec.resources.memory_bytes;
    Decision first = PlanFirst(spec, overrides, history, climate, p, kNow);
    if (first.resources.memory_bytes != spec.resources.memory_bytes) {
      EXPECT_LE(first.resources.memory_bytes, mem_cap);
      EXPECT_GT(first.resources.memory_bytes, 0);
    }
    if (first.recommended_memory_bytes) {
      EXPECT_LE(*first.recommended_memory_bytes, mem_cap);
      EXPECT_GT(*first.recommended_memory_bytes, 0);
    }
    EXPECT_FALSE(first.retry);

    // A run: attempts chained through the planner's own decisions.
    std::vector<Attempt> attempts;
    Resources resources = first.resources;
    Placement placement = first.placement;
    int user = 0, infra = 0;
    for (int n = 1; n <= 12; ++n) {
      Attempt a;
      a.number = n;
      a.id = "run" + std::to_string(iter) + "-" + std::to_string(n);
      a.resources = resources;
      a.placement = placement;
      a.peak_memory_bytes = g.Coin(0.3) ? 0 : g.Memory(mem_cap);
      bool is_infra = false;
      int kind = g.Int(0, 9);
      if (kind == 0) {
        a.status = AttemptStatus::kLost;
        is_infra = true;
      } else {
        a.status = AttemptStatus::kFailed;
        a.outcome = Outcome{g.Coin() ? std::optional<int>(137) : std::optional<int>(g.Int(0, 255)),
                            g.Coin(0.3) ? "OOMKilled" : "Error", ""};
        if (kind == 1) {
          a.outcome->reason = "LaunchFailed";
          is_infra = true;
        } else if (kind == 2) {
          a.diagnosis = g.Coin() ? "" : "{\"class\": ";  // none or malformed
        } else {
          std::string cls = kClasses[g.Int(0, static_cast<int>(std::size(kClasses)) - 1)];
          std::string text =
              g.Coin() ? "429 Too Many Requests" : "line " + std::to_string(g.Int(0, 3));
          a.diagnosis = Diag(cls, text, g.Coin(0.8),
                             g.Coin() ? "executor-" + std::to_string(g.Int(1, 9)) : "driver");
          is_infra = cls == "node_loss" || cls == "k8s_scheduling" ||
                     (cls == "k8s_image_pull" && text.starts_with("429"));
        }
      }
      (is_infra ? infra : user)++;
      attempts.push_back(a);
      Decision d = PlanRetry(spec, attempts, climate, p);
      EXPECT_EQ(d, PlanRetry(spec, attempts, climate, p));
      EXPECT_EQ(d.user_failures, user);
      EXPECT_EQ(d.infra_failures, infra);
      EXPECT_FALSE(d.rule.empty());
      EXPECT_FALSE(d.sentence.empty());
      if (d.retry) {
        ++retries;
        if (is_infra) {
          EXPECT_LE(infra, spec.retry.max_infra_retries) << d.sentence;
        } else {
          EXPECT_LT(user, spec.retry.max_attempts) << d.sentence;
        }
        EXPECT_GE(d.delay, 0);
        EXPECT_LT(d.delay, spec.retry.backoff.max_seconds * kMicrosPerSecond + 1);
        EXPECT_TRUE(d.sentence.starts_with("attempt " + std::to_string(n + 1))) << d.sentence;
      } else {
        ++stops;
        EXPECT_EQ(d.resources, a.resources);
        EXPECT_TRUE(d.sentence.starts_with("not retried:")) << d.sentence;
      }
      // Growth only, and never past the caps.
      const Resources& o = a.resources;
      const Resources& r = d.resources;
      if (r.memory_bytes != o.memory_bytes) {
        EXPECT_GT(r.memory_bytes, o.memory_bytes);
        EXPECT_LE(r.memory_bytes, mem_cap) << d.sentence;
      }
      for (auto role : {&SparkResources::driver, &SparkResources::executor}) {
        const SparkRole& orole = o.spark.*role;
        const SparkRole& nrole = r.spark.*role;
        if (!(orole == nrole)) {
          EXPECT_LE(SparkTotal(nrole), mem_cap) << d.sentence;
          EXPECT_GE(SparkTotal(nrole), SparkTotal(orole));
          if (orole.memory_bytes > 0) {
            EXPECT_GE(nrole.memory_bytes, orole.memory_bytes);
          }
          if (orole.memory_overhead_bytes > 0) {
            EXPECT_GE(nrole.memory_overhead_bytes, orole.memory_overhead_bytes);
          }
        }
      }
      if (r.spark.max_result_size_bytes != o.spark.max_result_size_bytes) {
        EXPECT_GT(r.spark.max_result_size_bytes, o.spark.max_result_size_bytes);
        EXPECT_LE(r.spark.max_result_size_bytes, mem_cap);
      }
      if (r.spark.instances != o.spark.instances) {
        EXPECT_GT(r.spark.instances, o.spark.instances);
        EXPECT_LE(r.spark.instances, exec_cap);
      }
      if (r.spark.max_executors != o.spark.max_executors) {
        EXPECT_GT(r.spark.max_executors, o.spark.max_executors);
        EXPECT_LE(r.spark.max_executors, exec_cap);
      }
      EXPECT_EQ(r.spark.min_executors, o.spark.min_executors);
      if (spec.kind == "spark") {
        EXPECT_EQ(d.placement.capacity, "on-demand");
      } else {
        EXPECT_TRUE(d.placement.executor_capacity.empty());
      }
      if (!d.retry) break;
      resources = d.resources;
      placement = d.placement;
    }
  }
  // The generator exercises both outcomes.
  EXPECT_GT(retries, 500);
  EXPECT_GT(stops, 500);
}

}  // namespace
}  // namespace tug::adapt
