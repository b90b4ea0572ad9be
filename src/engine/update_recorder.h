#pragma once
/// Test helper: records an engine's updates (its sink) and lets a test wait for one. Used by
/// the engine conformance suite and the engines' own tests. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace tug::engine::testing_util {

/// Collects one engine's updates; waits on a condition variable.
class Recorder {
 public:
  UpdateSink Sink() {
    return [this](const Update& u) {
      std::lock_guard lock(mu_);
      updates_.push_back(u);
      cv_.notify_all();
    };
  }
  std::optional<Update> WaitFor(const std::string& attempt_id, Update::Kind kind,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    std::optional<Update> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const Update& u : updates_) {
        if (u.attempt_id == attempt_id && u.kind == kind) {
          found = u;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  int Count(const std::string& attempt_id, Update::Kind kind) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const Update& u : updates_) n += u.attempt_id == attempt_id && u.kind == kind ? 1 : 0;
    return n;
  }
  /// Position of the first update of `kind` for the attempt, or -1.
  int IndexOf(const std::string& attempt_id, Update::Kind kind) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < updates_.size(); ++i) {
      if (updates_[i].attempt_id == attempt_id && updates_[i].kind == kind) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Update> updates_;
};

}  // namespace tug::engine::testing_util
