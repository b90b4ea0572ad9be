#pragma once
/// What a run cost: each attempt priced from its node's hourly price × its share of the node ×
/// its running time. Pure functions over core types (no I/O), used by the API, the CLI, the
/// metrics and the fleet simulator alike, so every figure Tugboat shows comes from one formula.
///
/// The share of a node is the dominant one of what the pod requests: max(cpu / allocatable cpu,
/// memory / allocatable memory), as a bin-packed node is full when either runs out (the same
/// share the simulator's cost accounting always used). The default basis is the request: a pod
/// holds what it requests whether it uses it or not. PriceAttemptUsed prices the measured use
/// instead (the "used" basis: showback of what a job actually consumed).
///
/// Prices come from a PriceBook: node types with allocatable cpu/memory and on-demand and spot
/// hourly prices, pods priced on the book's default type or their engine's (Tugboat does not
/// record which instance type a pod landed on); or flat rates per cpu-hour and GiB-hour, spot at
/// a fraction.
///
/// A Spark attempt is its driver plus `instances` executors for the attempt's running time
/// (with dynamic allocation: the initial executors; Tugboat does not record when each executor
/// came and went). An attempt that never started costs nothing; one still running is priced up
/// to `now`.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"

namespace tug::cost {

struct NodePrice {
  std::string type;          // "m5.4xlarge"
  int64_t cpu_millis = 0;    // allocatable
  int64_t memory_bytes = 0;  // allocatable
  double on_demand_hourly = 0;
  double spot_hourly = 0;
  int64_t gpus = 0;  // GPUs (nvidia.com/gpu) per node; 0: none
  bool operator==(const NodePrice&) const = default;
};

/// How one engine's pods are priced: on a node type of the book, or at flat rates.
struct EnginePrice {
  std::string node_type;  // one of PriceBook::types; "": the flat rates below
  double cpu_hourly = 0;
  double gib_hourly = 0;
  double gpu_hourly = 0;  // $ per GPU-hour at flat rates; 0: GPUs are not priced
  bool operator==(const EnginePrice&) const = default;
};

struct PriceBook {
  /// Node types; pods are priced on `default_type` (the first type when empty).
  std::vector<NodePrice> types;
  std::string default_type;
  /// Flat rates instead of node types (used when `types` is empty): $ per cpu-hour and per
  /// GiB-hour of memory requested, on-demand; spot at `spot_fraction` of that.
  double cpu_hourly = 0;
  double gib_hourly = 0;
  /// $ per GPU-hour at flat rates (0: GPUs are not priced there). With node types, a GPU pod
  /// is priced on the cheapest type with enough GPUs (`DefaultGpuPrices` when none has).
  double gpu_hourly = 0;
  double spot_fraction = 0.35;
  /// Per engine (Attempt::engine's kind — "local", "kubernetes", "spark", "emr-on-eks" — or an
  /// instance, "kubernetes:prod"): its node type or flat rates, overriding the defaults above.
  std::map<std::string, EnginePrice> engines;
  bool operator==(const PriceBook&) const = default;

