#include "adapt/adapt_internal.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "core/quantity.h"

namespace tug::adapt::internal {

// ---------------------------------------------------------------- the retry plan: rules per class

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

}  // namespace tug::adapt::internal
