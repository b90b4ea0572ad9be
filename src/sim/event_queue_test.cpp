// The event queue pops in the order of std::priority_queue with the same ordering.
#include <gtest/gtest.h>

#include <queue>
#include <vector>

#include "sim/event_queue.h"
#include "sim/fleet_sim.h"
#include "sim/rng.h"

namespace tug::sim::internal {
namespace {

struct Later {
  bool operator()(const Event& a, const Event& b) const { return Earlier()(b, a); }
};

TEST(EventQueue, PopsInThePriorityQueueOrder) {
  Rng rng(5);
  QuaternaryHeap<Event, Earlier> heap;
  std::priority_queue<Event, std::vector<Event>, Later> reference;
  uint64_t seq = 0;
  int64_t popped = 0;
  for (int step = 0; step < 200000; ++step) {
    // Bursts of pushes at few distinct times (ties broken by seq), then runs of pops.
    if (rng.Below(100) < 55 || reference.empty()) {
      Event e{static_cast<Micros>(rng.Below(50)) * 1000, seq++, Ev::kProgress,
              static_cast<int32_t>(rng.Below(1000)), 0};
      heap.push(e);
      reference.push(e);
    } else {
      ASSERT_FALSE(heap.empty());
      EXPECT_EQ(heap.top().seq, reference.top().seq);
      EXPECT_EQ(heap.top().t, reference.top().t);
      heap.pop();
      reference.pop();
      ++popped;
    }
    ASSERT_EQ(heap.size(), reference.size());
  }
  EXPECT_GT(popped, 50000);
}

}  // namespace
}  // namespace tug::sim::internal
