#include "cli/sim_command.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/output.h"
#include "core/quantity.h"
#include "sim/alibaba.h"
#include "sim/generator.h"
#include "sim/policy.h"
#include "sim/report.h"
#include "sim/simulation.h"

namespace tug::cli {
namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

/// The cores this process may run on (taskset and cgroup cpusets narrow it; the hardware count
/// does not).
unsigned UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<unsigned>(CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

int Fail(const std::string& message, int code = kExitError) {
  std::cerr << "error: " << message << "\n";
  return code;
}

Result<sim::GeneratorParams> GeneratorFrom(const SimArgs& a) {
  sim::GeneratorParams p;
  p.seed = static_cast<uint64_t>(a.seed);
  if (a.jobs >= 0) p.spark_jobs = a.jobs;
  if (a.container_jobs >= 0) p.container_jobs = a.container_jobs;
  if (a.users > 0) p.users = a.users;
  for (const std::string& kv : a.sets) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument(fmt::format("--set '{}' must be key=value", kv));
    }
    RETURN_IF_ERROR(sim::SetParam(p, kv.substr(0, eq), kv.substr(eq + 1)));
  }
  return p;
}

Result<sim::Trace> LoadTrace(const SimArgs& a, const sim::GeneratorParams& g) {
  if (a.generate) return sim::Generate(g);
  ASSIGN_OR_RETURN(std::string text, sim::ReadFile(a.trace));
  if (a.format == "alibaba") {
    sim::AlibabaOptions opts;
    opts.cpu_units_per_core = a.alibaba_cpu_units;
    ASSIGN_OR_RETURN(opts.normalized_memory_bytes, ParseMemory(a.alibaba_memory));
    opts.usage = g;
    opts.max_jobs = a.max_jobs;
    sim::AlibabaStats st;
    auto t = sim::LoadAlibabaBatchTask(text, opts, &st);
    if (!t.ok()) return std::move(t).take_error().WithContext(a.trace);
    for (const std::string& line : sim::DescribeLoad(st, a.trace)) std::cerr << line << "\n";
    return t;
  }
  auto t = sim::ParseTrace(text);
  if (!t.ok()) return std::move(t).take_error().WithContext(a.trace);
  t->source = a.trace;
  return t;
}

Result<sim::SimConfig> ConfigFrom(const SimArgs& a) {
  sim::SimConfig c = sim::DefaultSimConfig();
  c.seed = static_cast<uint64_t>(a.seed);
  if (!(a.spot_fraction > 0 && a.spot_fraction <= 1)) {
    return InvalidArgument("--spot-price-fraction must be in (0, 1]");
  }
  c.node_types = sim::DefaultNodeTypes(a.spot_fraction);
  auto prov = ParseDuration(a.provisioning);
  if (!prov.ok()) return InvalidArgument("--provisioning takes a duration such as 180s or 3m");
  c.autoscaler.provisioning_delay = *prov * kMicrosPerSecond;
  if (!a.climate.empty()) {
    ASSIGN_OR_RETURN(c.climate, sim::ParseClimate(a.climate));
  }
  if (a.max_nodes > 0) c.autoscaler.max_nodes = a.max_nodes;
  for (const std::string& spec : a.queues) {
    ASSIGN_OR_RETURN(queue::QueueSpec q, sim::ParseQueueSpec(spec));
    c.queues.push_back(std::move(q));
  }
  RETURN_IF_ERROR(queue::ValidateQueues(c.queues));
  return c;
}

int ListParams(const SimArgs& a) {
  auto g = GeneratorFrom(a);
  if (!g.ok()) return Fail(g.error().message(), kExitUsage);
  std::vector<std::vector<std::string>> rows{{"PARAMETER", "VALUE", "MEANING"}};
  for (const sim::ParamDoc& d : sim::DescribeParams(*g)) rows.push_back({d.name, d.value, d.doc});
  std::cout << Table(rows);
  return 0;
}

}  // namespace

