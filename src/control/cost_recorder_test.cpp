// CostRecorder: an ending attempt priced on the requested or the used basis, and the cost
// counters by definition and owner with their label cap.
#include "control/cost_recorder.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"

namespace tug::control {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr Micros kSec = kMicrosPerSecond;
constexpr Micros kT0 = 1'700'000'000 * kSec;

cost::PriceBook FlatBook() {
  cost::PriceBook b;
  b.cpu_hourly = 3.6;  // $0.001 per cpu-second
  b.gib_hourly = 0;
  b.spot_fraction = 0.5;
  return b;
}

class CostRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::SqliteStore::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = std::move(*s);
  }

  Attempt Running(int64_t cpu_millis) const {
    Attempt a;
    a.id = "r1-1";
    a.run_id = "r1";
    a.engine = "local";
    a.status = AttemptStatus::kRunning;
    a.resources.cpu_millis = cpu_millis;
    a.resources.memory_bytes = kGiB;
    a.started_at = kT0;
    return a;
  }

  ManualClock clock_{kT0};
  std::unique_ptr<store::SqliteStore> store_;
  metrics::Registry registry_;
};

TEST_F(CostRecorderTest, PricesTheRequestUpToTheEnd) {
  CostRecorder r(FlatBook(), cost::ShareBasis::kRequested, *store_, registry_);
  store::AttemptEnd end;
  end.status = AttemptStatus::kFailed;
  end.ended_at = kT0 + 100 * kSec;
  r.Price(Running(2000), end, kT0 + 500 * kSec);
  ASSERT_TRUE(end.cost_usd.has_value());
  EXPECT_DOUBLE_EQ(*end.cost_usd, 2 * 100 * 0.001);
  EXPECT_NE(end.cost_basis.find("requested 2 cpu / 1Gi on-demand"), std::string::npos)
      << end.cost_basis;
  // Without an end time it ends now, and the end carries that time to the store.
  store::AttemptEnd now;
  now.status = AttemptStatus::kSucceeded;
  r.Price(Running(1000), now, kT0 + 10 * kSec);
  EXPECT_EQ(now.ended_at, kT0 + 10 * kSec);
  EXPECT_DOUBLE_EQ(*now.cost_usd, 10 * 0.001);
  // A running attempt's estimate runs to now.
  EXPECT_DOUBLE_EQ(r.Estimate(Running(1000), kT0 + 30 * kSec).usd, 30 * 0.001);
}

TEST_F(CostRecorderTest, UsedBasisReadsTheAttemptsUsageFromTheStore) {
  CostRecorder r(FlatBook(), cost::ShareBasis::kUsed, *store_, registry_);
  // Two seconds at 500m measured (1 s buckets), another attempt's reading ignored.
  std::vector<store::UsageSample> samples;
  for (Micros at : {kT0, kT0 + kSec}) {
    store::UsageSample s;
    s.run_id = "r1";
    s.attempt_id = "r1-1";
    s.at = at;
    s.started_at = kT0;
    s.reading.cpu_millis = 500;
    s.reading.memory_bytes = kGiB / 2;
    samples.push_back(s);
  }
  store::UsageSample other = samples[0];
  other.attempt_id = "r1-2";
  other.reading.cpu_millis = 8000;
  samples.push_back(other);
  ASSERT_TRUE(store_->AppendUsage(samples).ok());
  store::AttemptEnd end;
  end.status = AttemptStatus::kSucceeded;
  end.ended_at = kT0 + 10 * kSec;
  r.Price(Running(4000), end, kT0 + 10 * kSec);
  EXPECT_DOUBLE_EQ(*end.cost_usd, 2 * 0.5 * 0.001);
  EXPECT_NE(end.cost_basis.find("used cpu (mean)"), std::string::npos) << end.cost_basis;
  // No samples: the request, and the basis says so.
  Attempt quiet = Running(4000);
  quiet.id = "r1-3";
  store::AttemptEnd q;
  q.status = AttemptStatus::kSucceeded;
  q.ended_at = kT0 + 10 * kSec;
  r.Price(quiet, q, kT0 + 10 * kSec);
  EXPECT_DOUBLE_EQ(*q.cost_usd, 4 * 10 * 0.001);
  EXPECT_NE(q.cost_basis.find("no usage samples"), std::string::npos) << q.cost_basis;
}

TEST_F(CostRecorderTest, CountsByDefinitionAndOwnerWithinTheSeriesCap) {
  CostRecorder r(FlatBook(), cost::ShareBasis::kRequested, *store_, registry_, /*max_series=*/2);
  auto count = [&](const std::string& definition, const std::string& owner, AttemptStatus s,
                   double usd) {
    tug::Run run;
    run.definition = definition;
    run.owner = owner;
    store::AttemptEnd end;
    end.status = s;
    end.cost_usd = usd;
    r.Count(run, end);
  };
  count("etl", "ada", AttemptStatus::kFailed, 0.25);
  count("etl", "ada", AttemptStatus::kSucceeded, 0.5);
  count("report", "bob", AttemptStatus::kLost, 1);
  count("third", "cy", AttemptStatus::kSucceeded, 2);  // past the cap
  count("etl", "ada", AttemptStatus::kSucceeded, 0);   // still its own series
  const std::string text = registry_.Render();
  EXPECT_NE(text.find("tug_run_cost_usd_total{definition=\"etl\",owner=\"ada\"} 0.75"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tug_run_retries_cost_usd_total{definition=\"etl\",owner=\"ada\"} 0.25"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tug_run_retries_cost_usd_total{definition=\"report\",owner=\"bob\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tug_run_cost_usd_total{definition=\"_other\",owner=\"_other\"} 2"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("definition=\"third\""), std::string::npos) << text;
}

}  // namespace
}  // namespace tug::control
