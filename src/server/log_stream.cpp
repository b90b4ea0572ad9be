#include "server/log_stream.h"

namespace tug::server {

std::string LogStream::StripPrefixes(const std::string& data) {
  std::string out;
  out.reserve(data.size());
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    size_t end = nl == std::string::npos ? data.size() : nl + 1;
    size_t first = data.find(' ', pos);
    size_t second =
        first == std::string::npos || first >= end ? std::string::npos : data.find(' ', first + 1);
    if (second != std::string::npos && second < end) {
      // The platform's own lines (stream "tugboat") stay recognisable without timestamps.
      if (data.compare(first + 1, second - first - 1, "tugboat") == 0) out += "[tugboat] ";
      out.append(data, second + 1, end - second - 1);
    } else {
      out.append(data, pos, end - pos);
    }
    pos = end;
  }
  return out;
}

net::StreamPoll LogStream::Poll() {
  auto chunk = logs_.Read(options_.run_id, options_.attempt_id, options_.component, offset_,
                          options_.chunk_bytes);
  if (chunk.ok() && !chunk->data.empty()) {
    offset_ = chunk->next_offset;
    return {options_.timestamps ? std::move(chunk->data) : StripPrefixes(chunk->data), false};
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
