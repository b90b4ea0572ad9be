#include "engine/kubernetes/log_follower.h"

#include <cstdio>

#include "engine/kubernetes/pod.h"

namespace tug::engine::kubernetes {

void LogFollower::Consume(std::string_view data, std::string& out) {
  partial.append(data);
  size_t start = 0;
  while (true) {
    size_t nl = partial.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(partial.data() + start, nl - start);
    start = nl + 1;
    size_t sp = line.find(' ');
    Micros ts = sp == std::string_view::npos ? 0 : ParseTime(line.substr(0, sp));
    std::string_view text = ts == 0 ? line : line.substr(sp + 1);
    if (ts != 0 && ts <= last_ts) continue;  // already written before a resume
    if (ts != 0) last_ts = ts;
    out += FormatTimestamp(ts != 0 ? ts : last_ts);
    out += " stdout ";
    out += text;
    out += '\n';
    ++lines;
  }
  partial.erase(0, start);
}

void LogFollower::Write(const std::string& out) const {
  if (out.empty()) return;
  FILE* f = std::fopen(file.c_str(), "ae");
  if (f == nullptr) return;
  std::fwrite(out.data(), 1, out.size(), f);
  std::fclose(f);
}

std::string LogFollower::Query(bool follow) const {
  std::string q = "?container=" + std::string(kContainerName) + "&timestamps=true";
  if (follow) q += "&follow=true";
  if (last_ts > 0) {
    // sinceTime has second precision; lines of that second are filtered by last_ts.
    std::string t = FormatTimestamp(last_ts - last_ts % kMicrosPerSecond);
    q += "&sinceTime=" + kube::Escape(t);
  }
  return q;
}

void LogFollower::ResumeFromFile() {
  FILE* in = std::fopen(file.c_str(), "re");
  if (in == nullptr) return;
  std::fseek(in, 0, SEEK_END);
  long size = std::ftell(in);
  long from = size > 65536 ? size - 65536 : 0;
  std::fseek(in, from, SEEK_SET);
  std::string tail(static_cast<size_t>(size - from), '\0');
  size_t n = std::fread(tail.data(), 1, tail.size(), in);
  tail.resize(n);
  std::fclose(in);
  size_t end = tail.rfind('\n');
  if (end == std::string::npos || end == 0) return;
  size_t start = tail.rfind('\n', end - 1);
  start = start == std::string::npos ? 0 : start + 1;
  std::string last = tail.substr(start, end - start);
  last_ts = ParseTime(last.substr(0, last.find(' ')));
}

}  // namespace tug::engine::kubernetes
