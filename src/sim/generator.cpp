#include "sim/generator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "core/model.h"
#include "sim/rng.h"

namespace tug::sim {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

// ---------------------------------------------------------------- parameters by name

struct ParamEntry {
  const char* name;
  const char* doc;
  std::function<std::string(const GeneratorParams&)> get;
  std::function<Status(GeneratorParams&, double)> set;
};

template <class T>
ParamEntry Entry(const char* name, T GeneratorParams::*field, double lo, double hi,
                 const char* doc) {
  return ParamEntry{name, doc,
                    [field](const GeneratorParams& p) { return fmt::format("{}", p.*field); },
                    [field, name, lo, hi](GeneratorParams& p, double v) -> Status {
                      if (!(v >= lo && v <= hi)) {
                        return InvalidArgument(fmt::format(
                            "generator parameter '{}' must be in [{}, {}]", name, lo, hi));
                      }
                      if constexpr (std::is_integral_v<T>) {
                        if (v != std::floor(v)) {
                          return InvalidArgument(
                              fmt::format("generator parameter '{}' must be a whole number", name));
                        }
                      }
                      p.*field = static_cast<T>(v);
                      return OkStatus();
                    }};
}

const std::vector<ParamEntry>& Params() {
  using P = GeneratorParams;
  static const std::vector<ParamEntry> kParams = {
      Entry("seed", &P::seed, 0, 9e15, "seed of the generator's random stream"),
      Entry("spark_jobs", &P::spark_jobs, 0, 1e7, "Spark runs in the day"),
      Entry("container_jobs", &P::container_jobs, 0, 1e7, "plain container runs in the day"),
      Entry("users", &P::users, 1, 1e6, "data scientists submitting them"),
      Entry("day_s", &P::day_s, 60, 30 * 86400.0, "length of the day in seconds"),
      Entry("scheduled_share", &P::scheduled_share, 0, 1,
            "share of runs from cron-scheduled pipelines (the rest: ad-hoc sessions)"),
      Entry("hourly_share", &P::hourly_share, 0, 1, "share of pipelines that run hourly"),
      Entry("four_hourly_share", &P::four_hourly_share, 0, 1,
            "share of pipelines that run every 4 hours (the rest run daily)"),
      Entry("night_share", &P::night_share, 0, 1,
            "share of daily pipelines in the 00:00-06:00 ETL window (the rest follow the "
            "working-day curve)"),
      Entry("top_of_hour_share", &P::top_of_hour_share, 0, 1,
            "share of schedules at minute :00, which makes bursts"),
      Entry("session_runs_mean", &P::session_runs_mean, 1, 1000,
            "mean ad-hoc runs per exploration session (geometric)"),
      Entry("session_gap_s", &P::session_gap_s, 0, 86400, "mean seconds between runs of a session"),
      Entry("spark_duration_median_s", &P::spark_duration_median_s, 1, 86400,
            "median Spark duration at the requested size (log-normal)"),
      Entry("container_duration_median_s", &P::container_duration_median_s, 1, 86400,
            "median container duration (log-normal)"),
      Entry("duration_sigma", &P::duration_sigma, 0, 5, "log-normal sigma of pipeline durations"),
      Entry("run_jitter", &P::run_jitter, 0, 2, "log-normal sigma of a run around its pipeline"),
      Entry("max_duration_s", &P::max_duration_s, 60, 7 * 86400.0, "durations are cut here"),
      Entry("executors_median", &P::executors_median, 1, 10000,
            "median executors requested (log-normal)"),
      Entry("executors_sigma", &P::executors_sigma, 0, 5, "log-normal sigma of executors"),
      Entry("max_executors", &P::max_executors, 1, 10000, "executors requested are cut here"),
      Entry("pyspark_share", &P::pyspark_share, 0, 1,
            "share of Spark pipelines that set memoryOverhead explicitly"),
      Entry("undersized_share", &P::undersized_share, 0, 1,
            "share of Spark pipelines whose executor heap peak exceeds the request"),
      Entry("overhead_undersized_share", &P::overhead_undersized_share, 0, 1,
            "share whose executor non-heap peak exceeds memoryOverhead"),
      Entry("driver_undersized_share", &P::driver_undersized_share, 0, 1,
            "share whose driver heap peak exceeds the request"),
      Entry("container_undersized_share", &P::container_undersized_share, 0, 1,
            "share of container pipelines whose peak exceeds their memory"),
      Entry("usage_low", &P::usage_low, 0.01, 1, "right-sized peaks: lowest peak/request"),
      Entry("usage_high", &P::usage_high, 0.01, 1, "right-sized peaks: highest peak/request"),
      Entry("excess_median", &P::excess_median, 0.001, 100,
            "under-sized peaks: median of peak/request - 1 (log-normal)"),
      Entry("excess_sigma", &P::excess_sigma, 0, 5, "log-normal sigma of that excess"),
      Entry("peak_jitter", &P::peak_jitter, 0, 2, "log-normal sigma of a run's peaks"),
      Entry("transient_share", &P::transient_share, 0, 1,
            "runs whose first attempt hits a transient error"),
      Entry("transient_repeat", &P::transient_repeat, 0, 1,
            "of those, share whose second attempt hits one too"),
      Entry("user_error_scheduled", &P::user_error_scheduled, 0, 1,
            "scheduled runs that fail in user code on every attempt"),
      Entry("user_error_adhoc", &P::user_error_adhoc, 0, 1,
            "ad-hoc runs that fail in user code on every attempt"),
      Entry("timeout_share", &P::timeout_share, 0, 1,
            "Spark runs that hit a timeout (broadcast, RPC) on every attempt"),
      Entry("timeout_curable_share", &P::timeout_curable_share, 0, 1,
            "of those, the share that 1.2-2x their executors cure (the rest: a slow "
            "dependency no resize fixes)"),
      Entry("critical_share", &P::critical_share, 0, 1,
            "pipelines marked critical (adapt keeps them on on-demand)"),
      Entry("gpu_share", &P::gpu_share, 0, 1,
            "share of container pipelines that ask for GPUs (1, 2 or 4; at least 2 cpu and 8Gi "
            "per GPU)"),
      Entry("spark_gpu_share", &P::spark_gpu_share, 0, 1,
            "share of Spark pipelines whose executors ask for a GPU each"),
      Entry("teams", &P::teams, 0, 1000,
            "teams (queues a, b, c, ...); users join them round-robin; 0: no queue in the trace"),
      Entry("flood_teams", &P::flood_teams, 0, 1000, "the first this many teams flood"),
      Entry("flood_runs", &P::flood_runs, 0, 1e7,
            "extra runs each flooding team submits (class backfill)"),
      Entry("flood_bursts", &P::flood_bursts, 1, 10000, "bursts those runs come in"),
      Entry("flood_from_s", &P::flood_from_s, 0, 30 * 86400.0, "first burst (seconds in the day)"),
      Entry("flood_to_s", &P::flood_to_s, 0, 30 * 86400.0,
            "bursts are evenly spaced before this time"),
      Entry("flood_spread_s", &P::flood_spread_s, 0, 86400,
            "a burst's runs arrive uniformly within this many seconds"),
  };
  return kParams;
}

// ---------------------------------------------------------------- the model

// Relative ad-hoc activity per hour of the day: quiet nights, a lunch dip, a long evening tail.
constexpr double kHourWeights[24] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4,  0.8, 1.0,  1.0, 1.0,
                                     0.7, 0.9, 1.0, 1.0, 0.9, 0.7, 0.5, 0.35, 0.3, 0.25, 0.2, 0.15};

