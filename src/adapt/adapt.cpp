#include "adapt/adapt.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "core/json.h"
#include "core/quantity.h"

namespace tug::adapt {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
// Spark's default spark.driver.memory and spark.executor.memory.
constexpr int64_t kSparkDefaultHeap = int64_t{1} << 30;
// Spark's minimum default overhead (see EffectiveOverhead).
constexpr int64_t kSparkMinOverhead = int64_t{384} << 20;
// Root-cause text shown in a sentence is cut to about this many bytes.
constexpr size_t kTextMax = 160;
// executor_lost_ambiguous: one retry with +25 % overhead (failure-taxonomy.md).
constexpr double kAmbiguousOverheadFactor = 1.25;

// ---------------------------------------------------------------- text helpers

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// The text as shown in a sentence: trimmed, one line, at most ~160 bytes (cut on a UTF-8
/// boundary, "..." appended).
std::string Shorten(std::string_view text, size_t max = kTextMax) {
  std::string_view s = TrimView(text);
  if (size_t nl = s.find_first_of("\r\n"); nl != std::string_view::npos) {
    s = TrimView(s.substr(0, nl));
  }
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  // Do not split a multi-byte character: back up over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(TrimView(s.substr(0, cut))) + "...";
}

/// Root-cause lines compare equal when they differ only in numbers (task ids, timestamps,
/// sizes): every run of digits becomes '#'.
std::string NormalizeLine(std::string_view text) {
  std::string_view s = TrimView(text);
  std::string out;
  out.reserve(s.size());
  bool in_digits = false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      if (!in_digits) out += '#';
      in_digits = true;
    } else {
      out += c;
      in_digits = false;
    }
  }
  return out;
}

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

/// " (text)" or "" when there is no text.
std::string Paren(std::string_view text) {
  std::string s = Shorten(text);
  return s.empty() ? std::string() : " (" + s + ")";
}

/// Memory for sentences: FormatMemory, but half gibibytes read "1.5Gi" rather than "1536Mi".
std::string HumanMemory(int64_t bytes) {
  constexpr int64_t kGi = int64_t{1} << 30;
  if (bytes > kGi && bytes % kGi != 0 && bytes % (kGi / 2) == 0) {
    return fmt::format("{}.5Gi", bytes / kGi);
  }
  return FormatMemory(bytes);
}

std::string Percent(double rate) { return fmt::format("{:.0f}%", rate * 100.0); }

