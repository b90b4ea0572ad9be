#pragma once
// Internal to the CLI: the HTTP client wrapper, output helpers and flags shared by commands.
#include <cctype>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "cli/output.h"
#include "core/json.h"
#include "net/http_client.h"

namespace tug::cli {

namespace json = boost::json;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Globals {
  std::string server;
  std::string output = "table";
  /// Bearer token sent with every request ("" : none): --token, else TUG_TOKEN, else the one
  /// `tug login` stored for the server (cli_config.h).
  std::string token;
};

inline int Fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return kExitError;
}

inline std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The server's error message from an error body ({"error":{"message"}}), else a generic one.
inline std::string ServerMessage(int status, const std::string& body) {
  auto v = ParseJson(body);
  if (v.ok() && v->is_object()) {
    if (const json::value* e = v->as_object().if_contains("error"); e && e->is_object()) {
      if (const json::value* m = e->as_object().if_contains("message"); m && m->is_string()) {
        return std::string(m->as_string());
      }
    }
  }
  return fmt::format("server answered {}", status);
}

inline bool WriteStdout(std::string_view chunk) {
  std::cout.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  std::cout.flush();
  return true;
}

class Client {
 public:
  static Result<Client> Connect(const Globals& g) {
    net::HttpClientOptions o;
    o.timeout = std::chrono::seconds(60);
    if (!g.token.empty()) {
      o.headers = [auth = "Bearer " + g.token] { return net::HeaderList{{"Authorization", auth}}; };
    }
    ASSIGN_OR_RETURN(auto http, net::HttpClient::Create(g.server, o));
    return Client(std::move(http));
  }

  /// Sends and parses a JSON reply; HTTP errors become Errors carrying the server's message.
  Result<json::value> Call(const std::string& method, const std::string& target,
                           const std::string& body = "") {
    ASSIGN_OR_RETURN(auto resp, http_.Send(method, target, body));
    if (resp.status >= 400)
      return Error(CodeOf(resp.status), ServerMessage(resp.status, resp.body));
    json::value v;
    if (!resp.body.empty()) {
      auto parsed = ParseJson(resp.body);
      if (parsed.ok()) v = std::move(*parsed);
    }
    return v;
  }

  Status Stream(const std::string& target, const std::function<bool(std::string_view)>& on_data,
                const net::HeaderList& headers = {}) {
    int status = 0;
    std::string error_body;
    auto st = http_.Stream(
        "GET", target,
        [&](std::string_view chunk) {
          if (status >= 400) {
            error_body.append(chunk);
            return true;
          }
          return on_data(chunk);
        },
        &status, headers);
    if (!st.ok()) return st;
    if (status >= 400) return Error(CodeOf(status), ServerMessage(status, error_body));
    return OkStatus();
  }

 private:
  static Code CodeOf(int status) {
    switch (status) {
      case 401:
        return Code::kUnauthenticated;
      case 403:
        return Code::kPermissionDenied;
      case 404:
        return Code::kNotFound;
      default:
        return Code::kInvalidArgument;
    }
  }

  explicit Client(net::HttpClient http) : http_(std::move(http)) {}
  net::HttpClient http_;
};

inline void Print(const Globals& g, const json::value& v,
                  const std::function<std::string()>& table) {
  if (g.output == "json") {
    std::cout << ToPrettyJson(v);
  } else if (g.output == "yaml") {
    std::cout << ToYaml(v);
  } else {
    std::cout << table();
  }
  std::cout.flush();
}

}  // namespace tug::cli
