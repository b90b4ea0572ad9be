#pragma once
// Helpers shared by the API's handler files (api.cpp, api_run_views.cpp); not a public surface.
#include <cctype>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/error.h"
#include "core/json.h"
#include "core/yaml.h"
#include "net/http.h"

namespace tug::server::api_internal {

namespace json = boost::json;

/// The `tug_token` cookie of a GET/HEAD of the Spark UI proxy (/runs/{id}/spark-ui...), where a
/// browser tab sends no Authorization header; "" for any other request (api_auth.cpp).
std::string SparkUiCookieToken(const net::Request& req);

inline net::Response Json(int status, const json::value& v) {
  return net::JsonResponse(status, json::serialize(v));
}

/// The error answer; a 401 also says how to authenticate (RFC 6750).
inline net::Response Err(const Error& e) {
  net::Response r = net::ErrorResponse(e);
  if (e.code() == Code::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"tugboat\"");
  }
  return r;
}

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

// The media type of a Content-Type value: lower case, without parameters.
inline std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  std::string out(t);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A request body as JSON: YAML when the Content-Type says so (one document), JSON otherwise
// (whatever the type, so `curl -d` works).
inline Result<json::value> ParseBody(const net::Request& req) {
  std::string type = MediaType(req.Header("content-type"));
  if (type == "application/yaml" || type == "application/x-yaml" || type == "text/yaml" ||
      type == "text/x-yaml") {
    auto docs = YamlToJson(req.body);
    if (!docs.ok()) return InvalidArgument("request body: " + docs.error().message());
    if (docs->size() != 1) {
      return InvalidArgument(fmt::format(
          "request body holds {} YAML documents; send exactly one per request", docs->size()));
    }
    return std::move(docs->front());
  }
  return ParseJson(req.body);
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
