#pragma once
/// The domain: definitions (versioned job templates), runs (one request to execute a definition),
/// attempts (one execution with concrete resources, ending in an outcome) and timeline events.
/// Plain values: no I/O, copyable, compared field by field.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace tug {

/// RETRYING: an attempt failed and the planner queued the next one (due after a back-off).
enum class RunStatus { kQueued, kRunning, kRetrying, kSucceeded, kFailed, kStopped, kLost };
enum class AttemptStatus { kQueued, kLaunching, kRunning, kSucceeded, kFailed, kStopped, kLost };

std::string_view ToString(RunStatus s);
std::string_view ToString(AttemptStatus s);
Result<RunStatus> ParseRunStatus(std::string_view s);
Result<AttemptStatus> ParseAttemptStatus(std::string_view s);
bool IsTerminal(RunStatus s);
bool IsTerminal(AttemptStatus s);
/// The state machines: only these moves are legal (a no-op move to the same state is not).
bool CanTransition(RunStatus from, RunStatus to);
bool CanTransition(AttemptStatus from, AttemptStatus to);
/// The run status that follows from its (last) attempt ending in `s` when no retry follows.
RunStatus RunStatusForFinalAttempt(AttemptStatus s);

/// Termination reasons, as Kubernetes names them where it has a name.
namespace reason {
inline constexpr std::string_view kCompleted = "Completed";
inline constexpr std::string_view kError = "Error";
inline constexpr std::string_view kOomKilled = "OOMKilled";
inline constexpr std::string_view kDeadlineExceeded = "DeadlineExceeded";
inline constexpr std::string_view kStopped = "Stopped";
inline constexpr std::string_view kLost = "Lost";
inline constexpr std::string_view kLaunchFailed = "LaunchFailed";
/// The engine refused the attempt's spec (the API server's 422, a bad working dir): a
/// configuration error, never retried.
inline constexpr std::string_view kInvalidSpec = "InvalidSpec";
inline constexpr std::string_view kSignaled = "Signaled";
}  // namespace reason

/// One Spark role's container: cores, JVM heap (spark.*.memory) and the non-heap overhead
/// (spark.*.memoryOverhead). 0: unset (Spark's default applies; see EffectiveOverhead).
struct SparkRole {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int64_t memory_overhead_bytes = 0;
  bool operator==(const SparkRole&) const = default;
};

/// What a Spark attempt asks for. All zero for container jobs.
struct SparkResources {
  SparkRole driver;
  SparkRole executor;
  int instances = 0;      // spark.executor.instances (initial executors with dynamic allocation)
  int min_executors = 0;  // spark.dynamicAllocation.minExecutors
  int max_executors = 0;  // spark.dynamicAllocation.maxExecutors (0: = instances)
  bool dynamic_allocation = false;
  int64_t max_result_size_bytes = 0;  // spark.driver.maxResultSize (0: Spark's 1g)
  bool operator==(const SparkResources&) const = default;
  bool empty() const { return *this == SparkResources{}; }
};

/// Spark's default overhead when none is set: max(384Mi, 10 % of the heap).
int64_t EffectiveOverhead(const SparkRole& role);
inline constexpr int64_t kSparkDefaultMaxResultSize = int64_t{1} << 30;

struct Resources {
  int64_t memory_bytes = 0;  // 0: unset (container jobs)
  int64_t cpu_millis = 0;    // 0: unset
  SparkResources spark;      // kind spark only
  int64_t gpu = 0;           // GPUs (nvidia.com/gpu) per container, per executor for spark; 0: none
  bool operator==(const Resources&) const = default;
};

/// Where an attempt's pods go: "spot", "on-demand", or "" (no preference; the local engine
/// records it but has no capacity types). `capacity` is the container's (or the Spark
/// driver's, always on-demand); `executor_capacity` the Spark executors'.
struct Placement {
  std::string capacity;
  std::string executor_capacity;
  bool operator==(const Placement&) const = default;
};

inline constexpr std::string_view kSpot = "spot";
inline constexpr std::string_view kOnDemand = "on-demand";

