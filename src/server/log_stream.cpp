#include "server/log_stream.h"

namespace tug::server {

net::StreamPoll LogStream::Poll() {
  auto chunk = logs_.Read(options_.run_id, options_.attempt_id, options_.component, offset_,
                          options_.chunk_bytes);
  if (chunk.ok() && !chunk->data.empty()) {
    offset_ = chunk->next_offset;
    return {options_.timestamps ? std::move(chunk->data) : logs::StripLinePrefixes(chunk->data),
            false};
  }
  if (!chunk.ok() && chunk.error().code() != Code::kNotFound) {
    return {"tugboat: reading the log failed: " + chunk.error().message() + "\n", true};
  }
  // Nothing new. Without follow we are done; with follow, we are done once the attempt ended
  // and a read after that saw nothing (the engine finishes writing before it reports the end).
  if (!options_.follow || attempt_ended_) return {"", true};
  if (clock_.Now() > options_.deadline) return {"", true};
  auto attempt = store_.GetAttempt(options_.attempt_id);
  if (!attempt.ok() || IsTerminal(attempt->status)) attempt_ended_ = true;
  return {"", false};
}

}  // namespace tug::server
