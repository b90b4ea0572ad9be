#include "engine/local/log_writer.h"

namespace tug::engine::local {

std::string FormatLogLine(Micros at, std::string_view stream, std::string_view text) {
  std::string line = FormatTimestamp(at);
  line.reserve(line.size() + stream.size() + text.size() + 3);
  line += ' ';
  line += stream;
  line += ' ';
  line += text;
  line += '\n';
  return line;
}

void LineSplitter::Feed(std::string_view data, Micros at, std::string& out) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    // Cut a line that has grown to the limit, so one endless line cannot hold memory or the log.
    size_t room = max_line_ - pending_.size();
    if (piece.size() >= room) {
      pending_.append(piece.substr(0, room));
      out += FormatLogLine(at, stream_, pending_);
      pending_.clear();
      data.remove_prefix(room);
      // A newline right at the cut ends the line that was just written, not an empty one.
      if (room == piece.size() && nl != std::string_view::npos) data.remove_prefix(1);
      continue;
    }
    pending_.append(piece);
    if (nl == std::string_view::npos) return;
    out += FormatLogLine(at, stream_, pending_);
    pending_.clear();
    data.remove_prefix(nl + 1);
  }
}

void LineSplitter::Flush(Micros at, std::string& out) {
  if (pending_.empty()) return;
  out += FormatLogLine(at, stream_, pending_);
  pending_.clear();
}

}  // namespace tug::engine::local
