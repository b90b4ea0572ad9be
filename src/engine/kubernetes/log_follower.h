#pragma once
/// Follows one container's log into the log store (used by the kubernetes engine): a follow
/// stream while the pod runs, resumed from the last timestamp after a disconnect; lines at or
/// before the last written timestamp are dropped, so a resume never duplicates.
/// Threading: one thread uses it at a time (the follower thread, then the finisher after join).
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.h"
#include "engine/kubernetes/pod.h"
#include "kube/client.h"

namespace tug::engine::kubernetes {

struct LogFollower {
  kube::CancelToken cancel;
  std::thread thread;
  std::string log_path;  // API path of pods/log without query
  std::string container = kContainerName;
  std::string file;  // log-store file
  Micros last_ts = 0;
  std::string partial;
  int64_t lines = 0;
  /// Size caps: this log's own (0: none) and the attempt's total across its components (shared
  /// by its followers; 0: none). The first write that would pass one writes a visible
  /// truncation line instead, and nothing more is written.
  int64_t cap_bytes = 0;
  int64_t total_cap_bytes = 0;
  std::shared_ptr<std::atomic<int64_t>> total_written;
  int64_t written = 0;  // bytes in the file (after ResumeFromFile: its size)
  bool truncated = false;
  std::string component;  // for the truncation line

  /// "2026-11-24T10:00:00.123456789Z text" lines → log-store lines appended to `out`.
  void Consume(std::string_view data, std::string& out);
  /// Appends to the log-store file, up to the caps.
  void Write(const std::string& out);
  /// The pods/log query: container, timestamps, follow, sinceTime after a resume.
  std::string Query(bool follow) const;
  /// Sets last_ts from the last line already in the file (a restart resumes after it).
  void ResumeFromFile();
};

/// The follower thread's loop: streams the log into the file until `f.cancel` fires; when the
/// stream ends (the container ended, the connection dropped, the pod is gone) it calls
/// `pause(delay)` (0.5 s, growing with consecutive failures up to 5 s) and follows again from
/// the last timestamp. `pause` returns false to stop.
void FollowLog(kube::Client& client, LogFollower& f,
               const std::function<bool(std::chrono::milliseconds)>& pause);

/// After the follower thread was stopped and joined: one read of the rest of the log (since
/// the last timestamp), written to the file. kNotFound when the container never started.
[[nodiscard]] Status ReadRestOfLog(kube::Client& client, LogFollower& f);

}  // namespace tug::engine::kubernetes
