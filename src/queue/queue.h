#pragma once
/// Team queues: quotas, fair-share order and admission decisions. Pure policy (no I/O, no
/// clock): the dispatcher (src/control) and the fleet simulator (src/sim) drive the same code.
///
/// A Scheduler holds the queued items (attempts waiting for admission) and the running usage of
/// every queue, and answers "which item starts next?" in O(log n):
///  - across queues: a queue of higher `priority` first; among equals the lowest weighted
///    dominant share (dominant-resource fairness: max over CPU, memory and GPU of the queue's
///    usage over the capacity, divided by its weight), then the name;
///  - within a queue: item priority (higher first), then submission time, then id (FIFO);
///  - an item starts only within its queue's limits (max running runs, CPU/memory/GPU quota),
///    its user's limits in that queue, and, in a cohort, the cohort's idle quota it borrows.
/// A queue is strict FIFO: when its first item does not fit the queue's limits, later (smaller)
/// items wait too, so big runs are not starved by a stream of small ones. Per-user limits do
/// not block other users: a user at their limit is skipped until one of their runs finishes.
/// Items that can never fit (bigger than the quota) are set aside with a reason and block no
/// one. Borrowed quota is given back as the borrower's runs finish (there is no preemption).
///
/// Threading: a Scheduler is a plain value owned by one thread (the caller locks).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"

namespace tug::queue {

/// A limit field with this value has no limit.
inline constexpr int64_t kUnlimited = -1;

/// An amount of resources: CPU in millicores, memory in bytes, whole GPUs. As a limit, each
/// field may be kUnlimited.
struct Vec {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int64_t gpu = 0;
  bool operator==(const Vec&) const = default;
  Vec& operator+=(const Vec& o);
  Vec& operator-=(const Vec& o);
  static Vec Unlimited() { return {kUnlimited, kUnlimited, kUnlimited}; }
};
Vec operator+(Vec a, const Vec& b);
Vec operator-(Vec a, const Vec& b);

/// What an attempt occupies while it runs: a container's request, or for Spark the driver plus
/// every executor (executor × instances; with dynamic allocation × max(instances,
/// max_executors)), each with its memory overhead (Spark's defaults where unset: 1 core, 1Gi
/// heap, EffectiveOverhead). `gpu` is the container's GPUs, or for Spark resources.gpu per
/// executor × those executors (drivers get none).
Vec Footprint(const Resources& r);

/// Ceilings; kUnlimited where there is none.
struct Limits {
  int64_t max_running = kUnlimited;
  Vec quota = Vec::Unlimited();
  bool operator==(const Limits&) const = default;
};

struct QueueSpec {
  std::string name;
  double weight = 1;   // > 0: its fair share relative to other queues
  int priority = 0;    // a higher-priority queue is served first whenever it can start a run
  Limits limits;       // the whole queue
  Limits user_limits;  // each user within the queue
  /// Queues naming the same cohort lend each other idle quota: a queue may go above its own
  /// quota (by at most `borrowing_limit`) while the cohort's total usage stays within the sum of
  /// its members' quotas. "": no cohort, the quota is a hard ceiling.
  std::string cohort;
  Vec borrowing_limit = Vec::Unlimited();
  bool operator==(const QueueSpec&) const = default;
};

/// Names unique and valid (core ValidateName), weight > 0, limits >= 0 or kUnlimited,
/// borrowing_limit only with a cohort. kInvalidArgument naming the queue and the field.
[[nodiscard]] Status ValidateQueues(const std::vector<QueueSpec>& queues);

inline constexpr std::string_view kDefaultQueue = "default";

/// An attempt waiting for (or holding) admission.
struct Item {
  std::string id;  // unique among queued and running items (an attempt id)
  std::string queue;
  std::string user;
  int priority = 0;         // higher first within its queue
  Micros submitted_at = 0;  // FIFO within a priority
  Vec footprint;
  bool operator==(const Item&) const = default;
};

/// Where a queued item stands.
struct Explanation {
  bool running = false;
  int64_t position = 0;  // 1-based in its queue's order (priority, then FIFO); 0 when running
  /// Why it has not started, naming the limit ("team-a: 40 of 40 CPUs in use", "alice: 3 of 3
  /// running runs in team-a"); "" when it is the next item its queue would start.
  std::string reason;
};

/// One queue's state, for the API and metrics.
struct QueueStatus {
  QueueSpec spec;
  Vec usage;
  int64_t running = 0;
  int64_t queued = 0;
  double share = 0;  // weighted dominant share (see the file comment)
  /// Why its first queued item waits ("" when it can start one or has none queued).
  std::string blocked;
};

class Scheduler {
 public:
  /// `capacity`: the cluster's size, the denominator of dominant shares; a zero field is taken
  /// as the sum of the queues' finite quotas of that resource (a resource with neither is left
  /// out; with none left, shares count running runs). A `default` queue without limits is added
  /// when `queues` has none. kInvalidArgument (ValidateQueues).
  [[nodiscard]] static Result<Scheduler> Create(std::vector<QueueSpec> queues, Vec capacity = {});
  Scheduler(Scheduler&&) noexcept;
  Scheduler& operator=(Scheduler&&) noexcept;
  ~Scheduler();

  bool HasQueue(std::string_view name) const;
  /// The queues as configured (with `default`), by name.
  std::vector<QueueSpec> Queues() const;

  /// Adds a queued item. kInvalidArgument for an unknown queue, kAlreadyExists for a known id.
  [[nodiscard]] Status Enqueue(Item item);
  /// Drops a queued item (stopped, or gone from the store). kNotFound when it is not queued.
  [[nodiscard]] Status Remove(std::string_view id);
  /// The queued item was admitted: it now counts as running. kNotFound when it is not queued.
  [[nodiscard]] Status Start(std::string_view id);
  /// Adds an item that is already running (rebuilding from the store): counted even when it
  /// is over a limit. kInvalidArgument (unknown queue), kAlreadyExists.
  [[nodiscard]] Status AddRunning(Item item);
  /// A running item ended: its usage is freed. kNotFound when it is not running.
  [[nodiscard]] Status Finish(std::string_view id);

  /// The next item to start, or nullptr when none fits. Valid until the next mutation.
  const Item* Next() const;
  /// Position and reason of a queued item; kNotFound for an unknown id.
  [[nodiscard]] Result<Explanation> Explain(std::string_view id) const;
  /// Every queue, by name.
  std::vector<QueueStatus> Snapshot() const;
  size_t queued() const;
  size_t running() const;

 private:
  struct Impl;
  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// "1.5" for 1500 millicores, "40" for 40000.
std::string FormatCores(int64_t millis);

}  // namespace tug::queue
