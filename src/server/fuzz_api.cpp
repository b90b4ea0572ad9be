// libFuzzer target for API v1's request path: the real Router and handlers (net::Dispatch, as the
// HTTP server calls them) on a real SQLite store, dispatch off (ApiHarness). Each input is one
// request:
//
//   byte 0    route and Content-Type: (byte - 'A') % 16 picks a row of kRoutes, and
//             ((byte - 'A') / 16) % 4 the type: 'A'..'P' JSON, 'Q'..'`' JSON with a charset,
//             'a'..'p' YAML, 'q'... none
//   line 1    the {param} of the route's path (raw: escapes, slashes and dots are the fuzzer's),
//             or its query string; for the raw route "METHOD TARGET"
//   the rest  the body
//
// "@run" and "@ended" in the param and body become the ids of a queued and a stopped run.
// Invariants, checked after every request (a violation aborts, so libFuzzer keeps the input):
// the status is a valid HTTP status; every 4xx/5xx is {"error":{"code","message"}} with a
// non-empty message; no 5xx at all (bad input is the client's fault); a 4xx leaves no new row in
// definitions, runs, attempts or events; a 2xx JSON answer is valid JSON.
//
//   scripts/fuzz.sh api 600   (or: cmake --build --preset fuzz --target fuzz_api)
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "server/api_harness.h"

