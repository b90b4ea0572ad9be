#include "sim/alibaba.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/rng.h"

namespace tug::sim {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr std::string_view kColumns =
    "create_timestamp, modify_timestamp, job_id, task_id, instance_num, status, plan_cpu, "
    "plan_mem";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<double> ParseNumber(std::string_view field) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc() || ptr != field.data() + field.size() ||
      !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

/// A nullable numeric field: empty is null (the schema allows it), anything else must be a
/// number.
Result<std::optional<double>> Nullable(std::string_view field, std::string_view name, size_t line) {
  if (field.empty()) return std::optional<double>();
  std::optional<double> v = ParseNumber(field);
  if (!v) {
    return InvalidArgument(
        fmt::format("alibaba line {}: {} '{}' is not a number", line, name, std::string(field)));
  }
  return v;
}

int64_t RoundMiB(double bytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(bytes / kMiB))) * kMiB;
}

std::string Thousands(int64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

/// Index in kAlibabaUnfinished, or -1.
int UnfinishedIndex(std::string_view status) {
  auto it = std::find(kAlibabaUnfinished.begin(), kAlibabaUnfinished.end(), status);
  return it == kAlibabaUnfinished.end() ? -1 : static_cast<int>(it - kAlibabaUnfinished.begin());
}

std::vector<std::string> SkippedLines(const AlibabaStats& st) {
  std::vector<std::string> out;
  auto add = [&out](int64_t n, std::string_view what, std::string_view tail) {
    if (n <= 0) return;
    out.push_back(fmt::format("{} {}{}{}", Thousands(n), what, n == 1 ? "row" : "rows", tail));
  };
  add(st.header_rows, "header ", "");
  for (size_t i = 0; i < kAlibabaUnfinished.size(); ++i) {
    std::string status =
        kAlibabaUnfinished[i].empty() ? std::string() : std::string(kAlibabaUnfinished[i]) + " ";
    bool no_status = kAlibabaUnfinished[i].empty();
    int64_t without = st.unfinished_without_requests[i];
    add(without, status, no_status ? " without a status or requests" : " without requests");
    add(st.unfinished[i] - without, status, no_status ? " without a status" : "");
  }
  add(st.no_times, "Terminated/Failed ", " without times");
  add(st.no_requests, "Terminated/Failed ", " without requests");
  return out;
}

}  // namespace

int64_t AlibabaStats::skipped() const {
  int64_t n = header_rows + no_times + no_requests;
  for (int64_t u : unfinished) n += u;
  return n;
}

std::vector<std::string> DescribeLoad(const AlibabaStats& st, std::string_view source) {
  std::vector<std::string> out{fmt::format("loaded {} jobs from {} rows of '{}'",
                                           Thousands(st.jobs), Thousands(st.rows), source)};
  for (std::string& line : SkippedLines(st)) out.push_back("skipped " + line);
  return out;
}

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
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (csv.substr(0, kBom.size()) == kBom) csv.remove_prefix(kBom.size());
  size_t line_no = 0;
  size_t pos = 0;
  bool first = true;
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
    // Copies in circulation carry a header row (pandas' to_csv); the published file has none.
    bool header = first && !cols[0].empty() && !ParseNumber(cols[0]);
    first = false;
    if (cols.size() != 8) {
      return InvalidArgument(
          fmt::format("alibaba line {}: expected 8 columns ({}), found {}; is this batch_task.csv?",
                      line_no, kColumns, cols.size()));
    }
    if (header) {
      ++st.header_rows;
      continue;
    }
    ++st.rows;
    std::string_view status = cols[5];
    bool failed = status == "Failed";
    if (!failed && status != "Terminated") {
      int unfinished = UnfinishedIndex(status);
      if (unfinished < 0) {
        return InvalidArgument(fmt::format(
            "alibaba line {}: status '{}' is not one of Terminated, Failed, Ready, Waiting, "
            "Running, Cancelled",
            line_no, std::string(status)));
      }
      // Never replayed, so its other fields may be anything: Waiting tasks have no requests.
      ++st.unfinished[unfinished];
      if (!ParseNumber(cols[6]) || !ParseNumber(cols[7])) {
        ++st.unfinished_without_requests[unfinished];
      }
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<double> create, Nullable(cols[0], "create_timestamp", line_no));
    ASSIGN_OR_RETURN(std::optional<double> modify, Nullable(cols[1], "modify_timestamp", line_no));
    if (cols[2].empty() || cols[3].empty()) {
      return InvalidArgument(fmt::format(
          "alibaba line {}: job_id and task_id must be set for a {} task", line_no, status));
    }
    ASSIGN_OR_RETURN(std::optional<double> instances, Nullable(cols[4], "instance_num", line_no));
    if (instances && (*instances < 0 || *instances != std::floor(*instances))) {
      return InvalidArgument(
          fmt::format("alibaba line {}: instance_num '{}' must be a whole number", line_no,
                      std::string(cols[4])));
    }
    ASSIGN_OR_RETURN(std::optional<double> plan_cpu, Nullable(cols[6], "plan_cpu", line_no));
    ASSIGN_OR_RETURN(std::optional<double> plan_mem, Nullable(cols[7], "plan_mem", line_no));
    if (plan_cpu.value_or(0) < 0 || plan_mem.value_or(0) < 0) {
      return InvalidArgument(
          fmt::format("alibaba line {}: plan_cpu and plan_mem must not be negative", line_no));
    }
    // A zero time is "before the trace" (trace_201708.md): the task's lifetime is unknown.
    if (!create || !modify || *create <= 0 || *modify <= *create) {
      ++st.no_times;
      continue;
    }
    if (!instances || !plan_cpu || !plan_mem || *instances < 1 || *plan_cpu <= 0 ||
        *plan_mem <= 0) {
      ++st.no_requests;
      continue;
    }
    TraceJob j;
    j.id = fmt::format("a{}-{}", cols[2], cols[3]);
    j.user = fmt::format("job{}", cols[2]);
    // Tasks of a job do different work; the task id names the definition for history.
    j.name = fmt::format("alibaba-task-{}", cols[3]);
    j.klass = "alibaba";
    j.submit = static_cast<Micros>(*create) * kMicrosPerSecond;
    j.duration_s = *modify - *create;
    j.peak_at = std::round(rng.Uniform(0.3, 0.9) * 1000) / 1000;
    int64_t cpu = std::max<int64_t>(1, std::llround(*plan_cpu * 1000.0 / opts.cpu_units_per_core));
    int64_t mem = RoundMiB(*plan_mem * static_cast<double>(opts.normalized_memory_bytes));
    if (*instances > 1) {
      j.kind = "spark";
      j.instances = static_cast<int>(std::min<double>(*instances, opts.max_executors));
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
    std::vector<std::string> skipped = SkippedLines(st);
    return InvalidArgument(fmt::format(
        "the Alibaba file has no finished tasks to replay ({} rows{}{}); it needs Terminated or "
        "Failed rows with times and requests",
        st.rows, skipped.empty() ? "" : "; ", fmt::join(skipped, ", ")));
  }
  // Alibaba times start before the first task; the simulated day starts at the first submit.
  Micros first_submit = trace.jobs.front().submit;
  for (const TraceJob& j : trace.jobs) first_submit = std::min(first_submit, j.submit);
  for (TraceJob& j : trace.jobs) j.submit -= first_submit;
  trace.source = fmt::format("alibaba batch_task.csv: {} rows, {} jobs", st.rows, st.jobs);
  RETURN_IF_ERROR(Normalize(trace));
  if (stats != nullptr) *stats = st;
  return trace;
}

}  // namespace tug::sim
