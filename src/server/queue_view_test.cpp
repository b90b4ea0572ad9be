// QueueView: one built picture serves requests until it ages out (min_age, or 4x its build
// time), concurrent requests share one build, a failed build is not kept. Time is a fake
// steady clock moved by the tests.
#include "server/queue_view.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tug::server {
namespace {

using std::chrono::milliseconds;

class QueueViewTest : public ::testing::Test {
 protected:
  QueueView::Clock::time_point Now() const {
    return QueueView::Clock::time_point(milliseconds(now_ms_.load()));
  }
  // A scheduler of one queue holding `waiting` queued runs; each build advances the fake
  // clock by build_ms_ (how long the build "took").
  Result<queue::Scheduler> Build() {
    ++calls_;
    now_ms_ += build_ms_;
    if (fail_next_.exchange(false)) return Unavailable("store unavailable");
    queue::QueueSpec spec;
    spec.name = "team-a";
    auto s = queue::Scheduler::Create({spec});
    if (!s.ok()) return s;
    for (int i = 0; i < waiting_; ++i) {
      queue::Item item;
      item.id = "a-" + std::to_string(i);
      item.queue = "team-a";
      item.user = "ana";
      item.submitted_at = i;
      item.footprint = queue::Vec{1000, 1 << 20, 0};
      if (!s->Enqueue(std::move(item)).ok()) return Internal("enqueue");
    }
    return s;
  }
  QueueView View(milliseconds min_age = milliseconds(1000)) {
    return QueueView([this] { return Build(); }, min_age, [this] { return Now(); });
  }
  static int64_t Waiting(const queue::Scheduler& s) {
    int64_t n = 0;
    for (const auto& q : s.Snapshot()) n += q.queued;
    return n;
  }

  std::atomic<int64_t> now_ms_{1'000'000};
  std::atomic<int64_t> build_ms_{0};
  std::atomic<int> calls_{0};
  std::atomic<bool> fail_next_{false};
  int waiting_ = 3;
};

TEST_F(QueueViewTest, OnePictureServesRequestsUntilItIsMinAgeOld) {
  QueueView view = View();
  auto first = view.Get();
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(Waiting(**first), 3);
  waiting_ = 5;  // the store changes; the picture does not until it ages out
  now_ms_ += 999;
  auto second = view.Get();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->get(), first->get());
  EXPECT_EQ(view.builds(), 1);
  now_ms_ += 1;  // 1,000 ms old: rebuilt
  auto third = view.Get();
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->get(), first->get());
  EXPECT_EQ(Waiting(**third), 5);
  EXPECT_EQ(view.builds(), 2);
  // The old picture stays valid for whoever still holds it.
  EXPECT_EQ(Waiting(**first), 3);
}

TEST_F(QueueViewTest, ASlowBuildIsKeptFourTimesAsLong) {
  QueueView view = View();
  build_ms_ = 2000;  // each build takes 2 s: kept 8 s
  ASSERT_TRUE(view.Get().ok());
  build_ms_ = 0;
  now_ms_ += 7999;
  ASSERT_TRUE(view.Get().ok());
  EXPECT_EQ(view.builds(), 1);
  now_ms_ += 1;
  ASSERT_TRUE(view.Get().ok());
  EXPECT_EQ(view.builds(), 2);
  // That build was instant: back to min_age.
  now_ms_ += 1000;
  ASSERT_TRUE(view.Get().ok());
  EXPECT_EQ(view.builds(), 3);
}

TEST_F(QueueViewTest, AFailedBuildIsNotKept) {
  QueueView view = View();
  fail_next_ = true;
  auto failed = view.Get();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), Code::kUnavailable);
  EXPECT_EQ(view.builds(), 0);
  auto next = view.Get();  // same instant: tries again
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(calls_.load(), 2);
  EXPECT_EQ(view.builds(), 1);
}

TEST_F(QueueViewTest, ConcurrentRequestsShareOneBuild) {
  QueueView view = View();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) {
        if (view.Get().ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(calls_.load(), 1);  // the clock did not move: one picture for all 400 requests
  EXPECT_EQ(view.builds(), 1);
}

}  // namespace
}  // namespace tug::server