struct Template {
  std::string name;
  std::string user;
  std::string queue;
  std::string kind;
  std::string klass;
  RoleSize driver;
  RoleSize executor;
  int instances = 0;
  RoleSize container;
  // peak / limit per part: > 1 means the part runs out of memory.
  double exec_heap = 0;
  double exec_offheap = 0;
  double driver_heap = 0;
  double driver_offheap = 0;
  double duration_s = 0;
  double peak_at = 0.6;
  bool critical = false;
  int64_t gpu = 0;  // per container, per executor for Spark
};

struct Run {
  const Template* t = nullptr;
  double submit_s = 0;
  size_t order = 0;  // generation order, the tie-break
};

class Gen {
 public:
  Gen(const GeneratorParams& p, Rng rng) : p_(p), rng_(rng), gpu_rng_(rng.Fork(0x6b0)) {
    for (int i = 0; i < p.users; ++i) {
      users_.push_back(fmt::format("u{:03d}", i));
      if (p.teams > 0) team_of_[users_.back()] = TeamName(i % p.teams, p.teams);
      // Some users explore far more than others.
      activity_.push_back(rng_.LogNormal(1.0, 1.0));
    }
  }

  /// The ordinary day.
  Result<Trace> Make();
  /// Only the flooding teams' extra runs.
  Result<Trace> MakeFlood();

