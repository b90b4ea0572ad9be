#pragma once
/// The trace generator: a realistic day of a data-science platform — scheduled pipelines that
/// fire on cron schedules (a night ETL window, bursts at the top of the hour) and bursty ad-hoc
/// exploration sessions over the working day, heavy-tailed durations and executor counts, a
/// share of jobs under-sized in memory, and injected transient, user and timeout failures.
/// Every parameter has a default documented in docs/fleet.md and can be overridden by name
/// (SetParam, `tug sim --set key=value`).
///
/// Lifecycle: Generate is a pure function of the parameters (seeded). Threading: reentrant.
/// Errors: SetParam returns InvalidArgument for an unknown key or a value out of range.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "sim/trace.h"

namespace tug::sim {

struct GeneratorParams {
  uint64_t seed = 1;
  int spark_jobs = 8000;
  int container_jobs = 2000;
  int users = 100;
  double day_s = 86400;
  // Arrivals.
  double scheduled_share = 0.6;    // of runs that come from cron-scheduled pipelines
  double hourly_share = 0.1;       // of pipelines that run every hour
  double four_hourly_share = 0.2;  // of pipelines that run every 4 hours (the rest: daily)
  double night_share = 0.6;        // of daily pipelines starting in the 00:00-06:00 ETL window
  double top_of_hour_share = 0.5;  // of schedules at minute :00 (cron bursts)
  double session_runs_mean = 4;    // ad-hoc runs per exploration session (geometric)
  double session_gap_s = 480;      // mean gap between runs of a session (exponential)
  // Durations at the requested size (log-normal, per pipeline, then per run).
  double spark_duration_median_s = 720;
  double container_duration_median_s = 300;
  double duration_sigma = 1.0;
  double run_jitter = 0.15;  // sigma of one run's duration around its pipeline's
  double max_duration_s = 6 * 3600;
  // Spark sizes.
  double executors_median = 5;
  double executors_sigma = 0.9;
  int max_executors = 80;
  double pyspark_share = 0.25;  // of Spark pipelines that set an explicit memoryOverhead
  // Memory: peak / request. Right-sized jobs peak at U(usage_low, usage_high) of the request;
  // under-sized ones at 1 + LogNormal(excess_median, excess_sigma).
  double undersized_share = 0.08;           // executor heap
  double overhead_undersized_share = 0.03;  // executor non-heap (container OOM)
  double driver_undersized_share = 0.02;    // driver heap
  double container_undersized_share = 0.10;
  double usage_low = 0.35;
  double usage_high = 0.9;
  double excess_median = 0.25;
  double excess_sigma = 0.8;
  double peak_jitter = 0.05;  // sigma of one run's peaks around its pipeline's
  // Failures per run.
  double transient_share = 0.03;
  double transient_repeat = 0.2;  // of transient runs that fail on attempt 2 too
  double user_error_scheduled = 0.01;
  double user_error_adhoc = 0.06;
  double timeout_share = 0.015;        // Spark runs that hit a timeout
  double timeout_curable_share = 0.5;  // of those, the ones 1.2-2x the executors cure
  double critical_share = 0.05;
  // GPUs (0: a day without GPU jobs). Drawn from a stream of their own: the rest of the day is
  // the same with or without them.
  double gpu_share = 0;        // of container pipelines (1, 2 or 4 GPUs)
  double spark_gpu_share = 0;  // of Spark pipelines (a GPU per executor)
  // Teams and floods (team queues, docs/fleet.md "Two teams flood the cluster").
  int teams = 0;         // users split round-robin into teams a, b, c, ... (0: none)
  int flood_teams = 0;   // the first this many teams also flood the cluster
  int flood_runs = 0;    // extra runs each flooding team submits over the day
  int flood_bursts = 4;  // in this many bursts, evenly spaced in [flood_from_s, flood_to_s)
  double flood_from_s = 9 * 3600.0;
  double flood_to_s = 17 * 3600.0;
  double flood_spread_s = 300;  // a burst's runs arrive uniformly within this many seconds
};

/// Sets one parameter by its field name ("spark_jobs", "undersized_share", ...).
[[nodiscard]] Status SetParam(GeneratorParams& p, std::string_view key, std::string_view value);

/// Every parameter: name, current value as text, and what it means (for docs and --help).
struct ParamDoc {
  std::string name;
  std::string value;
  std::string doc;
};
std::vector<ParamDoc> DescribeParams(const GeneratorParams& p);

/// The name of team `i` (0-based) of `teams`: "a".."z" up to 26 teams, else "t001"...
std::string TeamName(int i, int teams);

/// A day of jobs, sorted by submit time, ids "j000001"... With teams, every job's `queue` is
/// its user's team. A flood's runs (class "backfill") come from a separately seeded stream, so
/// the other runs are the same as on the day without the flood.
[[nodiscard]] Result<Trace> Generate(const GeneratorParams& p);

}  // namespace tug::sim
