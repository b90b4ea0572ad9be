#pragma once
/// The fan-out behind the server-sent event streams (GET /api/v1/events/stream, GET
/// /api/v1/runs/{id}/events?follow=true): one poller per server reads the store's new events
/// (ListChanges after the last seq it saw: one query per interval for all streams, so replicas
/// on one store all see every change), keeps the newest in a ring, and wakes the streams that
/// want them. Streams read the ring themselves (a stream that fell behind the ring pages
/// through the store), so a slow client never holds the poller or other streams up.
///
/// Ordering: head() is a watermark: every event with seq <= head() that will ever exist is in
/// the ring or the store already. Store sequences are taken at insert and commit later
/// (PostgreSQL), so a missing seq is held back for `gap_grace` before the hub moves past it (a
/// rolled-back transaction leaves a hole that never fills).
///
/// Lifecycle: construct, Start() (reads the newest seq: streams start from there), Stop() (or
/// destroy). Threading: every method is thread-safe; wakes are called from the poller thread
/// without the hub's lock held.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"

namespace tug::server {

struct EventHubOptions {
  /// How often the store is asked for new events (and at once after Poke()).
  std::chrono::milliseconds poll_interval{500};
  /// Events kept in memory for streams to read.
  size_t ring_size = 8192;
  /// Events read per query.
  int page = 1000;
  /// How long a hole in the seq is waited for before it is taken as a rolled-back write.
  Micros gap_grace = Micros{3} * kMicrosPerSecond;
};

class EventHub {
 public:
  using Wants = std::function<bool(const store::Change&)>;

  EventHub(store::Store& store, const Clock& clock, EventHubOptions options = {});
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  /// Reads the newest seq (streams start from there; until that succeeded, here or in a later
  /// poll, ready() is false) and starts the poller. kFailedPrecondition when started already.
  [[nodiscard]] Status Start();
  /// The newest seq was read: head() means something.
  bool ready() const;
  /// Stops and joins the poller; idempotent.
  void Stop();
  /// Something was written on this replica: poll now rather than at the next interval.
  void Poke();
  /// Reads the store once, right now, on the caller's thread (tests and the poller).
  void PollOnce();

  /// Every event with seq <= head() is delivered (see the ordering note above).
  int64_t head() const;
  /// Appends the changes with after < seq <= head(), oldest first, at most `max`, to `out`.
  /// False when the ring no longer holds everything after `after` (the caller reads the store,
  /// up to head()).
  bool Since(int64_t after, size_t max, std::vector<store::Change>& out) const;

  /// `wake` is called (from the poller thread) when changes arrive for which `wants` is true;
  /// `wants` runs on the poller thread too. Returns an id for Unsubscribe.
  uint64_t Subscribe(Wants wants, std::function<void()> wake);
  void Unsubscribe(uint64_t id);
  size_t subscribers() const;

 private:
  struct Subscriber {
    Wants wants;
    std::function<void()> wake;
  };
  void Loop();

  store::Store& store_;
  const Clock& clock_;
  const EventHubOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::Change> ring_;  // guarded by mu_; seq increasing
  int64_t head_ = 0;                // guarded by mu_
  int64_t ring_floor_ = 0;          // guarded by mu_: the ring holds all of (floor, head]
  std::map<uint64_t, Subscriber> subscribers_;  // guarded by mu_
  uint64_t next_id_ = 1;                        // guarded by mu_
  bool poked_ = false;                          // guarded by mu_
  bool stopping_ = false;                       // guarded by mu_
  bool ready_ = false;                          // guarded by mu_
  Micros gap_since_ = 0;                        // poller only: when the current hole was seen
  std::mutex poll_mu_;                          // one PollOnce at a time
  std::thread thread_;
};

}  // namespace tug::server
