#include "adapt/adapt_internal.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "core/quantity.h"

namespace tug::adapt::internal {

// ---------------------------------------------------------------- the retry plan

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
  PlacementChoice choice =
      ChooseCapacity(spec_.adapt, spec_.resources.gpu, after_node_loss, climate_, platform_);
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

}  // namespace tug::adapt::internal
