#include "sim/report.h"

#include <cmath>
#include <functional>
#include <optional>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/quantity.h"

namespace json = boost::json;

namespace tug::sim {
namespace {

/// Rounded for reading; the same double always prints the same.
double R(double x, int digits = 3) {
  double m = std::pow(10.0, digits);
  return std::round(x * m) / m;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

std::string Thousands(double x) {
  auto v = static_cast<int64_t>(std::llround(x));
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string Pct(double x) { return fmt::format("{:.1f} %", x * 100.0); }

std::string Secs(double s) {
  if (s < 120) return fmt::format("{:.0f} s", s);
  return fmt::format("{:.1f} min", s / 60.0);
}

json::object Dist(const Distribution& d) {
  return json::object{{"count", d.count},   {"mean", R(d.mean, 1)}, {"p50", R(d.p50, 1)},
                      {"p90", R(d.p90, 1)}, {"p99", R(d.p99, 1)},   {"max", R(d.max, 1)}};
}

json::object Counts(const std::map<std::string, int64_t>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

int64_t Count(const std::map<std::string, int64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

json::object PolicyJson(const Policy& p) {
  return json::object{{"autoscale", p.autoscale},
                      {"scoring", ToString(p.scoring)},
                      {"unneeded_seconds", p.unneeded_time / kMicrosPerSecond},
                      {"adapt", p.adapt},
                      {"rightsizing", p.rightsizing},
                      {"capacity", p.capacity},
                      {"max_attempts", p.max_attempts},
                      {"spare_on_demand", p.spare_on_demand},
                      {"spare_spot", p.spare_spot},
                      {"queues", ToString(p.queues)}};
}

json::object WithGpuNodes(json::object o, const Policy& p) {
  if (p.gpu_nodes_shared) o["gpu_nodes"] = "shared";
  return o;
}

double CpuUtil(const PolicyResult& r) {
  return Ratio(r.books.used_cpu_seconds, r.books.alloc_cpu_seconds);
}
double MemUtil(const PolicyResult& r) {
  return Ratio(r.books.used_mem_seconds, r.books.alloc_mem_seconds);
}
double PeakUtil(const PolicyResult& r) {
  return Ratio(r.mem_peak_gib_seconds, r.books.alloc_mem_seconds);
}

struct Row {
  std::string label;
  std::function<std::string(const PolicyResult&)> cell;
  /// The number behind the comparison column (last / first), when it makes sense.
  std::function<double(const PolicyResult&)> value;
};

using P = const PolicyResult&;

std::vector<Row> Rows() {
  auto fail = [](const char* g) {
    return [g](P r) { return Thousands(static_cast<double>(Count(r.failed_by, g))); };
  };
  auto fail_v = [](const char* g) {
    return [g](P r) { return static_cast<double>(Count(r.failed_by, g)); };
  };
  return {
      {"nodes (static size, or peak)",
       [](P r) {
         return r.static_nodes > 0 ? fmt::format("{} × {}", r.static_nodes, r.static_type)
                                   : std::to_string(r.peak_nodes);
       },
       nullptr},
      {"node-hours on-demand / spot",
       [](P r) {
         return fmt::format("{} / {}", Thousands(r.books.node_hours_on_demand),
                            Thousands(r.books.node_hours_spot));
       },
       [](P r) { return r.node_hours(); }},
      {"cost", [](P r) { return "$" + Thousands(r.cost()); }, [](P r) { return r.cost(); }},
      {"cpu allocated / allocatable", [](P r) { return Pct(CpuUtil(r)); }, nullptr},
      {"memory allocated / allocatable", [](P r) { return Pct(MemUtil(r)); }, nullptr},
      {"memory used at peak / allocatable", [](P r) { return Pct(PeakUtil(r)); }, nullptr},
      {"runs succeeded", [](P r) { return Thousands(static_cast<double>(r.succeeded)); }, nullptr},
      {"runs failed", [](P r) { return Thousands(static_cast<double>(r.failed)); },
       [](P r) { return static_cast<double>(r.failed); }},
      {"… out of memory", fail("oom"), fail_v("oom")},
      {"… user error", fail("user_error"), fail_v("user_error")},
      {"… transient", fail("transient"), fail_v("transient")},
      {"… timeout", fail("timeout"), fail_v("timeout")},
      {"… node loss", fail("node_loss"), fail_v("node_loss")},
      {"… unschedulable", fail("unschedulable"), fail_v("unschedulable")},
      {"runs unfinished", [](P r) { return Thousands(static_cast<double>(r.unfinished)); },
       nullptr},
      {"attempts", [](P r) { return Thousands(static_cast<double>(r.attempts)); },
       [](P r) { return static_cast<double>(r.attempts); }},
      {"attempts that ran out of memory",
       [](P r) {
         int64_t n = 0;
         for (const char* c :
              {"driver_oom", "executor_oom", "executor_container_oom", "batch_container_oom"}) {
           n += Count(r.attempt_failures, c);
         }
         return Thousands(static_cast<double>(n));
       },
       nullptr},
      {"scheduling delay p50 / p99",
       [](P r) {
         return fmt::format("{} / {}", Secs(r.attempt_delay.p50), Secs(r.attempt_delay.p99));
       },
       nullptr},
      {"pod pending p50 / p99",
       [](P r) { return fmt::format("{} / {}", Secs(r.pod_delay.p50), Secs(r.pod_delay.p99)); },
       nullptr},
      {"node-hours wasted on failed attempts",
       [](P r) {
         return fmt::format("{} (${})", Thousands(r.wasted_node_hours), Thousands(r.wasted_cost));
       },
       [](P r) { return r.wasted_node_hours; }},
      {"spot interruptions / pods lost",
       [](P r) {
         return fmt::format("{} / {}", r.spot_interruptions,
                            Thousands(static_cast<double>(r.pods_lost)));
       },
       nullptr},
  };
}

std::string TeamLabel(const std::string& team) { return team.empty() ? "(no queue)" : team; }

/// Rows of waits by team (the trace's `queue`), when the trace has teams.
std::vector<Row> TeamRows(const Comparison& c) {
  std::map<std::string, int64_t> runs;
  bool queued = false;
  for (const PolicyResult& r : c.results) {
    for (const auto& [team, t] : r.teams) runs[team] = t.runs;
    queued = queued || r.policy.queues != Policy::Queues::kOff;
  }
  std::vector<Row> rows;
  for (const auto& [name, n] : runs) {
    std::string team = name;
    auto dist = [team](const PolicyResult& r, bool in_queue) -> const Distribution* {
      auto it = r.teams.find(team);
      if (it == r.teams.end()) return nullptr;
      return in_queue ? &it->second.queued : &it->second.wait;
    };
    rows.push_back({fmt::format("team {} ({} runs): wait p50 / p99", TeamLabel(team),
                                Thousands(static_cast<double>(n))),
                    [dist](P r) {
                      const Distribution* d = dist(r, false);
                      return d == nullptr ? std::string("—")
                                          : fmt::format("{} / {}", Secs(d->p50), Secs(d->p99));
                    },
                    [dist](P r) {
                      const Distribution* d = dist(r, false);
                      return d == nullptr ? 0.0 : d->p99;
                    }});
    if (!queued) continue;
    rows.push_back({"… of which in its queue p50 / p99",
                    [dist](P r) {
                      const Distribution* d = dist(r, true);
                      if (r.policy.queues == Policy::Queues::kOff || d == nullptr)
                        return std::string("—");
                      return fmt::format("{} / {}", Secs(d->p50), Secs(d->p99));
                    },
                    nullptr});
  }
  return rows;
}

/// Rows about GPUs, when some policy ran GPU jobs.
std::vector<Row> GpuRows(const Comparison& c) {
  bool any = false;
  for (const PolicyResult& r : c.results) any = any || r.gpu_jobs > 0;
  if (!any) return {};
  return {
      {"GPU runs succeeded / total",
       [](P r) {
         return fmt::format("{} / {}", Thousands(static_cast<double>(r.gpu_succeeded)),
                            Thousands(static_cast<double>(r.gpu_jobs)));
       },
       nullptr},
      {"GPU nodes (static size) / GPU node-hours",
       [](P r) {
         std::string size = r.static_gpu_nodes > 0
                                ? fmt::format("{} × {}", r.static_gpu_nodes, r.static_gpu_type)
                                : "—";
         return fmt::format("{} / {}", size, Thousands(r.books.node_hours_gpu));
       },
       [](P r) { return r.books.node_hours_gpu; }},
      {"GPU node cost", [](P r) { return "$" + Thousands(r.books.cost_gpu); },
       [](P r) { return r.books.cost_gpu; }},
      {"GPUs allocated / allocatable", [](P r) { return Pct(r.gpu_utilisation()); }, nullptr},
      {"GPU runs' scheduling delay p50 / p99",
       [](P r) {
         return fmt::format("{} / {}", Secs(r.gpu_attempt_delay.p50),
                            Secs(r.gpu_attempt_delay.p99));
       },
       [](P r) { return r.gpu_attempt_delay.p99; }},
  };
}

std::vector<Row> AllRows(const Comparison& c) {
  std::vector<Row> rows = Rows();
  for (Row& r : GpuRows(c)) rows.push_back(std::move(r));
  for (Row& r : TeamRows(c)) rows.push_back(std::move(r));
  return rows;
}

std::string CompareHeader(const Comparison& c) {
  if (c.results.size() < 2) return "";
  return fmt::format("{} vs {}", c.results.back().policy.name, c.results.front().policy.name);
}

}  // namespace

Result<Comparison> Compare(const Trace& trace, const std::vector<Policy>& policies,
                           const SimConfig& config) {
  Comparison c;
  c.trace_source = trace.source;
  c.config = config;
  for (const TraceJob& j : trace.jobs) (j.spark() ? c.spark_jobs : c.container_jobs)++;
  for (const Policy& p : policies) {
    ASSIGN_OR_RETURN(PolicyResult r, Simulate(trace, p, config));
    c.results.push_back(std::move(r));
  }
  return c;
}

json::value ToJson(const Comparison& c, bool with_series) {
  json::array policies;
  for (const PolicyResult& r : c.results) {
    json::object o;
    o["name"] = r.policy.name;
    o["label"] = r.policy.label;
    o["policy"] = WithGpuNodes(PolicyJson(r.policy), r.policy);
    o["runs"] = json::object{{"total", r.jobs},
                             {"succeeded", r.succeeded},
                             {"failed", r.failed},
                             {"unfinished", r.unfinished},
                             {"failed_by", Counts(r.failed_by)},
                             {"succeeded_by_kind", Counts(r.ok_by_kind)},
                             {"failed_by_kind", Counts(r.failed_by_kind)},
                             {"succeeded_by_class", Counts(r.ok_by_class)},
                             {"failed_by_class", Counts(r.failed_by_class)}};
    o["attempts"] = json::object{{"total", r.attempts},
                                 {"failures_by_class", Counts(r.attempt_failures)},
                                 {"planner_rules", Counts(r.rules)}};
    o["nodes"] = json::object{{"static", r.static_nodes},
                              {"static_type", r.static_type},
                              {"peak", r.peak_nodes},
                              {"node_hours_on_demand", R(r.books.node_hours_on_demand, 2)},
                              {"node_hours_spot", R(r.books.node_hours_spot, 2)}};
    o["cost"] = json::object{{"total", R(r.cost(), 2)},
                             {"on_demand", R(r.books.cost_on_demand, 2)},
                             {"spot", R(r.books.cost_spot, 2)}};
    o["utilization"] = json::object{{"cpu_allocated", R(CpuUtil(r), 4)},
                                    {"memory_allocated", R(MemUtil(r), 4)},
                                    {"memory_used_at_peak", R(PeakUtil(r), 4)}};
    o["scheduling_delay_seconds"] = Dist(r.attempt_delay);
    o["pod_pending_seconds"] = Dist(r.pod_delay);
    if (r.gpu_jobs > 0) {
      o["gpu"] = json::object{{"runs", r.gpu_jobs},
                              {"succeeded", r.gpu_succeeded},
                              {"static_nodes", r.static_gpu_nodes},
                              {"static_type", r.static_gpu_type},
                              {"node_hours", R(r.books.node_hours_gpu, 2)},
                              {"cost", R(r.books.cost_gpu, 2)},
                              {"gpus_allocated", R(r.gpu_utilisation(), 4)},
                              {"scheduling_delay_seconds", Dist(r.gpu_attempt_delay)}};
    }
    if (!r.teams.empty()) {
      json::object teams;
      for (const auto& [team, t] : r.teams) {
        json::object to{{"runs", t.runs}, {"wait_seconds", Dist(t.wait)}};
        if (r.policy.queues != Policy::Queues::kOff) to["queued_seconds"] = Dist(t.queued);
        teams[team] = std::move(to);
      }
      o["teams"] = std::move(teams);
    }
    o["waste"] =
        json::object{{"node_hours", R(r.wasted_node_hours, 2)}, {"cost", R(r.wasted_cost, 2)}};
    o["spot"] = json::object{{"interruptions", r.spot_interruptions}, {"pods_lost", r.pods_lost}};
    o["simulation"] = json::object{{"events", r.events},
                                   {"placements", r.placements},
                                   {"end_seconds", r.end / kMicrosPerSecond}};
    if (with_series) {
      json::array s;
      for (const Sample& x : r.series) {
        s.push_back(json::array{x.at / kMicrosPerSecond, x.on_demand, x.spot, x.provisioning,
                                x.pending_pods, x.running_attempts});
      }
      o["series"] =
          json::object{{"columns", json::array{"seconds", "on_demand", "spot", "provisioning",
                                               "pending_pods", "running_attempts"}},
                       {"rows", std::move(s)}};
    }
    policies.push_back(std::move(o));
  }
  json::object cfg{
      {"seed", c.config.seed},
      {"provisioning_delay_seconds", c.config.autoscaler.provisioning_delay / kMicrosPerSecond},
      {"scan_interval_seconds", c.config.autoscaler.scan_interval / kMicrosPerSecond},
      {"max_nodes", c.config.autoscaler.max_nodes},
      {"climate", ToString(c.config.climate)},
      {"executor_loss_tolerance", c.config.executor_loss_tolerance},
      {"serial_fraction", c.config.serial_fraction}};
  json::array types;
  for (const NodeType& t : c.config.node_types) {
    types.push_back(json::object{{"name", t.name},
                                 {"cpu", FormatCpu(t.cpu_millis)},
                                 {"memory", FormatMemory(t.memory_bytes)},
                                 {"on_demand_price", t.on_demand_price},
                                 {"spot_price", R(t.spot_price, 4)}});
    if (t.gpus > 0) types.back().as_object()["gpus"] = t.gpus;
  }
  cfg["node_types"] = std::move(types);
  if (!c.config.queues.empty()) {
    auto limit = [](int64_t v) {
      return v == queue::kUnlimited ? json::value(nullptr) : json::value(v);
    };
    json::array qs;
    for (const queue::QueueSpec& q : c.config.queues) {
      json::object qo{{"name", q.name},
                      {"weight", q.weight},
                      {"priority", q.priority},
                      {"max_running", limit(q.limits.max_running)},
                      {"cpu_millis", limit(q.limits.quota.cpu_millis)},
                      {"memory_bytes", limit(q.limits.quota.memory_bytes)},
                      {"gpu", limit(q.limits.quota.gpu)}};
      if (!q.cohort.empty()) qo["cohort"] = q.cohort;
      qs.push_back(std::move(qo));
    }
    cfg["queues"] = std::move(qs);
  }
  return json::object{{"trace", json::object{{"source", c.trace_source},
                                             {"spark_jobs", c.spark_jobs},
                                             {"container_jobs", c.container_jobs}}},
                      {"config", std::move(cfg)},
                      {"policies", std::move(policies)}};
}

std::string Markdown(const Comparison& c) {
  std::string cmp = CompareHeader(c);
  std::string out = "| metric |";
  std::string sep = "|---|";
  for (const PolicyResult& r : c.results) {
    out += " " + r.policy.label + " |";
    sep += "---:|";
  }
  if (!cmp.empty()) {
    out += " " + cmp + " |";
    sep += "---:|";
  }
  out += "\n" + sep + "\n";
  for (const Row& row : AllRows(c)) {
    out += "| " + row.label + " |";
    for (const PolicyResult& r : c.results) out += " " + row.cell(r) + " |";
    if (!cmp.empty()) {
      std::string ratio;
      if (row.value) {
        double first = row.value(c.results.front());
        double last = row.value(c.results.back());
        ratio = first > 0 ? fmt::format("{:.2f}×", last / first) : (last > 0 ? "n/a" : "—");
      }
      out += " " + ratio + " |";
    }
    out += "\n";
  }
  return out;
}

std::string TextTable(const Comparison& c) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head{"METRIC"};
  for (const PolicyResult& r : c.results) head.push_back(r.policy.label);
  rows.push_back(head);
  for (const Row& row : AllRows(c)) {
    std::vector<std::string> line{row.label};
    for (const PolicyResult& r : c.results) line.push_back(row.cell(r));
    rows.push_back(line);
  }
  // Display width: count UTF-8 code points, not bytes ("…", "×").
  auto width = [](const std::string& s) {
    size_t w = 0;
    for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> widths(head.size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], width(r[i]));
  }
  std::string out = fmt::format("trace: {} ({} Spark, {} container runs)\n", c.trace_source,
                                c.spark_jobs, c.container_jobs);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(widths[i] - width(r[i]) + 3, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace tug::sim
