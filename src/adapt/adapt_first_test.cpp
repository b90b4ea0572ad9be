#include "adapt/adapt.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapt/adapt_test_util.h"

namespace tug::adapt {
namespace {

using testing::Container;
using testing::kDay;
using testing::kGi;
using testing::kMi;
using testing::kNow;
using testing::Spark;
using testing::SparkSpot;
using testing::SpotContainer;

// ---------------------------------------------------------------- right-sizing

std::vector<HistorySample> Samples(int n, int64_t peak, Micros age, Micros step = kDay / 24) {
  std::vector<HistorySample> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back({kNow - age - i * step, peak, {}});
  return out;
}

TEST(EstimateMemory, P95TimesHeadroom) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(10, kGi, kDay), {}, p, kNow), 1280 * kMi);
}

TEST(EstimateMemory, WeightedPercentileWalk) {
  Platform p;
  p.half_life = 0;  // equal weights
  p.headroom = 1.0;
  std::vector<HistorySample> h;
  for (int i = 1; i <= 20; ++i) h.push_back({kNow - i * kDay / 10, int64_t{i} * 100 * kMi, {}});
  // Cumulative weight reaches 95 % of 20 at the 19th smallest peak.
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 1900 * kMi);
}

TEST(EstimateMemory, FloorAndCap) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(5, 10 * kMi, kDay), {}, p, kNow), 64 * kMi);
  EXPECT_EQ(EstimateMemory(Samples(5, 100 * kGi, kDay), {}, p, kNow), 64 * kGi);
  AdaptPolicy a;
  a.max_memory_bytes = 8 * kGi;
  EXPECT_EQ(EstimateMemory(Samples(5, 100 * kGi, kDay), a, p, kNow), 8 * kGi);
}

TEST(EstimateMemory, MinSamplesAndZeroPeaks) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(2, kGi, kDay), {}, p, kNow), std::nullopt);
  auto h = Samples(2, kGi, kDay);
  auto zeros = Samples(5, 0, kDay);
  h.insert(h.end(), zeros.begin(), zeros.end());
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), std::nullopt);
  EXPECT_EQ(EstimateMemory({}, {}, p, kNow), std::nullopt);
}

TEST(EstimateMemory, MaxAge) {
  Platform p;
  EXPECT_EQ(EstimateMemory(Samples(5, kGi, 31 * kDay), {}, p, kNow), std::nullopt);
  auto h = Samples(5, 8 * kGi, 31 * kDay);  // too old: ignored
  auto recent = Samples(3, kGi, kDay);
  h.insert(h.end(), recent.begin(), recent.end());
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 1280 * kMi);
}

TEST(EstimateMemory, NewestMaxSamplesOnly) {
  Platform p;
  p.half_life = 0;
  p.max_samples = 50;
  auto h = Samples(10, 8 * kGi, 10 * kDay);  // older than the 50 below
  auto recent = Samples(50, kGi, kDay, kDay / 100);
  h.insert(h.begin(), recent.begin(), recent.end());
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 1280 * kMi);
  p.max_samples = 60;
  EXPECT_EQ(EstimateMemory(h, {}, p, kNow), 10 * kGi);
}

TEST(EstimateMemory, DecayLetsTheEstimateShrink) {
  Platform p;
  auto all_big = Samples(3, 4 * kGi, 28 * kDay);
  auto more_big = Samples(20, 4 * kGi, kDay);
  all_big.insert(all_big.end(), more_big.begin(), more_big.end());
  EXPECT_EQ(EstimateMemory(all_big, {}, p, kNow), 5 * kGi);

  auto shrunk = Samples(3, 4 * kGi, 28 * kDay);
  auto small = Samples(20, kGi, kDay);
  shrunk.insert(shrunk.end(), small.begin(), small.end());
  // Unweighted, 3 of 23 big peaks would make the p95 big; the old ones weigh ~1 % together.
  EXPECT_EQ(EstimateMemory(shrunk, {}, p, kNow), 1280 * kMi);
  p.half_life = 0;
  EXPECT_EQ(EstimateMemory(shrunk, {}, p, kNow), 5 * kGi);
}

TEST(PlanFirst, AsRequested) {
  Definition d = Container(256 * kMi);
  Decision dec = PlanFirst(d, {}, {}, {}, {}, kNow);
  EXPECT_FALSE(dec.retry);
  EXPECT_EQ(dec.rule, "first.as_requested");
  EXPECT_EQ(dec.resources, d.resources);
  EXPECT_EQ(dec.placement, SpotContainer());
  EXPECT_EQ(dec.sentence, "attempt 1 as requested: memory 256Mi on spot capacity");
  EXPECT_FALSE(dec.recommended_memory_bytes.has_value());
  EXPECT_EQ(dec.failure_class, "");
  EXPECT_EQ(dec.budget, "");
}

