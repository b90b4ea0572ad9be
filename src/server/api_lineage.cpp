// API v1, issue 26: idempotency keys of POST /api/v1/runs (the canonical request hash and the
// answer to a repeated key), lineage (stopping a run's descendants), the server's advertised URL
// and the local engine's GPU check.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "auth/token.h"
#include "core/json.h"
#include "server/api.h"
#include "server/api_internal.h"

namespace json = boost::json;

namespace tug::server {

using api_internal::Err;
using api_internal::Json;

namespace {

// JSON with object keys sorted at every level: two requests that differ only in key order or
// whitespace serialize the same.
void Canonical(const json::value& v, std::string& out) {
  if (v.is_object()) {
    const json::object& o = v.get_object();
    std::vector<const json::key_value_pair*> kvs;
    kvs.reserve(o.size());
    for (const auto& kv : o) kvs.push_back(&kv);
    std::sort(kvs.begin(), kvs.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
    out += '{';
    for (size_t i = 0; i < kvs.size(); ++i) {
      if (i > 0) out += ',';
      out += json::serialize(json::value(kvs[i]->key()));
      out += ':';
      Canonical(kvs[i]->value(), out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : v.get_array()) {
      if (!first) out += ',';
      first = false;
      Canonical(e, out);
    }
    out += ']';
  } else {
    out += json::serialize(v);
  }
}

}  // namespace

std::string CanonicalRequestHash(const RunRequest& request) {
  // The request as parsed, not as sent: "1Gi" and 1073741824 are the same memory, and an
  // absent field equals its default.
  json::object o{{"definition", request.definition},
                 {"owner", request.owner},
                 {"group", request.group},
                 {"parent_run_id", request.parent_run_id},
                 {"overrides", ToJson(request.overrides)}};
  std::string text;
  Canonical(o, text);
  return auth::HashToken(text);  // lower-case hex SHA-256
}

Status ValidateIdempotencyKey(const std::string& key) {
  if (key.empty() || key.size() > 255) {
    return InvalidArgument(fmt::format(
        "idempotency key is {} characters long; use 1 to 255 printable characters, e.g. a UUID",
        key.size()));
  }
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument(
          "idempotency key contains spaces, control or non-ASCII characters; use printable "
          "ASCII, e.g. a UUID");
    }
  }
  return OkStatus();
}

bool HostHasGpu() {
  std::error_code ec;
  if (std::filesystem::exists("/dev/nvidia0", ec)) return true;
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    if (::access((dir + "/nvidia-smi").c_str(), X_OK) == 0) return true;
  }
  return false;
}

void Api::SetServerUrl(std::string url) {
  std::lock_guard lock(server_url_mu_);
  server_url_ = std::move(url);
}

std::string Api::ServerUrl() const {
  std::lock_guard lock(server_url_mu_);
  return server_url_.empty() ? options_.server_url : server_url_;
}

net::Response Api::IdempotentReply(Who who, const store::IdempotencyRecord& record,
                                   const std::string& request_hash) {
  if (record.request_hash != request_hash) {
    return Err(Error(Code::kAborted,
                     fmt::format("idempotency key '{}' was already used for a different request "
                                 "(run '{}'); send the same request again to get that run, or "
                                 "use a new key",
                                 record.key, record.run_id)));
  }
  auto run = ReadableRun(who, record.run_id);
  if (!run.ok()) return Err(run.error());
  return Json(200, RunJson(*run));
}

Result<std::vector<std::string>> Api::StopDescendants(Who who, const net::Request& req,
                                                      const std::string& id, int* skipped) {
  std::vector<std::string> stopped;
  std::deque<std::string> parents{id};
  std::set<std::string> seen{id};
  while (!parents.empty()) {
    store::RunFilter filter;
    filter.parent = parents.front();
    filter.limit = 500;
    parents.pop_front();
    while (true) {
      ASSIGN_OR_RETURN(store::RunPage page, store_.ListRuns(filter));
      for (const tug::Run& r : page.runs) {
        if (!seen.insert(r.id).second) continue;
        // An ended child's own children may still run: the walk goes through it.
        parents.push_back(r.id);
        if (IsTerminal(r.status)) continue;
        Status st = StopRunFor(who, req, r.id);
        if (st.ok()) {
          stopped.push_back(r.id);
          continue;
        }
        const Code code = st.error().code();
        if (code == Code::kFailedPrecondition) continue;  // it ended meanwhile
        if (code == Code::kPermissionDenied || code == Code::kNotFound) {
          if (skipped != nullptr) ++*skipped;
          continue;
        }
        return st.error();
      }
      if (page.next_cursor.empty()) break;
      filter.cursor = page.next_cursor;
    }
  }
  return stopped;
}

}  // namespace tug::server
