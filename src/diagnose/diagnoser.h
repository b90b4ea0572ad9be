#pragma once
/// Failure diagnosis: turns scanned logs (LogScan) and platform facts (pod/container status)
/// into one Diagnosis: the taxonomy class, whether an automatic retry is worthwhile, the
/// root-cause line and the remediation for the next attempt. Pure: no I/O, no clock; the same
/// inputs always give the same answer.
///
/// Reading order (failure-taxonomy.md): platform evidence first (OOMKilled/137, eviction,
/// deletion, start errors, per container so a sidecar's exit 0 is ignored); then the most
/// specific cause signature in the logs, where a cause outranks a symptom (executor loss before
/// fetch failures), the deepest `Caused by:` of the first failing task wins ties, and known
/// noise is never chosen; a task lost repeatedly for the same reason is deterministic.
///
/// Thread-safety: a Diagnoser is immutable after Create and may be shared; LogScans are not.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.h"
#include "diagnose/catalog.h"
#include "diagnose/scanner.h"

namespace tug::diagnose {

/// One container's terminal status (pod status, YARN container exit, controller event).
struct ContainerOutcome {
  std::string component;  // driver, executor, batch-container, ...
  std::string container;  // container name; sidecars are ignored when the main one failed
  std::optional<int> exit_code;
  std::string reason;  // terminated.reason: OOMKilled, Evicted, Error, Completed, ...
};

struct Facts {
  std::optional<int> exit_code;
  std::string reason;  // e.g. OOMKilled, Evicted, DeadlineExceeded, NodeLost
  std::string component;
  std::vector<ContainerOutcome> containers;  // optional, more precise than the two above
};

struct Diagnosis {
  std::string cls;
  bool retryable = false;
  struct Line {
    std::string component;
    int64_t line = 0;  // 1-based; 0 when the cause comes from platform facts only
    std::string text;
  } root_cause;
  std::vector<Line> highlights;
  /// The component that failed, when platform evidence names it (e.g. "executor-1" OOMKilled
  /// while the root-cause line is the driver's "Lost executor 1 ..."); "" otherwise.
  std::string component;
  std::string remediation;
  std::string summary;
};

/// {"class", "retryable", "root_cause": {component, line, text}, "highlights": [...],
///  "component" (when set), "remediation", "summary"}
///
/// Component names: "batch-container", "controller", "driver", "executor" or "executor-N"
/// (one executor's log or status); roles are compared without the "-N".
boost::json::value ToJson(const Diagnosis& d);

class Diagnoser {
 public:
  /// Compiles the catalog once (InvalidArgument naming the pattern if it does not compile).
  [[nodiscard]] static Result<Diagnoser> Create(Catalog catalog);
  /// The built-in catalog.
  [[nodiscard]] static Result<Diagnoser> CreateBuiltin();

  /// A scanner for one stream (component: driver, executor, controller, k8s-events,
  /// batch-container, ...).
  std::unique_ptr<LogScan> Start(std::string component) const;
  /// Decides from finished scans (in the order given: earlier scans win ties) and facts.
  Diagnosis Decide(const std::vector<const LogScan*>& scans, const Facts& facts) const;

  const Catalog& catalog() const { return compiled_->catalog(); }
  /// The compiled form (prefilter anchors, fallback patterns), for reports and benchmarks.
  const CompiledCatalog& compiled() const { return *compiled_; }

 private:
  explicit Diagnoser(std::shared_ptr<const CompiledCatalog> c) : compiled_(std::move(c)) {}
  std::shared_ptr<const CompiledCatalog> compiled_;
};

}  // namespace tug::diagnose