TEST(PlanFirst, Placement) {
  Definition d = Container(256 * kMi);
  Climate bad{.spot_interruption_rate = 0.34, .samples = 40};
  Decision dec = PlanFirst(d, {}, {}, bad, {}, kNow);
  EXPECT_EQ(dec.placement, (Placement{"on-demand", ""}));
  EXPECT_EQ(dec.sentence,
            "attempt 1 as requested: memory 256Mi on on-demand capacity (the recent spot "
            "interruption rate 34% is above 20%)");
  // No samples: the rate means nothing.
  EXPECT_EQ(PlanFirst(d, {}, {}, {.spot_interruption_rate = 1, .samples = 0}, {}, kNow).placement,
            SpotContainer());
  d.adapt.critical = true;
  EXPECT_EQ(PlanFirst(d, {}, {}, {}, {}, kNow).placement, (Placement{"on-demand", ""}));
  d.adapt.critical = false;
  d.adapt.capacity = "on-demand";
  EXPECT_EQ(PlanFirst(d, {}, {}, {}, {}, kNow).placement, (Placement{"on-demand", ""}));

  Definition s = Spark();
  Decision sd = PlanFirst(s, {}, {}, {}, {}, kNow);
  EXPECT_EQ(sd.placement, SparkSpot());
  EXPECT_EQ(sd.sentence,
            "attempt 1 as requested: driver memory 2Gi, 4 executors with memory 4Gi; driver on "
            "on-demand, executors on spot capacity");
  EXPECT_EQ(PlanFirst(s, {}, {}, bad, {}, kNow).placement, (Placement{"on-demand", "on-demand"}));
}

TEST(PlanFirst, Recommend) {
  Definition d = Container(8 * kGi);
  auto h = Samples(12, 1638 * kMi, kDay);
  Decision dec = PlanFirst(d, {}, h, {}, {}, kNow);
  EXPECT_EQ(dec.rule, "rightsize.recommend");
  EXPECT_EQ(dec.resources, d.resources);
  EXPECT_EQ(dec.recommended_memory_bytes, 2048 * kMi);
  EXPECT_EQ(dec.sentence,
            "recommendation: memory 2Gi (p95 of 12 recent successful runs' peaks × 1.25); "
            "requested 8Gi — set adapt.rightsizing: apply to use it");
  EXPECT_TRUE(dec.changes.empty());
}

TEST(PlanFirst, Apply) {
  Definition d = Container(8 * kGi);
  d.adapt.rightsizing = "apply";
  Decision dec = PlanFirst(d, {}, Samples(12, 1638 * kMi, kDay), {}, {}, kNow);
  EXPECT_EQ(dec.rule, "rightsize.apply");
  EXPECT_EQ(dec.resources.memory_bytes, 2 * kGi);
  EXPECT_EQ(dec.recommended_memory_bytes, 2 * kGi);
  ASSERT_EQ(dec.changes.size(), 1u);
  EXPECT_EQ(dec.changes[0], (Change{"memory", "8Gi", "2Gi"}));
  EXPECT_EQ(dec.sentence,
            "attempt 1: memory 8Gi → 2Gi right-sized from the p95 of 12 recent successful runs' "
            "peaks × 1.25 on spot capacity");
}

TEST(PlanFirst, OverrideWins) {
  Definition d = Container(4 * kGi);
  d.adapt.rightsizing = "apply";
  RunOverrides o;
  o.resources.memory_bytes = 4 * kGi;
  Decision dec = PlanFirst(d, o, Samples(12, 1638 * kMi, kDay), {}, {}, kNow);
  EXPECT_EQ(dec.rule, "rightsize.override");
  EXPECT_EQ(dec.resources.memory_bytes, 4 * kGi);
  EXPECT_EQ(dec.recommended_memory_bytes, 2 * kGi);
  EXPECT_NE(dec.sentence.find("memory 4Gi set at submission wins over the right-sized 2Gi"),
            std::string::npos)
      << dec.sentence;
}

TEST(PlanFirst, OffTooLittleHistoryAndSpark) {
  Definition d = Container(8 * kGi);
  auto h = Samples(12, kGi, kDay);
  d.adapt.rightsizing = "off";
  Decision off = PlanFirst(d, {}, h, {}, {}, kNow);
  EXPECT_EQ(off.rule, "first.as_requested");
  EXPECT_FALSE(off.recommended_memory_bytes.has_value());

  d.adapt.rightsizing = "apply";
  Decision few = PlanFirst(d, {}, Samples(2, kGi, kDay), {}, {}, kNow);
  EXPECT_EQ(few.rule, "first.as_requested");
  EXPECT_EQ(few.resources.memory_bytes, 8 * kGi);

  Definition s = Spark();
  s.adapt.rightsizing = "apply";
  Decision sp = PlanFirst(s, {}, h, {}, {}, kNow);
  EXPECT_EQ(sp.rule, "first.as_requested");
  EXPECT_EQ(sp.resources, s.resources);
}

TEST(PlanFirst, ApplyRespectsCapAndFloor) {
  Definition d = Container(0);
  d.adapt.rightsizing = "apply";
  d.adapt.max_memory_bytes = 2 * kGi;
  EXPECT_EQ(PlanFirst(d, {}, Samples(5, 10 * kGi, kDay), {}, {}, kNow).resources.memory_bytes,
            2 * kGi);
  EXPECT_EQ(PlanFirst(d, {}, Samples(5, kMi, kDay), {}, {}, kNow).resources.memory_bytes, 64 * kMi);
}

}  // namespace
}  // namespace tug::adapt
