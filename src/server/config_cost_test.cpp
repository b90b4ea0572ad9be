// The `cost:` section: the built-in book, a file's prices, and an attempt priced from them.
#include <gtest/gtest.h>

#include "server/config.h"

namespace tug::server {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr Micros kHour = Micros{3600} * kMicrosPerSecond;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Attempt OneHour(const std::string& engine, int64_t cpu_millis, int64_t memory_bytes) {
  Attempt a;
  a.id = "r-1";
  a.engine = engine;
  a.status = AttemptStatus::kSucceeded;
  a.resources.cpu_millis = cpu_millis;
  a.resources.memory_bytes = memory_bytes;
  a.started_at = kHour;
  a.ended_at = 2 * kHour;
  return a;
}

TEST(ConfigCostTest, DefaultPricesTheLocalEngineOutOfTheBox) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ValidateCost(c.cost).ok());
  EXPECT_TRUE(c.cost.enabled);
  EXPECT_EQ(c.cost.currency, "USD");
  EXPECT_EQ(c.cost.basis, cost::ShareBasis::kRequested);
  const cost::AttemptCost local =
      cost::PriceAttempt(c.cost.book, OneHour("local", 2000, 4 * kGiB), "container", 0);
  EXPECT_DOUBLE_EQ(local.usd, 2 * cost::kLocalCpuHourly + 4 * cost::kLocalGibHourly);
  const cost::AttemptCost kube =
      cost::PriceAttempt(c.cost.book, OneHour("kubernetes", 2000, 4 * kGiB), "container", 0);
  EXPECT_TRUE(Has(kube.basis, "on m5.4xlarge on-demand")) << kube.basis;
}

TEST(ConfigCostTest, FilePricesEachEngineAndPricesAnAttempt) {
  Config c = DefaultConfig();
  auto st = ApplyYaml(c, R"(
cost:
  currency: EUR
  basis: used
  spot_fraction: 0.5
  node_types:
    - {type: big, cpu: 16, memory: 64Gi, on_demand: 4.0}
    - {type: small, cpu: 4000m, memory: 16Gi, on_demand: 1.0, spot: 0.3}
  default_type: small
  engines:
    spark: {node_type: big}
    local: {cpu_hourly: 0.1, gib_hourly: 0.01}
  metrics_series: 20
)",
                      "tug.yaml");
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.cost.currency, "EUR");
  EXPECT_EQ(c.cost.basis, cost::ShareBasis::kUsed);
  EXPECT_EQ(c.cost.metrics_series, 20);
  ASSERT_EQ(c.cost.book.types.size(), 2u);
  EXPECT_DOUBLE_EQ(c.cost.book.types[0].spot_hourly, 2.0);  // on-demand × spot_fraction
  EXPECT_DOUBLE_EQ(c.cost.book.types[1].spot_hourly, 0.3);

  // kubernetes: the default type, half of small for an hour on spot.
  Attempt k = OneHour("kubernetes", 2000, 4 * kGiB);
  k.placement.capacity = "spot";
  EXPECT_DOUBLE_EQ(cost::PriceAttempt(c.cost.book, k, "container", 0).usd, 0.5 * 0.3);
  // spark: driver and executors on big, on-demand: (1 + 2 × 4) cpu of 16 for an hour.
  Attempt s = OneHour("spark", 0, 0);
  s.resources.spark.driver = {1000, kGiB, kGiB};
  s.resources.spark.executor = {4000, 4 * kGiB, kGiB};
  s.resources.spark.instances = 2;
  EXPECT_DOUBLE_EQ(cost::PriceAttempt(c.cost.book, s, "spark", 0).usd, 9.0 / 16 * 4.0);
  // local: the flat rates.
  EXPECT_DOUBLE_EQ(
      cost::PriceAttempt(c.cost.book, OneHour("local", 1000, kGiB), "container", 0).usd, 0.11);
}

TEST(ConfigCostTest, FlatRatesForEveryEngineReplaceTheNodeTypes) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(c, "cost: {cpu_hourly: 0.05, gib_hourly: 0.01, engines: {}}\n", "f").ok());
  ASSERT_TRUE(ValidateCost(c.cost).ok());
  EXPECT_TRUE(c.cost.book.types.empty());
  EXPECT_DOUBLE_EQ(
      cost::PriceAttempt(c.cost.book, OneHour("kubernetes", 2000, kGiB), "container", 0).usd, 0.11);
}

