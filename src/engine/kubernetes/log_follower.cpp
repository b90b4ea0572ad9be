#include "engine/kubernetes/log_follower.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

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

void LogFollower::Write(const std::string& out) {
  if (out.empty() || truncated) return;
  // Whole lines only, as long as both caps allow.
  size_t fit = out.size();
  auto room = [&](int64_t cap, int64_t used) {
    if (cap <= 0) return;
    int64_t left = std::max<int64_t>(0, cap - used);
    if (static_cast<int64_t>(fit) > left) {
      size_t cut =
          out.rfind('\n', static_cast<size_t>(left) == 0 ? 0 : static_cast<size_t>(left) - 1);
      fit = (cut == std::string::npos || left == 0) ? 0 : cut + 1;
      truncated = true;
    }
  };
  room(cap_bytes, written);
  if (total_written) room(total_cap_bytes, total_written->load());
  std::string data = out.substr(0, fit);
  if (truncated) {
    bool own = cap_bytes > 0 && written + static_cast<int64_t>(out.size()) > cap_bytes;
    data += fmt::format(
        "{} tugboat log truncated: {} reached {} ({}); later lines are dropped\n",
        FormatTimestamp(last_ts), component.empty() ? "this log" : component,
        own ? "its cap of " + std::to_string(cap_bytes) + " bytes"
            : "the attempt's total log cap of " + std::to_string(total_cap_bytes) + " bytes",
        own ? "logs.component_cap" : "logs.attempt_cap");
  }
  if (data.empty()) return;
  FILE* f = std::fopen(file.c_str(), "ae");
  if (f == nullptr) return;
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
  written += static_cast<int64_t>(data.size());
  if (total_written) total_written->fetch_add(static_cast<int64_t>(data.size()));
}

std::string LogFollower::Query(bool follow) const {
  std::string q = "?container=" + kube::Escape(container) + "&timestamps=true";
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
  written = size;
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

void FollowLog(kube::Client& client, LogFollower& f,
               const std::function<bool(std::chrono::milliseconds)>& pause) {
  int failures = 0;
  while (!f.cancel.cancelled()) {
    auto st = client.Stream(
        f.log_path + f.Query(true),
        [&](std::string_view data) {
          std::string chunk;
          f.Consume(data, chunk);
          f.Write(chunk);
          return true;
        },
        &f.cancel);
    if (f.cancel.cancelled()) break;
    failures = st.ok() ? 0 : failures + 1;
    // The stream ends when the container ends (the final read takes the rest) or the
    // connection drops (or the pod is gone); try again after a pause.
    if (!pause(std::chrono::milliseconds(std::min(500 * (failures + 1), 5000)))) break;
  }
}

Status ReadRestOfLog(kube::Client& client, LogFollower& f) {
  if (f.file.empty()) return OkStatus();
  ASSIGN_OR_RETURN(std::string rest, client.GetText(f.log_path + f.Query(false)));
  std::string out;
  f.Consume(rest, out);
  if (!f.partial.empty()) f.Consume("\n", out);
  f.Write(out);
  return OkStatus();
}

}  // namespace tug::engine::kubernetes
