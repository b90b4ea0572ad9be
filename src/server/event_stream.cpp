#include "server/event_stream.h"

#include <algorithm>

#include <boost/json.hpp>

#include "core/json.h"
#include "net/sse.h"

namespace json = boost::json;

namespace tug::server {
namespace {

constexpr size_t kBatch = 256;
// EventSource's reconnect delay, sent first on every stream.
constexpr int64_t kRetryMillis = 2000;

}  // namespace

bool VisibleChange(const store::Visibility& visible, const store::Change& change) {
  if (visible.all) return true;
  if (!visible.owner.empty() && change.owner == visible.owner) return true;
  return !change.group.empty() && std::find(visible.groups.begin(), visible.groups.end(),
                                            change.group) != visible.groups.end();
}

std::string ChangeData(const store::Change& change) {
  json::value v = ToJson(change.event);
  v.as_object()["run_status"] = ToString(change.run_status);
  return json::serialize(v);
}

EventStream::EventStream(EventStreamOptions options, EventHub& hub, store::Store& store,
                         const Clock& clock)
    : options_(std::move(options)),
      hub_(hub),
      store_(store),
      clock_(clock),
      cursor_(options_.after),
      sent_id_(options_.after),
      run_ended_(options_.run_ended) {}

EventStream::~EventStream() {
  if (subscription_ != 0) hub_.Unsubscribe(subscription_);
}

std::optional<std::chrono::milliseconds> EventStream::Subscribe(std::function<void()> wake) {
  // The hub calls the filter under its lock, and the destructor unsubscribes under that lock
  // before any member goes, so `this` outlives every call.
  subscription_ =
      hub_.Subscribe([this](const store::Change& c) { return Wants(c); }, std::move(wake));
  return options_.heartbeat;
}

bool EventStream::Wants(const store::Change& c) const {
  if (!options_.run_id.empty()) return c.event.run_id == options_.run_id;
  return VisibleChange(options_.visible, c);
}

bool EventStream::Next(int64_t head, std::vector<store::Change>& batch, std::string& error) {
  batch.clear();
  if (hub_.Since(cursor_, kBatch, batch)) return true;
  // Behind the ring: page through the store, never past the hub's watermark.
  auto page = store_.ListChanges(options_.run_id, cursor_, static_cast<int>(kBatch));
  if (!page.ok()) {
    error = page.error().message();
    return false;
  }
  for (auto& c : *page) {
    if (c.event.seq > head) break;
    batch.push_back(std::move(c));
  }
  // Nothing more up to head in the store (another run's, or purged): the cursor moves to head.
  if (batch.empty()) cursor_ = head;
  return true;
}

net::StreamPoll EventStream::End(std::string reason) {
  done_ = true;
  json::object o{{"reason", std::move(reason)}};
  if (!options_.run_id.empty()) o["run_id"] = options_.run_id;
  return {net::FormatSse("", "end", json::serialize(o)), true};
}

net::StreamPoll EventStream::Poll() {
  if (done_) return {"", true};
  Micros now = clock_.Now();
  std::string out;
  if (!started_) {
    started_ = true;
    out = net::FormatSseRetry(kRetryMillis);
  }
  const int64_t head = hub_.head();
  std::vector<store::Change> batch;
  while (out.size() < options_.max_chunk_bytes && cursor_ < head) {
    std::string error;
    if (!Next(head, batch, error)) {
      out += net::FormatSse(
          "", "error",
          json::serialize(json::object{
              {"message", "reading events failed: " + error + "; reconnect with Last-Event-ID"}}));
      done_ = true;
      return {std::move(out), true};
    }
    if (batch.empty()) break;
    for (const store::Change& c : batch) {
      cursor_ = c.event.seq;
      if (!Wants(c)) continue;
      out += net::FormatSse(std::to_string(c.event.seq), c.event.type, ChangeData(c));
      sent_id_ = c.event.seq;
      if (!options_.run_id.empty() && IsTerminal(c.run_status)) run_ended_ = true;
    }
  }
  if (!out.empty()) {
    last_write_ = now;
    return {std::move(out), false};
  }
  if (run_ended_) {
    // Everything of the run up to the watermark went out. The events written when it ended may
    // still be beyond the watermark (held behind an uncommitted seq): end only when the store
    // has none after the cursor.
    auto rest = store_.ListChanges(options_.run_id, cursor_, 1);
    if (rest.ok() && rest->empty()) return End("the run ended");
  }
  if (options_.deadline > 0 && now >= options_.deadline) {
    return End("the stream reached its time limit; reconnect with Last-Event-ID");
  }
  if (now - last_write_ >=
      std::chrono::duration_cast<std::chrono::microseconds>(options_.heartbeat).count()) {
    last_write_ = now;
    // The id moves the client's resume point past events it may not see.
    if (cursor_ > sent_id_) {
      sent_id_ = cursor_;
      return {net::FormatSseComment("heartbeat") + net::FormatSseId(std::to_string(cursor_)),
              false};
    }
    return {net::FormatSseComment("heartbeat"), false};
  }
  return {"", false};
}

}  // namespace tug::server
