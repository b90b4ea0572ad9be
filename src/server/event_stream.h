#pragma once
/// The body of the server-sent event streams: GET /api/v1/events/stream (every run the caller
/// may see) and GET /api/v1/runs/{id}/events?follow=true (one run, ending once it ended). Each
/// message is "id: <seq>", "event: <the event's type>" and JSON data: the event and its run's
/// status (see docs/api.md).
///
/// A push source (net::StreamSource::Subscribe): the event hub wakes it when a change it wants
/// arrives; between wakes the server polls it every `heartbeat` to send a comment line. It reads
/// from the hub's ring, or from the store when it fell behind the ring (a slow client, or a
/// resume from an old Last-Event-ID), never past the hub's watermark, so a resumed stream has
/// no gap and no duplicate. The server polls it only after the previous chunk was written, so a
/// client that does not read holds nothing but its own cursor (and is dropped by the server's
/// write timeout).
///
/// Threading: Poll() runs on one server thread at a time; the hub calls the `wants` filter on
/// its thread (it reads only immutable fields).
#include <chrono>
#include <cstdint>
#include <string>

#include "core/clock.h"
#include "net/http.h"
#include "server/event_hub.h"
#include "store/store.h"

namespace tug::server {

struct EventStreamOptions {
  /// One run's stream; "": every run `visible` allows.
  std::string run_id;
  store::Visibility visible;
  /// Send the changes with seq > after.
  int64_t after = 0;
  /// One run's stream: whether the run had ended when the stream opened.
  bool run_ended = false;
  std::chrono::milliseconds heartbeat{15'000};
  /// The stream ends (with an "end" message saying so) at this time; 0: never.
  Micros deadline = 0;
  size_t max_chunk_bytes = size_t{64} << 10;
};

/// Whether `visible` lets a caller see a change's run (the rule of store::Visibility).
bool VisibleChange(const store::Visibility& visible, const store::Change& change);
/// The JSON data of one message: the event (core/json.h) and "run_status".
std::string ChangeData(const store::Change& change);

class EventStream final : public net::StreamSource {
 public:
  EventStream(EventStreamOptions options, EventHub& hub, store::Store& store, const Clock& clock);
  ~EventStream() override;
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  net::StreamPoll Poll() override;
  std::optional<std::chrono::milliseconds> Subscribe(std::function<void()> wake) override;

 private:
  bool Wants(const store::Change& c) const;
  /// The next changes after cursor_ up to `head`, from the ring or the store; false on a store
  /// error (put in `error`).
  bool Next(int64_t head, std::vector<store::Change>& batch, std::string& error);
  net::StreamPoll End(std::string reason);

  const EventStreamOptions options_;
  EventHub& hub_;
  store::Store& store_;
  const Clock& clock_;
  uint64_t subscription_ = 0;
  int64_t cursor_;   // every change up to here was looked at
  int64_t sent_id_;  // the last id the client got
  Micros last_write_ = 0;
  bool started_ = false;
  bool run_ended_;
  bool done_ = false;
};

}  // namespace tug::server
