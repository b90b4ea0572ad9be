#include "cost/pricing.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/quantity.h"

namespace tug::cost {

namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

bool IsSpot(const std::string& capacity) { return capacity == kSpot; }

// The local engine records the planner's placement but runs on the server's host, which has no
// capacity types: its attempts are never spot.
bool IsSpot(const Attempt& a, const std::string& capacity) {
  return a.engine != "local" && IsSpot(capacity);
}

std::string Hourly(double usd) { return fmt::format("${:.4g}/h", usd); }

std::string Hours(double seconds) {
  if (seconds < 10) return fmt::format("{:.1f} s", seconds);
  if (seconds < 120) return fmt::format("{:.0f} s", seconds);
  if (seconds < 7200) return fmt::format("{:.1f} min", seconds / 60);
  return fmt::format("{:.2f} h", seconds / 3600);
}

// One role's request and price, for the basis line.
struct Part {
  std::string what;  // "driver", "3 executors", ""
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int64_t gpu = 0;  // per pod
  int count = 1;
  bool spot = false;
};

std::string Describe(const PriceBook& book, const Part& p) {
  std::string req =
      fmt::format("{} cpu / {}", FormatCpu(p.cpu_millis), FormatMemory(p.memory_bytes));
  if (p.gpu > 0) req += fmt::format(" / {} GPU{}", p.gpu, p.gpu == 1 ? "" : "s");
  std::string who = p.what.empty() ? "requested " + req : p.what + " " + req;
  const char* cap = p.spot ? "spot" : "on-demand";
  if (std::optional<NodePrice> n = NodeFor(book, p.gpu)) {
    double hourly = p.spot ? n->spot_hourly : n->on_demand_hourly;
    return fmt::format("{} on {} {} ({}, share {:.3g})", who, n->type, cap, Hourly(hourly),
                       ShareOfNode(p.cpu_millis, p.memory_bytes, p.gpu, *n));
  }
  const double f = p.spot ? book.spot_fraction : 1.0;
  std::string gpus;
  if (p.gpu > 0) {
    gpus = book.gpu_hourly > 0 ? fmt::format(" + {}/GPU", Hourly(book.gpu_hourly * f))
                               : " (GPUs not priced: no gpu_hourly)";
  }
  return fmt::format("{} {} at {}/cpu + {}/GiB{}", who, cap, Hourly(book.cpu_hourly * f),
                     Hourly(book.gib_hourly * f), gpus);
}

}  // namespace

PriceBook DefaultPriceBook(double spot_fraction) {
  // Allocatable: capacity minus ~0.25 cpu and ~10 % memory for the kubelet, system and
  // daemonsets.
  auto t = [spot_fraction](const char* name, int64_t cpu, int64_t mem_gib, double on_demand) {
    return NodePrice{name, cpu * 1000 - 250, mem_gib * kGiB * 9 / 10, on_demand,
                     on_demand * spot_fraction};
  };
  PriceBook b;
  b.types = {t("m5.4xlarge", 16, 64, 0.768), t("r5.4xlarge", 16, 128, 1.008),
             t("r5.8xlarge", 32, 256, 2.016)};
  b.default_type = "m5.4xlarge";
  b.spot_fraction = spot_fraction;
  return b;
}

std::string_view ToString(ShareBasis basis) {
  return basis == ShareBasis::kUsed ? "used" : "requested";
}

Result<ShareBasis> ParseShareBasis(std::string_view text) {
  if (text == "requested") return ShareBasis::kRequested;
  if (text == "used") return ShareBasis::kUsed;
  return InvalidArgument(fmt::format("cost.basis '{}' is not known; use requested or used", text));
}

PriceBook ServerDefaultPriceBook() {
  PriceBook b = DefaultPriceBook();
  b.engines["local"] = EnginePrice{"", kLocalCpuHourly, kLocalGibHourly};
  return b;
}

PriceBook ForEngine(const PriceBook& book, const std::string& engine) {
  // Attempts name their engine instance ("kubernetes:prod", "spark:prod"): an entry for the
  // instance wins over one for the kind.
  auto it = book.engines.find(engine);
  if (it == book.engines.end()) it = book.engines.find(engine.substr(0, engine.find(':')));
  if (it == book.engines.end()) return book;
  PriceBook b = book;
  b.engines.clear();
  if (!it->second.node_type.empty()) {
    b.default_type = it->second.node_type;
  } else {
    b.types.clear();
    b.default_type.clear();
    b.cpu_hourly = it->second.cpu_hourly;
    b.gib_hourly = it->second.gib_hourly;
    b.gpu_hourly = it->second.gpu_hourly;
  }
  return b;
}

