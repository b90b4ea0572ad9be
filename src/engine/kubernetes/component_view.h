#pragma once
/// One pod of an attempt as an engine last saw it (the kubernetes and spark engines, and the
/// emr-on-eks engine's pod watcher), and the rule that makes a failed executor platform
/// evidence for diagnosis. Pure; no I/O.
#include <map>
#include <string>

#include "core/clock.h"
#include "core/model.h"

namespace tug::engine::kubernetes {

/// One pod of an attempt, as the engine last saw it (what the end decisions are made on).
struct ComponentView {
  std::string pod;
  std::string container;  // whose log is read
  bool ended = false;     // terminal, deleted or lost
  AttemptStatus end_status = AttemptStatus::kFailed;
  Outcome end_outcome;
  Micros ended_at = 0;     // as the pod status says (second precision) or when it was lost
  Micros observed_at = 0;  // when this engine saw it end (its own clock)
  ComponentStatus status;
  std::string app_id;  // Spark's spark-app-selector label, when the pod has it
  std::string pod_ip;
  std::string waiting_reason;
  Micros waiting_since = 0;
  bool start_noted = false;  // a side pod's start went onto the timeline
};

/// An attempt's end, as decided from its components.
struct AttemptEnding {
  AttemptStatus status = AttemptStatus::kFailed;
  Outcome outcome;
  Micros ended_at = 0;
};

/// Records a component's end: `at` as the pod says (or when it was lost), `now` when this engine
/// saw it; its status becomes succeeded / failed / deleted / stopped with the outcome's exit code,
/// reason and message. A component already ended is left alone.
void MarkEnded(ComponentView& c, AttemptStatus status, const Outcome& outcome, Micros at,
               Micros now);

/// "executor-N" components (Spark's executors).
bool IsExecutorComponent(const std::string& name);

/// Sets `status.evidence` on every executor: true when it failed by itself (not a graceful
/// 143 teardown, not a deletion without a status) while the driver still ran (seen ending
/// before the driver, or in the same second: pod times have second precision) and no stop was
/// requested. The spark engine and the emr-on-eks pod watcher share it.
void MarkExecutorEvidence(std::map<std::string, ComponentView>& components, bool stop_requested);

}  // namespace tug::engine::kubernetes
