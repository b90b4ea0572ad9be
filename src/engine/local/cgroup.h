#pragma once
/// Cgroup helpers for the local engine: find the server's own cgroups, create one group per
/// attempt under "<own group>/tugboat/<attempt id>" with memory and cpu limits, read usage
/// (peak memory, cpu time, OOM kills) and signal or remove the group.
///
/// cgroup v2 is used where the unified hierarchy offers the memory controller and is writable;
/// otherwise v1 (memory, cpu and, when mounted separately, cpuacct). Stateless functions;
/// thread-safe. Errors: kFailedPrecondition (no usable cgroup, limit rejected), kInternal (I/O).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace tug::engine::local {

enum class CgroupVersion { kNone, kV1, kV2 };
std::string_view ToString(CgroupVersion v);

/// /proc/self/cgroup: "0::/path" (unified) and "4:memory:/path" or "3:cpu,cpuacct:/path" (v1).
struct SelfCgroups {
  std::optional<std::string> unified;
  std::map<std::string, std::string> v1;  // controller -> path
};
[[nodiscard]] Result<SelfCgroups> ParseProcCgroup(std::string_view text);

struct CgroupMount {
  std::string root;         // the hierarchy path mounted (usually "/")
  std::string mount_point;  // e.g. /sys/fs/cgroup/memory
};
/// cgroup mounts from /proc/self/mountinfo; v1 keyed by controller (from the super options).
struct CgroupMounts {
  std::optional<CgroupMount> unified;
  std::map<std::string, CgroupMount> v1;
};
CgroupMounts ParseMountInfo(std::string_view text);
/// The directory of hierarchy path `path` under `mount`, or "" if the mount does not show it.
std::string CgroupDir(const CgroupMount& mount, const std::string& path);

/// The number after `key` in "key N" lines (memory.oom_control, memory.events, cpu.stat).
/// kNotFound if no line has exactly that key. "oom_kill" does not match "oom_group_kill".
[[nodiscard]] Result<int64_t> ParseKeyedCounter(std::string_view text, std::string_view key);

/// Where attempt groups go; chosen once when the engine starts.
struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kNone;
  std::string unified_base;  // v2: <own group>/tugboat
  std::string memory_base;   // v1
  std::string cpu_base;      // v1; empty when the cpu controller is not writable
  std::string cpuacct_base;  // v1; only when cpuacct is mounted apart from cpu
  bool cpu_limits = false;   // cpu quotas can be enforced
  std::string note;          // why a better mode was not used (for health and logs)
};

/// mode: "auto" (v2, else v1, else none), "v2", "v1" or "none". An explicit version that cannot
/// be used is kFailedPrecondition; "auto" never fails (it falls back to kNone with a note).
[[nodiscard]] Result<CgroupLayout> DetectCgroups(std::string_view mode);

/// One attempt's groups. Recorded in spec.json so a later process can read and remove them.
struct AttemptCgroups {
  CgroupVersion version = CgroupVersion::kNone;
  std::string unified;  // v2
  std::string memory;   // v1
  std::string cpu;      // v1
  std::string cpuacct;  // v1, separate cpuacct mount only
  /// Every directory the job joins (cgroup.procs), without duplicates.
  std::vector<std::string> Dirs() const;
};

/// Creates (or reuses) the attempt's groups and writes the limits. A limit the kernel rejects is
/// kFailedPrecondition; partially created groups are removed first.
[[nodiscard]] Result<AttemptCgroups> CreateAttemptCgroups(const CgroupLayout& layout,
                                                          const std::string& attempt_id,
                                                          const Resources& resources);
/// rmdir of every group; missing ones are fine. kFailedPrecondition if one still has processes.
[[nodiscard]] Status RemoveAttemptCgroups(const AttemptCgroups& groups);

struct CgroupUsage {
  int64_t oom_kills = 0;
  std::optional<int64_t> peak_bytes;
  std::optional<int64_t> cpu_micros;
};
CgroupUsage ReadCgroupUsage(const AttemptCgroups& groups);
/// Pids in the attempt's groups (from cgroup.procs of every group).
std::vector<int> CgroupPids(const AttemptCgroups& groups);
/// Sends `sig` to every process in the attempt's groups (cgroup.kill on v2 for SIGKILL).
void SignalCgroup(const AttemptCgroups& groups, int sig);

}  // namespace tug::engine::local