 private:
  Result<Trace> Finish();
  double UsageRatio(double undersized_share) {
    if (rng_.Bernoulli(undersized_share)) {
      return 1.0 + rng_.LogNormal(p_.excess_median, p_.excess_sigma);
    }
    return rng_.Uniform(p_.usage_low, std::max(p_.usage_low, p_.usage_high));
  }
  double Duration(double median) {
    return std::clamp(rng_.LogNormal(median, p_.duration_sigma), 60.0, p_.max_duration_s);
  }
  Template& NewTemplate(const std::string& user, bool spark, const std::string& klass);
  /// Start times of one pipeline's runs over the day.
  std::vector<double> Schedule();
  double AdhocSessionStart() {
    double hour = static_cast<double>(rng_.Weighted(hour_weights_)) + rng_.Uniform();
    return hour / 24.0 * p_.day_s;
  }
  void Scheduled(bool spark, int count);
  void Adhoc(bool spark, int count);
  TraceJob Materialize(const Run& r);
  Peak JitterPeak(int64_t heap_limit, double heap_ratio, int64_t offheap_limit, double off_ratio);

  /// Makes a pipeline a GPU one (gpu_share, spark_gpu_share) from its own stream, so a day
  /// with GPU jobs is the day without them with some pipelines asking for GPUs.
  void MaybeGpu(Template& t);

  const GeneratorParams& p_;
  Rng rng_;
  Rng gpu_rng_;
  std::vector<std::string> users_;
  std::map<std::string, std::string> team_of_;
  std::vector<double> activity_;
  std::vector<double> hour_weights_{std::begin(kHourWeights), std::end(kHourWeights)};
  std::vector<std::unique_ptr<Template>> templates_;
  std::vector<Run> runs_;
  int pipeline_seq_ = 0;
};

template <class T>
T Pick(Rng& rng, const std::vector<T>& values, const std::vector<double>& weights) {
  return values[rng.Weighted(weights)];
}

Template& Gen::NewTemplate(const std::string& user, bool spark, const std::string& klass) {
  auto t = std::make_unique<Template>();
  t->user = user;
  if (auto it = team_of_.find(user); it != team_of_.end()) t->queue = it->second;
  t->klass = klass;
  t->kind = spark ? "spark" : "container";
  t->name = fmt::format("{}-{}-{:04d}", user,
                        klass == "scheduled"  ? (spark ? "etl" : "task")
                        : klass == "backfill" ? (spark ? "backfill" : "sweep")
                                              : (spark ? "explore" : "script"),
                        ++pipeline_seq_);
  if (spark) {
    auto cores = Pick<int64_t>(rng_, {2, 4, 8}, {0.35, 0.5, 0.15});
    auto gib_per_core = Pick<int64_t>(rng_, {2, 3, 4, 6, 8}, {0.25, 0.25, 0.3, 0.15, 0.05});
    t->executor.cpu_millis = cores * 1000;
    t->executor.memory_bytes = std::min<int64_t>(cores * gib_per_core, 40) * kGiB;
    if (rng_.Bernoulli(p_.pyspark_share)) t->executor.overhead_bytes = cores * 512 * kMiB;
    t->driver.cpu_millis = Pick<int64_t>(rng_, {1000, 2000}, {0.7, 0.3});
    t->driver.memory_bytes = Pick<int64_t>(rng_, {2 * kGiB, 4 * kGiB, 8 * kGiB}, {0.3, 0.45, 0.25});
    double n = std::round(rng_.LogNormal(p_.executors_median, p_.executors_sigma));
    t->instances = static_cast<int>(std::clamp(n, 1.0, static_cast<double>(p_.max_executors)));
    t->exec_heap = UsageRatio(p_.undersized_share);
    t->exec_offheap = UsageRatio(p_.overhead_undersized_share);
    t->driver_heap = UsageRatio(p_.driver_undersized_share);
    t->driver_offheap = UsageRatio(0);
    t->duration_s = Duration(p_.spark_duration_median_s);
  } else {
    t->container.cpu_millis = Pick<int64_t>(rng_, {500, 1000, 2000, 4000}, {0.2, 0.4, 0.3, 0.1});
    t->container.memory_bytes = Pick<int64_t>(
        rng_, {1 * kGiB, 2 * kGiB, 4 * kGiB, 8 * kGiB, 16 * kGiB}, {0.15, 0.3, 0.3, 0.2, 0.05});
    t->exec_heap = UsageRatio(p_.container_undersized_share);
    t->duration_s = Duration(p_.container_duration_median_s);
  }
  t->peak_at = rng_.Uniform(0.3, 0.9);
  t->critical = rng_.Bernoulli(p_.critical_share);
  MaybeGpu(*t);
  templates_.push_back(std::move(t));
  return *templates_.back();
}

