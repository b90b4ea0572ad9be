#include "kube/limiter.h"

#include <gtest/gtest.h>

namespace tug::kube {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucketTest, BurstThenQueuedWaitsThenRefill) {
  auto now = std::chrono::steady_clock::time_point{} + 1h;
  TokenBucket bucket(10, 2, [&] { return now; });
  std::vector<std::chrono::microseconds> waits;
  for (int i = 0; i < 5; ++i) waits.push_back(bucket.Take());
  EXPECT_EQ(waits, (std::vector<std::chrono::microseconds>{0us, 0us, 100ms, 200ms, 300ms}));
  EXPECT_EQ(bucket.throttled(), 3);
  EXPECT_EQ(bucket.total_wait(), 600ms);
  now += 1s;  // 10 tokens' worth, capped at the burst of 2 after paying back the 3 reserved
  EXPECT_EQ(bucket.Take(), 0us);
  EXPECT_EQ(bucket.Take(), 0us);
  EXPECT_EQ(bucket.Take(), 100ms);
  EXPECT_EQ(bucket.throttled(), 4);
}

TEST(TokenBucketTest, NonPositiveQpsIsUnlimited) {
  auto now = std::chrono::steady_clock::time_point{};
  TokenBucket bucket(0, 1, [&] { return now; });
  for (int i = 0; i < 100; ++i) EXPECT_EQ(bucket.Take(), 0us);
  EXPECT_EQ(bucket.throttled(), 0);
}

}  // namespace
}  // namespace tug::kube
