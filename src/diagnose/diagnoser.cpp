#include "diagnose/diagnoser.h"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

namespace tug::diagnose {

namespace {

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// "executor" or "executor-N".
bool IsExecutor(std::string_view component) {
  return component == "executor" || component.rfind("executor-", 0) == 0;
}

bool NeverRetry(std::string_view cls) {
  return cls == "user_code_error" || cls == "data_error" || cls == "config_error" ||
         cls == "benign_noise";
}

struct Candidate {
  const LogScan* scan = nullptr;
  size_t scan_index = 0;
  const Hit* hit = nullptr;
  const Signal* signal = nullptr;
  std::string cls;  // after context rules
  int severity = 0;
};

// Context rules the regex alone cannot decide (taxonomy sections 1-3, 6).
std::string EffectiveClass(const LogScan& scan, const Hit& hit, const Signal& s) {
  const std::string& comp = scan.component();
  if (s.resolve == Resolve::kHeapOom) {
    if (IsExecutor(comp) || hit.executor_context || ContainsNoCase(hit.text, "executor")) {
      return "executor_oom";
    }
    if (comp == "batch-container") return "batch_container_oom";
    return "driver_oom";
  }
  if (s.resolve == Resolve::kContainerOom) {
    bool names_executor =
        ContainsNoCase(hit.text, "executor") || ContainsNoCase(hit.text, "-exec-");
    bool names_driver = ContainsNoCase(hit.text, "driver");
    bool spark = scan.spark_seen() || comp == "driver" || IsExecutor(comp);
    if (comp == "batch-container") return "batch_container_oom";
    if (s.cls == "executor_container_oom") {
      // Spark/YARN/Kubernetes container reports: about executors unless they name the driver.
      if (names_driver && !names_executor) return "driver_oom";
      return spark ? "executor_container_oom" : "batch_container_oom";
    }
    // Kernel/shell OOM kills: whose process died is the stream's own component.
    if (IsExecutor(comp) || names_executor) return "executor_container_oom";
    if (comp == "driver" || names_driver) return "driver_oom";
    return spark ? "executor_container_oom" : "batch_container_oom";
  }
  if (s.id == "native.segfault" && comp == "batch-container" && !scan.spark_seen()) {
    // A segfault of a plain program (not a PySpark worker) is the program's own native crash.
    return "user_code_error";
  }
  if (s.cls == "transient_dependency" && hit.block >= 0 &&
      (scan.blocks()[static_cast<size_t>(hit.block)].spark_network ||
       scan.blocks()[static_cast<size_t>(hit.block)].shuffle)) {
    // A connection error inside Spark's block transfer is a shuffle fetch, not a dependency.
    return "shuffle_fetch_failure";
  }
  return s.cls;
}

// True when `a` should be preferred over `b` as the root cause.
bool Better(const Candidate& a, const Candidate& b) {
  if (a.severity != b.severity) return a.severity > b.severity;
  if (a.scan == b.scan && a.hit->block >= 0 && a.hit->block == b.hit->block &&
      a.hit->depth != b.hit->depth) {
    return a.hit->depth > b.hit->depth;  // deepest Caused by of the chain
  }
  if (a.hit->header != b.hit->header) return a.hit->header;  // the thrown line over a log echo
  if (a.scan_index != b.scan_index) return a.scan_index < b.scan_index;
  return a.hit->line < b.hit->line;  // the first failing task
}

struct Outcome {
  std::optional<int> exit_code;
  std::string reason;
  std::string component;
};

Outcome EffectiveOutcome(const Facts& facts) {
  // Sidecar trap: a sidecar's exit 0 must not hide the main container's failure, so the first
  // container that failed wins over the headline status.
  for (const auto& c : facts.containers) {
    bool failed =
        (c.exit_code && *c.exit_code != 0) || (!c.reason.empty() && c.reason != "Completed");
    if (failed) {
      return {c.exit_code, c.reason, c.component.empty() ? facts.component : c.component};
    }
  }
  return {facts.exit_code, facts.reason, facts.component};
}

// True when the platform reports a failed attempt (non-zero exit or a failure reason).
bool AttemptFailed(const Outcome& o) {
  if (o.exit_code && *o.exit_code != 0) return true;
  return !o.reason.empty() && o.reason != "Completed";
}

// Platform evidence that decides the class by itself (rule 1). Empty when it does not.
std::string ClassFromOutcome(const Outcome& o, bool spark) {
  const std::string& r = o.reason;
  auto oom_class = [&]() -> std::string {
    if (o.component == "driver") return "driver_oom";
    if (IsExecutor(o.component)) return "executor_container_oom";
    return spark && o.component != "batch-container" ? "executor_container_oom"
                                                     : "batch_container_oom";
  };
  if (r == "OOMKilled") return oom_class();
  if (r == "Evicted") return "disk_full";
  if (r == "NodeLost" || r == "NodeShutdown" || r == "Preempted" || r == "Deleted" ||
      r == "Preempting" || r == "Terminated" || r == "OutOfmemory" || r == "OutOfcpu" ||
      r == "UnexpectedAdmissionError" || r == "Lost") {
    // Terminated: imminent node shutdown; Lost: the engine lost the pod; OutOf*: rejected by the
    // node at admission (the container never started, so a retry elsewhere is safe).
    return "node_loss";
  }
  if (r == "DeadlineExceeded") return "timeout";
  if (r == "ContainerCannotRun" || r == "StartError" || r == "CreateContainerConfigError" ||
      r == "CreateContainerError" || r == "InvalidImageName" || r == "InvalidSpec") {
    return "config_error";
  }
  if (r == "ErrImagePull" || r == "ImagePullBackOff") return "k8s_image_pull";
  if (r == "Unschedulable") return "k8s_scheduling";
  if (!o.exit_code) return {};
  switch (*o.exit_code) {
    case 52:
      return o.component == "driver" ? "driver_oom" : "executor_oom";
    case 53:
      return "disk_full";
    case 126:
    case 127:
    case 128:
      return "config_error";
    default:
      return {};
  }
}

// Weak platform evidence, used only when the logs say nothing.
std::string FallbackFromOutcome(const Outcome& o, bool spark) {
  if (!o.exit_code) return {};
  switch (*o.exit_code) {
    case 137:
      if (o.component == "driver") return "driver_oom";
      return spark && o.component != "batch-container" ? "executor_container_oom"
                                                       : "batch_container_oom";
    case 139:
      return spark && o.component != "batch-container" ? "python_worker_crash" : "user_code_error";
    case 124:  // coreutils `timeout` fired: the job's own deadline
      return "timeout";
    case 143:
      return "node_loss";
    case 56:
      return "executor_lost_ambiguous";
    default:
      return {};
  }
}

std::string Trimmed(std::string_view s, size_t max) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s.substr(0, max));
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

boost::json::value ToJson(const Diagnosis& d) {
  auto line = [](const Diagnosis::Line& l) {
    return boost::json::object{{"component", l.component}, {"line", l.line}, {"text", l.text}};
  };
  boost::json::array highlights;
  for (const auto& h : d.highlights) highlights.push_back(line(h));
  boost::json::object o{{"class", d.cls},
                        {"retryable", d.retryable},
                        {"root_cause", line(d.root_cause)},
                        {"highlights", std::move(highlights)},
                        {"remediation", d.remediation},
                        {"summary", d.summary}};
  if (!d.component.empty()) o["component"] = d.component;
  return o;
}

Result<Diagnoser> Diagnoser::Create(Catalog catalog) {
  ASSIGN_OR_RETURN(auto compiled, CompiledCatalog::Compile(std::move(catalog)));
  return Diagnoser(std::move(compiled));
}

Result<Diagnoser> Diagnoser::CreateBuiltin() {
  ASSIGN_OR_RETURN(Catalog cat, BuiltinCatalog());
  return Create(std::move(cat));
}

std::unique_ptr<LogScan> Diagnoser::Start(std::string component) const {
  return std::make_unique<LogScan>(compiled_, std::move(component));
}

Diagnosis Diagnoser::Decide(const std::vector<const LogScan*>& scans, const Facts& facts) const {
  std::vector<Candidate> causes;
  const Hit* first_noise = nullptr;
  const LogScan* first_noise_scan = nullptr;
  bool spark = false;
  bool native_crash = false;
  int repeats = 0;
  for (size_t i = 0; i < scans.size(); ++i) {
    const LogScan* scan = scans[i];
    if (scan == nullptr) continue;
    spark = spark || scan->spark_seen();
    repeats = std::max(repeats, scan->max_task_repeats());
    for (const Hit& hit : scan->hits()) {
      for (const Signal& s : hit.signals) {
        if (s.id == "native.segfault") native_crash = true;
        if (s.kind == PatternKind::kNoise && first_noise == nullptr) {
          first_noise = &hit;
          first_noise_scan = scan;
        }
        if ((s.kind != PatternKind::kCause && s.kind != PatternKind::kShutdown) || hit.noise) {
          continue;
        }
        Candidate c{scan, i, &hit, &s, EffectiveClass(*scan, hit, s), s.severity};
        // A network error inside Spark's own shuffle/RPC code is a fetch-failure symptom: it
        // ranks with the fetch failures, below any executor loss that caused it (rule 3).
        if (s.cls == "transient_dependency" && c.cls == "shuffle_fetch_failure") {
          c.severity = std::min(c.severity, 50);
        }
        causes.push_back(std::move(c));
      }
    }
  }

  Diagnosis d;
  std::vector<std::string> notes;
  const Candidate* best = nullptr;
  for (const Candidate& c : causes) {
    if (best == nullptr || Better(c, *best)) best = &c;
  }

  Outcome outcome = EffectiveOutcome(facts);
  std::string platform_cls = ClassFromOutcome(outcome, spark);
  std::string remediation_key;
  if (!platform_cls.empty()) {
    // Rule 1: the platform decides the class; the log line that agrees with it (if any) is the
    // root cause shown to the user.
    const Candidate* agree = nullptr;
    for (const Candidate& c : causes) {
      if (c.cls == platform_cls && (agree == nullptr || Better(c, *agree))) agree = &c;
    }
    d.cls = platform_cls;
    // A deadline is not retried unless the job's own timeout grows (taxonomy: timeout/deadline).
    d.retryable = !NeverRetry(platform_cls) && outcome.reason != "DeadlineExceeded";
    if (!facts.containers.empty()) d.component = outcome.component;
    notes.push_back("platform: " + (outcome.reason.empty() ? std::string("exit") : outcome.reason) +
                    (outcome.exit_code ? " exit code " + std::to_string(*outcome.exit_code) : ""));
    if (agree != nullptr) {
      best = agree;
      remediation_key = agree->signal->remediation;
      d.retryable = agree->signal->retryable && d.retryable;
    } else {
      best = nullptr;
      d.root_cause = {outcome.component, 0,
                      "terminated: reason=" + outcome.reason + " exit_code=" +
                          (outcome.exit_code ? std::to_string(*outcome.exit_code) : "unknown")};
    }
  } else if (best != nullptr) {
    d.cls = best->cls;
    d.retryable = best->signal->retryable;
    remediation_key = best->signal->remediation;
    if (best->signal->kind == PatternKind::kShutdown) {
      // SIGTERM after the executor finished its task is the normal end of an application.
      int64_t ok_line = best->scan->LastSuccessBefore(best->hit->line);
      if (ok_line > 0) {
        for (const Hit& h : best->scan->hits()) {
          if (h.line == ok_line) {
            d.cls = "benign_noise";
            d.retryable = false;
            remediation_key = "none";
            d.root_cause = {best->scan->component(), h.line, h.text};
            best = nullptr;
            notes.push_back("shutdown signal after the task finished");
            break;
          }
        }
      }
    }
  } else if (std::string fb = FallbackFromOutcome(outcome, spark); !fb.empty()) {
    d.cls = fb;
    d.retryable = !NeverRetry(fb) && fb != "python_worker_crash" && fb != "timeout";
    d.root_cause = {outcome.component, 0,
                    "terminated: exit_code=" + std::to_string(*outcome.exit_code) +
                        (outcome.reason.empty() ? "" : " reason=" + outcome.reason)};
  } else if (first_noise != nullptr) {
    // Only noise: nothing to blame on the user. If the platform says the attempt failed, the
    // cause is unknown (not in these logs), and one retry is worthwhile (taxonomy: unknown
    // executor loss); without a failed outcome it is the normal end of a finished program.
    d.cls = "benign_noise";
    d.retryable = AttemptFailed(outcome);
    remediation_key = "none";
    d.root_cause = {first_noise_scan->component(), first_noise->line, first_noise->text};
    notes.push_back(d.retryable ? "unknown cause: only known noise in the logs of a failed attempt"
                                : "only known noise found");
  } else {
    // Nothing matched: the last line a failing program printed is the best guess.
    // Nothing matched. An unknown exception is most likely the application's own (deterministic)
    // error; with no exception at all, the last line a failing program printed is the best guess.
    const LogScan* last = nullptr;
    const LogScan* thrown = nullptr;
    for (const LogScan* s : scans) {
      if (s == nullptr) continue;
      if (s->last_text_line() > 0) last = s;
      if (thrown == nullptr && s->first_exception_line() > 0) thrown = s;
    }
    if (thrown != nullptr) {
      d.cls = "user_code_error";
      d.retryable = false;
      d.root_cause = {thrown->component(), thrown->first_exception_line(),
                      thrown->first_exception_text()};
      notes.push_back("unrecognised exception");
    } else {
      d.cls = spark ? "executor_lost_ambiguous" : "user_code_error";
      d.retryable = spark;
      if (last != nullptr) {
        d.root_cause = {last->component(), last->last_text_line(), last->last_text()};
      }
      notes.push_back("no known signature");
    }
  }

  if (best != nullptr) {
    d.root_cause = {best->scan->component(), best->hit->line, best->hit->text};
    // Rule 2: walk the `Caused by:` chain to the innermost cause. A deeper cause that matched
    // nothing (e.g. a bare ClassCastException under a ParquetDecodingException) is still the
    // line to show; the class stays the one the chain's best signature gave.
    if (best->hit->block >= 0 && best->hit->header) {
      const Block& b = best->scan->blocks()[static_cast<size_t>(best->hit->block)];
      bool deeper_unmatched = b.deepest_line > best->hit->line && !b.noise;
      for (const Hit& h : best->scan->hits()) {
        if (h.line == b.deepest_line) deeper_unmatched = false;
      }
      if (deeper_unmatched) {
        d.root_cause = {best->scan->component(), b.deepest_line, b.deepest_text};
        notes.push_back("innermost cause of the chain");
      }
    }
  }
  if (d.cls == "python_worker_crash" && native_crash) {
    d.retryable = false;
    notes.push_back("native crash (segfault): deterministic");
  }
  if (repeats >= 3 && (d.cls == "executor_lost_ambiguous" || d.cls == "python_worker_crash")) {
    d.retryable = false;
    notes.push_back("the same task failed " + std::to_string(repeats) +
                    " times for the same reason: deterministic");
  }
  if (NeverRetry(d.cls) && !(d.cls == "benign_noise" && d.retryable)) d.retryable = false;
  d.remediation = RemediationText(remediation_key, d.cls);

  // Highlights: the root cause, then the strongest other distinct lines (never noise).
  if (d.root_cause.line > 0) d.highlights.push_back(d.root_cause);
  std::vector<const Candidate*> ranked;
  for (const Candidate& c : causes) ranked.push_back(&c);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Candidate* a, const Candidate* b) { return Better(*a, *b); });
  for (const Candidate* c : ranked) {
    if (d.highlights.size() >= 5) break;
    bool seen = std::any_of(d.highlights.begin(), d.highlights.end(), [&](const auto& h) {
      return h.line == c->hit->line && h.component == c->scan->component();
    });
    if (!seen) d.highlights.push_back({c->scan->component(), c->hit->line, c->hit->text});
  }

  d.summary = d.cls + (d.retryable ? " (retryable)" : " (not retryable)") + ": " +
              Trimmed(d.root_cause.text, 240);
  if (d.root_cause.line > 0) {
    d.summary += " [" + d.root_cause.component + " line " + std::to_string(d.root_cause.line) + "]";
  }
  for (const auto& n : notes) d.summary += "; " + n;
  return d;
}

}  // namespace tug::diagnose
