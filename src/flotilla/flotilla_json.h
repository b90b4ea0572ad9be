#pragma once
/// Flotilla's v6 JSON, mapped onto Tugboat's model: definitions both ways, runs out, execute
/// requests in, and the list endpoints' parameters, filters, ordering and envelopes. Pure: values
/// in, values out, no I/O, so the shapes are tested with tables (flotilla_json_test.cpp).
///
/// The shapes follow stitchfix/flotilla-os: state/models.go (Definition, Run and their
/// MarshalJSON) and flotilla/endpoints.go (LaunchRequestV2, CreateRunV4's checks); the list
/// endpoints' side is flotilla_lists.h. docs/flotilla.md has the field map and the commits read.
///
/// Errors: kInvalidArgument for what Flotilla answers 400 (its MalformedInput), kInternal for
/// what it answers 500.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/model.h"

namespace tug::flotilla {

/// Labels of Tugboat definitions and runs that hold what Flotilla has and Tugboat has no field
/// for. Not shown among a run's Flotilla `labels`.
inline constexpr std::string_view kLabelPrefix = "flotilla/";
inline constexpr const char* kTagsLabel = "flotilla/tags";  // a JSON array of strings
inline constexpr const char* kDescriptionLabel = "flotilla/description";
inline constexpr const char* kIdempotenceLabel = "flotilla/idempotence_key";
inline constexpr const char* kCommandHashLabel = "flotilla/command_hash";
inline constexpr const char* kArchLabel = "flotilla/arch";
inline constexpr const char* kOwnerIdLabel = "flotilla/owner_id";
inline constexpr const char* kAvatarLabel = "flotilla/avatar_uri";  // a template's avatar_uri
/// Flotilla's parent link: a child run's env names its parent (services/execution.go
/// terminateWorker stops the runs whose env holds the stopped run's id).
inline constexpr const char* kParentEnv = "PARENT_FLOTILLA_RUN_ID";

/// Flotilla's run statuses (state/models.go).
inline constexpr std::string_view kQueued = "QUEUED";
inline constexpr std::string_view kPending = "PENDING";
inline constexpr std::string_view kRunning = "RUNNING";
inline constexpr std::string_view kStopped = "STOPPED";
inline constexpr std::string_view kNeedsRetry = "NEEDS_RETRY";

/// Lines per GET .../logs answer (state/models.go MaxLogLines).
inline constexpr int kMaxLogLines = 256;

/// What names a run's cluster: the server's default engine and its Kubernetes clusters.
struct EngineContext {
  std::string default_engine = "local";
  std::vector<std::string> clusters;
};

// --- statuses ---

/// A run's Flotilla status: QUEUED, RUNNING, NEEDS_RETRY (a retry waits for its back-off), or
/// STOPPED for every ended run (SUCCEEDED, FAILED, STOPPED, LOST). PENDING is never reported: a
/// launching run is QUEUED.
std::string_view StatusOf(RunStatus status);
/// The Tugboat statuses a Flotilla status filter means (PENDING: none). kInvalidArgument
/// "invalid status [X]" for anything else, as services/execution.go answers.
[[nodiscard]] Result<std::vector<RunStatus>> StatusesFor(std::string_view flotilla_status);

// --- definitions ---

/// A definition as Flotilla's Definition.MarshalJSON writes it: env first, then definition_id,
/// group_name, alias, command, image, memory (MB), cpu (millicores), adaptive_resource_allocation,
/// ports and tags. definition_id and alias are both the Tugboat name. Secret env is left out.
boost::json::object DefinitionJson(const Definition& d);
/// A new definition from a POST /api/v6/task body (unknown fields ignored, as Go's decoder does):
/// Flotilla's checks first ("string [image] must be specified", "string [alias] must be
/// specified"), then what has no Tugboat equivalent (gpu, ports) and the alias as a name.
[[nodiscard]] Result<Definition> DefinitionFromCreate(const boost::json::value& body);
/// `current` changed by a PUT /api/v6/task/{id} body the way Definition.UpdateWith does: only
/// fields present (non-empty strings, non-null numbers, an env list) replace. The alias is the
/// name and cannot change.
[[nodiscard]] Result<Definition> DefinitionFromUpdate(const boost::json::value& body,
                                                      Definition current);

// --- runs ---

/// A run as Flotilla's Run.MarshalJSON writes it (instance, pod_events, cloudtrail_notifications,
/// spark_extension, then the Run fields in declaration order, empty ones left out). With
/// `run.attempts` filled (one run) resources, placement and peak memory come from the latest
/// attempt; from a listing, from the spec.
boost::json::object RunJson(const Run& run, const EngineContext& engines);
/// "2024-05-01T10:00:00.5Z": RFC 3339 with the fraction's trailing zeros trimmed, as Go's
/// time.Time marshals.
std::string GoTime(Micros t);

/// A PUT .../execute body (flotilla/endpoints.go LaunchRequestV2, as CreateRunV4 checks it).
struct ExecuteRequest {
  std::string owner_id;  // run_tags.owner_id, required
  RunOverrides overrides;
  std::string command;   // "" : the definition's
  std::string capacity;  // from node_lifecycle: spot | on-demand; "" : the definition's
  std::map<std::string, std::string> labels;         // the run's labels and Flotilla metadata
  std::map<std::string, std::string> node_selector;  // arch → kubernetes.io/arch
  std::string idempotence_key;
};
[[nodiscard]] Result<ExecuteRequest> ParseExecute(const boost::json::value& body);
/// The launch fields v6 and v7 share (state/models.go ExecutionRequestCommon): node_lifecycle,
/// gpu, command, memory, cpu, active_deadline_seconds, env, description, command_hash,
/// idempotence_key, arch, labels; `r.owner_id` must be set (it becomes a label).
[[nodiscard]] Status ParseLaunchFields(const boost::json::object& o, ExecuteRequest& r);

}  // namespace tug::flotilla
