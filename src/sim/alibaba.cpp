#include "sim/alibaba.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sim/rng.h"

namespace tug::sim {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Result<double> Number(std::string_view field, std::string_view name, size_t line) {
  double v = 0;
  field = Trim(field);
  auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc() || ptr != field.data() + field.size() ||
      !std::isfinite(v)) {
    return InvalidArgument(
        fmt::format("alibaba line {}: {} '{}' is not a number", line, name, std::string(field)));
  }
  return v;
}

int64_t RoundMiB(double bytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(bytes / kMiB))) * kMiB;
}

}  // namespace

Result<Trace> LoadAlibabaBatchTask(std::string_view csv, const AlibabaOptions& opts,
                                   AlibabaStats* stats) {
  if (!(opts.cpu_units_per_core > 0) || opts.normalized_memory_bytes <= 0 ||
      opts.max_executors < 1) {
    return InvalidArgument(
        "alibaba options: cpu units, normalised memory and max executors must be > 0");
  }
  AlibabaStats st;
  Trace trace;
  Rng rng(opts.usage.seed);
  const GeneratorParams& u = opts.usage;
  auto ratio = [&rng, &u](double undersized) {
    if (rng.Bernoulli(undersized)) return 1.0 + rng.LogNormal(u.excess_median, u.excess_sigma);
    return rng.Uniform(u.usage_low, std::max(u.usage_low, u.usage_high));
  };
  size_t line_no = 0;
  size_t pos = 0;
  std::vector<std::string_view> cols;
  while (pos < csv.size()) {
    size_t nl = csv.find('\n', pos);
    size_t end = nl == std::string_view::npos ? csv.size() : nl;
    std::string_view line = Trim(csv.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;
    cols.clear();
    size_t start = 0;
    while (true) {
      size_t comma = line.find(',', start);
      cols.push_back(Trim(line.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (cols.size() != 8) {
      return InvalidArgument(fmt::format(
          "alibaba line {}: expected 8 columns (create_timestamp, modify_timestamp, job_id, "
          "task_id, instance_num, status, plan_cpu, plan_mem), found {}",
          line_no, cols.size()));
    }
    ++st.rows;
    ASSIGN_OR_RETURN(double create, Number(cols[0], "create_timestamp", line_no));
    ASSIGN_OR_RETURN(double modify, Number(cols[1], "modify_timestamp", line_no));
    if (cols[2].empty() || cols[3].empty()) {
      return InvalidArgument(
          fmt::format("alibaba line {}: job_id and task_id must be set", line_no));
    }
    ASSIGN_OR_RETURN(double instances, Number(cols[4], "instance_num", line_no));
    if (instances < 0 || instances != std::floor(instances)) {
      return InvalidArgument(
          fmt::format("alibaba line {}: instance_num '{}' must be a whole number", line_no,
                      std::string(cols[4])));
    }
    std::string_view status = cols[5];
    ASSIGN_OR_RETURN(double plan_cpu, Number(cols[6], "plan_cpu", line_no));
    ASSIGN_OR_RETURN(double plan_mem, Number(cols[7], "plan_mem", line_no));
    if (plan_cpu < 0 || plan_mem < 0) {
      return InvalidArgument(
          fmt::format("alibaba line {}: plan_cpu and plan_mem must not be negative", line_no));
    }
    bool failed = status == "Failed";
    if (status != "Terminated" && !failed) {
      ++st.skipped_status;
      continue;
    }
    if (create <= 0 || modify <= create || instances < 1 || plan_cpu <= 0 || plan_mem <= 0) {
      ++st.skipped_no_times;
      continue;
    }
    TraceJob j;
    j.id = fmt::format("a{}-{}", cols[2], cols[3]);
    j.user = fmt::format("job{}", cols[2]);
    // Tasks of a job do different work; the task id names the definition for history.
    j.name = fmt::format("alibaba-task-{}", cols[3]);
    j.klass = "alibaba";
    j.submit = static_cast<Micros>(create) * kMicrosPerSecond;
    j.duration_s = modify - create;
    j.peak_at = std::round(rng.Uniform(0.3, 0.9) * 1000) / 1000;
    int64_t cpu = std::max<int64_t>(1, std::llround(plan_cpu * 1000.0 / opts.cpu_units_per_core));
    int64_t mem = RoundMiB(plan_mem * static_cast<double>(opts.normalized_memory_bytes));
    if (instances > 1) {
      j.kind = "spark";
      j.instances = static_cast<int>(std::min<double>(instances, opts.max_executors));
      // Fuxi workers are not JVMs: a 10 % overhead (not Spark's 384Mi floor) keeps the pod the
      // size the trace asked for.
      int64_t overhead = RoundMiB(std::max(static_cast<double>(mem) * 0.1, 64.0 * kMiB));
      j.executor = {cpu, mem, overhead};
      j.driver = {opts.driver_cpu_millis, opts.driver_memory_bytes, 0};
      j.executor_peak = {
          RoundMiB(static_cast<double>(mem) * ratio(u.undersized_share)),
          RoundMiB(static_cast<double>(overhead) * ratio(u.overhead_undersized_share))};
      j.driver_peak = {RoundMiB(static_cast<double>(opts.driver_memory_bytes) *
                                ratio(u.driver_undersized_share)),
                       RoundMiB(384.0 * kMiB * ratio(0))};
    } else {
      j.kind = "container";
      j.container = {cpu, mem, 0};
      j.container_peak_bytes =
          RoundMiB(static_cast<double>(mem) * ratio(u.container_undersized_share));
    }
    if (failed) j.failures.push_back({Injection::Kind::kUserError, {}, 0.9, 0});
    RETURN_IF_ERROR(ValidateJob(j, fmt::format("alibaba line {}", line_no)));
    trace.jobs.push_back(std::move(j));
    ++st.jobs;
    if (opts.max_jobs > 0 && st.jobs >= opts.max_jobs) break;
  }
  if (trace.jobs.empty()) {
    return InvalidArgument(fmt::format(
        "the Alibaba file has no finished tasks to replay ({} rows, {} not Terminated/Failed, {} "
        "without times)",
        st.rows, st.skipped_status, st.skipped_no_times));
  }
  // Alibaba times start before the first task; the simulated day starts at the first submit.
  Micros first = trace.jobs.front().submit;
  for (const TraceJob& j : trace.jobs) first = std::min(first, j.submit);
  for (TraceJob& j : trace.jobs) j.submit -= first;
  trace.source = fmt::format("alibaba batch_task.csv: {} rows, {} jobs", st.rows, st.jobs);
  RETURN_IF_ERROR(Normalize(trace));
  if (stats != nullptr) *stats = st;
  return trace;
}

}  // namespace tug::sim