std::string Ordinal(int n) {
  int mod100 = n % 100;
  const char* suffix = "th";
  if (mod100 < 11 || mod100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return fmt::format("{}{}", n, suffix);
}

/// A delay for people: whole seconds, at least 1s when there is any delay.
std::string FormatDelay(Micros delay) {
  int64_t secs = (delay + kMicrosPerSecond / 2) / kMicrosPerSecond;
  if (delay > 0 && secs == 0) secs = 1;
  return FormatDuration(secs);
}

// ---------------------------------------------------------------- diagnosis

struct Diagnosis {
  bool present = false;
  std::string cls;
  std::optional<bool> retryable;
  std::string component;
  std::string text;
  std::string remediation;
};

std::string StringAt(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

/// The diagnoser's JSON; malformed or empty text is no diagnosis.
Diagnosis ParseDiagnosis(const std::string& text) {
  Diagnosis d;
  if (TrimView(text).empty()) return d;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return d;
  const boost::json::object& o = v.get_object();
  d.cls = StringAt(o, "class");
  if (d.cls.empty()) return d;
  d.present = true;
  if (const boost::json::value* r = o.if_contains("retryable"); r != nullptr && r->is_bool()) {
    d.retryable = r->get_bool();
  }
  if (const boost::json::value* rc = o.if_contains("root_cause");
      rc != nullptr && rc->is_object()) {
    d.component = StringAt(rc->get_object(), "component");
    d.text = StringAt(rc->get_object(), "text");
  }
  // The component that failed (an executor OOMKilled) when the platform named it; the root
  // cause line may sit in another component's log (the driver's "Lost executor 1 ...").
  if (std::string failed = StringAt(o, "component"); !failed.empty()) d.component = failed;
  d.remediation = StringAt(o, "remediation");
  return d;
}

// ---------------------------------------------------------------- classification

bool IsKnownClass(std::string_view c) {
  static constexpr std::string_view kKnown[] = {"executor_oom",
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
                                                "benign_noise",
                                                "lost",
                                                "launch_failed"};
  return std::find(std::begin(kKnown), std::end(kKnown), c) != std::end(kKnown);
}

/// Classes whose failure a bigger container can fix even when the diagnoser called the
/// attempt not retryable (it does so after repeated identical task failures); the caps and
/// the determinism stop bound them instead.
bool IsMemoryGrowthClass(std::string_view c) {
  return c == "executor_oom" || c == "executor_container_oom" || c == "spark_memory_acquire_oom" ||
         c == "batch_container_oom";
}

/// Exempt from the "same failure twice" stop (failure-taxonomy: "unless the class is transient").
bool IsTransientClass(std::string_view c) {
  return c == "transient_dependency" || c == "k8s_scheduling" || c == "lost" ||
         c == "launch_failed" || c == "node_loss";
}

/// Registry throttling and timeouts are worth a retry; NotFound / unauthorized are not.
bool ImagePullRetryable(std::string_view text) {
  return ContainsNoCase(text, "429") || ContainsNoCase(text, "toomanyrequests") ||
         ContainsNoCase(text, "too many requests") || ContainsNoCase(text, "timeout") ||
         ContainsNoCase(text, "timed out");
}

struct Failure {
  std::string cls;  // taxonomy label, "lost", "launch_failed" or "unknown"
  Diagnosis diag;
  bool infra = false;
  std::string text;  // root-cause text (or the outcome message for launch failures)
};

bool OutcomeOomKilled(const Attempt& a) {
  return a.outcome.has_value() &&
         (a.outcome->reason == reason::kOomKilled || a.outcome->exit_code == 137);
}

Failure Classify(const Definition& spec, const Attempt& a) {
  Failure f;
  f.diag = ParseDiagnosis(a.diagnosis);
  f.text = f.diag.text;
  if (a.status == AttemptStatus::kLost) {
    f.cls = "lost";
  } else if (a.outcome.has_value() && a.outcome->reason == reason::kLaunchFailed) {
    f.cls = "launch_failed";
    if (f.text.empty()) f.text = a.outcome->message;
  } else if (f.diag.present) {
    f.cls = f.diag.cls;
  } else if (OutcomeOomKilled(a) && spec.kind != "spark") {
    // A batch container killed by the kernel is the one case the outcome alone explains.
    f.cls = "batch_container_oom";
  } else {
    f.cls = "unknown";
    if (a.outcome.has_value()) f.text = a.outcome->message;
  }
  f.infra = f.cls == "node_loss" || f.cls == "lost" || f.cls == "launch_failed" ||
            f.cls == "k8s_scheduling" || (f.cls == "k8s_image_pull" && ImagePullRetryable(f.text));
  return f;
}

bool Counts(const Attempt& a) {
  return a.status == AttemptStatus::kFailed || a.status == AttemptStatus::kLost;
}

// ---------------------------------------------------------------- sizes

int64_t MemoryCap(const AdaptPolicy& policy, const Platform& platform) {
  int64_t cap = platform.limits.max_memory_bytes;
  if (policy.max_memory_bytes > 0) cap = std::min(cap, policy.max_memory_bytes);
  return std::max<int64_t>(cap, 0);
}

std::string MemoryCapSource(const AdaptPolicy& policy, const Platform& platform) {
  return policy.max_memory_bytes > 0 && policy.max_memory_bytes <= platform.limits.max_memory_bytes
             ? "adapt.max_memory"
             : "the platform limit";
}

int ExecutorCap(const AdaptPolicy& policy, const Platform& platform) {
  int cap = platform.limits.max_executors;
  if (policy.max_executors > 0) cap = std::min(cap, policy.max_executors);
  return std::max(cap, 0);
}

/// x rounded up to a whole MiB, saturating instead of overflowing.
int64_t CeilMiB(double x) {
  if (!(x > 0)) return 0;
  constexpr int64_t kMaxMibs = std::numeric_limits<int64_t>::max() / kMiB;
  double mibs = std::ceil(x / static_cast<double>(kMiB));
  if (mibs >= static_cast<double>(kMaxMibs)) return kMaxMibs * kMiB;
  return static_cast<int64_t>(mibs) * kMiB;
}

/// Growth of one value: base × factor rounded up to a MiB, never above `limit`; grew is false
/// when the result would not exceed `current`.
struct Growth {
  int64_t value = 0;
  bool grew = false;
  bool capped = false;
};

Growth Grow(int64_t base, int64_t current, double factor, int64_t limit) {
  Growth g;
  g.value = current;
  int64_t want = CeilMiB(static_cast<double>(base) * factor);
  if (want > limit) {
    // Whole MiB below the limit: Spark and Kubernetes sizes stay readable ("7447Mi").
    want = limit >= kMiB ? limit / kMiB * kMiB : limit;
    g.capped = true;
  }
  if (want > current) {
    g.value = want;
    g.grew = true;
  }
  return g;
}

int64_t Heap(const SparkRole& r) { return r.memory_bytes > 0 ? r.memory_bytes : kSparkDefaultHeap; }

/// The largest heap for which heap + overhead (explicit, or Spark's default that grows with
/// the heap) stays within `cap`.
int64_t MaxHeap(const SparkRole& role, int64_t cap) {
  if (role.memory_overhead_bytes > 0) return cap - role.memory_overhead_bytes;
  int64_t flat = cap - kSparkMinOverhead;
  if (flat / 10 <= kSparkMinOverhead) return flat;
  // Default overhead is heap/10 here: largest h with h + h/10 <= cap.
  // Written as h > cap - h/10 so nothing overflows near the int64 limit.
  int64_t h = cap - cap / 11;
  while (h > 0 && h > cap - h / 10) --h;
  while (h < cap && h + 1 <= cap - (h + 1) / 10) ++h;
  return h;
}

int GrowCount(int base, int current, double factor, int cap, bool& capped) {
  double want = std::ceil(static_cast<double>(std::max(base, 1)) * factor);
  int out = want >= static_cast<double>(cap) ? cap : static_cast<int>(want);
  capped = want > static_cast<double>(cap);
  return std::max(out, current);
}

// ---------------------------------------------------------------- placement

struct PlacementChoice {
  std::string capacity;  // for containers / Spark executors
  std::string why;       // why on-demand ("" when spot)
};

PlacementChoice ChooseCapacity(const AdaptPolicy& policy, bool after_node_loss,
                               const Climate& climate, const Platform& platform) {
  if (policy.critical) return {std::string(kOnDemand), "the definition is critical"};
  if (policy.capacity == kOnDemand) return {std::string(kOnDemand), "adapt.capacity is on-demand"};
  if (after_node_loss) return {std::string(kOnDemand), "a node was lost earlier in this run"};
  if (policy.capacity == "auto" && climate.samples > 0 &&
      climate.spot_interruption_rate > platform.climate_threshold) {
    return {std::string(kOnDemand), fmt::format("the recent spot interruption rate {} is above {}",
                                                Percent(climate.spot_interruption_rate),
                                                Percent(platform.climate_threshold))};
  }
  return {std::string(kSpot), ""};
}

Placement MakePlacement(const Definition& spec, const PlacementChoice& c) {
  Placement p;
  if (spec.kind == "spark") {
    p.capacity = std::string(kOnDemand);  // drivers are never put on spot
    p.executor_capacity = c.capacity;
  } else {
    p.capacity = c.capacity;
  }
  return p;
}

// ---------------------------------------------------------------- the retry plan

class RetryPlanner {
 public:
  RetryPlanner(const Definition& spec, const std::vector<Attempt>& attempts, const Climate& climate,
               const Platform& platform)
      : spec_(spec),
        attempts_(attempts),
        climate_(climate),
        platform_(platform),
        last_(attempts.back()),
        spark_(spec.kind == "spark"),
        mem_cap_(MemoryCap(spec.adapt, platform)),
        exec_cap_(ExecutorCap(spec.adapt, platform)) {}

  Decision Plan();

 private:
  Decision Stop(std::string rule, std::string sentence);
  Decision Retry(std::string rule, std::string head, std::string tail);
  bool EarlierHad(std::string_view cls) const;

  Decision NeverRetry();
  Decision ContainerMemory();
  Decision ExecutorHeap();
  Decision ExecutorOverhead(std::string_view rule, double factor, const std::string& why);
  Decision Driver();
  Decision MaxResultSize();
  Decision ExecutorLost();
  Decision NodeLoss();
  Decision ExecutorsOrBackoff();
  Decision PythonWorker();
  Decision WithBackoff(std::string rule, const std::string& after);
  Decision AtCap(std::string_view what);

  /// Executor progression on `next_`: returns the phrase ("executors 4 → 6") or "".
  std::string GrowExecutors();
  void AddChange(std::string field, std::string from, std::string to) {
    phrases_.push_back(fmt::format("{} {} → {}", field, from, to));
    changes_.push_back({std::move(field), std::move(from), std::move(to)});
  }
  /// Changes carry FormatMemory text (exact, parseable); the sentence the human form.
  void AddMemoryChange(std::string field, int64_t from, int64_t to) {
    phrases_.push_back(fmt::format("{} {} → {}", field, HumanMemory(from), HumanMemory(to)));
    changes_.push_back({std::move(field), FormatMemory(from), FormatMemory(to)});
  }
  /// "a → b" for the sentence, from the changes so far, joined with " and ".
  std::string ChangesText() const;
  Micros BackoffDelay() const;
  std::string ExitText() const;

  const Definition& spec_;
  const std::vector<Attempt>& attempts_;
  const Climate& climate_;
  const Platform& platform_;
  const Attempt& last_;
  bool spark_;
  int64_t mem_cap_;
  int exec_cap_;

  Failure failure_;
  Resources next_;
  int user_failures_ = 0;
  int infra_failures_ = 0;
  std::vector<Change> changes_;
  std::vector<std::string> phrases_;  // one per change, for the sentence
};

bool RetryPlanner::EarlierHad(std::string_view cls) const {
  for (size_t i = 0; i + 1 < attempts_.size(); ++i) {
    if (Counts(attempts_[i]) && Classify(spec_, attempts_[i]).cls == cls) return true;
  }
  return false;
}

Decision RetryPlanner::Stop(std::string rule, std::string sentence) {
  Decision d;
  d.retry = false;
  d.resources = last_.resources;
  d.placement = last_.placement;
  d.rule = std::move(rule);
  d.failure_class = failure_.cls;
  d.budget = failure_.infra ? "infra" : "user";
  d.user_failures = user_failures_;
  d.infra_failures = infra_failures_;
  d.sentence = std::move(sentence);
  return d;
}

/// A retry: `head` follows "attempt N", `tail` is appended after the placement note.
Decision RetryPlanner::Retry(std::string rule, std::string head, std::string tail) {
  Decision d;
  d.retry = true;
  d.resources = next_;
  bool after_node_loss = failure_.cls == "node_loss" || EarlierHad("node_loss");
  PlacementChoice choice = ChooseCapacity(spec_.adapt, after_node_loss, climate_, platform_);
  d.placement = MakePlacement(spec_, choice);
  std::string where;
  {
    const std::string& before =
        spark_ ? last_.placement.executor_capacity : last_.placement.capacity;
    const std::string& after = spark_ ? d.placement.executor_capacity : d.placement.capacity;
    if (before != after && failure_.cls == "node_loss") {
      AddChange(spark_ ? "executor capacity" : "capacity", before.empty() ? "unset" : before,
                after);
    } else if (before != after) {
      std::string who = spark_ ? "executors" : "the job";
      if (after == kOnDemand) {
        where = fmt::format("; {} moved to on-demand: {}", who, choice.why);
      } else {
        where = fmt::format("; {} moved to spot capacity", who);
        if (spec_.adapt.capacity == "auto" && climate_.samples > 0) {
          where += fmt::format(": the recent spot interruption rate {} is at most {}",
                               Percent(climate_.spot_interruption_rate),
                               Percent(platform_.climate_threshold));
        }
      }
      AddChange(spark_ ? "executor capacity" : "capacity", before.empty() ? "unset" : before,
                after);
    }
  }
  d.rule = std::move(rule);
  d.failure_class = failure_.cls;
  d.budget = failure_.infra ? "infra" : "user";
  d.user_failures = user_failures_;
  d.infra_failures = infra_failures_;
  d.changes = changes_;
  d.sentence = fmt::format("attempt {}{}{}{}", last_.number + 1, head, where, tail);
  return d;
}

std::string RetryPlanner::ChangesText() const {
  std::string out;
  for (const std::string& p : phrases_) {
    if (!out.empty()) out += " and ";
    out += p;
  }
  return out;
}

std::string RetryPlanner::ExitText() const {
  if (last_.outcome.has_value() && last_.outcome->exit_code.has_value()) {
    return fmt::format("exit {}", *last_.outcome->exit_code);
  }
  return {};
}

Micros RetryPlanner::BackoffDelay() const {
  const Backoff& b = spec_.retry.backoff;
  int k = failure_.infra ? infra_failures_ : user_failures_;
  double initial = static_cast<double>(std::max<int64_t>(b.initial_seconds, 0));
  double max_s = static_cast<double>(std::max<int64_t>(b.max_seconds, 0));
  double mult = std::max(b.multiplier, 1.0);
  double base = std::min(initial * std::pow(mult, std::max(k - 1, 0)), max_s);
  // Equal jitter from the attempt id: deterministic, and retries of many runs that failed
  // together do not come back together.
  uint64_t h = 1469598103934665603ULL;
  for (char c : last_.id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  h += 0x9e3779b97f4a7c15ULL;  // splitmix64 finaliser
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  double base_micros = base * static_cast<double>(kMicrosPerSecond);
  return static_cast<Micros>(std::floor(base_micros * (0.5 + 0.5 * u)));
}

Decision RetryPlanner::Plan() {
  failure_ = Classify(spec_, last_);
  for (size_t i = 0; i < attempts_.size(); ++i) {
    bool is_last = i + 1 == attempts_.size();
    if (!is_last && !Counts(attempts_[i])) continue;
    bool infra = is_last ? failure_.infra : Classify(spec_, attempts_[i]).infra;
    (infra ? infra_failures_ : user_failures_)++;
  }
  next_ = last_.resources;

  if (Decision d = NeverRetry(); !d.rule.empty()) return d;

  if (failure_.infra) {
    if (infra_failures_ > spec_.retry.max_infra_retries) {
      return Stop("stop.infra_budget",
                  fmt::format("not retried: attempt {} failed with {}, the {} infrastructure "
                              "failure of the run (retry.max_infra_retries {})",
                              last_.number, failure_.cls, Ordinal(infra_failures_),
                              spec_.retry.max_infra_retries));
    }
  } else if (user_failures_ >= spec_.retry.max_attempts) {
    return Stop(
        "stop.max_attempts",
        fmt::format("not retried: no attempts left: attempt {} failed with {}, the {} "
                    "failure of the job (retry.max_attempts {})",
                    last_.number, failure_.cls, Ordinal(user_failures_), spec_.retry.max_attempts));
  }

  if (attempts_.size() >= 2 && !IsTransientClass(failure_.cls)) {
    const Attempt& prev = attempts_[attempts_.size() - 2];
    Failure pf = Classify(spec_, prev);
    if (Counts(prev) && pf.cls == failure_.cls &&
        NormalizeLine(pf.diag.text) == NormalizeLine(failure_.diag.text) &&
        prev.resources == last_.resources && prev.placement == last_.placement) {
      std::string text = Shorten(failure_.diag.text);
      return Stop(
          "stop.deterministic",
          fmt::format("not retried: attempt {} failed exactly like attempt {} ({}{}) with "
                      "the same resources; the failure is deterministic",
                      last_.number, prev.number, failure_.cls, text.empty() ? "" : ": " + text));
    }
  }

  if (last_.outcome.has_value() && last_.outcome->reason == reason::kDeadlineExceeded) {
    // The job's own deadline: the same job with the same deadline would end the same way.
    return Stop(
        "no_retry.deadline",
        fmt::format("not retried: attempt {} ran past its timeout{}; if the job is "
                    "healthy but slow, raise timeout",
                    last_.number,
                    spec_.timeout_seconds > 0 ? " (" + FormatDuration(spec_.timeout_seconds) + ")"
                                              : std::string()));
  }
  const std::string& c = failure_.cls;
  if (c == "batch_container_oom") {
    if (spark_) return Driver();  // a Spark job's own pod is its driver
    return ContainerMemory();
  }
  if (c == "executor_oom" || c == "spark_memory_acquire_oom") {
    return spark_ ? ExecutorHeap() : ContainerMemory();
  }
  if (c == "executor_container_oom") {
    if (!spark_) return ContainerMemory();
    std::string who = failure_.diag.component.rfind("executor-", 0) == 0 ? failure_.diag.component
                                                                         : "an executor";
    std::string exit = last_.outcome.has_value() && last_.outcome->exit_code == 137
                           ? " (exit 137)"
                           : (ContainsNoCase(failure_.text, "137") ? " (exit 137)" : "");
    return ExecutorOverhead("oom.executor.overhead", spec_.adapt.memory_factor,
                            fmt::format("after {} was OOMKilled{}", who, exit));
  }
  if (c == "driver_oom") return spark_ ? Driver() : ContainerMemory();
  if (!spark_ && (c == "driver_max_result_size" || c == "executor_lost_ambiguous" ||
                  c == "shuffle_fetch_failure")) {
    // Spark classes on a container job (Spark in local mode inside it): nothing to resize.
    return WithBackoff("retry.same_resources", fmt::format("after {}{}", c, Paren(failure_.text)));
  }
  if (c == "driver_max_result_size") return MaxResultSize();
  if (c == "executor_lost_ambiguous") return ExecutorLost();
  if (c == "node_loss") return NodeLoss();
  if (c == "shuffle_fetch_failure" || (c == "timeout" && spark_)) return ExecutorsOrBackoff();
  if (c == "python_worker_crash") return PythonWorker();
  if (c == "disk_full") {
    if (EarlierHad("disk_full")) {
      return Stop("stop.disk_full_once",
                  fmt::format("not retried: attempt {} ran out of disk again{}; request more "
                              "ephemeral storage or a volume for scratch space",
                              last_.number, Paren(failure_.text)));
    }
    return WithBackoff("disk_full.retry",
                       "after the disk filled up" + Paren(failure_.text) +
                           "; a disk-pressure eviction may clear on another node");
  }
  if (c == "transient_dependency") {
    return WithBackoff("transient.backoff", "after a transient error" + Paren(failure_.text));
  }
  if (c == "timeout") return WithBackoff("timeout.retry", "after a timeout" + Paren(failure_.text));
  if (c == "k8s_scheduling") {
    return WithBackoff("infra.retry", fmt::format("after attempt {} could not be scheduled{}",
                                                  last_.number, Paren(failure_.text)));
  }
  if (c == "k8s_image_pull") {
    return WithBackoff("infra.retry", fmt::format("after attempt {} could not pull its image{}",
                                                  last_.number, Paren(failure_.text)));
  }
  if (c == "lost") {
    return WithBackoff("infra.retry",
                       fmt::format("after attempt {} was lost by the platform", last_.number));
  }
  if (c == "launch_failed") {
    return WithBackoff("infra.retry", fmt::format("after attempt {} failed to launch{}",
                                                  last_.number, Paren(failure_.text)));
  }
  return Stop("no_retry.unknown",
              fmt::format("not retried: the failure class '{}' is not known to the planner", c));
}

Decision RetryPlanner::NeverRetry() {
  const std::string& c = failure_.cls;
  std::string text = Paren(failure_.text);
  std::string rule = "no_retry." + c;
  if (c == "user_code_error") {
    return Stop(rule, fmt::format("not retried: user_code_error is an error in the job's own "
                                  "code{}; fix it and submit again",
                                  text));
  }
  if (c == "data_error") {
    return Stop(rule, fmt::format("not retried: data_error means the input data is not what the "
                                  "job expects{}; fix or quarantine the input and submit again",
                                  text));
  }
  if (c == "config_error") {
    return Stop(rule, fmt::format("not retried: config_error is a configuration problem{}; fix "
                                  "the definition or the platform setting and submit again",
                                  text));
  }
  if (c == "benign_noise") {
    return Stop(rule, fmt::format("not retried: the logs only show harmless noise{}, which does "
                                  "not explain the failure; check the full logs",
                                  text));
  }
  if (c == "unknown") {
    if (spark_ && OutcomeOomKilled(last_)) {
      return Stop(rule, fmt::format("not retried: attempt {} was OOMKilled ({}) but has no "
                                    "diagnosis saying which Spark container ran out of memory, so "
                                    "there is nothing safe to grow; check the logs",
                                    last_.number, ExitText().empty() ? "OOMKilled" : ExitText()));
    }
    std::string exit = ExitText();
    return Stop(rule, fmt::format("not retried: attempt {} failed{} and there is no diagnosis "
                                  "saying why; check the logs and submit again",
                                  last_.number, exit.empty() ? "" : " with " + exit));
  }
  if (!IsKnownClass(c)) return {};
  if (c == "k8s_image_pull" && !ImagePullRetryable(failure_.text)) {
    return Stop(rule, fmt::format("not retried: the image cannot be pulled{}; check the image "
                                  "name, tag and registry credentials",
                                  text));
  }
  // Lost and launch failures are the platform's: what the job's logs looked like does not
  // decide whether another attempt can run.
  if (failure_.diag.retryable == false && !IsMemoryGrowthClass(c) && c != "lost" &&
      c != "launch_failed") {
    if (c == "driver_oom") {
      return Stop(rule, fmt::format("not retried: this driver_oom is not fixed by more memory{}; "
                                    "reduce what the driver holds (e.g. a huge array or collect)",
                                    text));
    }
    if (c == "python_worker_crash") {
      return Stop(rule, fmt::format("not retried: the Python worker crashed natively{}; a "
                                    "segfault in a library is not fixed by a retry",
                                    text));
    }
    std::string remedy = Shorten(failure_.diag.remediation);
    return Stop(rule, fmt::format("not retried: {} was diagnosed as not retryable{}{}", c, text,
                                  remedy.empty() ? "" : "; " + remedy));
  }
  return {};
}

Decision RetryPlanner::AtCap(std::string_view what) {
  std::string_view verb = "ran out of memory";
  if (failure_.cls == "batch_container_oom") verb = "was OOMKilled";
  if (failure_.cls == "executor_container_oom") verb = "had an executor OOMKilled";
  if (failure_.cls == "driver_max_result_size") verb = "exceeded spark.driver.maxResultSize";
  // "again" only when it is not the first time in this run.
  return Stop("stop.cap",
              fmt::format("not retried: {} is already at the cap {} ({}) and the job {}{}; the "
                          "job needs more memory than allowed",
                          what, FormatMemory(mem_cap_), MemoryCapSource(spec_.adapt, platform_),
                          verb, EarlierHad(failure_.cls) ? " again" : ""));
}

Decision RetryPlanner::ContainerMemory() {
  int64_t current = last_.resources.memory_bytes;
  int64_t peak = last_.peak_memory_bytes;
  int64_t base = std::max(current, peak);
  if (base <= 0) {
    return Stop("stop.no_memory_basis",
                fmt::format("not retried: attempt {} ran out of memory with no memory limit and "
                            "no measured peak, so there is nothing to grow from; set memory",
                            last_.number));
  }
  Growth g = Grow(base, current, spec_.adapt.memory_factor, mem_cap_);
  if (!g.grew) return AtCap("memory");
  next_.memory_bytes = g.value;
  std::string from = current > 0 ? HumanMemory(current) : "unlimited";
  changes_.push_back(
      {"memory", current > 0 ? FormatMemory(current) : "unlimited", FormatMemory(g.value)});
  std::vector<std::string> facts;
  if (std::string e = ExitText(); !e.empty()) facts.push_back(e);
  if (peak > 0) facts.push_back("peak " + HumanMemory(peak));
  std::string detail;
  for (const std::string& f : facts) detail += (detail.empty() ? "" : ", ") + f;
  std::string capped = g.capped ? fmt::format(" (capped at {}, {})", FormatMemory(mem_cap_),
                                              MemoryCapSource(spec_.adapt, platform_))
                                : "";
  std::string what = failure_.cls == "batch_container_oom" ? "was OOMKilled" : "ran out of memory";
  return Retry("oom.container.grow",
               fmt::format(": memory {} → {}{} after attempt {} {}{}", from, HumanMemory(g.value),
                           capped, last_.number, what, detail.empty() ? "" : " (" + detail + ")"),
               "");
}

Decision RetryPlanner::ExecutorHeap() {
  SparkRole& ex = next_.spark.executor;
  int64_t heap = Heap(ex);
  Growth g = Grow(heap, heap, spec_.adapt.memory_factor, MaxHeap(ex, mem_cap_));
  if (!g.grew) return AtCap("executor memory + memoryOverhead");
  ex.memory_bytes = g.value;
  AddMemoryChange("executor memory", heap, g.value);
  std::string why = failure_.cls == "executor_oom" ? "an executor ran out of JVM heap"
                                                   : "an executor could not acquire execution "
                                                     "memory";
  std::string capped =
      g.capped ? fmt::format(" (capped so heap + overhead fit in {}, {})", FormatMemory(mem_cap_),
                             MemoryCapSource(spec_.adapt, platform_))
               : "";
  return Retry("oom.executor.heap",
               fmt::format(": {}{} after {}{}", ChangesText(), capped, why, Paren(failure_.text)),
               "");
}

Decision RetryPlanner::ExecutorOverhead(std::string_view rule, double factor,
                                        const std::string& why) {
  SparkRole& ex = next_.spark.executor;
  int64_t ov = EffectiveOverhead(ex);
  Growth g = Grow(ov, ov, factor, mem_cap_ - Heap(ex));
  if (!g.grew) return AtCap("executor memory + memoryOverhead");
  ex.memory_overhead_bytes = g.value;
  AddMemoryChange("executor memoryOverhead", ov, g.value);
  std::string capped = g.capped ? fmt::format(" (capped at {}, {})", FormatMemory(mem_cap_),
                                              MemoryCapSource(spec_.adapt, platform_))
                                : "";
  return Retry(std::string(rule), fmt::format(": {}{} {}", ChangesText(), capped, why), "");
}

Decision RetryPlanner::Driver() {
  SparkRole& dr = next_.spark.driver;
  int64_t heap = Heap(dr);
  int64_t ov = EffectiveOverhead(dr);
  std::string_view t = failure_.text;
  bool killed = OutcomeOomKilled(last_) || failure_.cls == "batch_container_oom" ||
                ContainsNoCase(t, "OOMKilled") || ContainsNoCase(t, "exit code 137") ||
                ContainsNoCase(t, "exit_code=137") || ContainsNoCase(t, "exited with 137");
  Growth og;
  if (killed) {
    // The pod limit was hit: the non-heap part (Python, native buffers) grows too.
    og = Grow(ov, ov, spec_.adapt.memory_factor, mem_cap_ - heap);
    if (og.grew) dr.memory_overhead_bytes = og.value;
  }
  Growth hg = Grow(heap, heap, spec_.adapt.memory_factor, MaxHeap(dr, mem_cap_));
  if (hg.grew) {
    dr.memory_bytes = hg.value;
    AddMemoryChange("driver memory", heap, hg.value);
  }
  if (og.grew) AddMemoryChange("driver memoryOverhead", ov, og.value);
  if (changes_.empty()) return AtCap("driver memory + memoryOverhead");
  bool exit137 =
      (last_.outcome.has_value() && last_.outcome->exit_code == 137) || ContainsNoCase(t, "137");
  std::string why =
      killed ? fmt::format("after the driver was OOMKilled{}", exit137 ? " (exit 137)" : "")
             : "after the driver ran out of memory" + Paren(failure_.text);
  std::string cap_note = og.capped || hg.capped
                             ? fmt::format(" (capped at {}, {})", FormatMemory(mem_cap_),
                                           MemoryCapSource(spec_.adapt, platform_))
                             : "";
  return Retry("oom.driver", fmt::format(": {}{} {}", ChangesText(), cap_note, why), "");
}

Decision RetryPlanner::MaxResultSize() {
  if (EarlierHad("driver_max_result_size")) {
    return Stop("stop.max_result_size_once",
                fmt::format("not retried: attempt {} again collected more to the driver than "
                            "spark.driver.maxResultSize allows after it was raised; a large "
                            "collect()/toPandas() is the real issue, so write the result out or "
                            "aggregate it on the executors",
                            last_.number));
  }
  SparkResources& s = next_.spark;
  int64_t mrs = s.max_result_size_bytes > 0 ? s.max_result_size_bytes : kSparkDefaultMaxResultSize;
  Growth mg = Grow(mrs, mrs, 2.0, mem_cap_);
  if (mg.grew) {
    s.max_result_size_bytes = mg.value;
    AddMemoryChange("driver maxResultSize", mrs, mg.value);
  }
  int64_t heap = Heap(s.driver);
  Growth hg = Grow(heap, heap, spec_.adapt.memory_factor, MaxHeap(s.driver, mem_cap_));
  if (hg.grew) {
    s.driver.memory_bytes = hg.value;
    AddMemoryChange("driver memory", heap, hg.value);
  }
  if (changes_.empty()) return AtCap("driver memory + memoryOverhead");
  return Retry("oom.max_result_size",
               fmt::format(": {} after the results collected to the driver exceeded "
                           "spark.driver.maxResultSize; this is raised once, a large "
                           "collect()/toPandas() is the real issue",
                           ChangesText()),
               "");
}

std::string RetryPlanner::GrowExecutors() {
  if (!spark_) return {};
  SparkResources& s = next_.spark;
  double f = spec_.adapt.executor_factor;
  bool capped = false;
  bool at_cap = false;
  std::string out;
  auto note = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (!s.dynamic_allocation || s.instances > 0) {
    bool c = false;
    int n = GrowCount(s.instances, s.instances, f, exec_cap_, c);
    capped = capped || c;
    at_cap = at_cap || s.instances >= exec_cap_;
    if (n > s.instances) {
      AddChange("executors", std::to_string(s.instances), std::to_string(n));
      note(fmt::format("executors {} → {}", s.instances, n));
      s.instances = n;
    }
  }
  if (s.dynamic_allocation || s.max_executors > 0) {
    int base = s.max_executors > 0 ? s.max_executors : std::max(s.instances, 1);
    bool c = false;
    int n = GrowCount(base, s.max_executors, f, exec_cap_, c);
    // maxExecutors never below the (grown) initial count.
    n = std::max(n, std::min(s.instances, exec_cap_));
    capped = capped || c;
    at_cap = at_cap || s.max_executors >= exec_cap_;
    if (n > s.max_executors) {
      std::string from = s.max_executors > 0 ? std::to_string(s.max_executors) : "unset";
      AddChange("maxExecutors", from, std::to_string(n));
      note(fmt::format("maxExecutors {} → {}", from, n));
      s.max_executors = n;
    }
  }
  if (!out.empty() && capped) out += fmt::format(" (capped at {})", exec_cap_);
  if (out.empty()) {
    out = at_cap || capped
              ? fmt::format("executors stay at the cap {}", exec_cap_)
              : fmt::format("executors stay at {}", std::max(s.instances, s.max_executors));
  }
  return out;
}

Decision RetryPlanner::ExecutorLost() {
  if (EarlierHad("executor_lost_ambiguous")) {
    return Stop("stop.executor_lost_once",
                fmt::format("not retried: executors were lost without a clear cause again on "
                            "attempt {}{}; the loss looks deterministic, check the executor logs",
                            last_.number, Paren(failure_.text)));
  }
  SparkRole& ex = next_.spark.executor;
  int64_t ov = EffectiveOverhead(ex);
  Growth g = Grow(ov, ov, kAmbiguousOverheadFactor, mem_cap_ - Heap(ex));
  if (g.grew) {
    ex.memory_overhead_bytes = g.value;
    AddMemoryChange("executor memoryOverhead", ov, g.value);
  }
  bool overhead = g.grew;
  size_t before = changes_.size();
  GrowExecutors();
  bool executors = changes_.size() > before;
  std::string rule =
      overhead ? "executor_lost.overhead" : (executors ? "executors.grow" : "executor_lost.retry");
  std::string head = changes_.empty() ? " with the same resources" : ": " + ChangesText();
  return Retry(rule,
               fmt::format("{} after executors were lost without a clear cause{}; retried once",
                           head, Paren(failure_.text)),
               "");
}

Decision RetryPlanner::NodeLoss() {
  std::string exec = GrowExecutors();
  const std::string& cap_before =
      spark_ ? last_.placement.executor_capacity : last_.placement.capacity;
  std::string cause = cap_before == kSpot ? " (spot interruption)" : Paren(failure_.text);
  // Node loss overrides a spot preference for the rest of the run (ChooseCapacity).
  return Retry(
      "node_loss.on_demand",
      fmt::format(" on on-demand capacity after attempt {} lost its node{}", last_.number, cause),
      spark_ ? "; " + exec : "");
}

Decision RetryPlanner::ExecutorsOrBackoff() {
  size_t before = changes_.size();
  std::string exec = GrowExecutors();
  std::string why = failure_.cls == "timeout" ? "after a timeout" : "after shuffle fetch failures";
  if (changes_.size() > before) {
    return Retry("executors.grow", fmt::format(": {} {}{}", exec, why, Paren(failure_.text)), "");
  }
  return WithBackoff("retry.same_resources",
                     fmt::format("{}{}; {}", why, Paren(failure_.text), exec));
}

Decision RetryPlanner::PythonWorker() {
  if (spark_) {
    SparkRole& ex = next_.spark.executor;
    int64_t ov = EffectiveOverhead(ex);
    Growth g = Grow(ov, ov, spec_.adapt.memory_factor, mem_cap_ - Heap(ex));
    if (g.grew) {
      return ExecutorOverhead("python_worker.overhead", spec_.adapt.memory_factor,
                              "after a Python worker crashed" + Paren(failure_.text));
    }
  }
  return WithBackoff("python_worker.retry", "after a Python worker crashed" + Paren(failure_.text));
}

Decision RetryPlanner::WithBackoff(std::string rule, const std::string& after) {
  Micros delay = BackoffDelay();
  int k = failure_.infra ? infra_failures_ : user_failures_;
  int of = failure_.infra ? spec_.retry.max_infra_retries : spec_.retry.max_attempts - 1;
  std::string budget = failure_.infra ? "infra retry" : "back-off";
  Decision d = Retry(std::move(rule),
                     fmt::format(" in {} with the same resources {}", FormatDelay(delay), after),
                     fmt::format("; {} {} of {}", budget, k, of));
  d.delay = delay;
  return d;
}

// ---------------------------------------------------------------- right-sizing

struct Estimate {
  int64_t bytes = 0;
  int samples = 0;
};

std::optional<Estimate> EstimateWithCount(const std::vector<HistorySample>& history,
                                          const AdaptPolicy& policy, const Platform& platform,
                                          Micros now) {
  std::vector<HistorySample> use;
  for (const HistorySample& s : history) {
    if (s.peak_memory_bytes > 0 && s.ended_at >= now - platform.max_age) use.push_back(s);
  }
  std::stable_sort(use.begin(), use.end(), [](const HistorySample& a, const HistorySample& b) {
    return a.ended_at > b.ended_at;
  });
  if (platform.max_samples >= 0 && use.size() > static_cast<size_t>(platform.max_samples)) {
    use.resize(static_cast<size_t>(platform.max_samples));
  }
  if (use.empty() || static_cast<int>(use.size()) < platform.min_samples) return std::nullopt;
  // Weighted p95: recent peaks weigh more, so the estimate follows a job that got smaller.
  std::vector<std::pair<int64_t, double>> weighted;
  double total = 0;
  for (const HistorySample& s : use) {
    double age = static_cast<double>(std::max<Micros>(now - s.ended_at, 0));
    double w =
        platform.half_life > 0 ? std::exp2(-age / static_cast<double>(platform.half_life)) : 1.0;
    weighted.emplace_back(s.peak_memory_bytes, w);
    total += w;
  }
  std::stable_sort(weighted.begin(), weighted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  int64_t p95 = weighted.back().first;
  double cumulative = 0;
  for (const auto& [peak, w] : weighted) {
    cumulative += w;
    if (cumulative >= 0.95 * total) {
      p95 = peak;
      break;
    }
  }
  int64_t est = CeilMiB(static_cast<double>(p95) * std::max(platform.headroom, 1.0));
  est = std::max(est, platform.rightsize_floor_bytes);
  est = std::min(est, MemoryCap(policy, platform));
  if (est <= 0) return std::nullopt;
  return Estimate{est, static_cast<int>(use.size())};
}

std::string MemoryText(int64_t bytes) {
  return bytes > 0 ? FormatMemory(bytes) : std::string("no limit");
}

std::string PlacementText(const Definition& spec, const Placement& p, const PlacementChoice& c) {
  std::string why = c.why.empty() ? "" : " (" + c.why + ")";
  if (spec.kind == "spark") {
    return fmt::format("driver on on-demand, executors on {} capacity{}", p.executor_capacity, why);
  }
  return fmt::format("on {} capacity{}", p.capacity, why);
}

std::string SparkSizeText(const SparkResources& s) {
  std::string execs;
  if (s.dynamic_allocation) {
    execs = fmt::format("{} to {} executors", s.min_executors,
                        s.max_executors > 0 ? s.max_executors : std::max(s.instances, 1));
  } else if (s.instances > 0) {
    execs = fmt::format("{} executors", s.instances);
  } else {
    execs = "the default executors";
  }
  return fmt::format("driver memory {}, {} with memory {}", FormatMemory(Heap(s.driver)), execs,
                     FormatMemory(Heap(s.executor)));
}

}  // namespace

// ---------------------------------------------------------------- public

Decision PlanRetry(const Definition& spec, const std::vector<Attempt>& attempts,
                   const Climate& climate, const Platform& platform) {
  if (attempts.empty()) {
    Decision d;
    d.resources = spec.resources;
    d.rule = "stop.no_attempts";
    d.sentence = "not retried: the run has no attempts to plan from";
    return d;
  }
  const Attempt& last = attempts.back();
  if (!Counts(last)) {
    Decision d;
    d.resources = last.resources;
    d.placement = last.placement;
    d.rule = "stop.not_failed";
    d.sentence = fmt::format("not retried: attempt {} ended {}, not failed", last.number,
                             ToString(last.status));
    return d;
  }
  return RetryPlanner(spec, attempts, climate, platform).Plan();
}

std::optional<int64_t> EstimateMemory(const std::vector<HistorySample>& history,
                                      const AdaptPolicy& policy, const Platform& platform,
                                      Micros now) {
  auto e = EstimateWithCount(history, policy, platform, now);
  if (!e) return std::nullopt;
  return e->bytes;
}

Decision PlanFirst(const Definition& spec, const RunOverrides& overrides,
                   const std::vector<HistorySample>& history, const Climate& climate,
                   const Platform& platform, Micros now) {
  Decision d;
  d.retry = false;
  d.resources = spec.resources;
  PlacementChoice choice = ChooseCapacity(spec.adapt, false, climate, platform);
  d.placement = MakePlacement(spec, choice);
  std::string where = PlacementText(spec, d.placement, choice);
  bool spark = spec.kind == "spark";
  std::string size = spark ? SparkSizeText(spec.resources.spark)
                           : "memory " + MemoryText(spec.resources.memory_bytes);
  d.rule = "first.as_requested";
  d.sentence = fmt::format("attempt 1 as requested: {}{}{}", size, spark ? "; " : " ", where);
  // Right-sizing Spark needs per-executor peaks, which are not measured yet.
  if (spark || spec.adapt.rightsizing == "off") return d;
  auto est = EstimateWithCount(history, spec.adapt, platform, now);
  if (!est) return d;
  d.recommended_memory_bytes = est->bytes;
  std::string basis = fmt::format("p95 of {} recent successful runs' peaks × {}", est->samples,
                                  fmt::format("{:g}", platform.headroom));
  int64_t requested = spec.resources.memory_bytes;
  if (spec.adapt.rightsizing == "recommend") {
    d.rule = "rightsize.recommend";
    d.sentence = fmt::format(
        "recommendation: memory {} ({}); requested {} — set adapt.rightsizing: apply to use it",
        FormatMemory(est->bytes), basis, MemoryText(requested));
    return d;
  }
  if (overrides.resources.memory_bytes > 0) {
    d.rule = "rightsize.override";
    d.sentence = fmt::format(
        "attempt 1 as requested: memory {} set at submission wins over the right-sized {} ({}) "
        "{}",
        FormatMemory(requested), FormatMemory(est->bytes), basis, where);
    return d;
  }
  if (est->bytes == requested) {
    d.sentence = fmt::format("attempt 1 as requested: memory {} (the {} agrees) {}",
                             FormatMemory(requested), basis, where);
    return d;
  }
  d.rule = "rightsize.apply";
  d.resources.memory_bytes = est->bytes;
  d.changes.push_back(
      {"memory", requested > 0 ? FormatMemory(requested) : "unlimited", FormatMemory(est->bytes)});
  d.sentence = fmt::format("attempt 1: memory {} → {} right-sized from the {} {}",
                           requested > 0 ? FormatMemory(requested) : "unlimited",
                           FormatMemory(est->bytes), basis, where);
  return d;
}

boost::json::value ToJson(const Decision& d) {
  boost::json::array changes;
  for (const Change& c : d.changes) {
    changes.push_back(boost::json::object{{"field", c.field}, {"from", c.from}, {"to", c.to}});
  }
  boost::json::object o;
  o["retry"] = d.retry;
  o["delay_seconds"] = static_cast<double>(d.delay) / static_cast<double>(kMicrosPerSecond);
  o["resources"] = tug::ToJson(d.resources);
  o["placement"] = boost::json::object{{"capacity", d.placement.capacity},
                                       {"executor_capacity", d.placement.executor_capacity}};
  o["rule"] = d.rule;
  o["class"] = d.failure_class;
  o["budget"] = d.budget;
  o["user_failures"] = d.user_failures;
  o["infra_failures"] = d.infra_failures;
  o["changes"] = std::move(changes);
  o["sentence"] = d.sentence;
  if (d.recommended_memory_bytes) {
    o["recommended_memory"] = FormatMemory(*d.recommended_memory_bytes);
  } else {
    o["recommended_memory"] = nullptr;
  }
  return o;
}

}  // namespace tug::adapt
