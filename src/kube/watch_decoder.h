#pragma once
/// Splits a watch response body (newline-delimited JSON objects {"type":..., "object":...}) into
/// WatchEvents, whatever the chunk boundaries. Pure, no I/O; one decoder per watch request.
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "kube/client.h"

namespace tug::kube {

class WatchDecoder {
 public:
  using Handler = std::function<bool(const WatchEvent&)>;

  /// Feeds a piece of the body; calls on_event for every complete line. Returns true to go on,
  /// false when on_event asked to stop. Errors: an ERROR event's Status (410 → IsGone),
  /// kUnavailable for a line that is not a watch event.
  [[nodiscard]] Result<bool> Feed(std::string_view data, const Handler& on_event);
  /// At the end of the body: decodes a last line that had no newline.
  [[nodiscard]] Result<bool> Finish(const Handler& on_event);

 private:
  [[nodiscard]] Result<bool> Line(std::string_view line, const Handler& on_event);
  std::string pending_;
};

}  // namespace tug::kube
