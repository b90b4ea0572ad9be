#pragma once
/// Splits a watch response body (newline-delimited JSON objects {"type":..., "object":...}) into
/// WatchEvents, whatever the chunk boundaries. Pure, no I/O; one decoder per watch request.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "kube/client.h"

namespace tug::kube {

class WatchDecoder {
 public:
  using Handler = std::function<bool(const WatchEvent&)>;

  /// `max_line`: the longest event line kept while waiting for its newline (a Pod is at most
  /// etcd's 1.5 MiB; the default leaves room for any object).
  explicit WatchDecoder(size_t max_line = size_t{16} << 20) : max_line_(max_line) {}

  /// Feeds a piece of the body; calls on_event for every complete line. Returns true to go on,
  /// false when on_event asked to stop. Errors: an ERROR event's Status (410 → IsGone),
  /// kUnavailable for a line that is not a watch event (as client-go: a type other than ADDED,
  /// MODIFIED, DELETED, BOOKMARK or ERROR, an object that is not a JSON object) or that grows
  /// past max_line without a newline.
  [[nodiscard]] Result<bool> Feed(std::string_view data, const Handler& on_event);
  /// At the end of the body: decodes a last line that had no newline.
  [[nodiscard]] Result<bool> Finish(const Handler& on_event);

 private:
  [[nodiscard]] Result<bool> Line(std::string_view line, const Handler& on_event);
  const size_t max_line_;
  std::string pending_;
};

}  // namespace tug::kube