void Gen::MaybeGpu(Template& t) {
  const bool spark = t.kind == "spark";
  const double share = spark ? p_.spark_gpu_share : p_.gpu_share;
  if (share <= 0 || !gpu_rng_.Bernoulli(share)) return;
  if (spark) {
    // Spark on GPUs (RAPIDS): one GPU per executor.
    t.gpu = 1;
    return;
  }
  // Training and inference jobs: 1, 2 or 4 GPUs, with at least 2 cpu and 8Gi per GPU to feed
  // them (data loaders, pinned host memory).
  t.gpu = Pick<int64_t>(gpu_rng_, {1, 2, 4}, {0.6, 0.25, 0.15});
  t.container.cpu_millis = std::max<int64_t>(t.container.cpu_millis, 2000 * t.gpu);
  t.container.memory_bytes = std::max<int64_t>(t.container.memory_bytes, 8 * kGiB * t.gpu);
}

std::vector<double> Gen::Schedule() {
  double u = rng_.Uniform();
  double minute = rng_.Bernoulli(p_.top_of_hour_share) ? 0.0 : static_cast<double>(rng_.Below(60));
  std::vector<double> starts;
  double hours_in_day = p_.day_s / 3600.0;
  auto add = [&](double hour) {
    // The workflow scheduler's own lag: up to 30 s after the cron time.
    double t = hour * 3600.0 + minute * 60.0 + rng_.Uniform(0, 30);
    if (t < p_.day_s) starts.push_back(t);
  };
  if (u < p_.hourly_share) {
    for (double h = 0; h < hours_in_day; h += 1) add(h);
  } else if (u < p_.hourly_share + p_.four_hourly_share) {
    auto offset = static_cast<double>(rng_.Below(4));
    for (double h = offset; h < hours_in_day; h += 4) add(h);
  } else {
    double hour = rng_.Bernoulli(p_.night_share)
                      ? static_cast<double>(rng_.Below(6))
                      : static_cast<double>(rng_.Weighted(hour_weights_));
    add(std::fmod(hour, std::max(1.0, std::floor(hours_in_day))));
  }
  return starts;
}

void Gen::Scheduled(bool spark, int count) {
  int made = 0;
  while (made < count) {
    const std::string& user = users_[rng_.Below(users_.size())];
    Template& t = NewTemplate(user, spark, "scheduled");
    for (double s : Schedule()) {
      if (made >= count) break;
      runs_.push_back({&t, s, runs_.size()});
      ++made;
    }
  }
}

void Gen::Adhoc(bool spark, int count) {
  int made = 0;
  while (made < count) {
    const std::string& user = users_[rng_.Weighted(activity_)];
    Template& t = NewTemplate(user, spark, "adhoc");
    double s = AdhocSessionStart();
    // Geometric number of runs with the given mean: the user iterates on one notebook job.
    double stop = 1.0 / std::max(p_.session_runs_mean, 1.0);
    do {
      if (s >= p_.day_s) break;
      runs_.push_back({&t, s, runs_.size()});
      ++made;
      s += rng_.Exponential(p_.session_gap_s) + t.duration_s * 0.5;
    } while (made < count && !rng_.Bernoulli(stop));
  }
}

