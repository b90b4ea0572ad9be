#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace tug {
namespace {

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
