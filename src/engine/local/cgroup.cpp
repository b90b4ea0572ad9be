#include "engine/local/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "engine/local/proc.h"

namespace tug::engine::local {

namespace {

constexpr std::string_view kServerLeaf = "tugboat-server";
constexpr int64_t kCpuPeriodMicros = 100000;

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(sep, start);
    out.push_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t j = 1; j <= 3; ++j) {
        char c = s[i + j];
        ok = ok && c >= '0' && c <= '7';
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// mkdir that accepts an existing directory.
Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return OkStatus();
  return ErrnoError(fmt::format("creating cgroup '{}'", dir), errno);
}

std::string Parent(const std::string& dir) {
  size_t pos = dir.rfind('/');
  return pos == std::string::npos || pos == 0 ? std::string("/") : dir.substr(0, pos);
}

std::string Basename(const std::string& dir) {
  size_t pos = dir.rfind('/');
  return pos == std::string::npos ? dir : dir.substr(pos + 1);
}

bool HasWord(std::string_view text, std::string_view word) {
  for (const std::string& w : SplitWords(text)) {
    if (w == word) return true;
  }
  return false;
}

struct Found {
  SelfCgroups self;
  CgroupMounts mounts;
};

Result<Found> ReadOwnCgroups() {
  ASSIGN_OR_RETURN(std::string cg, ReadFile("/proc/self/cgroup"));
  ASSIGN_OR_RETURN(SelfCgroups self, ParseProcCgroup(cg));
  ASSIGN_OR_RETURN(std::string mi, ReadFile("/proc/self/mountinfo"));
  return Found{std::move(self), ParseMountInfo(mi)};
}

// v2: the attempt groups live in <own>/tugboat, which needs the memory controller delegated
// to it. The "no internal processes" rule forbids enabling controllers for the children of a
// group that holds processes, so when our own group holds us we move this process into a leaf
// "<own>/tugboat-server" first (what container runtimes do in a delegated subtree).
Result<CgroupLayout> DetectV2(const Found& f) {
  if (!f.mounts.unified || !f.self.unified) {
    return FailedPrecondition("no cgroup v2 hierarchy is mounted");
  }
  std::string own = CgroupDir(*f.mounts.unified, *f.self.unified);
  if (own.empty()) return FailedPrecondition("own cgroup v2 group is not visible in the mount");
  if (Basename(own) == kServerLeaf) own = Parent(own);
  ASSIGN_OR_RETURN(std::string controllers, ReadFile(own + "/cgroup.controllers"));
  if (!HasWord(controllers, "memory")) {
    std::string list;
    for (const std::string& w : SplitWords(controllers)) list += (list.empty() ? "" : " ") + w;
    return FailedPrecondition(fmt::format(
        "cgroup v2 group '{}' does not offer the memory controller (it offers '{}')", own, list));
  }
  bool cpu = HasWord(controllers, "cpu");
  std::string enable = cpu ? "+memory +cpu" : "+memory";
  if (::access((own + "/cgroup.subtree_control").c_str(), W_OK) != 0) {
    return FailedPrecondition(fmt::format("cgroup v2 group '{}' is not writable", own));
  }
  Status st = WriteControlFile(own + "/cgroup.subtree_control", enable);
  if (!st.ok()) {
    std::string leaf = own + "/" + std::string(kServerLeaf);
    RETURN_IF_ERROR(MakeDir(leaf));
    RETURN_IF_ERROR(WriteControlFile(leaf + "/cgroup.procs", fmt::format("{}", ::getpid())));
    st = WriteControlFile(own + "/cgroup.subtree_control", enable);
    if (!st.ok()) {
      return FailedPrecondition(
          fmt::format("cannot delegate the memory controller below cgroup v2 group '{}': {}", own,
                      st.error().detail()));
    }
  }
  CgroupLayout layout;
  layout.version = CgroupVersion::kV2;
  layout.unified_base = own + "/tugboat";
  RETURN_IF_ERROR(MakeDir(layout.unified_base));
  RETURN_IF_ERROR(WriteControlFile(layout.unified_base + "/cgroup.subtree_control", enable));
  layout.cpu_limits = cpu;
  return layout;
}

Result<CgroupLayout> DetectV1(const Found& f) {
  auto base_for = [&](const std::string& controller) -> std::string {
    auto m = f.mounts.v1.find(controller);
    auto s = f.self.v1.find(controller);
    if (m == f.mounts.v1.end() || s == f.self.v1.end()) return {};
    std::string dir = CgroupDir(m->second, s->second);
    return dir.empty() ? dir : dir + "/tugboat";
  };
  CgroupLayout layout;
  layout.version = CgroupVersion::kV1;
  layout.memory_base = base_for("memory");
  if (layout.memory_base.empty()) {
    return FailedPrecondition("no cgroup v1 memory hierarchy is mounted");
  }
  Status st = MakeDir(layout.memory_base);
  if (!st.ok()) {
    return FailedPrecondition(fmt::format("cgroup v1 memory group '{}' is not writable: {}",
                                          layout.memory_base, st.error().detail()));
  }
  std::string cpu = base_for("cpu");
  if (!cpu.empty() && MakeDir(cpu).ok()) {
    layout.cpu_base = cpu;
    layout.cpu_limits = FileExists(cpu + "/cpu.cfs_quota_us");
  } else {
    layout.note = "cpu limits not enforced: the cgroup v1 cpu controller is not writable";
  }
  auto cpu_mount = f.mounts.v1.find("cpu");
  auto acct_mount = f.mounts.v1.find("cpuacct");
  bool separate = acct_mount != f.mounts.v1.end() &&
                  (cpu_mount == f.mounts.v1.end() ||
                   cpu_mount->second.mount_point != acct_mount->second.mount_point);
  if (separate) {
    std::string acct = base_for("cpuacct");
    if (!acct.empty() && MakeDir(acct).ok()) layout.cpuacct_base = acct;
  }
  return layout;
}

}  // namespace

