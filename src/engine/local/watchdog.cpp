#include "engine/local/watchdog.h"

#include <algorithm>

#include "engine/local/proc.h"

namespace tug::engine::local {

int64_t SampleGroupRss(pid_t pgid) {
  auto groups = SampleProcessGroups({static_cast<int>(pgid)});
  auto it = groups.find(static_cast<int>(pgid));
  return it == groups.end() ? 0 : it->second.rss_bytes;
}

bool Watchdog::Check(pid_t pgid) {
  last_bytes_ = SampleGroupRss(pgid);
  peak_bytes_ = std::max(peak_bytes_, last_bytes_);
  return limit_bytes_ > 0 && last_bytes_ >= limit_bytes_;
}

}  // namespace tug::engine::local