Status Validate(const PriceBook& book) {
  std::set<std::string> names;
  for (size_t i = 0; i < book.types.size(); ++i) {
    const NodePrice& t = book.types[i];
    std::string where = fmt::format("cost.node_types[{}]", i);
    if (t.type.empty()) return InvalidArgument(where + ".type is empty; name the instance type");
    if (!names.insert(t.type).second) {
      return InvalidArgument(fmt::format("{}: type '{}' is listed twice", where, t.type));
    }
    if (t.cpu_millis <= 0 || t.memory_bytes <= 0) {
      return InvalidArgument(
          fmt::format("{} ('{}'): cpu and memory (allocatable) must be positive", where, t.type));
    }
    if (!(t.on_demand_hourly >= 0) || !(t.spot_hourly >= 0) || !std::isfinite(t.on_demand_hourly) ||
        !std::isfinite(t.spot_hourly)) {
      return InvalidArgument(fmt::format(
          "{} ('{}'): on_demand and spot prices must be finite numbers >= 0", where, t.type));
    }
  }
  if (!book.default_type.empty() && names.count(book.default_type) == 0) {
    return InvalidArgument(fmt::format(
        "cost.default_type '{}' is not one of cost.node_types; add it or pick a listed type",
        book.default_type));
  }
  if (!(book.cpu_hourly >= 0) || !(book.gib_hourly >= 0) || !std::isfinite(book.cpu_hourly) ||
      !std::isfinite(book.gib_hourly)) {
    return InvalidArgument("cost.cpu_hourly and cost.gib_hourly must be finite numbers >= 0");
  }
  for (const auto& [engine, e] : book.engines) {
    std::string where = fmt::format("cost.engines.{}", engine);
    if (!e.node_type.empty()) {
      if (names.count(e.node_type) == 0) {
        return InvalidArgument(fmt::format(
            "{}.node_type '{}' is not one of cost.node_types; add it or pick a listed type", where,
            e.node_type));
      }
      if (e.cpu_hourly != 0 || e.gib_hourly != 0) {
        return InvalidArgument(
            fmt::format("{} sets both node_type and flat rates; keep one of them", where));
      }
      continue;
    }
    if (!(e.cpu_hourly >= 0) || !(e.gib_hourly >= 0) || !std::isfinite(e.cpu_hourly) ||
        !std::isfinite(e.gib_hourly)) {
      return InvalidArgument(
          fmt::format("{}.cpu_hourly and gib_hourly must be finite numbers >= 0", where));
    }
    if (e.cpu_hourly == 0 && e.gib_hourly == 0) {
      return InvalidArgument(
          fmt::format("{} has no prices; set node_type, or cpu_hourly and/or gib_hourly", where));
    }
  }
  if (!(book.spot_fraction > 0 && book.spot_fraction <= 1)) {
    return InvalidArgument(fmt::format(
        "cost.spot_fraction {} must be in (0, 1]: spot's price as a fraction of on-demand",
        book.spot_fraction));
  }
  return OkStatus();
}

const NodePrice* DefaultType(const PriceBook& book) {
  if (book.types.empty()) return nullptr;
  for (const NodePrice& t : book.types) {
    if (t.type == book.default_type) return &t;
  }
  return &book.types.front();
}

double ShareOfNode(int64_t cpu_millis, int64_t memory_bytes, const NodePrice& node) {
  if (node.cpu_millis <= 0 || node.memory_bytes <= 0) return 0;
  return std::max(
      static_cast<double>(std::max<int64_t>(cpu_millis, 0)) / static_cast<double>(node.cpu_millis),
      static_cast<double>(std::max<int64_t>(memory_bytes, 0)) /
          static_cast<double>(node.memory_bytes));
}

double PodCost(int64_t cpu_millis, int64_t memory_bytes, const NodePrice& node, bool spot,
               double seconds) {
  if (seconds <= 0) return 0;
  double hourly = spot ? node.spot_hourly : node.on_demand_hourly;
  return ShareOfNode(cpu_millis, memory_bytes, node) * hourly * seconds / 3600.0;
}

