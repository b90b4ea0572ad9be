#include "engine/spark/spark_engine.h"

#include <fmt/format.h>
#include <boost/json.hpp>

namespace tug::engine::spark {
namespace json = boost::json;
using kubernetes::AttemptEnding;
using kubernetes::ComponentView;

std::optional<AttemptEnding> DecideSparkEnd(std::map<std::string, ComponentView>& components,
                                            bool stop_requested, Micros now,
                                            const SparkTiming& timing) {
  auto ctl_it = components.find("controller");
  if (ctl_it == components.end()) return std::nullopt;
  const ComponentView& ctl = ctl_it->second;
  auto drv_it = components.find("driver");
  const ComponentView* drv = drv_it == components.end() ? nullptr : &drv_it->second;

  kubernetes::MarkExecutorEvidence(components, stop_requested);

  if (stop_requested) {
    bool driver_done = drv == nullptr || drv->ended;
    if (ctl.ended && (driver_done || now - ctl.ended_at >= timing.controller_grace)) {
      return AttemptEnding{AttemptStatus::kStopped,
                           Outcome{143, std::string(reason::kStopped), "stopped by request"},
                           driver_done && drv != nullptr ? drv->ended_at : ctl.ended_at};
    }
    return std::nullopt;
  }
  if (drv != nullptr) {
    if (drv->ended) {
      // The driver's end is the application's; wait a little for spark-submit's last lines.
      if (!ctl.ended && now - drv->ended_at < timing.controller_grace) return std::nullopt;
      Outcome o = drv->end_outcome;
      if (drv->end_status != AttemptStatus::kSucceeded) {
        o.message = "driver: " + (o.message.empty() ? o.reason : o.message);
      }
      return AttemptEnding{drv->end_status, o, drv->ended_at};
    }
    // The driver runs on without its submitter, except when the deadline killed spark-submit:
    // then the attempt is over (the pods are deleted at cleanup).
    if (ctl.ended && ctl.end_outcome.reason == reason::kDeadlineExceeded) {
      return AttemptEnding{AttemptStatus::kFailed, ctl.end_outcome, ctl.ended_at};
    }
    return std::nullopt;
  }
  if (!ctl.ended) return std::nullopt;
  if (ctl.end_status != AttemptStatus::kSucceeded) {
    // spark-submit failed before any driver existed: bad conf, no permission, API server down.
    Outcome o = ctl.end_outcome;
    o.message = "spark-submit: " + (o.message.empty() ? o.reason : o.message);
    return AttemptEnding{ctl.end_status, o, ctl.ended_at};
  }
  if (now - ctl.ended_at < timing.driver_appear_grace) return std::nullopt;
  return AttemptEnding{
      AttemptStatus::kFailed,
      Outcome{std::nullopt, std::string(reason::kError),
              "spark-submit exited 0 but no driver pod appeared; see the controller log"},
      ctl.ended_at};
}

SparkEngine::SparkEngine(kubernetes::KubernetesEngineOptions options, SparkSettings settings,
                         kube::Client& client, logs::LogStore& logs, const Clock& clock,
                         SparkTiming timing)
    : KubernetesEngine(std::move(options), client, logs, clock),
      settings_(std::move(settings)),
      timing_(timing) {}

SparkEngine::~SparkEngine() { Shutdown(); }

Result<json::value> SparkEngine::FirstPod(const LaunchSpec& spec) {
  ASSIGN_OR_RETURN(Submission sub, BuildSubmission(spec, options().pod, settings_));
  return std::move(sub.controller_pod);
}

std::string SparkEngine::SideComponent(const json::value& pod) const {
  std::string c = ComponentOf(pod);
  return c == "controller" ? "" : c;
}

}  // namespace tug::engine::spark
