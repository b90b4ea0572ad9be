#pragma once
/// Client-side token bucket (client-go's flowcontrol.NewTokenBucketRateLimiter): `burst` tokens,
/// refilled at `qps` per second. Take() reserves one and says how long to wait for it, so waiting
/// callers queue in order instead of racing. The clock is injected for tests.
/// Threading: thread-safe.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>

namespace tug::kube {

class TokenBucket {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;
  /// qps <= 0: unlimited (Take() never waits). burst < 1 is taken as 1.
  TokenBucket(double qps, int burst, Now now = {});

  /// Takes a token; returns how long the caller must wait before using it (zero when one was
  /// available).
  std::chrono::microseconds Take();

  int64_t throttled() const;
  std::chrono::microseconds total_wait() const;

 private:
  const double qps_;
  const double burst_;
  const Now now_;
  mutable std::mutex mu_;
  double tokens_;                               // guarded by mu_; negative: reserved ahead
  std::chrono::steady_clock::time_point last_;  // guarded by mu_
  int64_t throttled_ = 0;                       // guarded by mu_
  std::chrono::microseconds total_wait_{0};     // guarded by mu_
};

}  // namespace tug::kube
