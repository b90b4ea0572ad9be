#include "net/http.h"

#include "core/utf8.h"

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace tug::net {

std::string Request::Query(const std::string& key, const std::string& fallback) const {
  if (query_reads != nullptr) query_reads->insert(key);
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Response ErrorResponse(const Error& error) {
  Response r;
  r.status = HttpStatus(error.code());
  boost::json::object inner;
  inner["code"] = CodeName(error.code());
  // Messages quote what the client sent (ids, paths, values); JSON must stay valid UTF-8.
  inner["message"] = ToValidUtf8(error.message());
  boost::json::object outer;
  outer["error"] = std::move(inner);
  r.body = boost::json::serialize(outer);
  return r;
}

Response JsonResponse(int status, std::string json_body) {
  Response r;
  r.status = status;
  r.body = std::move(json_body);
  return r;
}

std::string BodyEtag(std::string_view body) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("\"{:016x}-{:x}\"", h, body.size());
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.empty()) return false;
  if (if_none_match == "*") return true;
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);  // weak comparison, as GET allows
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

std::string HumanBytes(uint64_t bytes) {
  constexpr uint64_t kKi = 1024;
  if (bytes >= kKi * kKi * kKi && bytes % (kKi * kKi * kKi) == 0) {
    return std::to_string(bytes / (kKi * kKi * kKi)) + " GiB";
  }
  if (bytes >= kKi * kKi && bytes % (kKi * kKi) == 0) {
    return std::to_string(bytes / (kKi * kKi)) + " MiB";
  }
  if (bytes >= kKi && bytes % kKi == 0) return std::to_string(bytes / kKi) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(std::string_view in, bool plus_as_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

Status ParseTarget(std::string_view target, std::string& path,
                   std::map<std::string, std::string>& query) {
  query.clear();
  if (target.empty() || target.front() != '/') {
    return InvalidArgument("request target must be a path starting with '/'; send origin-form");
  }
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (size_t hash = raw_path.find('#'); hash != std::string_view::npos) {
    raw_path = raw_path.substr(0, hash);
  }
  if (!PercentDecode(raw_path, false, path)) {
    return InvalidArgument("malformed percent-encoding in the request path; escape '%' as %25");
  }
  if (q == std::string_view::npos) return OkStatus();
  std::string_view rest = target.substr(q + 1);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  std::string key;
  std::string value;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!PercentDecode(raw_key, true, key) || !PercentDecode(raw_value, true, value)) {
      return InvalidArgument("malformed percent-encoding in the query string; escape '%' as %25");
    }
    query[key] = value;
  }
  return OkStatus();
}

Deferred::~Deferred() {
  std::function<void(Response)> deliver;
  {
    std::lock_guard lock(mu_);
    if (replied_ || !deliver_) return;
    deliver = std::move(deliver_);
  }
  deliver(ErrorResponse(Unavailable("the server stopped before this request finished; retry it")));
}

void Deferred::Reply(Response response) {
  std::function<void(Response)> deliver;
  {
    std::lock_guard lock(mu_);
    if (replied_) return;
    replied_ = true;
    if (!deliver_) {
      ready_ = std::make_unique<Response>(std::move(response));
      return;
    }
    deliver = std::move(deliver_);
  }
  deliver(std::move(response));
}

void Deferred::OnReply(std::function<void(Response)> deliver) {
  std::unique_ptr<Response> ready;
  {
    std::lock_guard lock(mu_);
    if (!ready_) {
      deliver_ = std::move(deliver);
      return;
    }
    ready = std::move(ready_);
  }
  deliver(std::move(*ready));
}

}  // namespace tug::net
