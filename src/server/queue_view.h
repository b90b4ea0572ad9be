#pragma once
/// QueueView: the API's read-only picture of the team queues (GET /api/v1/queues and a waiting
/// run's place in GET /api/v1/runs/{id}), shared by every request. Building it reads every
/// waiting and admitted attempt from the store and orders them (O(n log n): about a second at
/// 100,000 waiting runs), so one built picture serves all requests until it is `min_age` old, or
/// four times as old as its build took when that is longer, and requests that find it stale
/// while another is rebuilding wait for that build instead of starting their own. The picture
/// is therefore up to `min_age` (or 4x the build time) behind the dispatcher; a failed build is
/// not kept. Thread-safe.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "queue/queue.h"

namespace tug::server {

class QueueView {
 public:
  using Clock = std::chrono::steady_clock;
  using Builder = std::function<Result<queue::Scheduler>()>;
  /// `now` is for tests; the default reads the steady clock.
  explicit QueueView(Builder build, std::chrono::milliseconds min_age = std::chrono::seconds(1),
                     std::function<Clock::time_point()> now = Clock::now);

  /// The current picture, built now if there is none or it has aged out.
  Result<std::shared_ptr<const queue::Scheduler>> Get();
  /// How many builds ran (for tests and the server's log).
  int64_t builds() const;

 private:
  struct Built {
    std::shared_ptr<const queue::Scheduler> sched;
    Clock::time_point at;
    Clock::duration took{};
  };
  bool Fresh(const Built& b, Clock::time_point now) const;

  Builder build_;
  std::chrono::milliseconds min_age_;
  std::function<Clock::time_point()> now_;
  std::mutex build_mu_;  // one build at a time; held across the build
  mutable std::mutex mu_;
  std::shared_ptr<const Built> built_;  // guarded by mu_
  int64_t builds_ = 0;                  // guarded by mu_
};

}  // namespace tug::server
