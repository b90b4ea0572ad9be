#pragma once
/// Server-sent events (text/event-stream, WHATWG HTML §9.2): framing for servers and an
/// incremental parser for clients. Plain text, no Asio/Beast.
///
/// Threading: FormatSse* are pure; an SseParser belongs to one reader.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tug::net {

/// One dispatched message: what a browser's EventSource hands to a listener.
struct SseMessage {
  std::string id;                 // the last event ID in effect when it was dispatched
  std::string event = "message";  // "message" when the stream named none
  std::string data;               // data lines joined with '\n'
  bool operator==(const SseMessage&) const = default;
};

/// "id: <id>\nevent: <event>\ndata: <line>\n...\n\n". Each line of `data` (split at CRLF, CR or
/// LF) becomes its own data line, so any text survives the round trip (line ends come back as
/// '\n'). An empty `id` or `event` leaves that field out; CR and LF in them are dropped.
std::string FormatSse(std::string_view id, std::string_view event, std::string_view data);
/// ": <text>\n\n": a comment, which clients ignore (heartbeats keep proxies from closing idle
/// streams). CR and LF in `text` are dropped.
std::string FormatSseComment(std::string_view text);
/// "retry: <ms>\n\n": how long a browser waits before it reconnects.
std::string FormatSseRetry(int64_t milliseconds);
/// "id: <id>\n\n": moves the client's last event ID without dispatching a message (a stream that
/// skipped events the client may not see).
std::string FormatSseId(std::string_view id);

/// Parses a text/event-stream incrementally, fed in pieces cut anywhere (even inside a CRLF or
/// a UTF-8 sequence). Follows the WHATWG algorithm: a leading BOM is skipped, lines end at
/// CRLF, CR or LF, "field: value" drops one space after the colon, comments (":...") and
/// unknown fields are ignored, an "id" containing NUL is ignored, a blank line dispatches the
/// message unless its data is empty (the id still takes effect), and an unterminated last
/// message is dropped at the end of the stream.
class SseParser {
 public:
  using OnMessage = std::function<void(const SseMessage&)>;
  void Feed(std::string_view bytes, const OnMessage& on_message);
  /// What a reconnect sends as Last-Event-ID ("" when no id was seen).
  const std::string& last_event_id() const { return last_event_id_; }
  /// The last "retry" field's value in milliseconds, if any.
  std::optional<int64_t> retry() const { return retry_; }
  /// Bytes of an incomplete line held back (for callers that bound it).
  size_t pending_bytes() const { return line_.size(); }

 private:
  void Line(std::string_view line, const OnMessage& on_message);

  std::string line_;
  bool started_ = false;   // the BOM check is done
  bool after_cr_ = false;  // the last byte was CR: a following LF ends nothing
  std::string data_;
  std::string event_;
  bool has_data_ = false;
  std::string last_event_id_;
  std::optional<int64_t> retry_;
};

}  // namespace tug::net
