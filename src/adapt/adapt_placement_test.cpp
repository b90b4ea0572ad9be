#include <vector>

#include "adapt/adapt_test_util.h"

namespace tug::adapt::testing {

/// Rows of the PlanRetryTable (adapt_retry_test.cpp): executor progression, node loss and
/// placement.
std::vector<Row> ExecutorAndPlacementRows() {
  std::vector<Row> rows;
  Definition c64 = Container(64 * kMi);
  Definition spark = Spark();

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
  return rows;
}

}  // namespace tug::adapt::testing