std::string_view ToString(CgroupVersion v) {
  switch (v) {
    case CgroupVersion::kV1:
      return "v1";
    case CgroupVersion::kV2:
      return "v2";
    case CgroupVersion::kNone:
      break;
  }
  return "none";
}

Result<SelfCgroups> ParseProcCgroup(std::string_view text) {
  SelfCgroups out;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) {
      return InvalidArgument(fmt::format("/proc/self/cgroup line '{}' is malformed", line));
    }
    std::string_view id = line.substr(0, a);
    std::string_view controllers = line.substr(a + 1, b - a - 1);
    std::string path(line.substr(b + 1));
    if (id == "0" && controllers.empty()) {
      out.unified = path;
      continue;
    }
    for (std::string_view c : Split(controllers, ',')) {
      if (!c.empty()) out.v1[std::string(c)] = path;
    }
  }
  return out;
}

CgroupMounts ParseMountInfo(std::string_view text) {
  CgroupMounts out;
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string> f = SplitWords(line);
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || dash == f.end() || f.end() - dash < 4) continue;
    const std::string& fstype = *(dash + 1);
    const std::string& super_options = *(dash + 3);
    CgroupMount mount{Unescape(f[3]), Unescape(f[4])};
    if (fstype == "cgroup2") {
      if (!out.unified) out.unified = mount;
    } else if (fstype == "cgroup") {
      for (std::string_view opt : Split(super_options, ',')) {
        if (opt == "rw" || opt == "ro" || opt.find('=') != std::string_view::npos) continue;
        out.v1.emplace(std::string(opt), mount);
      }
    }
  }
  return out;
}

std::string CgroupDir(const CgroupMount& mount, const std::string& path) {
  std::string rel;
  if (mount.root == "/") {
    rel = path;
  } else if (path == mount.root) {
    rel = "/";
  } else if (path.size() > mount.root.size() &&
             path.compare(0, mount.root.size(), mount.root) == 0 &&
             path[mount.root.size()] == '/') {
    rel = path.substr(mount.root.size());
  } else {
    return {};
  }
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  return mount.mount_point + rel;
}

Result<int64_t> ParseKeyedCounter(std::string_view text, std::string_view key) {
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string> w = SplitWords(line);
    if (w.size() != 2 || w[0] != key) continue;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), v);
    if (ec != std::errc() || end != w[1].data() + w[1].size()) {
      return InvalidArgument(fmt::format("counter '{}' has a malformed value '{}'", key, w[1]));
    }
    return v;
  }
  return NotFound(fmt::format("no counter '{}'", key));
}

