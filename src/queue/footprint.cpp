// Resource vectors, run footprints and queue validation.
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "queue/queue.h"

namespace tug::queue {

Vec& Vec::operator+=(const Vec& o) {
  cpu_millis += o.cpu_millis;
  memory_bytes += o.memory_bytes;
  gpu += o.gpu;
  return *this;
}

Vec& Vec::operator-=(const Vec& o) {
  cpu_millis -= o.cpu_millis;
  memory_bytes -= o.memory_bytes;
  gpu -= o.gpu;
  return *this;
}

Vec operator+(Vec a, const Vec& b) { return a += b; }
Vec operator-(Vec a, const Vec& b) { return a -= b; }

namespace {

constexpr int64_t kSparkDefaultCores = 1000;
constexpr int64_t kSparkDefaultHeap = int64_t{1} << 30;

// One Spark container with Spark's defaults for what is unset.
Vec SparkContainer(const SparkRole& role) {
  SparkRole r = role;
  if (r.memory_bytes <= 0) r.memory_bytes = kSparkDefaultHeap;
  return Vec{r.cpu_millis > 0 ? r.cpu_millis : kSparkDefaultCores,
             r.memory_bytes + EffectiveOverhead(r), 0};
}

}  // namespace

Vec Footprint(const Resources& r) {
  if (r.spark.empty()) return Vec{r.cpu_millis, r.memory_bytes, r.gpu};
  const SparkResources& s = r.spark;
  int64_t executors = s.instances;
  // With dynamic allocation the run may grow to max_executors: the quota must hold that.
  if (s.dynamic_allocation) executors = std::max<int64_t>(executors, s.max_executors);
  Vec driver = SparkContainer(s.driver);
  Vec executor = SparkContainer(s.executor);
  return Vec{driver.cpu_millis + executors * executor.cpu_millis,
             driver.memory_bytes + executors * executor.memory_bytes, executors * r.gpu};
}

std::string FormatCores(int64_t millis) {
  if (millis % 1000 == 0) return fmt::format("{}", millis / 1000);
  std::string s = fmt::format("{:.3f}", static_cast<double>(millis) / 1000);
  while (s.back() == '0') s.pop_back();
  return s;
}

namespace {

Status CheckLimit(const std::string& queue, std::string_view field, int64_t v) {
  if (v < kUnlimited) {
    return InvalidArgument(
        fmt::format("queue '{}': {} must not be negative (got {}); leave it out for no limit",
                    queue, field, v));
  }
  return OkStatus();
}

Status CheckLimits(const std::string& queue, std::string_view prefix, const Limits& l) {
  RETURN_IF_ERROR(CheckLimit(queue, fmt::format("{}max_running", prefix), l.max_running));
  RETURN_IF_ERROR(CheckLimit(queue, fmt::format("{}cpu", prefix), l.quota.cpu_millis));
  RETURN_IF_ERROR(CheckLimit(queue, fmt::format("{}memory", prefix), l.quota.memory_bytes));
  return CheckLimit(queue, fmt::format("{}gpu", prefix), l.quota.gpu);
}

}  // namespace

Status ValidateQueues(const std::vector<QueueSpec>& queues) {
  std::set<std::string> names;
  for (const QueueSpec& q : queues) {
    if (Status st = ValidateName(q.name); !st.ok()) {
      return InvalidArgument(fmt::format("queue: {}", st.error().message()));
    }
    if (!names.insert(q.name).second) {
      return InvalidArgument(fmt::format("queue '{}' is defined twice; merge the two", q.name));
    }
    if (!(q.weight > 0) || !std::isfinite(q.weight)) {
      return InvalidArgument(
          fmt::format("queue '{}': weight must be a number above 0 (got {})", q.name, q.weight));
    }
    RETURN_IF_ERROR(CheckLimits(q.name, "", q.limits));
    RETURN_IF_ERROR(CheckLimits(q.name, "per_user.", q.user_limits));
    RETURN_IF_ERROR(CheckLimits(q.name, "borrowing_limit.", Limits{0, q.borrowing_limit}));
    if (q.cohort.empty() && !(q.borrowing_limit == Vec::Unlimited())) {
      return InvalidArgument(fmt::format(
          "queue '{}': borrowing_limit needs a cohort to borrow from; set cohort", q.name));
    }
    if (!q.cohort.empty()) {
      if (Status st = ValidateName(q.cohort); !st.ok()) {
        return InvalidArgument(fmt::format("queue '{}': cohort {}", q.name, st.error().message()));
      }
    }
  }
  return OkStatus();
}

}  // namespace tug::queue