Peak Gen::JitterPeak(int64_t heap_limit, double heap_ratio, int64_t offheap_limit,
                     double off_ratio) {
  auto mib = [](double bytes) { return static_cast<int64_t>(std::ceil(bytes / kMiB)) * kMiB; };
  Peak p;
  p.heap_bytes =
      mib(static_cast<double>(heap_limit) * heap_ratio * std::exp(p_.peak_jitter * rng_.Normal()));
  p.offheap_bytes = offheap_limit > 0 ? mib(static_cast<double>(offheap_limit) * off_ratio *
                                            std::exp(p_.peak_jitter * rng_.Normal()))
                                      : 0;
  return p;
}

TraceJob Gen::Materialize(const Run& r) {
  const Template& t = *r.t;
  TraceJob j;
  j.user = t.user;
  j.queue = t.queue;
  j.name = t.name;
  j.kind = t.kind;
  j.klass = t.klass;
  j.submit = static_cast<Micros>(std::llround(r.submit_s * 1000.0)) * kMicrosPerMilli;
  j.duration_s = std::round(
      std::clamp(t.duration_s * std::exp(p_.run_jitter * rng_.Normal()), 30.0, p_.max_duration_s));
  j.peak_at = std::round(t.peak_at * 1000) / 1000;
  j.critical = t.critical;
  j.gpu = t.gpu;
  if (j.spark()) {
    j.driver = t.driver;
    j.executor = t.executor;
    j.instances = t.instances;
    auto overhead = [](const RoleSize& r2) {
      SparkRole role{r2.cpu_millis, r2.memory_bytes, r2.overhead_bytes};
      return EffectiveOverhead(role);
    };
    j.driver_peak =
        JitterPeak(t.driver.memory_bytes, t.driver_heap, overhead(t.driver), t.driver_offheap);
    j.executor_peak =
        JitterPeak(t.executor.memory_bytes, t.exec_heap, overhead(t.executor), t.exec_offheap);
  } else {
    j.container = t.container;
    j.container_peak_bytes = JitterPeak(t.container.memory_bytes, t.exec_heap, 0, 0).heap_bytes;
  }
  double user_error = t.klass == "adhoc" ? p_.user_error_adhoc : p_.user_error_scheduled;
  if (rng_.Bernoulli(user_error)) {
    j.failures.push_back(
        {Injection::Kind::kUserError, {}, std::round(rng_.Uniform(0.05, 0.3) * 1000) / 1000, 0});
  }
  if (rng_.Bernoulli(p_.transient_share)) {
    std::vector<int> attempts{1};
    if (rng_.Bernoulli(p_.transient_repeat)) attempts.push_back(2);
    j.failures.push_back({Injection::Kind::kTransient, attempts,
                          std::round(rng_.Uniform(0.1, 0.9) * 1000) / 1000, 0});
  }
  if (j.spark() && rng_.Bernoulli(p_.timeout_share)) {
    int need = static_cast<int>(std::ceil(t.instances * rng_.Uniform(1.2, 2.0)));
    double at = std::round(rng_.Uniform(0.5, 0.95) * 1000) / 1000;
    bool curable = rng_.Bernoulli(p_.timeout_curable_share);
    j.failures.push_back(
        {Injection::Kind::kTimeout, {}, at, curable ? std::max(need, t.instances + 1) : 0});
  }
  return j;
}

Result<Trace> Gen::Make() {
  int spark_sched = static_cast<int>(std::llround(p_.spark_jobs * p_.scheduled_share));
  int cont_sched = static_cast<int>(std::llround(p_.container_jobs * p_.scheduled_share));
  Scheduled(true, spark_sched);
  Adhoc(true, p_.spark_jobs - spark_sched);
  Scheduled(false, cont_sched);
  Adhoc(false, p_.container_jobs - cont_sched);
  return Finish();
}

Result<Trace> Gen::MakeFlood() {
  double spark_share =
      static_cast<double>(p_.spark_jobs) / std::max(1, p_.spark_jobs + p_.container_jobs);
  double step = (p_.flood_to_s - p_.flood_from_s) / p_.flood_bursts;
  for (int team = 0; team < std::min(p_.flood_teams, p_.teams); ++team) {
    // The team's members: users team, team + teams, ...
    std::vector<std::string> members;
    for (int u = team; u < p_.users; u += p_.teams) members.push_back(users_[u]);
    if (members.empty()) continue;
    for (int b = 0; b < p_.flood_bursts; ++b) {
      // One burst: a sweep or backfill of one job, many runs at once.
      int runs = p_.flood_runs / p_.flood_bursts + (b < p_.flood_runs % p_.flood_bursts ? 1 : 0);
      const std::string& user = members[rng_.Below(members.size())];
      Template& t = NewTemplate(user, rng_.Bernoulli(spark_share), "backfill");
      double at = p_.flood_from_s + step * b;
      for (int i = 0; i < runs; ++i) {
        double s = at + rng_.Uniform(0, p_.flood_spread_s);
        if (s < p_.day_s) runs_.push_back({&t, s, runs_.size()});
      }
    }
  }
  return Finish();
}

