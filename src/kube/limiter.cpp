#include "kube/limiter.h"

#include <algorithm>
#include <cmath>

namespace tug::kube {

TokenBucket::TokenBucket(double qps, int burst, Now now)
    : qps_(qps),
      burst_(std::max(burst, 1)),
      now_(now ? std::move(now) : Now([] { return std::chrono::steady_clock::now(); })),
      tokens_(burst_),
      last_(now_()) {}

std::chrono::microseconds TokenBucket::Take() {
  if (qps_ <= 0) return std::chrono::microseconds(0);
  std::lock_guard lock(mu_);
  auto now = now_();
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::microseconds(0);
  auto wait = std::chrono::microseconds(static_cast<int64_t>(std::ceil(-tokens_ / qps_ * 1e6)));
  ++throttled_;
  total_wait_ += wait;
  return wait;
}

int64_t TokenBucket::throttled() const {
  std::lock_guard lock(mu_);
  return throttled_;
}

std::chrono::microseconds TokenBucket::total_wait() const {
  std::lock_guard lock(mu_);
  return total_wait_;
}

}  // namespace tug::kube
