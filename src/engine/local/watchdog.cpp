#include "engine/local/watchdog.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "engine/local/proc.h"

namespace tug::engine::local {

int64_t SampleGroupRss(pid_t pgid) {
  auto groups = SampleProcessGroups({static_cast<int>(pgid)});
  auto it = groups.find(static_cast<int>(pgid));
  return it == groups.end() ? 0 : it->second.rss_bytes;
}

namespace {

// The children of every thread of `pid` (none when it is gone).
std::vector<int> Children(int pid) {
  std::vector<int> out;
  DIR* tasks = ::opendir(fmt::format("/proc/{}/task", pid).c_str());
  if (tasks == nullptr) return out;
  while (const dirent* e = ::readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    auto text = ReadFile(fmt::format("/proc/{}/task/{}/children", pid, e->d_name));
    if (!text.ok()) continue;
    for (const std::string& w : SplitWords(*text)) out.push_back(std::atoi(w.c_str()));
  }
  ::closedir(tasks);
  return out;
}

}  // namespace

std::optional<int64_t> SampleDescendantsRss(pid_t root) {
  // CONFIG_PROC_CHILDREN: the file exists for our own main thread, or not at all.
  static const bool has_children_files =
      ::access(fmt::format("/proc/{}/task/{}/children", ::getpid(), ::getpid()).c_str(), R_OK) == 0;
  if (!has_children_files) return std::nullopt;
  static const int64_t page = ::sysconf(_SC_PAGESIZE);
  int64_t total = 0;
  std::vector<int> todo = Children(root);
  std::set<int> seen;
  while (!todo.empty()) {
    int pid = todo.back();
    todo.pop_back();
    if (pid <= 0 || !seen.insert(pid).second) continue;
    auto st = ReadProcStat(pid);
    if (!st.ok() || st->state == 'Z' || st->state == 'X') continue;
    total += st->rss_pages * page;
    std::vector<int> more = Children(pid);
    todo.insert(todo.end(), more.begin(), more.end());
  }
  return total;
}

bool Watchdog::Check(pid_t root, pid_t pgid) {
  last_bytes_ = SampleDescendantsRss(root).value_or(-1);
  if (last_bytes_ < 0) last_bytes_ = SampleGroupRss(pgid);
  peak_bytes_ = std::max(peak_bytes_, last_bytes_);
  return limit_bytes_ > 0 && last_bytes_ >= limit_bytes_;
}

}  // namespace tug::engine::local