CLI::App* AddSimCommand(CLI::App& app, SimArgs& a) {
  auto* sim = app.add_subcommand(
      "sim", "Simulate a day of jobs through the real adapt planner and a cluster model");
  sim->fallthrough();
  sim->add_flag("--generate", a.generate, "Generate a day of jobs (see --jobs, --set)");
  sim->add_option("--trace", a.trace, "Replay this trace file instead");
  sim->add_option("--format", a.format, "Trace format: tugboat (JSON Lines) or alibaba")
      ->check(CLI::IsMember({"tugboat", "alibaba"}))
      ->capture_default_str();
  sim->add_option("--policy", a.policies,
                  "Policies to compare: a|static, b|autoscaled, c|tugboat, with +key=value "
                  "changes (e.g. tugboat+scoring=least, c+queues=on with --queue)")
      ->capture_default_str();
  sim->add_option("-o,--output", a.output, "Report format: table, json or markdown")
      ->check(CLI::IsMember({"table", "json", "markdown"}))
      ->capture_default_str();
  sim->add_option("--svg-dir", a.svg_dir, "Write nodes.svg and pending.svg here");
  sim->add_flag("--series", a.series, "Include the per-minute series in JSON output");
  sim->add_option("--write-trace", a.write_trace, "Also write the trace that was simulated");
  sim->add_option("--jobs", a.jobs, "Spark runs to generate (default 8000)");
  sim->add_option("--container-jobs", a.container_jobs,
                  "Container runs to generate (default 2000)");
  sim->add_option("--users", a.users, "Users to generate (default 100)");
  sim->add_option("--seed", a.seed, "Seed of the generator and of spot interruptions")
      ->capture_default_str();
  sim->add_option("--set", a.sets, "Generator parameter key=value (repeatable; see --list-params)");
  sim->add_flag("--list-params", a.list_params, "List the generator's parameters and exit");
  sim->add_option("--provisioning", a.provisioning, "Node provisioning delay")
      ->capture_default_str();
  sim->add_option("--climate", a.climate,
                  fmt::format("Spot interruptions per node-hour over the day, HH:MM=rate,... "
                              "(default {})",
                              sim::kDefaultClimate));
  sim->add_option("--max-nodes", a.max_nodes, "Autoscaler's node limit (default 2000)");
  sim->add_option("--spot-price-fraction", a.spot_fraction, "Spot price / on-demand price")
      ->capture_default_str();
  sim->add_option("--queue", a.queues,
                  "A team queue for policies with +queues=on or fifo, e.g. "
                  "a:weight=1,cpu=400,memory=1600Gi,running=100 (repeatable; docs/fleet.md)");
  sim->add_option("--alibaba-memory", a.alibaba_memory, "Memory of plan_mem 1.0")
      ->capture_default_str();
  sim->add_option("--alibaba-cpu-units", a.alibaba_cpu_units, "plan_cpu units per core")
      ->capture_default_str();
  sim->add_option("--max-jobs", a.max_jobs, "Alibaba: load at most this many jobs");
  sim->add_option("--threads", a.threads,
                  "Policies simulated at once (default: one per core); the report is the same");
  a.generate_cmd = sim->add_subcommand("generate", "Write a generated trace and exit");
  a.generate_cmd->fallthrough();
  a.generate_cmd->add_option("-o,--out", a.generate_out, "Trace file to write ('-': stdout)")
      ->required();
  return sim;
}

int SimCmd(const SimArgs& a) {
  if (a.list_params) return ListParams(a);
  bool write_only = a.generate_cmd != nullptr && a.generate_cmd->parsed();
  if (write_only) {
    auto g = GeneratorFrom(a);
    if (!g.ok()) return Fail(g.error().message(), kExitUsage);
    auto t = sim::Generate(*g);
    if (!t.ok()) return Fail(t.error().message());
    std::string text = sim::ToJsonLines(*t);
    if (a.generate_out == "-") {
      std::cout << text;
      return 0;
    }
    Status st = sim::WriteFile(a.generate_out, text);
    if (!st.ok()) return Fail(st.error().message());
    std::cerr << fmt::format("wrote {} jobs to '{}'\n", t->jobs.size(), a.generate_out);
    return 0;
  }
  if (a.generate == !a.trace.empty()) {
    return Fail("give either --generate or --trace FILE", kExitUsage);
  }
  auto policies = sim::ParsePolicies(a.policies);
  if (!policies.ok()) return Fail(policies.error().message(), kExitUsage);
  auto config = ConfigFrom(a);
  if (!config.ok()) return Fail(config.error().message(), kExitUsage);
  auto gen = GeneratorFrom(a);
  if (!gen.ok()) return Fail(gen.error().message(), kExitUsage);
  auto trace = LoadTrace(a, *gen);
  if (!trace.ok()) return Fail(trace.error().message());
  if (!a.write_trace.empty()) {
    Status st = sim::WriteFile(a.write_trace, sim::ToJsonLines(*trace));
    if (!st.ok()) return Fail(st.error().message());
  }
  if (!a.svg_dir.empty() && !std::filesystem::is_directory(a.svg_dir)) {
    return Fail(fmt::format("--svg-dir '{}' is not a directory; create it first", a.svg_dir),
                kExitUsage);
  }
  sim::Comparison c;
  c.trace_source = trace->source;
  c.config = *config;
  for (const sim::TraceJob& j : trace->jobs) (j.spark() ? c.spark_jobs : c.container_jobs)++;
  // Policies are independent simulations (Simulate is reentrant): run them on up to --threads
  // threads; the results, and what is printed, stay in the order of --policy.
  size_t n = policies->size();
  size_t threads = a.threads > 0 ? static_cast<size_t>(a.threads) : UsableCores();
  threads = std::min(threads, n);
  std::vector<std::optional<Result<sim::PolicyResult>>> results(n);
  std::vector<double> seconds(n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      // Wall time is for the person at the terminal only; the report itself has none.
      auto start = std::chrono::steady_clock::now();
      results[i] = sim::Simulate(*trace, (*policies)[i], *config);
      seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  };
  {
    std::vector<std::jthread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
  }
  for (size_t i = 0; i < n; ++i) {
    Result<sim::PolicyResult>& r = *results[i];
    if (!r.ok()) return Fail(r.error().message());
    std::cerr << fmt::format("simulated {} in {:.2f} s ({} events, {} placements)\n",
                             (*policies)[i].label, seconds[i], r->events, r->placements);
    c.results.push_back(std::move(*r));
  }
  if (a.output == "json") {
    std::cout << ToPrettyJson(sim::ToJson(c, a.series));
  } else if (a.output == "markdown") {
    std::cout << sim::Markdown(c);
  } else {
    std::cout << sim::TextTable(c);
  }
  if (!a.svg_dir.empty()) {
    Status st = sim::WriteCharts(c, a.svg_dir);
    if (!st.ok()) return Fail(st.error().message());
  }
  return 0;
}

}  // namespace tug::cli
