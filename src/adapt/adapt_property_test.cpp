#include "adapt/adapt.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapt/adapt_internal.h"
#include "adapt/adapt_test_util.h"

namespace tug::adapt {
namespace {

using testing::Container;
using testing::Diag;
using testing::kDay;
using testing::kGi;
using testing::kMi;
using testing::kNow;
using testing::Spark;

// ---------------------------------------------------------------- property test

int64_t SparkTotal(const SparkRole& r) {
  SparkRole e = r;
  if (e.memory_bytes == 0) e.memory_bytes = kGi;
  return e.memory_bytes + EffectiveOverhead(e);
}

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int64_t I64(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  double Real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  bool Coin(double p = 0.5) { return Real(0, 1) < p; }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }
  int64_t Memory(int64_t cap) {
    switch (Int(0, 4)) {
      case 0:
        return 0;
      case 1:
        return I64(4 * kMi, 2 * kGi);
      case 2:
        return I64(kGi, std::max(cap, kGi));
      case 3:
        return cap;
      default:
        return I64(cap, int64_t{4} << 40);  // huge, above the cap
    }
  }
  SparkRole Role(int64_t cap) {
    SparkRole r;
    r.memory_bytes = Coin(0.2) ? 0 : Memory(cap);
    r.memory_overhead_bytes = Coin(0.5) ? 0 : I64(0, cap);
    return r;
  }