Result<CgroupLayout> DetectCgroups(std::string_view mode) {
  if (mode == "none") {
    CgroupLayout layout;
    layout.note = "cgroups disabled by configuration (cgroup_mode none)";
    return layout;
  }
  if (mode != "auto" && mode != "v1" && mode != "v2") {
    return InvalidArgument(
        fmt::format("cgroup mode '{}' is not known; use auto, v2, v1 or none", mode));
  }
  auto found = ReadOwnCgroups();
  if (!found.ok()) {
    if (mode != "auto") return std::move(found).take_error();
    CgroupLayout layout;
    layout.note = "no writable cgroup: " + found.error().message();
    return layout;
  }
  std::string notes;
  if (mode == "auto" || mode == "v2") {
    auto v2 = DetectV2(*found);
    if (v2.ok() || mode == "v2") return v2;
    notes = "cgroup v2: " + v2.error().message();
  }
  auto v1 = DetectV1(*found);
  if (v1.ok() || mode == "v1") {
    if (v1.ok() && !notes.empty()) v1->note = v1->note.empty() ? notes : notes + "; " + v1->note;
    return v1;
  }
  CgroupLayout layout;
  layout.note = "no writable cgroup (" + notes + "; cgroup v1: " + v1.error().message() + ")";
  return layout;
}

std::vector<std::string> AttemptCgroups::Dirs() const {
  std::vector<std::string> out;
  for (const std::string* d : {&unified, &memory, &cpu, &cpuacct}) {
    if (!d->empty() && std::find(out.begin(), out.end(), *d) == out.end()) out.push_back(*d);
  }
  return out;
}

Result<AttemptCgroups> CreateAttemptCgroups(const CgroupLayout& layout,
                                            const std::string& attempt_id,
                                            const Resources& resources) {
  AttemptCgroups g;
  g.version = layout.version;
  if (layout.version == CgroupVersion::kNone) return g;
  auto fail = [&](Error e) -> Result<AttemptCgroups> {
    (void)RemoveAttemptCgroups(g);
    return e;
  };
  auto limit_error = [&](const Status& st, std::string_view what) {
    return FailedPrecondition(
        fmt::format("the kernel rejected the {} of attempt '{}' ({}); lower "
                    "the request or check the cgroup setup",
                    what, attempt_id, st.error().detail()));
  };
  if (layout.version == CgroupVersion::kV2) {
    g.unified = layout.unified_base + "/" + attempt_id;
    if (Status st = MakeDir(g.unified); !st.ok()) return fail(std::move(st).take_error());
    if (resources.memory_bytes > 0) {
      Status st =
          WriteControlFile(g.unified + "/memory.max", fmt::format("{}", resources.memory_bytes));
      if (!st.ok()) return fail(limit_error(st, "memory limit"));
      // Without swap accounting the file is absent; the limit still holds for RAM.
      (void)WriteControlFile(g.unified + "/memory.swap.max", "0");
    }
    if (resources.cpu_millis > 0 && layout.cpu_limits) {
      int64_t quota = std::max<int64_t>(1000, resources.cpu_millis * 100);
      Status st =
          WriteControlFile(g.unified + "/cpu.max", fmt::format("{} {}", quota, kCpuPeriodMicros));
      if (!st.ok()) return fail(limit_error(st, "cpu limit"));
    }
    return g;
  }
  g.memory = layout.memory_base + "/" + attempt_id;
  if (Status st = MakeDir(g.memory); !st.ok()) return fail(std::move(st).take_error());
  if (resources.memory_bytes > 0) {
    std::string bytes = fmt::format("{}", resources.memory_bytes);
    Status st = WriteControlFile(g.memory + "/memory.limit_in_bytes", bytes);
    if (!st.ok()) return fail(limit_error(st, "memory limit"));
    // memsw (RAM + swap) exists only with swap accounting; equal to the RAM limit means the job
    // cannot escape its limit into swap.
    (void)WriteControlFile(g.memory + "/memory.memsw.limit_in_bytes", bytes);
  }
  // A group in the cpu hierarchy only serves a quota, or the CPU accounting when cpuacct is
  // mounted with cpu: without either it would be one more mkdir, join and rmdir per launch.
  const bool cpu_quota = resources.cpu_millis > 0 && layout.cpu_limits;
  if (!layout.cpu_base.empty() && (cpu_quota || layout.cpuacct_base.empty())) {
    g.cpu = layout.cpu_base + "/" + attempt_id;
    if (Status st = MakeDir(g.cpu); !st.ok()) return fail(std::move(st).take_error());
    if (cpu_quota) {
      int64_t quota = std::max<int64_t>(1000, resources.cpu_millis * 100);
      Status st =
          WriteControlFile(g.cpu + "/cpu.cfs_period_us", fmt::format("{}", kCpuPeriodMicros));
      if (st.ok()) st = WriteControlFile(g.cpu + "/cpu.cfs_quota_us", fmt::format("{}", quota));
      if (!st.ok()) return fail(limit_error(st, "cpu limit"));
    }
  }
  if (!layout.cpuacct_base.empty()) {
    g.cpuacct = layout.cpuacct_base + "/" + attempt_id;
    if (Status st = MakeDir(g.cpuacct); !st.ok()) return fail(std::move(st).take_error());
  }
  return g;
}

