#include "store/postgres/pool.h"

#include <algorithm>

#include <fmt/format.h>

namespace tug::store::pg {

bool ConnectBackoff::Open(Micros now) const {
  // A wall clock stepped backwards must not close the door for longer than the delay.
  return delay_ == 0 || now >= retry_at_ || now < failed_at_;
}

void ConnectBackoff::Failed(Micros now) {
  delay_ = delay_ == 0 ? kFirst : std::min(delay_ * 2, kMax);
  failed_at_ = now;
  retry_at_ = now + delay_;
}

Micros ConnectBackoff::Remaining(Micros now) const { return Open(now) ? 0 : retry_at_ - now; }

Pool::Pool(ConnectSettings settings, int size, const Clock& clock)
    : settings_(std::move(settings)), size_(std::max(size, 1)), clock_(clock) {}

Pool::~Pool() = default;

Pool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(std::move(conn_));
}

Error Pool::Down(Micros now) const {
  return Unavailable(
      fmt::format("postgres at '{}' is unreachable; the store retries by itself (next try in "
                  "{} ms), so retry the call later and check that the server is up",
                  settings_.shown,
                  (backoff_.Remaining(now) + kMicrosPerMilli - 1) / kMicrosPerMilli),
      last_failure_);
}

Result<Pool::Lease> Pool::Acquire() {
  std::unique_lock lock(mu_);
  while (true) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      // A server restart closes every idle connection; notice it here rather than fail a call.
      if (conn->CheckAlive()) return Lease(this, std::move(conn));
      --open_;
      lock.unlock();
      conn.reset();
      lock.lock();
    }
    if (open_ < size_) {
      const Micros now = clock_.Now();
      const bool down = backoff_.delay() > 0;
      if (down && (probing_ || !backoff_.Open(now))) return Down(now);
      ++open_;
      probing_ = down;
      lock.unlock();
      auto conn = Connection::Open(settings_);
      lock.lock();
      if (down) probing_ = false;
      if (conn.ok()) {
        backoff_.Succeeded();
        return Lease(this, std::move(*conn));
      }
      --open_;
      backoff_.Failed(clock_.Now());
      last_failure_ = conn.error().detail();
      cv_.notify_all();  // waiters may open a connection now, or learn that the server is down
      return std::move(conn).take_error();
    }
    cv_.wait(lock);
  }
}

void Pool::Return(std::unique_ptr<Connection> conn) {
  // A connection left inside a transaction (its ROLLBACK failed) or broken is never reused.
  const bool keep = !conn->broken() && !conn->InTransaction();
  if (!keep) conn.reset();
  {
    std::lock_guard lock(mu_);
    if (keep) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  cv_.notify_one();
}

}  // namespace tug::store::pg