std::vector<NodePrice> DefaultGpuPrices(double spot_fraction) {
  auto t = [spot_fraction](const char* name, int64_t cpu, int64_t mem_gib, int64_t gpus,
                           double on_demand) {
    return NodePrice{name,      cpu * 1000 - 250,          mem_gib * kGiB * 9 / 10,
                     on_demand, on_demand * spot_fraction, gpus};
  };
  return {t("g5.xlarge", 4, 16, 1, 1.006), t("g5.2xlarge", 8, 32, 1, 1.212),
          t("g5.12xlarge", 48, 192, 4, 5.672), t("p3.8xlarge", 32, 244, 4, 12.24)};
}

double ShareOfNode(int64_t cpu_millis, int64_t memory_bytes, int64_t gpu, const NodePrice& node) {
  double share = ShareOfNode(cpu_millis, memory_bytes, node);
  if (node.gpus > 0 && gpu > 0) {
    share = std::max(share, static_cast<double>(gpu) / static_cast<double>(node.gpus));
  }
  return share;
}

double PodCost(int64_t cpu_millis, int64_t memory_bytes, int64_t gpu, const NodePrice& node,
               bool spot, double seconds) {
  if (seconds <= 0) return 0;
  double hourly = spot ? node.spot_hourly : node.on_demand_hourly;
  return ShareOfNode(cpu_millis, memory_bytes, gpu, node) * hourly * seconds / 3600.0;
}

double PodCost(const PriceBook& book, int64_t cpu_millis, int64_t memory_bytes, bool spot,
               double seconds) {
  if (const NodePrice* n = DefaultType(book)) {
    return PodCost(cpu_millis, memory_bytes, *n, spot, seconds);
  }
  if (seconds <= 0) return 0;
  double hourly = static_cast<double>(std::max<int64_t>(cpu_millis, 0)) / 1000.0 * book.cpu_hourly +
                  static_cast<double>(std::max<int64_t>(memory_bytes, 0)) /
                      static_cast<double>(kGiB) * book.gib_hourly;
  return hourly * (spot ? book.spot_fraction : 1.0) * seconds / 3600.0;
}

std::optional<NodePrice> NodeFor(const PriceBook& book, int64_t gpu) {
  const NodePrice* def = DefaultType(book);
  if (def == nullptr) return std::nullopt;
  if (gpu <= 0) return *def;
  auto cheapest = [gpu](const std::vector<NodePrice>& types) -> const NodePrice* {
    const NodePrice* best = nullptr;
    for (const NodePrice& t : types) {
      if (t.gpus >= gpu && (best == nullptr || t.on_demand_hourly < best->on_demand_hourly)) {
        best = &t;
      }
    }
    return best;
  };
  if (const NodePrice* n = cheapest(book.types)) return *n;
  const std::vector<NodePrice> builtin = DefaultGpuPrices(book.spot_fraction);
  if (const NodePrice* n = cheapest(builtin)) return *n;
  // More GPUs than any node has: the engines refuse such a pod; price it on the largest.
  return *std::max_element(builtin.begin(), builtin.end(),
                           [](const NodePrice& a, const NodePrice& b) { return a.gpus < b.gpus; });
}

double PodCost(const PriceBook& book, int64_t cpu_millis, int64_t memory_bytes, int64_t gpu,
               bool spot, double seconds) {
  if (gpu <= 0) return PodCost(book, cpu_millis, memory_bytes, spot, seconds);
  if (std::optional<NodePrice> n = NodeFor(book, gpu)) {
    return PodCost(cpu_millis, memory_bytes, gpu, *n, spot, seconds);
  }
  if (seconds <= 0) return 0;
  return PodCost(book, cpu_millis, memory_bytes, spot, seconds) +
         static_cast<double>(gpu) * book.gpu_hourly * (spot ? book.spot_fraction : 1.0) * seconds /
             3600.0;
}

