// EventHub and EventStream over a real (in-memory) SQLite store, driven by hand: no threads, a
// manual clock, Poll() called directly.
#include "server/event_stream.h"

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "net/sse.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::server {
namespace {

namespace json = boost::json;

constexpr Micros kSec = kMicrosPerSecond;

class EventStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open({":memory:"}, clock_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    // A small ring, so streams also page through the store.
    hub_ = std::make_unique<EventHub>(
        *store_, clock_, EventHubOptions{std::chrono::milliseconds(500), 3, 1000, 3 * kSec});
    hub_->PollOnce();  // ready: the newest seq is read (what Start does before its thread)
  }

  /// A queued run of `group` owned by `owner`: one "submitted" event.
  std::string Submit(const std::string& owner, const std::string& group) {
    tug::Run r;
    r.id = NewId(clock_);
    r.owner = owner;
    r.group = group;
    r.definition = "hello";
    r.definition_version = 1;
    r.spec.name = "hello";
    r.spec.command = "echo hi";
    r.created_at = r.updated_at = clock_.Now();
    Attempt a;
    a.id = AttemptId(r.id, 1);
    a.run_id = r.id;
    a.number = 1;
    a.engine = "local";
    a.created_at = a.due_at = clock_.Now();
    EXPECT_TRUE(store_->CreateRun(r, a).ok());
    clock_.Advance(1000);  // ids are time-ordered
    return r.id;
  }
  /// Claims, starts and ends the oldest due attempt (of `run`).
  void RunToEnd(const std::string& run) {
    auto claimed = store_->ClaimAttempt("me", clock_.Now(), 60 * kSec);
    ASSERT_TRUE(claimed.ok() && claimed->has_value());
    ASSERT_EQ((*claimed)->run_id, run);
    ASSERT_TRUE(store_->MarkRunning((*claimed)->id, clock_.Now()).ok());
    store::AttemptEnd end;
    end.status = AttemptStatus::kSucceeded;
    end.outcome = {0, "Completed", ""};
    end.ended_at = clock_.Now();
    ASSERT_TRUE(store_->EndAttempt((*claimed)->id, end).ok());
  }

  std::unique_ptr<EventStream> Stream(EventStreamOptions o) {
    o.heartbeat = std::chrono::seconds(15);
    return std::make_unique<EventStream>(std::move(o), *hub_, *store_, clock_);
  }
  /// Polls until the stream has nothing more (or is done); the messages, and whether it ended.
  std::vector<net::SseMessage> Drain(EventStream& s, bool* done = nullptr) {
    std::vector<net::SseMessage> out;
    for (int i = 0; i < 1000; ++i) {
      net::StreamPoll p = s.Poll();
      parser_.Feed(p.data, [&](const net::SseMessage& m) { out.push_back(m); });
      if (p.done) {
        if (done != nullptr) *done = true;
        break;
      }
      if (p.data.empty()) break;
    }
    return out;
  }
  static std::vector<int64_t> Ids(const std::vector<net::SseMessage>& ms) {
    std::vector<int64_t> ids;
    for (const auto& m : ms) {
      if (!m.id.empty() && m.event != "end") ids.push_back(std::stoll(m.id));
    }
    return ids;
  }

  ManualClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<EventHub> hub_;
  net::SseParser parser_;
};

