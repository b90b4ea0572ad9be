#pragma once
/// Reports of a comparison: the same trace and seed through several policies. JSON (every
/// number; optionally the time series), a Markdown table (docs/fleet.md), an aligned text table
/// (the terminal), and SVG line charts of nodes and pending pods over time.
///
/// Definitions (docs/fleet.md "Report"):
///  - cost: node-hours from launch to removal × the hourly price of the node's capacity type;
///  - allocation utilisation: requested cpu (memory) × bound time / allocatable × ready time;
///  - memory used at peak: each pod's true peak (capped at its limit) × bound time, over the
///    same allocatable memory time (what right-sizing could reclaim);
///  - wasted node-hours: for every pod of a failed attempt, bound time × its dominant share of
///    the node (max of its cpu and memory shares);
///  - scheduling delay: attempt due → its work can progress; pod delay: created → bound.
///
/// Threading: pure functions. Errors: WriteCharts returns the file error.
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.h"
#include "sim/simulation.h"

namespace tug::sim {

struct Comparison {
  std::string trace_source;
  int64_t spark_jobs = 0;
  int64_t container_jobs = 0;
  SimConfig config;
  std::vector<PolicyResult> results;
};

/// Runs every policy on the trace (in order).
[[nodiscard]] Result<Comparison> Compare(const Trace& trace, const std::vector<Policy>& policies,
                                         const SimConfig& config);

boost::json::value ToJson(const Comparison& c, bool with_series);
/// Rows: metrics; columns: policies; the last column compares the last policy with the first.
std::string Markdown(const Comparison& c);
std::string TextTable(const Comparison& c);

/// nodes.svg (ready + provisioning nodes per policy, spot dashed) and pending.svg (pending pods)
/// in `dir`, which must exist.
[[nodiscard]] Status WriteCharts(const Comparison& c, const std::string& dir);
/// The charts' SVG text (for tests): "nodes" or "pending".
std::string ChartSvg(const Comparison& c, const std::string& which);

}  // namespace tug::sim