  /// No prices at all: nothing is priced (the API then says cost is not configured).
  bool empty() const {
    return types.empty() && cpu_hourly == 0 && gib_hourly == 0 && engines.empty();
  }
};

/// What an attempt's share of a node is measured from.
enum class ShareBasis {
  kRequested,  // the pod's requests (the default: a pod holds what it requests)
  kUsed,       // its measured use (usage samples), the request where there are none
};
std::string_view ToString(ShareBasis basis);
/// "requested" or "used"; kInvalidArgument otherwise.
[[nodiscard]] Result<ShareBasis> ParseShareBasis(std::string_view text);

/// AWS Fargate's us-east-1 on-demand rates ($0.04048 per vCPU-hour, $0.004445 per GB-hour),
/// the built-in flat rates of the local engine (a process on the server's host has no node type).
inline constexpr double kLocalCpuHourly = 0.04048;
inline constexpr double kLocalGibHourly = 0.004445;

/// AWS us-east-1 on-demand list prices of m5.4xlarge (the default type), r5.4xlarge and
/// r5.8xlarge, allocatable after kubelet and system reservations, spot at `spot_fraction`: the
/// server's default book and the fleet simulator's node types.
PriceBook DefaultPriceBook(double spot_fraction = 0.35);

/// Checks a book: positive allocatable sizes, non-negative prices, unique type names, a
/// default type that exists, a spot fraction in (0, 1]. The message names the bad field.
[[nodiscard]] Status Validate(const PriceBook& book);

/// The node type pods are priced on, or nullptr for a flat-rate book.
const NodePrice* DefaultType(const PriceBook& book);

/// The book `engine`'s attempts are priced with: `book` with its default type (or its flat rates,
/// types dropped) replaced by the engine's entry — the instance's ("kubernetes:prod"), else the
/// kind's ("kubernetes"); `book` unchanged when the engine has none.
PriceBook ForEngine(const PriceBook& book, const std::string& engine);

/// The server's default book: DefaultPriceBook's node types for the cluster engines
/// (kubernetes, spark, emr-on-eks on m5.4xlarge) and the Fargate-like flat rates for "local", so
/// costs show out of the box.
PriceBook ServerDefaultPriceBook();

/// The dominant share of `node` a pod requesting cpu/memory holds, in [0, ∞) (over 1 when the
/// pod is bigger than the node).
double ShareOfNode(int64_t cpu_millis, int64_t memory_bytes, const NodePrice& node);

/// $ for a pod requesting cpu/memory on `node` at `capacity` (kSpot or anything else:
/// on-demand) for `seconds`.
double PodCost(int64_t cpu_millis, int64_t memory_bytes, const NodePrice& node, bool spot,
               double seconds);

/// GPU node types: AWS us-east-1 on-demand list prices of g5.xlarge (1 A10G), g5.2xlarge (1),
/// g5.12xlarge (4) and p3.8xlarge (4 V100), allocatable as in DefaultPriceBook, spot at
/// `spot_fraction` (the fleet simulator's GPU node types).
std::vector<NodePrice> DefaultGpuPrices(double spot_fraction = 0.35);

/// ShareOfNode counting GPUs too: the dominant share of cpu, memory and, on a node with GPUs,
/// `gpu` / its GPUs (a GPU node is full when its GPUs are taken, whatever cpu is left).
double ShareOfNode(int64_t cpu_millis, int64_t memory_bytes, int64_t gpu, const NodePrice& node);

/// PodCost with the GPU-counting share.
double PodCost(int64_t cpu_millis, int64_t memory_bytes, int64_t gpu, const NodePrice& node,
               bool spot, double seconds);

/// $ for a pod under `book` (its default type, or the flat rates).
double PodCost(const PriceBook& book, int64_t cpu_millis, int64_t memory_bytes, bool spot,
               double seconds);
/// The node a pod asking for `gpu` GPUs is priced on: the default type without GPUs; else the
/// cheapest of the book's types with enough GPUs, or of `DefaultGpuPrices` when none has.
/// nullopt: flat rates.
std::optional<NodePrice> NodeFor(const PriceBook& book, int64_t gpu);
/// PodCost with GPUs: on `NodeFor(book, gpu)`, or at the flat rates plus `gpu_hourly` per GPU.
double PodCost(const PriceBook& book, int64_t cpu_millis, int64_t memory_bytes, int64_t gpu,
               bool spot, double seconds);

struct AttemptCost {
  std::string attempt_id;
  int number = 0;
  double usd = 0;
  double seconds = 0;  // running time priced (started to ended, or to now)
  /// The attempt ended in failure (or was lost): its cost is a retry's cost.
  bool failed = false;
  bool running = false;  // priced up to now
  /// How it was priced, one line: "requested 2 cpu / 8Gi on m5.4xlarge on-demand ($0.768/h),
  /// share 0.125, 1.5 h".
  std::string basis;
};

struct RunCost {
  double usd = 0;
  /// Of `usd`, what attempts that failed cost ("retries cost $X").
  double failed_usd = 0;
  std::vector<AttemptCost> attempts;
};

/// Prices one attempt of a run of kind `kind` ("spark" or anything else) on its requests, with
/// the book of its engine (ForEngine).
AttemptCost PriceAttempt(const PriceBook& book, const Attempt& attempt, const std::string& kind,
                         Micros now);

/// A stretch of one component's measured use (a stored usage bucket): mean cpu, peak memory.
struct UsageSlice {
  std::string component;  // "main", "driver", "executor-3", ...
  Micros at = 0;
  Micros width = 0;
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
};

/// Prices an attempt on its measured use: each slice (clipped to the attempt's running time)
/// as a pod of its cpu and memory, on the attempt's capacity (Spark executors' components,
/// "executor-*", on the executor capacity). Time without samples is not priced. With no slice
/// inside the running time it is PriceAttempt (requested), and the basis line says so.
AttemptCost PriceAttemptUsed(const PriceBook& book, const Attempt& attempt, const std::string& kind,
                             const std::vector<UsageSlice>& usage, Micros now);

/// The kind an attempt's pricing needs, from the attempt alone: "spark" when it has Spark sizes.
std::string KindOf(const Attempt& attempt);

/// Money for people: "$1.23", "$0.042", "$0.0000012" (two significant digits below a cent).
std::string FormatUsd(double usd);

/// Prices every attempt of `run`.
RunCost PriceRun(const PriceBook& book, const Run& run, Micros now);

}  // namespace tug::cost