TEST_F(EventStreamTest, StreamsInOrderResumesFromAnyIdAndFiltersByVisibility) {
  const std::string a = Submit("ada", "science");
  const std::string b = Submit("bob", "other");
  RunToEnd(a);
  RunToEnd(b);
  hub_->PollOnce();  // reads what was written since Start

  auto all = Stream({});
  auto messages = Drain(*all);
  std::vector<int64_t> ids = Ids(messages);
  std::vector<int64_t> expected;
  for (const std::string& run : {a, b}) {
    auto events = store_->ListEvents(run, 0, 100);
    ASSERT_TRUE(events.ok());
    for (const Event& e : *events) expected.push_back(e.seq);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
  ASSERT_GE(messages.size(), 2u);
  EXPECT_EQ(messages.front().event, "submitted");
  auto data = json::parse(messages.back().data).as_object();
  EXPECT_EQ(data.at("run_id").as_string(), b);
  EXPECT_EQ(data.at("run_status"), "SUCCEEDED");

  // Resuming after any id gives exactly the rest (the ring holds 3: the rest comes from the
  // store, then from the ring).
  for (size_t k = 0; k < expected.size(); ++k) {
    EventStreamOptions o;
    o.after = expected[k];
    auto resumed = Stream(o);
    EXPECT_EQ(Ids(Drain(*resumed)), std::vector<int64_t>(expected.begin() + k + 1, expected.end()))
        << "after " << expected[k];
  }

  // A viewer of "science" sees ada's run only.
  EventStreamOptions viewer;
  viewer.visible = store::Visibility{false, {"science"}, "vic"};
  for (const auto& m : Drain(*Stream(viewer))) {
    EXPECT_EQ(json::parse(m.data).at("run_id").as_string(), a) << m.data;
  }
  // Bob sees his own run through the owner rule, with no group in common.
  EventStreamOptions bob;
  bob.visible = store::Visibility{false, {}, "bob"};
  auto bobs = Drain(*Stream(bob));
  ASSERT_FALSE(bobs.empty());
  for (const auto& m : bobs) EXPECT_EQ(json::parse(m.data).at("run_id").as_string(), b) << m.data;
}

TEST_F(EventStreamTest, ARunStreamEndsAfterTheRunsLastEvent) {
  const std::string a = Submit("ada", "science");
  hub_->PollOnce();
  EventStreamOptions o;
  o.run_id = a;
  auto s = Stream(o);
  bool done = false;
  auto first = Drain(*s, &done);
  EXPECT_FALSE(done);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].event, "submitted");
  RunToEnd(a);
  // Not yet polled by the hub: nothing new, and the stream stays open.
  EXPECT_TRUE(Drain(*s, &done).empty());
  EXPECT_FALSE(done);
  hub_->PollOnce();
  auto rest = Drain(*s, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(rest.size(), 2u);
  EXPECT_EQ(rest.back().event, "end");
  EXPECT_EQ(rest[rest.size() - 2].event, "ended");
}

TEST_F(EventStreamTest, HeartbeatsWhenIdleAndMovesTheIdPastHiddenChanges) {
  EventStreamOptions o;
  o.visible = store::Visibility{false, {"science"}, "vic"};
  auto s = Stream(o);
  EXPECT_EQ(s->Poll().data, net::FormatSseRetry(2000));
  EXPECT_EQ(s->Poll().data, "");
  clock_.Advance(15 * kSec);
  EXPECT_EQ(s->Poll().data, net::FormatSseComment("heartbeat"));
  Submit("bob", "other");  // not for this viewer
  hub_->PollOnce();
  EXPECT_EQ(s->Poll().data, "");
  clock_.Advance(15 * kSec);
  std::string beat = s->Poll().data;
  EXPECT_EQ(beat,
            net::FormatSseComment("heartbeat") + net::FormatSseId(std::to_string(hub_->head())));
}

TEST_F(EventStreamTest, WakesOnlyTheStreamsThatWantAChange) {
  int science = 0;
  int other = 0;
  EventStreamOptions so;
  so.visible = store::Visibility{false, {"science"}, ""};
  auto s1 = Stream(so);
  EventStreamOptions oo;
  oo.visible = store::Visibility{false, {"other"}, ""};
  auto s2 = Stream(oo);
  s1->Subscribe([&] { ++science; });
  s2->Subscribe([&] { ++other; });
  EXPECT_EQ(hub_->subscribers(), 2u);
  Submit("ada", "science");
  hub_->PollOnce();
  EXPECT_EQ(science, 1);
  EXPECT_EQ(other, 0);
  s2.reset();
  EXPECT_EQ(hub_->subscribers(), 1u);
}

TEST_F(EventStreamTest, TheHubHoldsAHoleBackThenMovesPastIt) {
  Submit("ada", "science");
  hub_->PollOnce();
  const int64_t head = hub_->head();
  // A run whose events then vanish (purged) leaves a hole, as an uncommitted or rolled-back
  // PostgreSQL insert does; the run after it is held back until the grace passed.
  const std::string gone = Submit("ada", "science");
  ASSERT_TRUE(store_->RequestStop(gone, clock_.Now()).ok());  // queued: ends at once
  const std::string after = Submit("ada", "science");
  clock_.Advance(kSec);
  auto purged = store_->PurgeRuns(clock_.Now(), 10);
  ASSERT_TRUE(purged.ok());
  ASSERT_EQ(*purged, std::vector<std::string>{gone});
  hub_->PollOnce();
  EXPECT_EQ(hub_->head(), head);
  clock_.Advance(3 * kSec);
  hub_->PollOnce();
  auto events = store_->ListEvents(after, 0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(hub_->head(), events->back().seq);
}

}  // namespace
}  // namespace tug::server
