#include "control/planning.h"

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::control {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;

class HistorySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::SqliteStore::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = std::move(*s);
    spec_.name = "hello";
    spec_.command = "echo hi";
    spec_.resources = {};
    spec_.resources.memory_bytes = 256 * kMi;
    spec_.resources.cpu_millis = 500;
  }

  // One run of `spec_` that succeeds at `ended_at` with `peak` bytes measured.
  void Succeed(Micros ended_at, int64_t peak) {
    tug::Run r;
    r.id = NewId(clock_);
    r.definition = "hello";
    r.definition_version = 1;
    r.spec = spec_;
    r.created_at = ended_at - kMicrosPerSecond;
    r.updated_at = r.created_at;
    Attempt a;
    a.id = AttemptId(r.id, 1);
    a.run_id = r.id;
    a.resources = spec_.resources;
    a.created_at = r.created_at;
    a.due_at = r.created_at;
    ASSERT_TRUE(store_->CreateRun(r, a).ok());
    auto claimed = store_->ClaimAttempt("host/1/a", r.created_at, 60 * kMicrosPerSecond);
    ASSERT_TRUE(claimed.ok() && claimed->has_value());
    store::AttemptEnd end;
    end.status = AttemptStatus::kSucceeded;
    end.outcome.exit_code = 0;
    end.ended_at = ended_at;
    end.peak_memory_bytes = peak;
    ASSERT_TRUE(store_->EndAttempt((*claimed)->id, end).ok()) << (*claimed)->id;
  }

  ManualClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  Definition spec_;
  adapt::Platform platform_;
};

TEST_F(HistorySourceTest, ReadsOncePerTtlPerKeyThenRefreshes) {
  const Micros t0 = clock_.Now() + 3600 * kMicrosPerSecond;
  const Micros ttl = 10 * kMicrosPerSecond;
  HistorySource history(*store_, ttl);
  const std::string sig = CommandSignature(spec_);
  Succeed(t0 - 100 * kMicrosPerSecond, 100 * kMi);

  auto first = history.Get("hello", sig, platform_, t0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].peak_memory_bytes, 100 * kMi);

  // A newer success within the TTL is not seen yet: the cached answer stands.
  Succeed(t0 - 50 * kMicrosPerSecond, 120 * kMi);
  EXPECT_EQ(history.Get("hello", sig, platform_, t0 + ttl - 1).size(), 1u);
  // Another key is its own entry, read now.
  EXPECT_TRUE(history.Get("other", sig, platform_, t0 + 1).empty());
  // At the TTL the store is read again.
  auto fresh = history.Get("hello", sig, platform_, t0 + ttl);
  ASSERT_EQ(fresh.size(), 2u);
  EXPECT_EQ(fresh[0].peak_memory_bytes, 120 * kMi);  // newest first
}

TEST_F(HistorySourceTest, BoundedNumberOfKeys) {
  const Micros t0 = clock_.Now() + 3600 * kMicrosPerSecond;
  HistorySource history(*store_, 10 * kMicrosPerSecond, /*max_keys=*/2);
  const std::string sig = CommandSignature(spec_);
  Succeed(t0 - 100 * kMicrosPerSecond, 100 * kMi);
  ASSERT_EQ(history.Get("hello", sig, platform_, t0).size(), 1u);
  EXPECT_TRUE(history.Get("a", sig, platform_, t0).empty());
  // The third key empties the cache; "hello" is read again and sees the newer run.
  EXPECT_TRUE(history.Get("b", sig, platform_, t0).empty());
  Succeed(t0 - 50 * kMicrosPerSecond, 120 * kMi);
  EXPECT_EQ(history.Get("hello", sig, platform_, t0 + 1).size(), 2u);
}

}  // namespace
}  // namespace tug::control
