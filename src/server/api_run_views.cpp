// API v1: what a run did — its logs (streamed), its timeline and its usage over time.
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "server/api.h"
#include "server/api_internal.h"
#include "server/log_stream.h"

namespace tug::server {

using api_internal::Err;
using api_internal::ParseIntParam;
using api_internal::Revalidated;
namespace json = boost::json;

net::Response Api::RunLogs(net::Request& req, Who who) {
  auto run = ReadableRun(who, req.params["id"]);
  if (!run.ok()) return Err(run.error());
  if (run->attempts.empty()) return Err(NotFound("run has no attempts yet"));
  const Attempt* attempt = &run->attempts.back();
  if (std::string want = req.Query("attempt"); !want.empty()) {
    attempt = nullptr;
    for (const auto& a : run->attempts) {
      if (a.id == want || std::to_string(a.number) == want) attempt = &a;
    }
    if (attempt == nullptr) {
      return Err(NotFound(fmt::format("run '{}' has no attempt '{}'; it has attempts 1 to {}",
                                      run->id, want, run->attempts.size())));
    }
  }
  // A Spark run's main log is its driver's; the others are picked by name.
  std::string component = req.Query("component", run->spec.kind == "spark" ? "driver" : "main");
  if (auto st = logs::ValidateComponent(component); !st.ok()) return Err(st.error());
  std::string follow = req.Query("follow");
  std::string timestamps = req.Query("timestamps");
  LogStreamOptions o;
  o.run_id = run->id;
  o.attempt_id = attempt->id;
  o.component = component;
  o.follow = follow == "true" || follow == "1";
  o.timestamps = timestamps == "true" || timestamps == "1";
  o.deadline = clock_.Now() + options_.max_follow;
  net::Response resp;
  resp.content_type = "text/plain; charset=utf-8";
  resp.headers.emplace_back("X-Tug-Attempt", attempt->id);
  // Highlighted lines of this component from the attempt's diagnosis (1-based line numbers of
  // the text as served without timestamps), so clients can mark them while streaming.
  if (!attempt->diagnosis.empty()) {
    boost::system::error_code ec;
    json::value d = json::parse(attempt->diagnosis, ec);
    if (!ec && d.is_object()) {
      std::string lines;
      std::string root;
      if (const json::value* rc = d.as_object().if_contains("root_cause");
          rc && rc->is_object() && rc->at("component") == json::value(component) &&
          rc->at("line").is_int64()) {
        root = std::to_string(rc->at("line").as_int64());
      }
      if (const json::value* hs = d.as_object().if_contains("highlights"); hs && hs->is_array()) {
        for (const auto& h : hs->as_array()) {
          if (!h.is_object() || h.at("component") != json::value(component) ||
              !h.at("line").is_int64())
            continue;
          if (!lines.empty()) lines += ",";
          lines += std::to_string(h.at("line").as_int64());
        }
      }
      if (!root.empty()) resp.headers.emplace_back("X-Tug-Root-Cause-Line", root);
      if (!lines.empty()) resp.headers.emplace_back("X-Tug-Highlight-Lines", lines);
    }
  }
  resp.stream = std::make_shared<LogStream>(o, store_, logs_, clock_);
  return resp;
}

net::Response Api::RunEvents(net::Request& req, Who who) {
  const std::string& id = req.params["id"];
  auto run = ReadableRun(who, id);
  if (!run.ok()) return Err(run.error());
  if (std::string follow = req.Query("follow"); follow == "true" || follow == "1") {
    return FollowRunEvents(req, *run);
  }
  std::string after_raw = req.Query("after", "0");
  if (after_raw.empty() || after_raw.size() > 18 ||
      after_raw.find_first_not_of("0123456789") != std::string::npos) {
    return Err(InvalidArgument(fmt::format(
        "query parameter after='{}' must be an event seq (a whole number) from a previous page",
        after_raw)));
  }
  auto limit = ParseIntParam(req, "limit", 500, 1, 5000);
  if (!limit.ok()) return Err(limit.error());
  auto events = store_.ListEvents(id, std::stoll(after_raw), *limit);
  if (!events.ok()) return Err(events.error());
  json::array a;
  for (const auto& e : *events) a.push_back(ToJson(e));
  return Revalidated(req, json::object{{"events", std::move(a)}});
}

net::Response Api::RunUsage(net::Request& req, Who who) {
  auto run = ReadableRun(who, req.params["id"]);
  if (!run.ok()) return Err(run.error());
  auto points = store_.ListUsage(run->id);
  if (!points.ok()) return Err(points.error());
  // One series per (attempt, component), attempts in order, each oldest first.
  json::array series;
  for (const Attempt& a : run->attempts) {
    std::vector<std::string> components;
    for (const auto& p : *points) {
      if (p.attempt_id == a.id &&
          std::find(components.begin(), components.end(), p.component) == components.end()) {
        components.push_back(p.component);
      }
    }
    for (const std::string& c : components) {
      json::array out;
      int64_t memory_limit = 0;
      int64_t cpu_limit = 0;
      for (const auto& p : *points) {
        if (p.attempt_id != a.id || p.component != c) continue;
        out.push_back(json::object{{"at", FormatTimestamp(p.at)},
                                   {"width_seconds", p.width / kMicrosPerSecond},
                                   {"memory_bytes", p.memory_bytes},
                                   {"cpu_millis", p.cpu_millis}});
        memory_limit = p.memory_limit_bytes;
        cpu_limit = p.cpu_limit_millis;
      }
      series.push_back(json::object{{"attempt_id", a.id},
                                    {"attempt", a.number},
                                    {"component", c},
                                    {"memory_limit_bytes", memory_limit},
                                    {"cpu_limit_millis", cpu_limit},
                                    {"points", std::move(out)}});
    }
  }
  return Revalidated(req, json::object{{"run_id", run->id}, {"series", std::move(series)}});
}

}  // namespace tug::server