 private:
  std::mt19937 rng_;
};

TEST(Property, NeverPastTheCapsAndBudgets) {
  Gen g(20261124);
  const std::vector<int64_t> platform_mem = {kGi, 8 * kGi, 64 * kGi, int64_t{1} << 40};
  int retries = 0, stops = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    Platform p;
    p.limits.max_memory_bytes = g.Pick(platform_mem);
    p.limits.max_executors = g.Int(1, 300);
    p.climate_threshold = g.Real(0, 1);
    Climate climate{.spot_interruption_rate = g.Real(0, 1), .samples = g.Int(0, 5)};
    Definition spec = g.Coin() ? Container(0) : Spark();
    spec.adapt.memory_factor = g.Real(1.05, 4);
    spec.adapt.executor_factor = g.Real(1, 4);
    spec.adapt.max_memory_bytes = g.Coin() ? 0 : g.I64(kMi, p.limits.max_memory_bytes);
    spec.adapt.max_executors = g.Coin() ? 0 : g.Int(1, p.limits.max_executors);
    spec.adapt.capacity = g.Pick(std::vector<std::string>{"spot", "on-demand", "auto"});
    spec.adapt.critical = g.Coin(0.1);
    spec.adapt.rightsizing = g.Pick(std::vector<std::string>{"off", "recommend", "apply"});
    spec.retry.max_attempts = g.Int(1, 20);
    spec.retry.max_infra_retries = g.Int(0, 20);
    spec.retry.backoff.initial_seconds = g.I64(1, 86400);
    spec.retry.backoff.max_seconds = g.I64(spec.retry.backoff.initial_seconds, 86400);
    spec.retry.backoff.multiplier = g.Real(1, 10);
    int64_t mem_cap =
        spec.adapt.max_memory_bytes > 0 ? spec.adapt.max_memory_bytes : p.limits.max_memory_bytes;
    int exec_cap = spec.adapt.max_executors > 0 ? spec.adapt.max_executors : p.limits.max_executors;
    if (spec.kind == "spark") {
      SparkResources& s = spec.resources.spark;
      s.driver = g.Role(mem_cap);
      s.executor = g.Role(mem_cap);
      s.instances = g.Coin(0.2) ? 0 : g.Int(1, exec_cap * 2);
      s.dynamic_allocation = g.Coin(0.3);
      s.max_executors = g.Coin() ? 0 : g.Int(1, exec_cap * 2);
      s.min_executors = g.Int(0, 3);
      s.max_result_size_bytes = g.Coin() ? 0 : g.Memory(mem_cap);
    } else {
      spec.resources.memory_bytes = g.Memory(mem_cap);
    }
    SCOPED_TRACE("iteration " + std::to_string(iter));

    // PlanFirst with random history.
    std::vector<HistorySample> history;
    for (int i = g.Int(0, 12); i > 0; --i) {
      history.push_back({kNow - g.I64(0, 40 * kDay), g.Coin(0.1) ? 0 : g.Memory(mem_cap), {}});
    }
    RunOverrides overrides;
    if (g.Coin(0.2)) overrides.resources.memory_bytes = spec.resources.memory_bytes;
    Decision first = PlanFirst(spec, overrides, history, climate, p, kNow);
    if (first.resources.memory_bytes != spec.resources.memory_bytes) {
      EXPECT_LE(first.resources.memory_bytes, mem_cap);
      EXPECT_GT(first.resources.memory_bytes, 0);
    }
    if (first.recommended_memory_bytes) {
      EXPECT_LE(*first.recommended_memory_bytes, mem_cap);
      EXPECT_GT(*first.recommended_memory_bytes, 0);
    }
    EXPECT_FALSE(first.retry);

    // A run: attempts chained through the planner's own decisions.
    std::vector<Attempt> attempts;
    Resources resources = first.resources;
    Placement placement = first.placement;
    int user = 0, infra = 0;
    for (int n = 1; n <= 12; ++n) {
      Attempt a;
      a.number = n;
      a.id = "run" + std::to_string(iter) + "-" + std::to_string(n);
      a.resources = resources;
      a.placement = placement;
      a.peak_memory_bytes = g.Coin(0.3) ? 0 : g.Memory(mem_cap);
      bool is_infra = false;
      int kind = g.Int(0, 9);
      if (kind == 0) {
        a.status = AttemptStatus::kLost;
        is_infra = true;
      } else {
        a.status = AttemptStatus::kFailed;
        a.outcome = Outcome{g.Coin() ? std::optional<int>(137) : std::optional<int>(g.Int(0, 255)),
                            g.Coin(0.3) ? "OOMKilled" : "Error", ""};
        if (kind == 1) {
          a.outcome->reason = "LaunchFailed";
          is_infra = true;
        } else if (kind == 2) {
          a.diagnosis = g.Coin() ? "" : "{\"class\": ";  // none or malformed
        } else {
          auto classes = internal::DiagnosedClasses();
          std::string cls(classes[g.Int(0, static_cast<int>(classes.size()) - 1)]);
          std::string text =
              g.Coin() ? "429 Too Many Requests" : "line " + std::to_string(g.Int(0, 3));
          a.diagnosis = Diag(cls, text, g.Coin(0.8),
                             g.Coin() ? "executor-" + std::to_string(g.Int(1, 9)) : "driver");
          is_infra = cls == "node_loss" || cls == "k8s_scheduling" ||
                     (cls == "k8s_image_pull" && text.starts_with("429"));
        }
      }
      (is_infra ? infra : user)++;
      attempts.push_back(a);
      Decision d = PlanRetry(spec, attempts, climate, p);
      EXPECT_EQ(d, PlanRetry(spec, attempts, climate, p));
      EXPECT_EQ(d.user_failures, user);
      EXPECT_EQ(d.infra_failures, infra);
      EXPECT_FALSE(d.rule.empty());
      EXPECT_FALSE(d.sentence.empty());
      if (d.retry) {
        ++retries;
        if (is_infra) {
          EXPECT_LE(infra, spec.retry.max_infra_retries) << d.sentence;
        } else {
          EXPECT_LT(user, spec.retry.max_attempts) << d.sentence;
        }
        EXPECT_GE(d.delay, 0);
        EXPECT_LT(d.delay, spec.retry.backoff.max_seconds * kMicrosPerSecond + 1);
        EXPECT_TRUE(d.sentence.starts_with("attempt " + std::to_string(n + 1))) << d.sentence;
      } else {
        ++stops;
        EXPECT_EQ(d.resources, a.resources);
        EXPECT_TRUE(d.sentence.starts_with("not retried:")) << d.sentence;
      }
      // Growth only, and never past the caps.
      const Resources& o = a.resources;
      const Resources& r = d.resources;
      if (r.memory_bytes != o.memory_bytes) {
        EXPECT_GT(r.memory_bytes, o.memory_bytes);
        EXPECT_LE(r.memory_bytes, mem_cap) << d.sentence;
      }
      for (auto role : {&SparkResources::driver, &SparkResources::executor}) {
        const SparkRole& orole = o.spark.*role;
        const SparkRole& nrole = r.spark.*role;
        if (!(orole == nrole)) {
          EXPECT_LE(SparkTotal(nrole), mem_cap) << d.sentence;
          EXPECT_GE(SparkTotal(nrole), SparkTotal(orole));
          if (orole.memory_bytes > 0) {
            EXPECT_GE(nrole.memory_bytes, orole.memory_bytes);
          }
          if (orole.memory_overhead_bytes > 0) {
            EXPECT_GE(nrole.memory_overhead_bytes, orole.memory_overhead_bytes);
          }
        }
      }
      if (r.spark.max_result_size_bytes != o.spark.max_result_size_bytes) {
        EXPECT_GT(r.spark.max_result_size_bytes, o.spark.max_result_size_bytes);
        EXPECT_LE(r.spark.max_result_size_bytes, mem_cap);
      }
      if (r.spark.instances != o.spark.instances) {
        EXPECT_GT(r.spark.instances, o.spark.instances);
        EXPECT_LE(r.spark.instances, exec_cap);
      }
      if (r.spark.max_executors != o.spark.max_executors) {
        EXPECT_GT(r.spark.max_executors, o.spark.max_executors);
        EXPECT_LE(r.spark.max_executors, exec_cap);
      }
      EXPECT_EQ(r.spark.min_executors, o.spark.min_executors);
      if (spec.kind == "spark") {
        EXPECT_EQ(d.placement.capacity, "on-demand");
      } else {
        EXPECT_TRUE(d.placement.executor_capacity.empty());
      }
      if (!d.retry) break;
      resources = d.resources;
      placement = d.placement;
    }
  }
  // The generator exercises both outcomes.
  EXPECT_GT(retries, 500);
  EXPECT_GT(stops, 500);
}

}  // namespace
}  // namespace tug::adapt
