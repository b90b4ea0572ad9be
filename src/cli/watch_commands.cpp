#include "cli/watch_commands.h"

#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "cli/output.h"
#include "core/clock.h"
#include "net/sse.h"

namespace tug::cli {
namespace {

// A dropped connection is retried after this long, this many times in a row at most.
constexpr auto kReconnectDelay = std::chrono::seconds(1);
constexpr int kMaxReconnects = 30;

bool Transient(const Error& e) {
  return e.code() == Code::kUnavailable || e.code() == Code::kDeadlineExceeded;
}

/// Reads `target` as an event stream until `on_message` returns false or the server ends it
/// cleanly; reconnects with Last-Event-ID after a dropped connection. OK when the stream
/// ended (by the server or by on_message), else the error that ended it.
Status FollowStream(const Globals& g, const std::string& target,
                    const std::function<bool(const net::SseMessage&)>& on_message,
                    const std::function<void()>& on_open = {}) {
  net::SseParser parser;
  int failures = 0;
  while (true) {
    auto client = Client::Connect(g);
    if (!client.ok()) return client.error();
    net::HeaderList headers;
    if (!parser.last_event_id().empty())
      headers.emplace_back("Last-Event-ID", parser.last_event_id());
    bool stop = false;
    bool got_data = false;
    auto st = client->Stream(
        target,
        [&](std::string_view chunk) {
          if (!got_data && on_open) on_open();
          got_data = true;
          parser.Feed(chunk, [&](const net::SseMessage& m) {
            if (!stop && !on_message(m)) stop = true;
          });
          return !stop;
        },
        headers);
    if (stop) return OkStatus();
    if (st.ok()) {
      // The server closed the stream without saying it ended (a restart, a time limit): go on
      // from where it stopped.
      failures = 0;
    } else if (!Transient(st.error())) {
      return st.error();
    } else if (got_data) {
      failures = 0;
    }
    if (++failures > kMaxReconnects) {
      return Unavailable(
          fmt::format("the event stream dropped {} times in a row; giving up", kMaxReconnects));
    }
    std::cerr << "tug: the event stream dropped; reconnecting"
              << (parser.last_event_id().empty() ? "" : " after event " + parser.last_event_id())
              << "\n";
    std::this_thread::sleep_for(kReconnectDelay);
  }
}

std::string EventRow(const json::object& o) {
  std::string attempt;
  if (const json::value* a = o.if_contains("attempt_id"); a && a->is_string()) {
    attempt = std::string(a->as_string());
    attempt = attempt.substr(attempt.rfind('-') + 1);
  }
  auto str = [&](const char* k) {
    const json::value* v = o.if_contains(k);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  return fmt::format("{:<28} {:<16} {:<8} {}\n", str("at"), str("type"), attempt, str("message"));
}

}  // namespace

int FollowEventsCmd(const Globals& g, const std::string& id) {
  if (g.output == "table") {
    std::cout << fmt::format("{:<28} {:<16} {:<8} {}\n", "TIME", "TYPE", "ATTEMPT", "MESSAGE");
    std::cout.flush();
  }
  bool ended = false;
  auto st = FollowStream(g, "/api/v1/runs/" + UrlEncode(id) + "/events?follow=true",
                         [&](const net::SseMessage& m) {
                           if (m.event == "end") {
                             ended = true;
                             return false;
                           }
                           if (m.event == "error") {
                             std::cerr << "tug: " << m.data << "\n";
                             return true;  // the server closes; we resume
                           }
                           auto v = ParseJson(m.data);
                           if (!v.ok() || !v->is_object()) return true;
                           if (g.output == "table") {
                             std::cout << EventRow(v->as_object());
                           } else {
                             std::cout << json::serialize(*v) << "\n";  // one object a line
                           }
                           std::cout.flush();
                           return true;
                         });
  if (!st.ok()) return Fail(st.error().message());
  return ended ? 0 : 1;
}

int WatchRunsCmd(const Globals& g, const WatchRunsArgs& a) {
  // The stream opens first (on its own thread and connection) and its messages wait in a
  // queue while the runs are listed, so a change between the listing and the stream is not
  // lost (at worst a run is printed twice). A refused stream (401, 403) ends the command.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> changed;    // run ids, guarded by mu
  bool stream_open = false;           // guarded by mu
  bool stream_done = false;           // guarded by mu
  Status stream_status = OkStatus();  // guarded by mu
  std::thread streamer([&] {
    auto st = FollowStream(
        g, "/api/v1/events/stream",
        [&](const net::SseMessage& m) {
          auto v = ParseJson(m.data);
          if (!v.ok() || !v->is_object()) return true;
          const json::value* run = v->as_object().if_contains("run_id");
          if (run == nullptr || !run->is_string()) return true;
          std::lock_guard lock(mu);
          changed.emplace_back(run->as_string());
          cv.notify_all();
          return true;
        },
        [&] {
          std::lock_guard lock(mu);
          stream_open = true;
          cv.notify_all();
        });
    std::lock_guard lock(mu);
    stream_done = true;
    stream_status = st;
    cv.notify_all();
  });
  {
    // The stream's first bytes mean the server sends every change from then on: list after.
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stream_open || stream_done; });
    if (!stream_open) {
      lock.unlock();
      streamer.join();
      return Fail(stream_status.ok() ? "the event stream ended before it started"
                                     : stream_status.error().message());
    }
  }
  auto client = Client::Connect(g);
  if (!client.ok()) {
    std::cerr << "error: " << client.error().message() << "\n";
    std::_Exit(1);  // the streamer blocks in a read; nothing to clean up
  }
  auto first = client->Call("GET", "/api/v1/runs" + a.query);
  if (!first.ok()) {
    std::cerr << "error: " << first.error().message() << "\n";
    std::_Exit(1);
  }
  Micros now = SystemClock::Instance().Now();
  if (g.output == "table") {
    std::cout << RunsTable(first->as_object().at("runs"), now);
  } else {
    for (const auto& r : first->as_object().at("runs").as_array()) {
      std::cout << json::serialize(r) << "\n";
    }
  }
  std::cout.flush();
  while (true) {
    std::string id;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !changed.empty() || stream_done; });
      if (changed.empty()) break;
      id = std::move(changed.front());
      changed.pop_front();
      // Several changes of one run in a row print it once.
      while (!changed.empty() && changed.front() == id) changed.pop_front();
    }
    auto run = client->Call("GET", "/api/v1/runs/" + UrlEncode(id));
    if (!run.ok() || !run->is_object()) continue;  // purged, or no longer visible
    json::object& o = run->as_object();
    auto field = [&](const char* k) {
      const json::value* v = o.if_contains(k);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    if ((!a.definition.empty() && field("definition") != a.definition) ||
        (!a.owner.empty() && field("owner") != a.owner)) {
      continue;
    }
    if (!o.contains("attempt_count")) {
      const json::value* attempts = o.if_contains("attempts");
      o["attempt_count"] = attempts != nullptr && attempts->is_array()
                               ? static_cast<int64_t>(attempts->as_array().size())
                               : 0;
    }
    if (g.output == "table") {
      std::string table = RunsTable(json::array{*run}, SystemClock::Instance().Now());
      std::cout << table.substr(table.find('\n') + 1);  // the row without the header
    } else {
      std::cout << json::serialize(*run) << "\n";
    }
    std::cout.flush();
  }
  streamer.join();
  if (!stream_status.ok()) return Fail(stream_status.error().message());
  return 0;
}

}  // namespace tug::cli