Status RemoveAttemptCgroups(const AttemptCgroups& groups) {
  for (const std::string& dir : groups.Dirs()) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) continue;
    if (errno == EBUSY) {
      return FailedPrecondition(
          fmt::format("cgroup '{}' still has processes; stop the attempt first", dir));
    }
    return ErrnoError(fmt::format("removing cgroup '{}'", dir), errno);
  }
  return OkStatus();
}

CgroupUsage ReadCgroupUsage(const AttemptCgroups& groups) {
  CgroupUsage u;
  auto counter = [](const std::string& file, std::string_view key) -> std::optional<int64_t> {
    auto text = ReadFile(file);
    if (!text.ok()) return std::nullopt;
    auto v = ParseKeyedCounter(*text, key);
    if (!v.ok()) return std::nullopt;
    return *v;
  };
  auto number = [](const std::string& file) -> std::optional<int64_t> {
    auto text = ReadFile(file);
    if (!text.ok()) return std::nullopt;
    std::vector<std::string> w = SplitWords(*text);
    if (w.empty()) return std::nullopt;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(w[0].data(), w[0].data() + w[0].size(), v);
    if (ec != std::errc()) return std::nullopt;
    return v;
  };
  if (groups.version == CgroupVersion::kV2) {
    u.oom_kills = counter(groups.unified + "/memory.events", "oom_kill").value_or(0);
    u.peak_bytes = number(groups.unified + "/memory.peak");
    if (auto usec = counter(groups.unified + "/cpu.stat", "usage_usec")) u.cpu_micros = *usec;
  } else if (groups.version == CgroupVersion::kV1) {
    u.oom_kills = counter(groups.memory + "/memory.oom_control", "oom_kill").value_or(0);
    u.peak_bytes = number(groups.memory + "/memory.max_usage_in_bytes");
    std::string acct = !groups.cpuacct.empty() ? groups.cpuacct : groups.cpu;
    if (!acct.empty()) {
      if (auto ns = number(acct + "/cpuacct.usage")) u.cpu_micros = *ns / 1000;
    }
  }
  return u;
}

std::vector<int> CgroupPids(const AttemptCgroups& groups) {
  std::set<int> pids;
  for (const std::string& dir : groups.Dirs()) {
    auto text = ReadFile(dir + "/cgroup.procs");
    if (!text.ok()) continue;
    for (const std::string& w : SplitWords(*text)) {
      int pid = 0;
      auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), pid);
      if (ec == std::errc() && pid > 0) pids.insert(pid);
    }
  }
  return {pids.begin(), pids.end()};
}

void SignalCgroup(const AttemptCgroups& groups, int sig) {
  if (groups.version == CgroupVersion::kV2 && sig == SIGKILL &&
      WriteControlFile(groups.unified + "/cgroup.kill", "1").ok()) {
    return;
  }
  for (int pid : CgroupPids(groups)) ::kill(pid, sig);
}

}  // namespace tug::engine::local
