#pragma once
/// The spark engine: Spark on Kubernetes. An attempt is a controller pod running
/// `spark-submit --deploy-mode cluster` (always on-demand) plus the driver and executor pods
/// Spark creates from the generated confs (submit.h), which carry Tugboat's labels and the
/// attempt annotation, so the kubernetes engine's machinery (informers, log followers, events,
/// reconcile, deletion after the linger) tracks every one of them as a component: `controller`,
/// `driver`, `executor-N`, each with its own log.
///
/// The attempt's outcome is the driver's (spark-submit exits 0 even when the application
/// failed on some Spark versions), or the controller's when no driver was ever created.
/// Executors that fail while the driver runs (OOMKilled, 137, node lost) are recorded as
/// platform evidence for diagnosis; executors torn down after the driver ended are not.
///
/// Lifecycle and threading: as KubernetesEngine.
#include <map>
#include <optional>
#include <string>

#include "engine/kubernetes/kubernetes_engine.h"
#include "engine/spark/submit.h"

namespace tug::engine::spark {

struct SparkTiming {
  /// After the driver ended, how long to wait for spark-submit to end too (its log's last lines).
  Micros controller_grace = 30 * kMicrosPerSecond;
  /// After spark-submit exited 0, how long a driver pod may take to show up in the watch.
  Micros driver_appear_grace = 20 * kMicrosPerSecond;
};

/// The end rules above, on the components as last seen (pure; table-tested). Marks executors
/// that failed while the driver ran as evidence.
std::optional<kubernetes::AttemptEnding> DecideSparkEnd(
    std::map<std::string, kubernetes::ComponentView>& components, bool stop_requested, Micros now,
    const SparkTiming& timing);

class SparkEngine final : public kubernetes::KubernetesEngine {
 public:
  SparkEngine(kubernetes::KubernetesEngineOptions options, SparkSettings settings,
              kube::Client& client, logs::LogStore& logs, const Clock& clock,
              SparkTiming timing = {});
  ~SparkEngine() override;

  const SparkSettings& settings() const { return settings_; }

 protected:
  [[nodiscard]] Result<boost::json::value> FirstPod(const LaunchSpec& spec) override;
  std::string FirstComponent() const override { return "controller"; }
  std::string SideComponent(const boost::json::value& pod) const override;
  bool Essential(const std::string& component) const override {
    return component == "controller" || component == "driver";
  }
  std::optional<kubernetes::AttemptEnding> DecideEnd(
      std::map<std::string, kubernetes::ComponentView>& components, bool stop_requested,
      Micros now) override {
    return DecideSparkEnd(components, stop_requested, now, timing_);
  }

 private:
  const SparkSettings settings_;
  const SparkTiming timing_;
};

}  // namespace tug::engine::spark
