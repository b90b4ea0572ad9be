#include "kube/watch_decoder.h"

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "kube/api_error.h"

namespace tug::kube {

Result<bool> WatchDecoder::Feed(std::string_view data, const Handler& on_event) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (pending_.size() + data.size() > max_line_) {
        pending_.clear();
        return Unavailable(fmt::format(
            "the Kubernetes API server sent a watch event longer than {} bytes without a newline; "
            "retry",
            max_line_));
      }
      pending_.append(data);
      return true;
    }
    Result<bool> more = true;
    if (pending_.empty()) {
      more = Line(data.substr(0, nl), on_event);
    } else {
      pending_.append(data.substr(0, nl));
      std::string line = std::move(pending_);
      pending_.clear();
      more = Line(line, on_event);
    }
    if (!more.ok() || !*more) return more;
    data.remove_prefix(nl + 1);
  }
  return true;
}

Result<bool> WatchDecoder::Finish(const Handler& on_event) {
  std::string line = std::move(pending_);
  pending_.clear();
  return Line(line, on_event);
}

Result<bool> WatchDecoder::Line(std::string_view line, const Handler& on_event) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return true;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  const boost::json::object* o = ec ? nullptr : v.if_object();
  const boost::json::value* type = o != nullptr ? o->if_contains("type") : nullptr;
  if (type == nullptr || !type->is_string()) {
    std::string_view head = line.substr(0, 120);
    return Unavailable(
        fmt::format("the Kubernetes API server sent a malformed watch event ('{}'); retry", head),
        ec ? ec.message() : "no type");
  }
  WatchEvent event;
  event.type = std::string(type->get_string());
  if (const auto* obj = o->if_contains("object")) event.object = *obj;
  // client-go turns ERROR events into errors as well: the stream is over after one.
  if (event.type == "ERROR") return ErrorFromStatus(event.object, 500);
  // Like client-go, anything else that is not a known event about an object ends the stream
  // (the informer watches again from the last good resourceVersion) instead of being passed on,
  // where an unknown type would be dropped after advancing the resourceVersion.
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED" &&
      event.type != "BOOKMARK") {
    return Unavailable(
        fmt::format("the Kubernetes API server sent a watch event of unknown type '{}'; retry",
                    event.type.substr(0, 40)));
  }
  if (!event.object.is_object()) {
    return Unavailable(fmt::format(
        "the Kubernetes API server sent a {} watch event without an object; retry", event.type));
  }
  return on_event(event);
}

}  // namespace tug::kube
