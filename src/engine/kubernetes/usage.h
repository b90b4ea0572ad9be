#pragma once
/// Pure parts of the kubernetes engine's usage sampling: PodMetrics objects of the metrics API
/// (metrics.k8s.io/v1beta1, served by metrics-server) read into readings, the limits of a pod's
/// containers, and the kUsage updates they make. No I/O, so they are tested with tables of
/// metrics-server JSON. The sampling loop itself is in usage_sampling.cpp.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "engine/engine.h"

namespace tug::engine::kubernetes {

/// The metrics API's group version path (discovery answers an APIResourceList here).
inline constexpr char kMetricsApiPath[] = "/apis/metrics.k8s.io/v1beta1";

/// Millicores from a usage quantity: "123456789n" (nanocores, what metrics-server writes),
/// "250u", "5m", "2", "1.5", "0"; rounded to nearest. kInvalidArgument otherwise.
[[nodiscard]] Result<int64_t> ParseCpuUsage(std::string_view quantity);
/// Bytes from a usage quantity: "20480Ki", "48Mi", "1G", "123456", "0". kInvalidArgument
/// otherwise.
[[nodiscard]] Result<int64_t> ParseMemoryUsage(std::string_view quantity);

/// One PodMetrics object: its containers' usage summed (the pod is the component).
struct PodMetricsSample {
  std::string pod;
  Micros timestamp = 0;      // when the kubelet measured it; 0 when absent or unparseable
  int64_t memory_bytes = 0;  // working set
  int64_t cpu_millis = 0;    // over the object's window
};
/// kInvalidArgument naming the pod when a field is missing or a quantity malformed.
[[nodiscard]] Result<PodMetricsSample> ReadPodMetrics(const boost::json::value& item);

/// The limits of a pod's containers, summed; a resource one container has no limit for is 0
/// (then the pod as a whole has none).
struct PodLimits {
  int64_t memory_bytes = 0;
  int64_t cpu_millis = 0;
};
PodLimits LimitsOf(const boost::json::value& pod);

/// Whether a discovery answer for metrics.k8s.io/v1beta1 (an APIResourceList) lists pods.
bool ServesPodMetrics(const boost::json::value& resource_list);

/// What the engine knows of a pod it watches.
struct UsagePod {
  std::string attempt_id;
  std::string component;
  Micros started_at = 0;  // the attempt's start
  PodLimits limits;
};

/// One kUsage update per attempt with samples: one reading per component (ordered by name),
/// `at` the newest sample's timestamp (`now` when none has one). Samples of pods not in
/// `pods` are ignored; of two samples for one component, the newer wins.
std::vector<Update> UsageUpdates(const std::vector<PodMetricsSample>& samples,
                                 const std::map<std::string, UsagePod>& pods, Micros now);

}  // namespace tug::engine::kubernetes
