#include "engine/local/usage_sampler.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "engine/local/proc.h"

namespace tug::engine::local {

namespace {

std::optional<int64_t> NumberFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  auto v = ParseCgroupNumber(*text);
  if (!v.ok()) return std::nullopt;
  return *v;
}

std::optional<int64_t> MemoryInUse(const std::string& dir, const char* usage_file,
                                   CgroupVersion version) {
  std::optional<int64_t> usage = NumberFile(dir + "/" + usage_file);
  if (!usage) return std::nullopt;
  auto stat = ReadFile(dir + "/memory.stat");
  return WorkingSet(*usage, stat.ok() ? std::string_view(*stat) : std::string_view(), version);
}

}  // namespace

Micros MonotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool UsageTicker::Due(bool running, Micros mono_now) {
  if (!running || interval_ <= 0) {
    next_ = 0;
    return false;
  }
  if (next_ == 0) {
    next_ = mono_now + interval_;
    return false;
  }
  if (mono_now < next_) return false;
  next_ += interval_;
  // Fell behind (a slow sink): skip the missed ticks rather than sample in a burst.
  if (next_ <= mono_now) next_ = mono_now + interval_;
  return true;
}

int UsageTicker::TimeoutMs(Micros mono_now) const {
  if (next_ == 0) return -1;
  Micros left = std::max<Micros>(0, next_ - mono_now);
  return static_cast<int>(std::min<Micros>((left + 999) / 1000, 24LL * 3600 * 1000));
}

int64_t Millicores(int64_t cpu_micros, int64_t wall_micros) {
  if (wall_micros <= 0 || cpu_micros <= 0) return 0;
  // cpu_micros * 1000 stays far from overflow for any real interval (2^63 µs is 292k years).
  return (cpu_micros * 1000 + wall_micros / 2) / wall_micros;
}

Result<int64_t> ParseCgroupNumber(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return InvalidArgument(fmt::format("cgroup value '{}' is not a number", text));
  }
  return v;
}

int64_t WorkingSet(int64_t usage_bytes, std::string_view memory_stat, CgroupVersion version) {
  // The kernel reclaims inactive file pages before it OOM-kills, so they do not bring a job
  // closer to its limit; the kubelet leaves them out of the working set for the same reason.
  auto inactive = ParseKeyedCounter(
      memory_stat, version == CgroupVersion::kV1 ? "total_inactive_file" : "inactive_file");
  int64_t in_use = inactive.ok() ? usage_bytes - *inactive : usage_bytes;
  return std::max<int64_t>(0, in_use);
}

UsageCounters ReadCgroupCounters(const AttemptCgroups& groups) {
  UsageCounters c;
  if (groups.version == CgroupVersion::kV2) {
    c.memory_bytes = MemoryInUse(groups.unified, "memory.current", groups.version);
    if (auto text = ReadFile(groups.unified + "/cpu.stat"); text.ok()) {
      if (auto usec = ParseKeyedCounter(*text, "usage_usec"); usec.ok()) c.cpu_micros = *usec;
    }
  } else if (groups.version == CgroupVersion::kV1) {
    if (!groups.memory.empty()) {
      c.memory_bytes = MemoryInUse(groups.memory, "memory.usage_in_bytes", groups.version);
    }
    const std::string& acct = !groups.cpuacct.empty() ? groups.cpuacct : groups.cpu;
    if (!acct.empty()) {
      if (auto ns = NumberFile(acct + "/cpuacct.usage")) c.cpu_micros = *ns / 1000;
    }
  }
  return c;
}

std::vector<Update> UsageSampler::Sample(const std::vector<UsageTarget>& targets, Micros mono_now) {
  std::set<std::string> wanted;
  for (const UsageTarget& t : targets) wanted.insert(t.attempt_id);
  std::erase_if(known_, [&](const auto& kv) { return wanted.count(kv.first) == 0; });

  // Read each attempt's spec once; the attempts without cgroups share one /proc scan.
  std::set<int> pgids;
  for (const UsageTarget& t : targets) {
    Known& k = known_[t.attempt_id];
    if (!k.spec_read) {
      auto text = ReadFile(t.dir + "/" + kSpecFile);
      if (!text.ok()) continue;
      auto spec = ParseSpec(*text);
      if (!spec.ok()) continue;
      k.spec = std::move(*spec);
      k.spec_read = true;
    }
    if (k.spec.cgroups.version == CgroupVersion::kNone && t.job_pid > 0) pgids.insert(t.job_pid);
  }
  std::map<int, GroupUsage> groups = SampleProcessGroups(pgids);

  std::vector<Update> out;
  const Micros now = clock_.Now();
  for (const UsageTarget& t : targets) {
    Known& k = known_[t.attempt_id];
    if (!k.spec_read) continue;
    // The job has ended and the shim is about to exit: kEnded follows with the peak, and a
    // reading of an emptied group would only draw a drop to zero.
    if (FileExists(t.dir + "/" + kStatusFile)) continue;
    UsageCounters c;
    const bool cgroups = k.spec.cgroups.version != CgroupVersion::kNone;
    if (cgroups) {
      c = ReadCgroupCounters(k.spec.cgroups);
    } else if (auto g = groups.find(t.job_pid); g != groups.end()) {
      c.memory_bytes = g->second.rss_bytes;
      c.cpu_micros = g->second.cpu_micros;
    }
    if (!c.memory_bytes && !c.cpu_micros) continue;

    UsageReading r;
    r.component = "main";
    r.memory_bytes = c.memory_bytes.value_or(0);
    if (c.cpu_micros) {
      if (k.last_cpu_micros) {
        r.cpu_millis = Millicores(*c.cpu_micros - *k.last_cpu_micros, mono_now - k.last_mono);
      } else if (t.started_at > 0) {
        r.cpu_millis = Millicores(*c.cpu_micros, now - t.started_at);
      }
      k.last_cpu_micros = c.cpu_micros;
      k.last_mono = mono_now;
    }
    r.memory_limit_bytes = k.spec.memory_bytes;
    r.cpu_limit_millis = cgroups && cpu_limits_ ? k.spec.cpu_millis : 0;

    Update u;
    u.kind = Update::Kind::kUsage;
    u.attempt_id = t.attempt_id;
    u.at = now;
    u.started_at = t.started_at;
    u.usage.push_back(std::move(r));
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace tug::engine::local
