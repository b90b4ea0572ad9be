#pragma once
/// The body of GET /api/v1/runs/{id}/logs: pages through an attempt's log file and, with
/// follow, keeps polling until the attempt has ended and everything it wrote was sent.
#include <string>

#include "core/clock.h"
#include "logs/log_store.h"
#include "net/http.h"
#include "store/store.h"

namespace tug::server {

struct LogStreamOptions {
  std::string run_id;
  std::string attempt_id;
  std::string component = "main";
  bool follow = false;
  bool timestamps = false;  // false: only the text of each line, as `kubectl logs` prints it
  Micros deadline = 0;      // follow gives up at this time
  size_t chunk_bytes = size_t{256} * 1024;
};

class LogStream final : public net::StreamSource {
 public:
  LogStream(LogStreamOptions options, store::Store& store, logs::LogStore& logs, const Clock& clock)
      : options_(std::move(options)), store_(store), logs_(logs), clock_(clock) {}

  net::StreamPoll Poll() override;

 private:
  LogStreamOptions options_;
  store::Store& store_;
  logs::LogStore& logs_;
  const Clock& clock_;
  int64_t offset_ = 0;
  bool attempt_ended_ = false;
};

}  // namespace tug::server
