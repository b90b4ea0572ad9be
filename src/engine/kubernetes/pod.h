#pragma once
/// Pure parts of the kubernetes engine: the Pod an attempt becomes, and what a Pod's status
/// means for the attempt. No I/O, so both are tested with tables of real API server JSON.
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/clock.h"
#include "core/model.h"
#include "engine/engine.h"

namespace tug::engine::kubernetes {

inline constexpr char kLabelManaged[] = "tugboat.io/managed";
inline constexpr char kLabelRun[] = "tugboat.io/run";
inline constexpr char kLabelAttempt[] = "tugboat.io/attempt";
inline constexpr char kLabelDefinition[] = "tugboat.io/definition";
inline constexpr char kLabelComponent[] = "tugboat.io/component";
inline constexpr char kAnnotationAttempt[] = "tugboat.io/attempt-id";
inline constexpr char kContainerName[] = "main";

/// Where and how pods are made (from the cluster's config).
struct PodSettings {
  std::string namespace_ = "default";
  /// Node label carrying the capacity type, and its values (Karpenter's by default; EKS managed
  /// node groups: eks.amazonaws.com/capacityType with SPOT / ON_DEMAND).
  std::string capacity_label = "karpenter.sh/capacity-type";
  std::string spot_value = "spot";
  std::string on_demand_value = "on-demand";
  std::string default_service_account;
  /// spec.schedulerName of every pod ("": the cluster's default scheduler), e.g. the second
  /// scheduler with the bin-packing profile that deploy/ ships ("tugboat-binpack").
  std::string scheduler_name;
  /// Added to GPU pods (resources.gpu > 0) to reach the GPU node group; the definition's own
  /// node selector wins on a shared key.
  std::map<std::string, std::string> gpu_node_selector;
  std::vector<Toleration> gpu_tolerations;
};

/// The NVIDIA device plugin's extended resource.
inline constexpr char kGpuResource[] = "nvidia.com/gpu";
/// The size of a GPU pod's memory-backed /dev/shm: half the memory request (the volume's pages
/// count against the container's memory limit, so half leaves the process the rest), rounded
/// down to a MiB; without a memory request, 1Gi per GPU.
int64_t ShmBytes(const Resources& resources);

/// A memory quantity as Kubernetes writes it back: "96Mi", "2Gi", or plain bytes.
std::string Quantity(int64_t bytes);
/// "tug-<attempt id>", lower-cased, characters outside [a-z0-9-] replaced by '-', at most 63.
std::string PodName(const std::string& attempt_id);
/// A label value: [A-Za-z0-9._-], at most 63, starting and ending alphanumeric ("" stays "").
std::string LabelValue(const std::string& s);

/// kFailedPrecondition when the spec has an inline secret env value: on Kubernetes secrets are
/// referenced (valueFrom.secretKeyRef), never copied into a pod or spark-submit's confs.
/// `engine` names the engine in the message.
[[nodiscard]] Status CheckSecretsByReference(const LaunchSpec& spec, std::string_view engine);

/// The Pod for one attempt: restartPolicy Never, memory request = limit, cpu request,
/// activeDeadlineSeconds, service account, pull policy and secrets, env, tolerations, node
/// selector, and the capacity type as required node affinity. A GPU attempt also gets the
/// nvidia.com/gpu limit, the settings' GPU node selector and tolerations, and a memory-backed
/// emptyDir at /dev/shm of ShmBytes.
boost::json::value BuildPod(const LaunchSpec& spec, const PodSettings& settings);

/// What a Pod's state means for its attempt.
struct PodState {
  enum class Phase { kPending, kRunning, kEnded };
  Phase phase = Phase::kPending;
  std::string attempt_id;  // from the annotation ("" if the pod is not ours)
  std::string node_name;
  Micros started_at = 0;  // the container's start, when known
  Micros ended_at = 0;
  // kEnded:
  AttemptStatus status = AttemptStatus::kFailed;
  Outcome outcome;
  /// kPending: why it waits, when known ("Unschedulable", "ImagePullBackOff", ...) and the
  /// scheduler's / kubelet's message; and whether that wait can never end by itself.
  std::string waiting_reason;
  std::string waiting_message;
  bool waiting_fatal = false;
  /// kPending, on no node, and no verdict yet from the scheduler its spec names (not the
  /// default one): that scheduler's name. A scheduler that is not running leaves it so forever.
  std::string unassigned_scheduler;
  /// The DisruptionTarget condition is set (the pod is being evicted/preempted by the platform).
  bool disruption = false;
  std::string disruption_message;
};

/// The capacity type a pod is pinned to ("spot", "on-demand" or ""), from its node selector or
/// required node affinity on the capacity label.
std::string CapacityOf(const boost::json::value& pod, const PodSettings& settings);

/// Reads a Pod object (as the API server returns it). `container` names the container whose
/// state counts; when the pod has no container of that name, its first container status counts.
/// A container found by name that has terminated ends the pod's reading even while the pod is
/// still Running (a sidecar, such as EMR's fluentd beside the Spark driver, outlives it).
PodState ReadPod(const boost::json::value& pod, std::string_view container = kContainerName);

/// When a Kubernetes Event happened (lastTimestamp, else eventTime, else firstTimestamp); 0 when
/// it has none.
Micros EventTime(const boost::json::value& event);

/// The string at `path` in a JSON object tree ("" when absent or not a string).
std::string StringAt(const boost::json::value& v, std::initializer_list<std::string_view> path);

/// RFC 3339 (with optional fraction) → micros; 0 when unparseable.
Micros ParseTime(std::string_view rfc3339);

}  // namespace tug::engine::kubernetes
