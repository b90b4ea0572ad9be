// API v1: the server-sent event streams (event_stream.h, docs/api.md "Live updates").
#include <fmt/format.h>

#include "server/api.h"
#include "server/api_internal.h"
#include "server/event_stream.h"

namespace tug::server {

using api_internal::Err;

namespace {

// Where a stream resumes: the Last-Event-ID header (a reconnecting EventSource sends it), else
// the query parameter `query_key` (for clients that cannot set headers); nullopt: neither.
Result<std::optional<int64_t>> ResumePoint(const net::Request& req, const std::string& query_key) {
  std::string raw = req.Header("last-event-id");
  std::string what = "header Last-Event-ID";
  if (raw.empty()) {
    raw = req.Query(query_key);
    what = "query parameter " + query_key;
  }
  if (raw.empty()) return std::optional<int64_t>();
  if (raw.size() > 18 || raw.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(fmt::format(
        "{}='{}' must be an event id (a whole number) from an earlier message of the stream", what,
        raw));
  }
  return std::optional<int64_t>(std::stoll(raw));
}

net::Response SseResponse(std::shared_ptr<net::StreamSource> source) {
  net::Response resp;
  resp.content_type = "text/event-stream; charset=utf-8";
  resp.headers.emplace_back("Cache-Control", "no-cache");
  // nginx buffers responses unless told not to; a buffered stream is no stream.
  resp.headers.emplace_back("X-Accel-Buffering", "no");
  resp.stream = std::move(source);
  return resp;
}

}  // namespace

net::Response Api::EventsStream(net::Request& req, Who who) {
  if (!hub_.ready()) {
    return Err(Unavailable("event streams are not ready (the store could not be read); retry"));
  }
  auto resume = ResumePoint(req, "since");
  if (!resume.ok()) return Err(resume.error());
  EventStreamOptions o;
  o.visible = VisibleTo(who);
  // Without a resume point a watcher starts from now (it has just listed what exists).
  o.after = resume->value_or(hub_.head());
  o.heartbeat = options_.event_heartbeat;
  o.deadline = clock_.Now() + options_.max_follow;
  return SseResponse(std::make_shared<EventStream>(std::move(o), hub_, store_, clock_));
}

net::Response Api::FollowRunEvents(net::Request& req, const tug::Run& run) {
  if (!hub_.ready()) {
    return Err(Unavailable("event streams are not ready (the store could not be read); retry"));
  }
  // `after`, the paging parameter of the plain listing, works as well as `since`.
  auto resume = ResumePoint(req, req.Query("since").empty() ? "after" : "since");
  if (!resume.ok()) return Err(resume.error());
  EventStreamOptions o;
  o.run_id = run.id;
  o.visible = store::Visibility{};  // the caller may read this run (checked by the caller)
  o.after = resume->value_or(0);    // a run's stream starts with its whole timeline
  o.run_ended = IsTerminal(run.status);
  o.heartbeat = options_.event_heartbeat;
  o.deadline = clock_.Now() + options_.max_follow;
  return SseResponse(std::make_shared<EventStream>(std::move(o), hub_, store_, clock_));
}

}  // namespace tug::server
