#pragma once
/// The Store conformance suite, part 8: live changes (ListChanges, LatestEventSeq), which the
/// server's event streams page through. Include it after store_conformance.h in a backend's test
/// (it adds TEST_Ps to the same StoreConformanceTest).
#include <string>
#include <vector>

#include "store/store_conformance.h"

namespace tug::store::conformance {

TEST_P(StoreConformanceTest, ChangesCarryTheRunAndPageBySeq) {
  auto empty_latest = store_->LatestEventSeq();
  ASSERT_TRUE(Ok(empty_latest));
  const int64_t start = *empty_latest;

  Run r1 = Submit();
  Run r2 = Submit();
  ASSERT_TRUE(Ok(store_->RequestStop(r2.id, kT0 + kSec, "ada")));  // queued: stopped at once

  auto all = store_->ListChanges("", start, 1000);
  ASSERT_TRUE(Ok(all));
  std::vector<Event> expected;
  for (const auto& e : Events(r1.id)) expected.push_back(e);
  for (const auto& e : Events(r2.id)) expected.push_back(e);
  std::sort(expected.begin(), expected.end(),
            [](const Event& a, const Event& b) { return a.seq < b.seq; });
  ASSERT_EQ(all->size(), expected.size());
  for (size_t i = 0; i < all->size(); ++i) {
    const Change& c = (*all)[i];
    EXPECT_EQ(c.event, expected[i]);
    EXPECT_EQ(c.owner, "ada");
    EXPECT_EQ(c.group, "science");
    EXPECT_EQ(c.run_status, c.event.run_id == r2.id ? RunStatus::kStopped : RunStatus::kQueued);
  }
  auto latest = store_->LatestEventSeq();
  ASSERT_TRUE(Ok(latest));
  EXPECT_EQ(*latest, expected.back().seq);

  // Paging by seq walks every change once, in order.
  std::vector<Change> walked;
  int64_t after = start;
  while (true) {
    auto page = store_->ListChanges("", after, 2);
    ASSERT_TRUE(Ok(page));
    ASSERT_LE(page->size(), 2u);
    if (page->empty()) break;
    walked.insert(walked.end(), page->begin(), page->end());
    after = page->back().event.seq;
  }
  EXPECT_EQ(walked, *all);

  // One run's changes only.
  auto only = store_->ListChanges(r2.id, start, 1000);
  ASSERT_TRUE(Ok(only));
  ASSERT_EQ(only->size(), Events(r2.id).size());
  for (const Change& c : *only) EXPECT_EQ(c.event.run_id, r2.id);
  auto none = store_->ListChanges("01jzzzzzzzzzzzzzzzzzzzzzzz", 0, 10);
  ASSERT_TRUE(Ok(none));
  EXPECT_TRUE(none->empty());

  EXPECT_TRUE(Fails(store_->ListChanges("", 0, 0), Code::kInvalidArgument));
  EXPECT_TRUE(Fails(store_->ListChanges("", 0, 10'001), Code::kInvalidArgument));
}

}  // namespace tug::store::conformance
