#pragma once
// Helpers shared by the API's handler files (api.cpp, api_run_views.cpp); not a public surface.
#include <string>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/error.h"
#include "net/http.h"

namespace tug::server::api_internal {

namespace json = boost::json;

inline net::Response Json(int status, const json::value& v) {
  return net::JsonResponse(status, json::serialize(v));
}

inline net::Response Err(const Error& e) { return net::ErrorResponse(e); }

// A GET answer clients poll (the web UI every few seconds): an ETag of the body, and 304 without
// a body when the client already has it.
inline net::Response Revalidated(const net::Request& req, const json::value& v) {
  net::Response r = net::JsonResponse(200, json::serialize(v));
  std::string etag = net::BodyEtag(r.body);
  if (net::EtagMatches(req.Header("if-none-match"), etag)) {
    r.status = 304;
    r.body.clear();
  }
  r.headers.emplace_back("ETag", std::move(etag));
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

/// An integer query parameter in [lo, hi]; `fallback` when absent.
inline Result<int> ParseIntParam(const net::Request& req, const std::string& key, int fallback,
                                 int lo, int hi) {
  std::string raw = req.Query(key);
  if (raw.empty()) return fallback;
  int value = 0;
  bool ok = raw.size() <= 9 && raw.find_first_not_of("0123456789") == std::string::npos;
  if (ok) value = std::stoi(raw);
  if (!ok || value < lo || value > hi) {
    return InvalidArgument(fmt::format(
        "query parameter {}='{}' must be a whole number from {} to {}", key, raw, lo, hi));
  }
  return value;
}

}  // namespace tug::server::api_internal
