#include "engine/local/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

namespace tug::engine::local {

namespace {

template <class T>
bool ParseNumber(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return InvalidArgument("process stat has no '(comm)' field");
  }
  ProcStat st;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!ParseNumber(pid_text, st.pid)) return InvalidArgument("process stat has no pid");
  st.comm = std::string(text.substr(open + 1, close - open - 1));
  // Fields after comm start at field 3 (state).
  std::vector<std::string> rest = SplitWords(text.substr(close + 1));
  // rest[0] is field 3; field N is rest[N - 3].
  if (rest.size() < 22 || rest[0].size() != 1) {
    return InvalidArgument("process stat has too few fields");
  }
  st.state = rest[0][0];
  if (!ParseNumber(std::string_view(rest[1]), st.ppid) ||
      !ParseNumber(std::string_view(rest[2]), st.pgrp) ||
      !ParseNumber(std::string_view(rest[11]), st.utime_ticks) ||
      !ParseNumber(std::string_view(rest[12]), st.stime_ticks) ||
      !ParseNumber(std::string_view(rest[13]), st.cutime_ticks) ||
      !ParseNumber(std::string_view(rest[14]), st.cstime_ticks) ||
      !ParseNumber(std::string_view(rest[19]), st.start_ticks) ||
      !ParseNumber(std::string_view(rest[21]), st.rss_pages)) {
    return InvalidArgument("process stat has a malformed number");
  }
  return st;
}

Result<ProcStat> ReadProcStat(int pid) {
  auto text = ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!text.ok()) {
    if (text.error().code() == Code::kNotFound) {
      return NotFound(fmt::format("process {} does not exist", pid));
    }
    return std::move(text).take_error();
  }
  return ParseProcStat(*text);
}

bool IsAliveWithStart(int pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  auto st = ReadProcStat(pid);
  if (!st.ok()) return false;
  return st->state != 'Z' && st->state != 'X' && st->start_ticks == start_ticks;
}

std::map<int, GroupUsage> SampleProcessGroups(const std::set<int>& pgids) {
  static const int64_t page = ::sysconf(_SC_PAGESIZE);
  static const int64_t ticks_per_second = ::sysconf(_SC_CLK_TCK);
  std::map<int, GroupUsage> out;
  if (pgids.empty()) return out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* e = ::readdir(dir)) {
    int pid = 0;
    std::string_view name(e->d_name);
    if (!ParseNumber(name, pid) || pid <= 0) continue;
    // Processes come and go during the scan; a vanished one simply does not count.
    auto st = ReadProcStat(pid);
    if (!st.ok() || st->state == 'Z' || st->state == 'X' || pgids.count(st->pgrp) == 0) continue;
    GroupUsage& g = out[st->pgrp];
    g.processes += 1;
    g.rss_bytes += st->rss_pages * page;
    int64_t ticks = static_cast<int64_t>(st->utime_ticks + st->stime_ticks) + st->cutime_ticks +
                    st->cstime_ticks;
    g.cpu_micros += ticks_per_second > 0 ? ticks * 1'000'000 / ticks_per_second : 0;
  }
  ::closedir(dir);
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ESRCH) return NotFound(fmt::format("'{}' does not exist", path));
    return ErrnoError(fmt::format("opening '{}'", path), err);
  }
  UniqueFd owned(fd);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      // A process that exits while we read its /proc files answers ESRCH.
      if (err == ESRCH) return NotFound(fmt::format("'{}' does not exist", path));
      return ErrnoError(fmt::format("reading '{}'", path), err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::optional<int64_t> ParseBootTime(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    std::string_view line = text.substr(at, nl == std::string_view::npos ? text.npos : nl - at);
    if (line.substr(0, 6) == "btime ") {
      int64_t t = 0;
      std::string_view num = line.substr(6);
      auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), t);
      if (ec == std::errc() && end == num.data() + num.size() && t > 0) return t;
      return std::nullopt;
    }
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  return std::nullopt;
}

std::optional<int64_t> BootTime() {
  auto text = ReadFile("/proc/stat");
  if (!text.ok()) return std::nullopt;
  return ParseBootTime(*text);
}

Status SyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(fmt::format("opening '{}'", dir), errno);
  if (::fsync(fd.get()) != 0) return ErrnoError(fmt::format("syncing '{}'", dir), errno);
  return OkStatus();
}

Status WriteFileAtomic(const std::string& path, std::string_view content, Sync sync) {
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  // 0600: the engine's state is its own (a launch spec holds the job's secret env values).
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(fmt::format("creating '{}'", tmp), errno);
  UniqueFd owned(fd);
  if (!WriteAll(fd, content)) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(fmt::format("writing '{}'", tmp), err);
  }
  // fsync before the rename, so that a machine crash cannot leave a renamed but empty file.
  if (sync != Sync::kNone && ::fsync(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(fmt::format("syncing '{}'", tmp), err);
  }
  owned.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(fmt::format("renaming '{}' to '{}'", tmp, path), err);
  }
  if (sync == Sync::kFileAndDir) {
    size_t slash = path.rfind('/');
    return SyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
  }
  return OkStatus();
}

Status WriteControlFile(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(fmt::format("opening '{}'", path), errno);
  UniqueFd owned(fd);
  ssize_t n;
  do {
    n = ::write(fd, content.data(), content.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError(fmt::format("writing '{}' to '{}'", content, path), errno);
  return OkStatus();
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::optional<std::string> FindExecutable(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  if (name.empty()) return std::nullopt;
  size_t start = 0;
  for (;;) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? end : end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (end == std::string::npos) return std::nullopt;
    start = end + 1;
  }
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\n' && text[i] != '\t') ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

}  // namespace tug::engine::local