namespace {

using tug::server::ApiHarness;

struct Route {
  const char* method;
  const char* path;  // "{}" takes line 1; without it line 1 is the query string
};

constexpr Route kRoutes[16] = {
    {"POST", "/api/v1/definitions"},
    {"PUT", "/api/v1/definitions/{}"},
    {"POST", "/api/v1/runs"},
    {"POST", "/api/v1/runs/{}/stop"},
    {"DELETE", "/api/v1/definitions/{}"},
    {"GET", "/api/v1/definitions/{}"},
    {"GET", "/api/v1/definitions"},
    {"GET", "/api/v1/runs/{}"},
    {"GET", "/api/v1/runs"},
    {"GET", "/api/v1/runs/{}/events"},
    {"GET", "/api/v1/runs/{}/usage"},
    {"GET", "/api/v1/runs/{}/logs"},
    {"GET", "/readyz"},
    {nullptr, nullptr},  // raw: line 1 is "METHOD TARGET"
    {"POST", "/api/v1/definitions"},
    {"POST", "/api/v1/runs"},
};

constexpr const char* kTypes[4] = {"application/json", "application/json; charset=utf-8",
                                   "application/yaml", ""};

// Inputs per store: a fresh one now and then keeps the tables small and the runs comparable
// (TUG_FUZZ_API_INPUTS_PER_STORE overrides it, e.g. 1 to replay an input on a fresh store).
int InputsPerStore() {
  static const int n = [] {
    const char* v = std::getenv("TUG_FUZZ_API_INPUTS_PER_STORE");
    int parsed = v != nullptr ? std::atoi(v) : 0;
    return parsed > 0 ? parsed : 2000;
  }();
  return n;
}

[[noreturn]] void Fail(const std::string& what, const tug::net::Request& req,
                       const tug::net::Response& resp) {
  std::fprintf(stderr, "fuzz_api: %s\n  request: %s %s (%s), %zu bytes\n  response: %d %s\n",
               what.c_str(), req.method.c_str(), req.target.c_str(),
               req.Header("content-type").c_str(), req.body.size(), resp.status,
               resp.body.substr(0, 2000).c_str());
  std::abort();
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

struct State {
  std::string dir;
  std::unique_ptr<ApiHarness> api;
  std::string queued_run;
  std::string ended_run;
  int inputs = 0;
};

std::string RunId(const tug::net::Response& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("id")) return "";
  return std::string(v.at("id").as_string());
}

void Open(State& s) {
  s.api.reset();
  std::error_code ec;
  std::filesystem::remove_all(s.dir, ec);
  auto opened = ApiHarness::Open(s.dir);
  if (!opened.ok()) {
    std::fprintf(stderr, "fuzz_api: %s\n", opened.error().ToString().c_str());
    std::abort();
  }
  s.api = std::move(*opened);
  // Something to find: definitions, a queued run and a stopped one.
  s.api->Call("PUT", "/api/v1/definitions/hello",
              R"({"name":"hello","command":"echo hi","resources":{"memory":"64Mi"}})");
  s.api->Call("PUT", "/api/v1/definitions/argv",
              R"({"name":"argv","command":["/bin/echo","a"],"timeout":"1m"})");
  s.queued_run = RunId(s.api->Call("POST", "/api/v1/runs", R"({"definition":"hello"})"));
  s.ended_run = RunId(s.api->Call("POST", "/api/v1/runs", R"({"definition":"argv"})"));
  s.api->Call("POST", "/api/v1/runs/" + s.ended_run + "/stop");
  if (s.queued_run.empty() || s.ended_run.empty()) {
    std::fprintf(stderr, "fuzz_api: the harness could not create its runs\n");
    std::abort();
  }
  s.inputs = 0;
}

State* g_state = nullptr;  // lives until exit; its directory is removed then

State& GetState() {
  if (g_state == nullptr) {
    g_state = new State;
    g_state->dir =
        std::filesystem::temp_directory_path().string() + "/fuzz_api." + std::to_string(::getpid());
    Open(*g_state);
    std::atexit([] {
      g_state->api.reset();
      std::error_code ec;
      std::filesystem::remove_all(g_state->dir, ec);
    });
  }
  return *g_state;
}

void Check(State& s, const tug::net::Request& req, const tug::net::Response& resp,
           const ApiHarness::Rows& before) {
  if (resp.status < 100 || resp.status > 599) Fail("invalid HTTP status", req, resp);
  if (resp.status >= 500) Fail("a 5xx for a request", req, resp);
  if (resp.status >= 400) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(resp.body, ec);
    const boost::json::object* o = ec ? nullptr : v.if_object();
    const boost::json::value* e = o != nullptr ? o->if_contains("error") : nullptr;
    const boost::json::object* eo = e != nullptr ? e->if_object() : nullptr;
    const boost::json::value* code = eo != nullptr ? eo->if_contains("code") : nullptr;
    const boost::json::value* msg = eo != nullptr ? eo->if_contains("message") : nullptr;
    if (code == nullptr || !code->is_string() || code->as_string().empty() || msg == nullptr ||
        !msg->is_string() || msg->as_string().empty()) {
      Fail("an error without {\"error\":{\"code\",\"message\"}}", req, resp);
    }
    auto after = s.api->CountRows();
    if (!after.ok()) Fail("counting rows: " + after.error().ToString(), req, resp);
    if (!(*after == before)) Fail("a rejected request wrote rows", req, resp);
    return;
  }
  if (resp.stream == nullptr && !resp.body.empty() &&
      resp.content_type.rfind("application/json", 0) == 0) {
    boost::system::error_code ec;
    (void)boost::json::parse(resp.body, ec);
    if (ec) Fail("a JSON answer that is not JSON", req, resp);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  State& s = GetState();
  if (++s.inputs > InputsPerStore()) Open(s);

  const auto pick = static_cast<uint8_t>(data[0] - 'A');
  const Route& route = kRoutes[pick % 16];
  const char* type = kTypes[(pick / 16) % 4];
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t nl = rest.find('\n');
  std::string line = rest.substr(0, nl);
  std::string body = nl == std::string::npos ? std::string() : rest.substr(nl + 1);
  ReplaceAll(line, "@run", s.queued_run);
  ReplaceAll(line, "@ended", s.ended_run);
  ReplaceAll(body, "@run", s.queued_run);
  ReplaceAll(body, "@ended", s.ended_run);

  tug::net::Request req;
  if (route.method == nullptr) {
    size_t sp = line.find(' ');
    if (sp == std::string::npos) return 0;
    req.method = line.substr(0, sp);
    req.target = line.substr(sp + 1);
    // What HTTP/1.1 framing lets through: a token method and a target without spaces or CR/LF.
    if (req.method.empty() ||
        req.method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos ||
        req.target.empty() || req.target.find_first_of(" \r\n") != std::string::npos) {
      return 0;
    }
  } else {
    req.method = route.method;
    std::string path = route.path;
    if (size_t at = path.find("{}"); at != std::string::npos) {
      path.replace(at, 2, line);
    } else if (!line.empty()) {
      path += "?" + line;
    }
    if (path.find_first_of(" \r\n") != std::string::npos) return 0;  // not an HTTP target
    req.target = std::move(path);
  }
  req.body = std::move(body);
  if (*type != '\0') req.headers["content-type"] = type;
  req.headers["content-length"] = std::to_string(req.body.size());

  auto before = s.api->CountRows();
  if (!before.ok()) {
    std::fprintf(stderr, "fuzz_api: %s\n", before.error().ToString().c_str());
    std::abort();
  }
  tug::net::Request sent = req;
  tug::net::Response resp = s.api->Call(std::move(req));
  if (resp.stream != nullptr) {
    // A few polls of a log stream; the server would keep going until it is done.
    for (int i = 0; i < 3; ++i) {
      if (resp.stream->Poll().done) break;
    }
    resp.stream.reset();
  }
  Check(s, sent, resp, *before);
  return 0;
}
