#include "server/queue_view.h"

#include <algorithm>
#include <utility>

namespace tug::server {

QueueView::QueueView(Builder build, std::chrono::milliseconds min_age,
                     std::function<Clock::time_point()> now)
    : build_(std::move(build)), min_age_(min_age), now_(std::move(now)) {}

bool QueueView::Fresh(const Built& b, Clock::time_point now) const {
  Clock::duration max_age = std::max<Clock::duration>(min_age_, 4 * b.took);
  return now - b.at < max_age;
}

Result<std::shared_ptr<const queue::Scheduler>> QueueView::Get() {
  {
    std::lock_guard lock(mu_);
    if (built_ && Fresh(*built_, now_())) return built_->sched;
  }
  std::lock_guard building(build_mu_);
  {
    // Another request may have rebuilt it while this one waited for build_mu_.
    std::lock_guard lock(mu_);
    if (built_ && Fresh(*built_, now_())) return built_->sched;
  }
  const Clock::time_point start = now_();
  auto sched = build_();
  if (!sched.ok()) return std::move(sched).take_error();
  auto b = std::make_shared<Built>();
  b->sched = std::make_shared<const queue::Scheduler>(std::move(*sched));
  b->took = now_() - start;
  b->at = now_();
  std::lock_guard lock(mu_);
  built_ = b;
  ++builds_;
  return b->sched;
}

int64_t QueueView::builds() const {
  std::lock_guard lock(mu_);
  return builds_;
}

}  // namespace tug::server