struct Backoff {
  int64_t initial_seconds = 60;  // the first retry after a transient error waits about this
  int64_t max_seconds = 1800;
  double multiplier = 4;  // 1m, 4m, 16m (failure-taxonomy: transient_dependency)
  bool operator==(const Backoff&) const = default;
};

struct RetryPolicy {
  /// Attempts that may end in a failure of the job itself (OOM, transient errors, ...).
  int max_attempts = 3;
  /// Further attempts after infrastructure failures (node loss, LOST, scheduling, launch);
  /// they do not use up max_attempts.
  int max_infra_retries = 3;
  Backoff backoff;
  bool operator==(const RetryPolicy&) const = default;
};

/// How the planner may change the next attempt (src/adapt).
struct AdaptPolicy {
  double memory_factor = 1.5;             // growth after an OOM
  int64_t max_memory_bytes = 0;           // per container; 0: the platform's limit
  double executor_factor = 1.5;           // executor instances growth after loss / fetch failures
  int max_executors = 0;                  // 0: the platform's limit
  std::string rightsizing = "recommend";  // off | recommend | apply
  std::string capacity = "auto";          // spot | on-demand | auto
  bool critical = false;                  // always on-demand
  bool operator==(const AdaptPolicy&) const = default;
};

/// kind: spark (run by the spark engine: spark-submit in a controller pod; resources.spark
/// holds the driver and executor sizes).
struct SparkSpec {
  std::string version;     // e.g. "3.5": picks the image from the server's spark.versions
  std::string main;        // local:// or s3a:// jar or py file
  std::string main_class;  // for jars
  std::vector<std::string> args;
  std::map<std::string, std::string> conf;
  std::vector<std::string> py_files;  // --py-files
  std::vector<std::string> jars;      // --jars
  std::vector<std::string> files;     // --files
  bool operator==(const SparkSpec&) const = default;
};

/// A pod toleration (kubernetes engine).
struct Toleration {
  std::string key;
  std::string op = "Equal";  // Equal | Exists
  std::string value;
  std::string effect;  // "" (all) | NoSchedule | PreferNoSchedule | NoExecute
  bool operator==(const Toleration&) const = default;
};

/// Pod settings for the kubernetes engine (ignored by the local engine).
struct KubernetesSpec {
  std::string service_account;    // "": the namespace's default
  std::string image_pull_policy;  // "" (Kubernetes' default) | Always | IfNotPresent | Never
  std::vector<std::string> image_pull_secrets;
  std::map<std::string, std::string> node_selector;
  std::vector<Toleration> tolerations;
  bool operator==(const KubernetesSpec&) const = default;
  bool empty() const { return *this == KubernetesSpec{}; }
};

/// A definition's environment variable whose value is a secret. YAML:
///   env:
///     PASSWORD: {secret: true, value: hunter2}                  # inline: kept in the store
///     DB_PASSWORD: {valueFrom: {secretKeyRef: {name: db, key: password}}}  # a Kubernetes Secret
/// Never returned by the API (it answers {secret: true} or the reference), printed by the CLI,
/// written to the server's logs, events or audit log. The local engine passes inline values to
/// the job; the kubernetes and spark engines reference the Kubernetes Secret (valueFrom), so its
/// value never passes through Tugboat.
struct SecretEnv {
  /// The inline value; "" when it comes from a Kubernetes Secret. A definition read back from
  /// the API has neither value nor reference: applying it again keeps the stored value.
  std::string value;
  /// valueFrom.secretKeyRef: the Secret's name and key (both set, or neither).
  std::string secret_name;
  std::string secret_key;
  bool from_secret() const { return !secret_name.empty(); }
  /// Neither a value nor a reference: "keep the stored one" (an apply of what GET returned).
  bool kept() const { return value.empty() && secret_name.empty(); }
  bool operator==(const SecretEnv&) const = default;
};

