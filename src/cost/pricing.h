#pragma once
/// What a run cost: each attempt priced from its node's hourly price × its share of the node ×
/// its running time. Pure functions over core types (no I/O), used by the API, the CLI, the
/// metrics and the fleet simulator alike, so every figure Tugboat shows comes from one formula.
///
/// The share of a node is the dominant one of what the pod requests: max(cpu / allocatable cpu,
/// memory / allocatable memory), as a bin-packed node is full when either runs out (the same
/// share the simulator's cost accounting always used). The basis is the request, never the
/// measured use: a pod holds what it requests whether it uses it or not.
///
/// Prices come from a PriceBook: node types with allocatable cpu/memory and on-demand and spot
/// hourly prices, pods priced on the book's default type (Tugboat does not record which
/// instance type a pod landed on); or flat rates per cpu-hour and GiB-hour, spot at a fraction.
///
/// A Spark attempt is its driver plus `instances` executors for the attempt's running time
/// (with dynamic allocation: the initial executors; Tugboat does not record when each executor
/// came and went). An attempt that never started costs nothing; one still running is priced up
/// to `now`.
#include <optional>
#include <string>
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

struct PriceBook {
  /// Node types; pods are priced on `default_type` (the first type when empty).
  std::vector<NodePrice> types;
  std::string default_type;
  /// Flat rates instead of node types (used when `types` is empty): $ per cpu-hour and per
  /// GiB-hour of memory requested, on-demand; spot at `spot_fraction` of that.
  double cpu_hourly = 0;
  double gib_hourly = 0;
  double spot_fraction = 0.35;
  bool operator==(const PriceBook&) const = default;

  /// No prices at all: nothing is priced (the API then says cost is not configured).
  bool empty() const { return types.empty() && cpu_hourly == 0 && gib_hourly == 0; }
};

/// AWS us-east-1 on-demand list prices of m5.4xlarge (the default type), r5.4xlarge and
/// r5.8xlarge, allocatable after kubelet and system reservations, spot at `spot_fraction`: the
/// server's default book and the fleet simulator's node types.
PriceBook DefaultPriceBook(double spot_fraction = 0.35);

/// Checks a book: positive allocatable sizes, non-negative prices, unique type names, a
/// default type that exists, a spot fraction in (0, 1]. The message names the bad field.
[[nodiscard]] Status Validate(const PriceBook& book);

/// The node type pods are priced on, or nullptr for a flat-rate book.
const NodePrice* DefaultType(const PriceBook& book);

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

/// Prices one attempt of a run of kind `kind` ("spark" or anything else).
AttemptCost PriceAttempt(const PriceBook& book, const Attempt& attempt, const std::string& kind,
                         Micros now);

/// Prices every attempt of `run`.
RunCost PriceRun(const PriceBook& book, const Run& run, Micros now);

}  // namespace tug::cost
