#include "engine/kubernetes/component_view.h"

namespace tug::engine::kubernetes {
namespace {

// A failure of the executor itself, not Spark tearing it down: Spark deletes executors
// gracefully (SIGTERM, 143) when it scales down or the application ends, and a deletion with no
// terminal status says nothing about why.
bool ExecutorFailure(const ComponentView& c) {
  if (c.end_status != AttemptStatus::kFailed) return false;
  if (c.end_outcome.reason == "Deleted") return false;
  return !(c.end_outcome.exit_code && *c.end_outcome.exit_code == 143);
}

}  // namespace

void MarkEnded(ComponentView& c, AttemptStatus status, const Outcome& outcome, Micros at,
               Micros now) {
  if (c.ended) return;
  c.ended = true;
  c.end_status = status;
  c.end_outcome = outcome;
  c.ended_at = at;
  c.observed_at = now;
  c.status.state = status == AttemptStatus::kSucceeded ? "succeeded"
                   : outcome.reason == "Deleted"       ? "deleted"
                                                       : "failed";
  if (status == AttemptStatus::kStopped) c.status.state = "stopped";
  c.status.exit_code = outcome.exit_code;
  c.status.reason = outcome.reason;
  c.status.message = outcome.message;
  c.status.ended_at = at;
  c.waiting_since = 0;
}

bool IsExecutorComponent(const std::string& name) { return name.rfind("executor-", 0) == 0; }

void MarkExecutorEvidence(std::map<std::string, ComponentView>& components, bool stop_requested) {
  auto drv_it = components.find("driver");
  const ComponentView* drv = drv_it == components.end() ? nullptr : &drv_it->second;
  for (auto& [name, c] : components) {
    if (!IsExecutorComponent(name) || !c.ended) continue;
    // Seen before the driver's end, or ended no later than it: pod status times have second
    // precision, so a lost node and the driver's reaction to it often share a second.
    bool before_driver_end = drv == nullptr || !drv->ended || c.observed_at <= drv->observed_at ||
                             c.ended_at < drv->ended_at + kMicrosPerSecond;
    c.status.evidence = !stop_requested && before_driver_end && ExecutorFailure(c);
  }
}

}  // namespace tug::engine::kubernetes
