#include "core/quantity.h"

#include <gtest/gtest.h>

namespace tug {
namespace {

TEST(QuantityTest, Memory) {
  struct Case {
    const char* in;
    int64_t out;
  };
  for (auto c : {Case{"64Mi", 64LL << 20}, Case{"2Gi", 2LL << 30}, Case{"1.5Gi", 3LL << 29},
                 Case{"1G", 1000000000}, Case{"4096", 4096}, Case{"512Ki", 512 << 10},
                 Case{" 1Mi ", 1 << 20}}) {
    auto r = ParseMemory(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message();
    EXPECT_EQ(*r, c.out) << c.in;
  }
  for (const char* bad : {"", "-1Gi", "0", "abc", "12Qi", "1e99Gi", "99999999999999Ti", "Mi"}) {
    EXPECT_FALSE(ParseMemory(bad).ok()) << bad;
  }
  EXPECT_NE(ParseMemory("-64Mi").error().message().find("positive"), std::string::npos);
}

TEST(QuantityTest, Cpu) {
  EXPECT_EQ(*ParseCpu("500m"), 500);
  EXPECT_EQ(*ParseCpu("2"), 2000);
  EXPECT_EQ(*ParseCpu("0.25"), 250);
  for (const char* bad : {"", "-1", "0", "2x", "0m"}) EXPECT_FALSE(ParseCpu(bad).ok()) << bad;
}

TEST(QuantityTest, Duration) {
  EXPECT_EQ(*ParseDuration("10m"), 600);
  EXPECT_EQ(*ParseDuration("1h30m"), 5400);
  EXPECT_EQ(*ParseDuration("45s"), 45);
  EXPECT_EQ(*ParseDuration("90"), 90);
  EXPECT_EQ(*ParseDuration("1d"), 86400);
  for (const char* bad : {"", "-5m", "10x", "m", "1h30", "0s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(QuantityTest, FormatRoundTrips) {
  EXPECT_EQ(FormatMemory(64LL << 20), "64Mi");
  EXPECT_EQ(FormatMemory(3LL << 29), "1536Mi");
  EXPECT_EQ(FormatMemory(12345), "12.1Ki");
  EXPECT_EQ(FormatMemory(100), "100");
  EXPECT_EQ(FormatCpu(500), "500m");
  EXPECT_EQ(FormatCpu(2000), "2");
  EXPECT_EQ(FormatDuration(5400), "1h30m");
  for (int64_t v : {int64_t{1} << 20, int64_t{5} << 30, int64_t{1536} << 20}) {
    EXPECT_EQ(*ParseMemory(FormatMemory(v)), v);
  }
  for (int64_t s : {1, 59, 60, 3599, 3600, 86399}) EXPECT_EQ(*ParseDuration(FormatDuration(s)), s);
}

}  // namespace
}  // namespace tug
