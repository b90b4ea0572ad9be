#pragma once
/// Follows one container's log into the log store (used by the kubernetes engine): a follow
/// stream while the pod runs, resumed from the last timestamp after a disconnect; lines at or
/// before the last written timestamp are dropped, so a resume never duplicates.
/// Threading: one thread uses it at a time (the follower thread, then the finisher after join).
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.h"
#include "kube/client.h"

namespace tug::engine::kubernetes {

struct LogFollower {
  kube::CancelToken cancel;
  std::thread thread;
  std::string log_path;  // API path of pods/log without query
  std::string file;      // log-store file
  Micros last_ts = 0;
  std::string partial;
  int64_t lines = 0;

  /// "2026-11-24T10:00:00.123456789Z text" lines → log-store lines appended to `out`.
  void Consume(std::string_view data, std::string& out);
  /// Appends to the log-store file.
  void Write(const std::string& out) const;
  /// The pods/log query: container, timestamps, follow, sinceTime after a resume.
  std::string Query(bool follow) const;
  /// Sets last_ts from the last line already in the file (a restart resumes after it).
  void ResumeFromFile();
};

}  // namespace tug::engine::kubernetes
