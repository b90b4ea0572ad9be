#include "core/ids.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <set>

namespace tug {
namespace {

TEST(IdsTest, RunIdOfAttemptInvertsAttemptId) {
  EXPECT_EQ(RunIdOfAttempt(AttemptId("01jd0000000000000000000000", 12)),
            "01jd0000000000000000000000");
  EXPECT_EQ(RunIdOfAttempt("nodash"), "");
  EXPECT_EQ(RunIdOfAttempt("-3"), "");
}

TEST(IdsTest, SortedUniqueAndValid) {
  ManualClock clock;
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    if (i % 100 == 0) clock.Advance(kMicrosPerMilli);
    std::string id = NewId(clock);
    EXPECT_TRUE(IsValidId(id)) << id;
    EXPECT_GT(id, prev);
    prev = id;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(IdsTest, LaterTimeSortsAfter) {
  ManualClock clock;
  std::string a = NewId(clock);
  clock.Advance(kMicrosPerSecond * 3600);
  std::string b = NewId(clock);
  EXPECT_LT(a, b);
  EXPECT_LT(a.substr(0, 10), b.substr(0, 10));
}

TEST(IdsTest, Validation) {
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("01JD0000000000000000000000"));  // upper case
  EXPECT_FALSE(IsValidId("../../etc/passwd"));
  EXPECT_EQ(AttemptId("abc", 2), "abc-2");
}

}  // namespace
}  // namespace tug

namespace tug {
namespace {

TEST(ClockTest, TimestampsRoundTripAndMatchGmtime) {
  for (Micros t : {Micros{0}, Micros{1'700'000'000'123'456}, Micros{951'782'400'000'001},
                   Micros{4'102'444'799'999'999}, Micros{1'709'164'800'500'000}}) {
    std::string s = FormatTimestamp(t);
    time_t secs = static_cast<time_t>(t / kMicrosPerSecond);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char expected[96];
    std::snprintf(expected, sizeof(expected), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(t % kMicrosPerSecond));
    EXPECT_EQ(s, expected);
    EXPECT_EQ(*ParseTimestamp(s), t);
  }
  EXPECT_FALSE(ParseTimestamp("yesterday").ok());
  EXPECT_FALSE(ParseTimestamp("2026-11-24T08:00:00+01:00").ok());
}

}  // namespace
}  // namespace tug
