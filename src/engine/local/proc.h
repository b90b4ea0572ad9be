#pragma once
/// Small Linux helpers shared by the local engine and its shim: /proc parsing, whole-file I/O,
/// atomic writes, pidfds and an owning fd. No state; thread-safe; nothing here throws.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace tug::engine::local {

/// The fields of /proc/<pid>/stat the engine uses.
struct ProcStat {
  int pid = 0;
  std::string comm;  // without the parentheses; may contain spaces and ')'
  char state = '?';  // 'R', 'S', 'Z', ...
  int ppid = 0;
  int pgrp = 0;
  uint64_t utime_ticks = 0;  // field 14: user CPU time, in clock ticks
  uint64_t stime_ticks = 0;  // field 15: system CPU time
  int64_t cutime_ticks = 0;  // field 16: user CPU time of children it waited for
  int64_t cstime_ticks = 0;  // field 17: system CPU time of children it waited for
  uint64_t start_ticks = 0;  // field 22: start time in clock ticks after boot
  int64_t rss_pages = 0;     // field 24
};

/// Parses the text of /proc/<pid>/stat. The comm field is delimited by the first '(' and the
/// LAST ')', since a process may name itself "a) b". kInvalidArgument on malformed text.
[[nodiscard]] Result<ProcStat> ParseProcStat(std::string_view text);
/// Reads and parses /proc/<pid>/stat; kNotFound if the process does not exist.
[[nodiscard]] Result<ProcStat> ReadProcStat(int pid);
/// When this machine booted, in seconds since the epoch (/proc/stat "btime").
std::optional<int64_t> BootTime();
/// Parses the text of /proc/stat for BootTime; nullopt without a well-formed btime line.
std::optional<int64_t> ParseBootTime(std::string_view proc_stat);
/// True if `pid` exists, is not a zombie, and started at `start_ticks` (guards against pid reuse).
bool IsAliveWithStart(int pid, uint64_t start_ticks);

/// What the live (not zombie) processes of one process group use, summed.
struct GroupUsage {
  int processes = 0;
  int64_t rss_bytes = 0;
  /// utime + stime + cutime + cstime in microseconds: the CPU of the live processes and of the
  /// children they reaped. It can go down when a process that had used CPU exits and is reaped
  /// outside the group.
  int64_t cpu_micros = 0;
};
/// One scan of /proc for the process groups in `pgids`; groups with no live process are absent.
std::map<int, GroupUsage> SampleProcessGroups(const std::set<int>& pgids);

/// Whole file; kNotFound if it does not exist, kInternal (errno detail) otherwise.
[[nodiscard]] Result<std::string> ReadFile(const std::string& path);
/// How much of a write must survive a machine crash (a process crash never loses a write that
/// returned: the page cache outlives the process).
enum class Sync {
  kNone,        // survives a process crash only
  kFile,        // fsync the content before it becomes visible: never empty after a power loss
  kFileAndDir,  // also fsync the directory, so the file itself survives a power loss
};
/// Writes `content` to a temporary file beside `path` and renames it over `path`, so readers
/// see the old content or the new, never a partial file; `sync` says what is fsynced. The file
/// is readable by its owner only (0600).
[[nodiscard]] Status WriteFileAtomic(const std::string& path, std::string_view content, Sync sync);
/// fsync of a directory (its entries); errno detail on failure.
[[nodiscard]] Status SyncDir(const std::string& dir);
/// One write(2) to an existing file (cgroup control files): the kernel's errno is the answer.
[[nodiscard]] Status WriteControlFile(const std::string& path, std::string_view content);
/// write(2) until done or a real error (EINTR retried). Returns false on error.
bool WriteAll(int fd, std::string_view data);
bool FileExists(const std::string& path);

/// pidfd_open(2)/pidfd_send_signal(2) through syscall(2); -1 with errno on failure.
int PidfdOpen(pid_t pid);
int PidfdSendSignal(int pidfd, int sig);

/// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

/// PATH for jobs whose environment does not set one.
inline constexpr const char* kDefaultJobPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Finds `name` on `path` as execvp would (a name containing '/' is returned as is, unchecked):
/// the first regular, executable file. nullopt if none.
std::optional<std::string> FindExecutable(const std::string& name, const std::string& path);

/// Splits on whitespace; used for the small text files (shim.pid, cgroup.procs).
std::vector<std::string> SplitWords(std::string_view text);

}  // namespace tug::engine::local