Result<Trace> Gen::Finish() {
  std::stable_sort(runs_.begin(), runs_.end(), [](const Run& a, const Run& b) {
    return a.submit_s != b.submit_s ? a.submit_s < b.submit_s : a.order < b.order;
  });
  Trace trace;
  trace.source = fmt::format("generated: seed={} spark_jobs={} container_jobs={} users={}", p_.seed,
                             p_.spark_jobs, p_.container_jobs, p_.users);
  trace.jobs.reserve(runs_.size());
  for (const Run& r : runs_) {
    TraceJob j = Materialize(r);
    j.id = fmt::format("j{:06d}", trace.jobs.size() + 1);
    RETURN_IF_ERROR(ValidateJob(j, "generated job " + j.id));
    trace.jobs.push_back(std::move(j));
  }
  RETURN_IF_ERROR(Normalize(trace));
  return trace;
}

}  // namespace

std::string TeamName(int i, int teams) {
  if (teams <= 26) return std::string(1, static_cast<char>('a' + i));
  return fmt::format("t{:03d}", i + 1);
}

Status SetParam(GeneratorParams& p, std::string_view key, std::string_view value) {
  for (const ParamEntry& e : Params()) {
    if (key != e.name) continue;
    double v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
      return InvalidArgument(
          fmt::format("generator parameter '{}' needs a number, not '{}'", key, value));
    }
    return e.set(p, v);
  }
  std::string names;
  for (const ParamEntry& e : Params()) names += (names.empty() ? "" : ", ") + std::string(e.name);
  return InvalidArgument(fmt::format("unknown generator parameter '{}'; known: {}", key, names));
}

std::vector<ParamDoc> DescribeParams(const GeneratorParams& p) {
  std::vector<ParamDoc> out;
  for (const ParamEntry& e : Params()) out.push_back({e.name, e.get(p), e.doc});
  return out;
}

Result<Trace> Generate(const GeneratorParams& p) {
  if (p.spark_jobs + p.container_jobs <= 0) {
    return InvalidArgument("nothing to generate: spark_jobs + container_jobs must be > 0");
  }
  if (p.hourly_share + p.four_hourly_share > 1) {
    return InvalidArgument("hourly_share + four_hourly_share must be at most 1");
  }
  if (p.flood_teams > p.teams) {
    return InvalidArgument("flood_teams must be at most teams (set teams too)");
  }
  if (p.flood_runs > 0 && p.flood_teams > 0 && !(p.flood_to_s > p.flood_from_s)) {
    return InvalidArgument("flood_to_s must be after flood_from_s");
  }
  ASSIGN_OR_RETURN(Trace day, Gen(p, Rng(p.seed)).Make());
  if (p.teams > 0) day.source += fmt::format(" teams={}", p.teams);
  if (p.flood_teams == 0 || p.flood_runs == 0) return day;
  ASSIGN_OR_RETURN(Trace flood, Gen(p, Rng(p.seed).Fork(0xf100d)).MakeFlood());
  // Merge by submit time (the ordinary run first on a tie) and number the jobs again.
  std::vector<TraceJob> jobs;
  jobs.reserve(day.jobs.size() + flood.jobs.size());
  std::merge(std::make_move_iterator(day.jobs.begin()), std::make_move_iterator(day.jobs.end()),
             std::make_move_iterator(flood.jobs.begin()), std::make_move_iterator(flood.jobs.end()),
             std::back_inserter(jobs),
             [](const TraceJob& a, const TraceJob& b) { return a.submit < b.submit; });
  for (size_t i = 0; i < jobs.size(); ++i) jobs[i].id = fmt::format("j{:06d}", i + 1);
  day.jobs = std::move(jobs);
  day.source += fmt::format(" flood_teams={} flood_runs={}", p.flood_teams, p.flood_runs);
  return day;
}

}  // namespace tug::sim
