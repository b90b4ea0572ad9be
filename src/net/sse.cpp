#include "net/sse.h"

#include <string>

namespace tug::net {
namespace {

void AppendClean(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out += c;
  }
}

}  // namespace

std::string FormatSse(std::string_view id, std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(data.size() + id.size() + event.size() + 32);
  if (!id.empty()) {
    out += "id: ";
    AppendClean(out, id);
    out += '\n';
  }
  if (!event.empty()) {
    out += "event: ";
    AppendClean(out, event);
    out += '\n';
  }
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out.append(data.substr(start, end == std::string_view::npos ? end : end - start));
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out += '\n';
  return out;
}

std::string FormatSseComment(std::string_view text) {
  std::string out = ": ";
  AppendClean(out, text);
  out += "\n\n";
  return out;
}

std::string FormatSseRetry(int64_t milliseconds) {
  return "retry: " + std::to_string(milliseconds) + "\n\n";
}

std::string FormatSseId(std::string_view id) {
  std::string out = "id: ";
  AppendClean(out, id);
  out += "\n\n";
  return out;
}

void SseParser::Feed(std::string_view bytes, const OnMessage& on_message) {
  for (char c : bytes) {
    if (!started_) {
      // A UTF-8 BOM at the very start is not part of the first line.
      static constexpr std::string_view kBom = "\xEF\xBB\xBF";
      line_ += c;
      if (kBom.substr(0, line_.size()) == line_) {
        if (line_.size() == kBom.size()) {
          line_.clear();
          started_ = true;
        }
        continue;
      }
      started_ = true;
      std::string held = std::move(line_);
      line_.clear();
      Feed(held, on_message);
      continue;
    }
    if (c == '\n' && after_cr_) {
      after_cr_ = false;
      continue;
    }
    after_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      std::string line = std::move(line_);
      line_.clear();
      Line(line, on_message);
      continue;
    }
    line_ += c;
  }
}

void SseParser::Line(std::string_view line, const OnMessage& on_message) {
  if (line.empty()) {
    // Dispatch. The id takes effect even when there is no data to dispatch.
    if (has_data_) {
      SseMessage m;
      m.id = last_event_id_;
      if (!event_.empty()) m.event = event_;
      m.data = std::move(data_);
      on_message(m);
    }
    data_.clear();
    event_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // a comment
  std::string_view field = line;
  std::string_view value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_.assign(value);
  } else if (field == "retry") {
    if (!value.empty() && value.size() < 18 &&
        value.find_first_not_of("0123456789") == std::string_view::npos) {
      retry_ = std::stoll(std::string(value));
    }
  }
}

}  // namespace tug::net
