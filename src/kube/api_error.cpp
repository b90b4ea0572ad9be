#include "kube/api_error.h"

#include <string>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "kube/client.h"

namespace tug::kube {
namespace {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Request Entity Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

Code CodeFor(int status, std::string_view reason) {
  switch (status) {
    case 400:
    case 422:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      // The same status means "exists already" (create) and "resourceVersion changed" (update).
      return reason == "AlreadyExists" ? Code::kAlreadyExists : Code::kAborted;
    case 410:
      return Code::kFailedPrecondition;
    case 413:
      return Code::kResourceExhausted;
    case 429:
      return Code::kUnavailable;
    default:
      break;
  }
  if (status >= 500) return Code::kUnavailable;
  if (status >= 400) return Code::kInvalidArgument;
  return Code::kInternal;
}

std::string Detail(int status, std::string_view reason) {
  if (reason.empty()) reason = ReasonPhrase(status);
  if (reason.empty()) return fmt::format("HTTP {}", status);
  return fmt::format("HTTP {} {}", status, reason);
}

std::string_view StringField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

}  // namespace

Error ErrorFromStatus(const boost::json::value& status, int http_status) {
  std::string_view message;
  std::string_view reason;
  int code = http_status;
  if (const auto* o = status.if_object()) {
    message = StringField(*o, "message");
    reason = StringField(*o, "reason");
    if (const auto* c = o->if_contains("code");
        c != nullptr && c->is_int64() && c->as_int64() > 0) {
      code = static_cast<int>(c->as_int64());
    }
  }
  std::string text =
      message.empty() ? fmt::format("the Kubernetes API server answered {}", Detail(code, reason))
                      : std::string(message);
  return Error(CodeFor(code, reason), std::move(text), Detail(code, reason));
}

Error ErrorFromResponse(int http_status, std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    if (StringField(o, "kind") == "Status") return ErrorFromStatus(v, http_status);
  }
  std::string_view line = body.substr(0, body.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.size() > 200) line = line.substr(0, 200);
  std::string detail = Detail(http_status, "");
  std::string text = line.empty()
                         ? fmt::format("the Kubernetes API server answered {}", detail)
                         : fmt::format("the Kubernetes API server answered {}: {}", detail, line);
  return Error(CodeFor(http_status, ""), std::move(text), std::move(detail));
}

bool IsGone(const Error& e) {
  return e.code() == Code::kFailedPrecondition && e.detail().rfind("HTTP 410", 0) == 0;
}

}  // namespace tug::kube
