#include "server/event_hub.h"

#include <algorithm>

#include "core/log.h"
#include "core/thread_name.h"

namespace tug::server {

EventHub::EventHub(store::Store& store, const Clock& clock, EventHubOptions options)
    : store_(store), clock_(clock), options_(options) {}

EventHub::~EventHub() { Stop(); }

Status EventHub::Start() {
  if (thread_.joinable()) return FailedPrecondition("the event hub is started already");
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  PollOnce();  // reads the newest seq, so streams can open as soon as this returns
  thread_ = std::thread([this] {
    SetThreadName("tug-events");
    Loop();
  });
  return OkStatus();
}

void EventHub::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventHub::Poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void EventHub::Loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.poll_interval, [&] { return poked_ || stopping_; });
      if (stopping_) return;
      poked_ = false;
    }
    PollOnce();
  }
}

bool EventHub::ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

void EventHub::PollOnce() {
  std::lock_guard poll_lock(poll_mu_);
  if (!ready()) {
    auto latest = store_.LatestEventSeq();
    if (!latest.ok()) {
      log::Warn("event hub: reading the newest event failed; retrying",
                {{"error", latest.error().ToString()}});
      return;
    }
    std::lock_guard lock(mu_);
    head_ = *latest;
    ring_floor_ = head_;
    ready_ = true;
    return;
  }
  int64_t head = this->head();
  // Read until a page comes back short, so a burst is delivered in one go.
  std::vector<store::Change> accepted;
  while (true) {
    auto page = store_.ListChanges("", head, options_.page);
    if (!page.ok()) {
      log::Warn("event hub: reading new events failed; retrying",
                {{"error", page.error().ToString()}});
      break;
    }
    bool held = false;
    for (store::Change& c : *page) {
      if (c.event.seq != head + 1) {
        // A hole: an uncommitted transaction's seq, or a rolled-back one. Wait for it a while.
        Micros now = clock_.Now();
        if (gap_since_ == 0) gap_since_ = now;
        if (now - gap_since_ < options_.gap_grace) {
          held = true;
          break;
        }
      }
      gap_since_ = 0;
      head = c.event.seq;
      accepted.push_back(std::move(c));
    }
    if (held || static_cast<int>(page->size()) < options_.page) break;
  }
  if (accepted.empty()) return;

  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard lock(mu_);
    head_ = head;
    for (store::Change& c : accepted) ring_.push_back(std::move(c));
    while (ring_.size() > options_.ring_size) {
      ring_floor_ = ring_.front().event.seq;
      ring_.pop_front();
    }
    // The new changes are the ring's tail.
    const size_t first = ring_.size() - std::min(ring_.size(), accepted.size());
    for (const auto& [id, sub] : subscribers_) {
      for (size_t i = first; i < ring_.size(); ++i) {
        if (sub.wants(ring_[i])) {
          wakes.push_back(sub.wake);
          break;
        }
      }
    }
  }
  for (const auto& wake : wakes) wake();
}

int64_t EventHub::head() const {
  std::lock_guard lock(mu_);
  return head_;
}

bool EventHub::Since(int64_t after, size_t max, std::vector<store::Change>& out) const {
  std::lock_guard lock(mu_);
  if (after < ring_floor_) return false;
  auto it = std::upper_bound(ring_.begin(), ring_.end(), after,
                             [](int64_t seq, const store::Change& c) { return seq < c.event.seq; });
  for (size_t n = 0; it != ring_.end() && n < max; ++it, ++n) out.push_back(*it);
  return true;
}

uint64_t EventHub::Subscribe(Wants wants, std::function<void()> wake) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  subscribers_.emplace(id, Subscriber{std::move(wants), std::move(wake)});
  return id;
}

void EventHub::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  subscribers_.erase(id);
}

size_t EventHub::subscribers() const {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

}  // namespace tug::server