struct Definition {
  std::string name;
  int64_t version = 0;  // assigned by the store
  std::string kind = "container";
  std::string description;
  std::string image;  // recorded for container engines; the local engine runs on the host
  /// Either a shell string (run by /bin/sh -c) or an argv list.
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  /// Secret environment variables (names never also in `env`).
  std::map<std::string, SecretEnv> secret_env;
  std::string working_dir;
  Resources resources;
  int64_t timeout_seconds = 0;  // 0: no deadline
  RetryPolicy retry;
  AdaptPolicy adapt;
  SparkSpec spark;  // kind spark (resources.spark holds its sizes)
  /// Where attempts run: "" (the server's default engine), "local" or "kubernetes"; kind spark:
  /// "" (the server's spark.engine), "spark" (Spark on Kubernetes) or "emr-on-eks".
  std::string engine;
  /// kubernetes: a cluster named in the server config ("": the first one configured).
  std::string cluster;
  KubernetesSpec kubernetes;
  std::map<std::string, std::string> labels;
  /// Parameters a run may pass: a JSON Schema (draft 7, type: object), serialized; "": none.
  /// With it, the command is a template with {{ name }} placeholders (src/templates).
  std::string parameters;
  Micros created_at = 0;
  /// Who created it and the group it belongs to (see src/auth): set by the server from the
  /// caller's identity, kept by the store beside the spec (not part of it: a changed owner
  /// alone is no new spec). "" for definitions from before authentication.
  std::string owner;
  std::string group;
  /// The team queue its runs wait in ("" : the owner's first group when a queue has its name,
  /// else "default") and their priority within it (higher first).
  std::string queue;
  int priority = 0;
  bool operator==(const Definition&) const = default;

  /// The argv the engine executes.
  std::vector<std::string> Argv() const;
};

/// Submission-time changes to a definition, kept on the run.
struct RunOverrides {
  std::map<std::string, std::string> env;
  Resources resources;
  int64_t timeout_seconds = 0;
  /// The engine for this run ("" : the definition's): local, kubernetes, spark, emr-on-eks.
  std::string engine;
  /// The run's parameter values (a JSON object, defaults filled in), serialized; "": none. The
  /// spec's command is already rendered from them (src/templates).
  std::string parameters;
  bool operator==(const RunOverrides&) const = default;
};

struct Outcome {
  std::optional<int> exit_code;
  std::string reason;  // reason::k*
  std::string message;
  bool operator==(const Outcome&) const = default;
};

/// One process of an attempt, with its own log: "main" (a container job), or Spark's
/// "controller" (spark-submit), "driver" and "executor-N".
struct ComponentStatus {
  std::string name;
  std::string pod;       // pod name ("" on the local engine)
  std::string node;      // where it ran, when known
  std::string capacity;  // the node's capacity type ("spot" / "on-demand"), when known
  std::string state;     // pending | running | succeeded | failed | deleted
  std::optional<int> exit_code;
  std::string reason;  // OOMKilled, Error, Completed, NodeLost, Deleted, ...
  std::string message;
  Micros started_at = 0;
  Micros ended_at = 0;
  /// It failed while the attempt was still running (not torn down at its end): platform
  /// evidence for diagnosis (an executor OOMKilled mid-job).
  bool evidence = false;
  bool operator==(const ComponentStatus&) const = default;
};

/// One reading of an attempt component's resource use; engines sample it every few seconds.
struct UsageReading {
  std::string component = "main";
  int64_t memory_bytes = 0;        // memory in use now (cgroup memory.current / working set)
  int64_t cpu_millis = 0;          // CPU used over the last interval, in millicores
  int64_t memory_limit_bytes = 0;  // 0: no limit
  int64_t cpu_limit_millis = 0;    // 0: no limit
  bool operator==(const UsageReading&) const = default;
};

struct Attempt {
  std::string id;  // "<run id>-<number>"
  std::string run_id;
  int number = 1;
  AttemptStatus status = AttemptStatus::kQueued;
  Resources resources;
  Placement placement;
  std::string engine = "local";
  std::string engine_ref;  // engine-specific handle (JSON), for stop/adopt
  std::string claimed_by;
  Micros lease_expires_at = 0;
  Micros created_at = 0;
  Micros due_at = 0;
  Micros launched_at = 0;
  Micros started_at = 0;
  Micros ended_at = 0;
  std::optional<Outcome> outcome;
  int64_t peak_memory_bytes = 0;
  int64_t cpu_micros = 0;
  /// Why it failed, as a JSON object written by the diagnoser ("" when not diagnosed).
  std::string diagnosis;
  /// What the planner decided when this attempt ended (JSON object, see src/adapt; "" when
  /// it succeeded or was stopped).
  std::string decision;
  /// Its components when it ended (JSON array of ComponentStatus; see core/json.h), "" when the
  /// engine has only one (the local and kubernetes engines).
  std::string components;
  /// Spark: the application id (spark-app-selector), for the history server; "" otherwise.
  std::string app_id;
  /// What it cost (src/cost), priced by the controller when it ended and kept, so a later price
  /// change does not rewrite history: $ and how it was priced, one line. Unset while it runs,
  /// when pricing is off, and for attempts that ended before costs were recorded.
  std::optional<double> cost_usd;
  std::string cost_basis;
  bool operator==(const Attempt&) const = default;
};

