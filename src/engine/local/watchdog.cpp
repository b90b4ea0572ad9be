#include "engine/local/watchdog.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "engine/local/proc.h"

namespace tug::engine::local {

int64_t SampleGroupRss(pid_t pgid) {
  static const int64_t page = ::sysconf(_SC_PAGESIZE);
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return 0;
  int64_t total = 0;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || end == e->d_name || *end != '\0') continue;
    // Processes come and go during the scan; a vanished one simply does not count.
    auto st = ReadProcStat(static_cast<int>(pid));
    if (!st.ok() || st->pgrp != pgid || st->state == 'Z') continue;
    total += st->rss_pages * page;
  }
  ::closedir(dir);
  return total;
}

bool Watchdog::Check(pid_t pgid) {
  last_bytes_ = SampleGroupRss(pgid);
  peak_bytes_ = std::max(peak_bytes_, last_bytes_);
  return limit_bytes_ > 0 && last_bytes_ >= limit_bytes_;
}

}  // namespace tug::engine::local