TEST(ConfigCostTest, GpuNodeTypesAndTheFlatGpuRate) {
  Config c = DefaultConfig();
  auto st = ApplyYaml(c, R"(
cost:
  node_types:
    - {type: m, cpu: 16, memory: 64Gi, on_demand: 1.0}
    - {type: g, cpu: 8, memory: 32Gi, gpus: 2, on_demand: 3.0}
  engines:
    local: {cpu_hourly: 0.1, gib_hourly: 0.01, gpu_hourly: 0.9}
)",
                      "tug.yaml");
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  ASSERT_TRUE(ValidateConfig(c).ok());
  ASSERT_EQ(c.cost.book.types.size(), 2u);
  EXPECT_EQ(c.cost.book.types[1].gpus, 2);
  // One GPU of g's two for an hour; the cpu-only default type m does not count.
  Attempt k = OneHour("kubernetes", 1000, kGiB);
  k.resources.gpu = 1;
  EXPECT_DOUBLE_EQ(cost::PriceAttempt(c.cost.book, k, "container", 0).usd, 0.5 * 3.0);
  Attempt l = OneHour("local", 1000, kGiB);
  l.resources.gpu = 1;
  EXPECT_DOUBLE_EQ(cost::PriceAttempt(c.cost.book, l, "container", 0).usd, 0.11 + 0.9);
  Config bad = DefaultConfig();
  Status b = ApplyYaml(bad, "cost: {node_types: [{type: g, cpu: 8, memory: 32Gi, gpus: many}]}\n",
                       "tug.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(Has(b.error().message(), "must be the node's GPU count")) << b.error().message();
}

TEST(ConfigCostTest, BadSectionsSayWhatToFix) {
  auto error = [](const std::string& yaml) {
    Config c = DefaultConfig();
    Status st = ApplyYaml(c, yaml, "tug.yaml");
    if (st.ok()) st = ValidateConfig(c);
    return st.ok() ? std::string("ok") : st.error().message();
  };
  EXPECT_TRUE(Has(error("cost: {basis: peak}\n"), "use requested or used"));
  EXPECT_TRUE(Has(error("cost: {colour: red}\n"), "cost.colour is not a cost key"));
  EXPECT_TRUE(Has(error("cost: {cpu_hourly: -1}\n"), "cost.cpu_hourly '-1' must be a number"));
  EXPECT_TRUE(Has(error("cost: {cpu_hourly: 1, node_types: []}\n"), "keep one"));
  EXPECT_TRUE(Has(error("cost: {engines: {spark: {node_type: x9}}}\n"),
                  "cost.engines.spark.node_type 'x9' is not one of cost.node_types"));
  EXPECT_TRUE(
      Has(error("cost: {node_types: [{type: a, cpu: lots}]}\n"), "cost.node_types[0].cpu 'lots'"));
  EXPECT_TRUE(Has(error("cost: {node_types: [{type: a, cpu: 4, memory: 8Gi, price: 1}]}\n"),
                  "cost.node_types[0].price is not a node type key"));
  EXPECT_TRUE(Has(error("cost: {default_type: nope}\n"), "cost.default_type 'nope'"));
  EXPECT_TRUE(Has(error("cost: {node_types: [], engines: {}}\n"), "cost has no prices"));
  EXPECT_TRUE(Has(error("cost: {metrics_series: 0}\n"), "cost.metrics_series '0'"));
  // Off: nothing is priced and nothing is checked.
  EXPECT_EQ(error("cost: {enabled: false, node_types: [], engines: {}}\n"), "ok");
}

TEST(ConfigCostTest, EnvironmentSetsBasisAndSwitch) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyEnv(c, {{"TUG_COST_BASIS", "used"}, {"TUG_COST_ENABLED", "false"}}).ok());
  EXPECT_EQ(c.cost.basis, cost::ShareBasis::kUsed);
  EXPECT_FALSE(c.cost.enabled);
  auto bad = ApplyEnv(c, {{"TUG_COST_BASIS", "max"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Has(bad.error().message(), "TUG_COST_BASIS 'max'"));
}

}  // namespace
}  // namespace tug::server