struct Run {
  std::string id;
  /// Who submitted it: the caller's identity with authentication on; without it the API's
  /// "owner" (the CLI sends $USER); "" when unknown.
  std::string owner;
  /// The group it belongs to (src/auth): members of the group see and act on it. "" for runs
  /// submitted without authentication, or personal runs of a user without groups.
  std::string group;
  std::string definition;
  int64_t definition_version = 0;
  RunStatus status = RunStatus::kQueued;
  /// The definition as resolved at submission (overrides applied): what every attempt runs.
  Definition spec;
  RunOverrides overrides;
  Micros created_at = 0;
  Micros updated_at = 0;
  Micros started_at = 0;
  Micros ended_at = 0;
  bool stop_requested = false;
  std::optional<Outcome> outcome;
  /// How the first attempt was sized (JSON object from adapt::PlanFirst: rule, sentence and a
  /// right-sizing recommendation when there is one); "" for runs from before the planner.
  std::string plan;
  /// The run that submitted it (lineage, issue 26); "" for a top-level run.
  std::string parent_run_id;
  std::vector<Attempt> attempts;  // filled by GetRun
  /// Filled by ListRuns (which leaves `attempts` empty): how many attempts the run has, and the
  /// failure class of its latest failed attempt ("" when none failed; a run that recovered keeps
  /// what it recovered from).
  int attempt_count = 0;
  std::string last_failure_class;
  /// Team queues (src/queue): the queue it waits in and runs against ("default" unless the
  /// definition or the owner's group names another), its priority there (higher first), and
  /// while QUEUED over a limit, why it waits ("team-a: 40 of 40 CPUs in use"; "" otherwise).
  std::string queue = "default";
  int priority = 0;
  std::string queue_reason;
  /// The stored costs of its ended attempts (Attempt::cost_usd) summed, and of those that failed
  /// or were lost ("retries cost $X"); kept on the run by the store (GetRun and ListRuns).
  double cost_usd = 0;
  double retries_cost_usd = 0;
  bool operator==(const Run&) const = default;
};

struct Event {
  int64_t seq = 0;  // store-assigned, increasing per store
  std::string run_id;
  std::string attempt_id;
  Micros at = 0;
  std::string type;  // "submitted", "claimed", "launched", "started", "ended", "stop_requested"...
  std::string message;
  bool operator==(const Event&) const = default;
};

/// Limits a definition or run is checked against (from server config).
struct Limits {
  int64_t max_memory_bytes = int64_t{64} << 30;  // per container (Spark: heap + overhead)
  int64_t max_cpu_millis = 64'000;
  int64_t max_timeout_seconds = int64_t{7} * 86400;
  int max_executors = 200;
  int64_t max_gpu = 16;  // per container
};

/// What makes two runs of one definition "the same job" for right-sizing: a short hex hash of
/// kind, image, command/argv and the Spark main, class and args (not env, not resources).
std::string CommandSignature(const Definition& def);

/// Spark confs Tugboat generates, which a definition's spark.conf may not set: "" when `key` is
/// free for users, else where to set it instead.
std::string SparkConfManaged(const std::string& key);

/// Checks fields a user wrote; messages say what to fix.
Status Validate(const Definition& def, const Limits& limits);
Status ValidateName(std::string_view name);
/// The definition with overrides applied (env merged, resources and timeout replaced where set).
Definition ApplyOverrides(const Definition& def, const RunOverrides& overrides);

}  // namespace tug