AttemptCost PriceAttempt(const PriceBook& engine_book, const Attempt& a, const std::string& kind,
                         Micros now) {
  const PriceBook book = ForEngine(engine_book, a.engine);
  AttemptCost c;
  c.attempt_id = a.id;
  c.number = a.number;
  c.failed = a.status == AttemptStatus::kFailed || a.status == AttemptStatus::kLost;
  if (a.started_at <= 0) {
    c.basis = "never started: nothing to price";
    return c;
  }
  Micros end = a.ended_at > 0 ? a.ended_at : now;
  c.running = a.ended_at <= 0;
  c.seconds = static_cast<double>(std::max<Micros>(end - a.started_at, 0)) /
              static_cast<double>(kMicrosPerSecond);
  std::vector<Part> parts;
  const SparkResources& s = a.resources.spark;
  if (kind == "spark" && !s.empty()) {
    auto pod_memory = [](const SparkRole& r) { return r.memory_bytes + EffectiveOverhead(r); };
    parts.push_back({"driver", s.driver.cpu_millis, pod_memory(s.driver), 0, 1,
                     IsSpot(a, a.placement.capacity)});
    int executors = s.instances > 0 ? s.instances : s.min_executors;
    if (executors > 0) {
      parts.push_back({fmt::format("{} executor{} ×", executors, executors == 1 ? "" : "s"),
                       s.executor.cpu_millis, pod_memory(s.executor), a.resources.gpu, executors,
                       IsSpot(a, a.placement.executor_capacity)});
    }
  } else {
    // A container without a cpu request still holds a slice of a node: price 0.1 cpu, as
    // the Kubernetes engine's default request; memory likewise at least 64Mi.
    parts.push_back({"", std::max<int64_t>(a.resources.cpu_millis, 100),
                     std::max<int64_t>(a.resources.memory_bytes, 64 * kMiB), a.resources.gpu, 1,
                     IsSpot(a, a.placement.capacity)});
  }
  std::string basis;
  for (const Part& p : parts) {
    c.usd += p.count * PodCost(book, p.cpu_millis, p.memory_bytes, p.gpu, p.spot, c.seconds);
    basis += (basis.empty() ? "" : "; ") + Describe(book, p);
  }
  c.basis = fmt::format("{}; {}{}", basis, Hours(c.seconds), c.running ? " so far" : "");
  return c;
}

AttemptCost PriceAttemptUsed(const PriceBook& engine_book, const Attempt& a,
                             const std::string& kind, const std::vector<UsageSlice>& usage,
                             Micros now) {
  AttemptCost c = PriceAttempt(engine_book, a, kind, now);
  if (a.started_at <= 0) return c;
  const PriceBook book = ForEngine(engine_book, a.engine);
  const Micros end = a.ended_at > 0 ? a.ended_at : now;
  double usd = 0;
  double covered = 0;  // component-seconds with samples
  std::set<std::string> components;
  for (const UsageSlice& u : usage) {
    // A bucket is aligned to the attempt's start but may reach past its end.
    const Micros lo = std::max(u.at, a.started_at);
    const Micros hi = std::min(u.at + u.width, end);
    if (hi <= lo) continue;
    const double seconds = static_cast<double>(hi - lo) / static_cast<double>(kMicrosPerSecond);
    const bool executor = u.component.starts_with("executor");
    const bool spot = IsSpot(a, executor ? a.placement.executor_capacity : a.placement.capacity);
    // A pod holds its GPUs whatever it uses: Spark executors and plain containers have them,
    // a Spark driver none.
    const bool spark = kind == "spark" && !a.resources.spark.empty();
    const int64_t gpu = !spark || executor ? a.resources.gpu : 0;
    usd += PodCost(book, u.cpu_millis, u.memory_bytes, gpu, spot, seconds);
    covered += seconds;
    components.insert(u.component);
  }
  if (components.empty()) {
    c.basis = "no usage samples, priced as requested: " + c.basis;
    return c;
  }
  const NodePrice* n = DefaultType(book);
  c.usd = usd;
  c.basis = fmt::format(
      "used cpu (mean) / memory (peak) of {} component{} over {} sampled{}, {}; "
      "{}{}",
      components.size(), components.size() == 1 ? "" : "s", Hours(covered),
      n != nullptr ? " on " + n->type : std::string(),
      n != nullptr ? "dominant share of the node" : "at flat rates", Hours(c.seconds),
      c.running ? " so far" : "");
  return c;
}

std::string KindOf(const Attempt& a) { return a.resources.spark.empty() ? "container" : "spark"; }

std::string FormatUsd(double usd) {
  if (usd == 0) return "$0";
  if (usd < 0) return "-" + FormatUsd(-usd);
  if (usd >= 0.01) return fmt::format("${:.2f}", usd);
  // Two significant digits of a fraction of a cent, written out (no exponent).
  const int decimals = 1 - static_cast<int>(std::floor(std::log10(usd)));
  return fmt::format("${:.{}f}", usd, std::min(decimals, 12));
}

RunCost PriceRun(const PriceBook& book, const Run& run, Micros now) {
  RunCost r;
  for (const Attempt& a : run.attempts) {
    AttemptCost c = PriceAttempt(book, a, run.spec.kind, now);
    r.usd += c.usd;
    if (c.failed) r.failed_usd += c.usd;
    r.attempts.push_back(std::move(c));
  }
  return r;
}

}  // namespace tug::cost
