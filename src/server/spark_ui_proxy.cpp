#include "server/spark_ui_proxy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace tug::server {
namespace {

constexpr std::string_view kHex = "0123456789ABCDEF";

// The caller's headers that reach the driver. Never Authorization or Cookie: they are the
// caller's credentials for tug, not for the driver. No Accept-Encoding either, so the driver
// answers uncompressed and Content-Encoding need not be passed back.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kForwardedRequestHeaders{{
    {"accept", "Accept"},
    {"accept-language", "Accept-Language"},
    {"if-none-match", "If-None-Match"},
    {"if-modified-since", "If-Modified-Since"},
    {"user-agent", "User-Agent"},
}};

// The driver's headers that reach the caller (Content-Type travels as content_type, Location is
// rewritten). Not Set-Cookie: it would land on tug's origin.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kPassedResponseHeaders{{
    {"cache-control", "Cache-Control"},
    {"etag", "ETag"},
    {"last-modified", "Last-Modified"},
}};

bool IsUnreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

bool IsSubDelim(char c) {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}

// RFC 3986 pchar without the percent-encoded form.
bool IsPathChar(char c) { return IsUnreserved(c) || IsSubDelim(c) || c == ':' || c == '@'; }

bool IsVisibleAscii(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f;
}

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string LowerString(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(s[i]) != Lower(prefix[i])) return false;
  }
  return true;
}

void AppendEscaped(std::string& out, char c) {
  auto u = static_cast<unsigned char>(c);
  out += '%';
  out += kHex[u >> 4];
  out += kHex[u & 0xf];
}

// Keeps the raw form where it is already safe (pchars, '/', existing %XX escapes, validated by
// ParseTarget) and escapes the rest, so what the driver gets is what the caller sent, in a form
// no server reads differently.
std::string ReEncode(std::string_view raw, std::string_view also_allowed) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
      out.append(raw.substr(i, 3));
      i += 2;
    } else if (IsPathChar(c) || also_allowed.find(c) != std::string_view::npos) {
      out += c;
    } else {
      AppendEscaped(out, c);
    }
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::string FormatTimeout(std::chrono::milliseconds t) {
  if (t.count() % 1000 == 0) return fmt::format("{}s", t.count() / 1000);
  return fmt::format("{}ms", t.count());
}

net::Response Refuse(std::string_view why) {
  return net::ErrorResponse(InvalidArgument(
      fmt::format("refusing to proxy this Spark UI path: {}; open the Spark UI from the run's "
                  "page instead",
                  why)));
}

net::Response Denied(const Error& e) {
  net::Response r = net::ErrorResponse(e);
  if (e.code() == Code::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"tugboat\"");
  }
  return r;
}

net::Response BadGateway(std::string message) {
  net::Response r = net::ErrorResponse(Unavailable(std::move(message)));
  r.status = 502;
  return r;
}

struct ForwardPath {
  std::string path_and_query;  // "/jobs/?id=1": what goes after the target's base URL
};

// Validates the request and builds what is forwarded. The request matched
// "/runs/{id}/spark-ui/{rest...}" or "/runs/{id}/spark-ui", so req.path has that shape.
Result<ForwardPath> Validate(const net::Request& req, size_t fixed_segments) {
  std::string_view raw = req.target;
  for (char c : raw) {
    if (!IsVisibleAscii(c)) {
      return InvalidArgument("it contains control characters, spaces or non-ASCII characters");
    }
  }
  if (raw.find('#') != std::string_view::npos) return InvalidArgument("it contains a '#'");
  size_t q = raw.find('?');
  std::string_view raw_path = raw.substr(0, q);
  std::string_view raw_query = q == std::string_view::npos ? std::string_view() : raw.substr(q + 1);
  // Encoded separators would let one decoded segment mean several to the driver (or to the API
  // server in front of it), and a backslash is a slash to some servers.
  if (raw_path.find('\\') != std::string_view::npos) return InvalidArgument("it has a backslash");
  for (size_t i = 0; i + 2 < raw_path.size(); ++i) {
    if (raw_path[i] != '%') continue;
    std::string code = LowerString(raw_path.substr(i + 1, 2));
    if (code == "2f" || code == "5c") {
      return InvalidArgument("it has an encoded slash or backslash (%2F, %5C)");
    }
  }

  // The decoded path: "/runs/<id>/spark-ui[/<rest>]".
  const std::string& path = req.path;
  for (char c : path) {
    if (c != ' ' && !IsVisibleAscii(c)) {
      return InvalidArgument("it decodes to control characters or non-ASCII characters");
    }
  }
  if (path.find('\\') != std::string::npos) return InvalidArgument("it has a backslash");
  std::vector<std::string_view> segments = Split(std::string_view(path).substr(1), '/');
  for (size_t i = 0; i < segments.size(); ++i) {
    std::string_view seg = segments[i];
    if (seg == "." || seg == "..") return InvalidArgument("it has a '.' or '..' segment");
    if (seg.empty() && i + 1 != segments.size()) return InvalidArgument("it has an empty segment");
  }
  if (segments.size() > fixed_segments) {
    // A first segment with a scheme or credentials ("http:", "user@host") is a URL, not a path
    // of the Spark UI; nothing in the UI looks like that.
    std::string_view first = segments[fixed_segments];
    if (first.find_first_of(":@") != std::string_view::npos) {
      return InvalidArgument("it looks like a URL, not a path of the Spark UI");
    }
  }

  // No encoded slashes, so raw and decoded segments correspond one to one: the raw rest starts
  // after the slash that ends the fixed segments.
  ForwardPath out;
  out.path_and_query = "/";
  size_t pos = 0;
  for (size_t i = 0; i <= fixed_segments && pos != std::string_view::npos; ++i) {
    pos = raw_path.find('/', i == 0 ? 0 : pos + 1);
  }
  if (pos != std::string_view::npos) out.path_and_query += ReEncode(raw_path.substr(pos + 1), "/");
  if (!raw_query.empty()) out.path_and_query += "?" + ReEncode(raw_query, "/?");
  return out;
}

struct Origin {
  std::string scheme;     // lower case
  std::string authority;  // lower case, without a default port
  std::string path;       // without a trailing '/': "" or "/api/v1/.../proxy"
};

bool HasScheme(std::string_view url) {
  if (url.empty() || std::isalpha(static_cast<unsigned char>(url[0])) == 0) return false;
  for (char c : url) {
    if (c == ':') return true;
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return false;
}

// Splits "scheme://authority/path?query" into its origin and "/path?query" (at least "/").
// nullopt for anything but http(s) with a plain authority (no credentials).
std::optional<std::pair<Origin, std::string>> SplitUrl(std::string_view url) {
  size_t colon = url.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  Origin o;
  o.scheme = LowerString(url.substr(0, colon));
  if (o.scheme != "http" && o.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(colon + 1);
  if (rest.substr(0, 2) != "//") return std::nullopt;
  rest.remove_prefix(2);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  o.authority = LowerString(authority);
  std::string_view default_port = o.scheme == "https" ? ":443" : ":80";
  if (o.authority.size() > default_port.size() &&
      std::string_view(o.authority).substr(o.authority.size() - default_port.size()) ==
          default_port) {
    o.authority.resize(o.authority.size() - default_port.size());
  }
  std::string remainder(end == std::string_view::npos ? std::string_view() : rest.substr(end));
  if (remainder.empty() || remainder.front() != '/') remainder.insert(0, "/");
  return std::make_pair(std::move(o), std::move(remainder));
}

bool UnderPrefix(std::string_view path, std::string_view prefix) {
  if (prefix.empty() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() ||
         std::string_view("/?#").find(path[prefix.size()]) != std::string_view::npos;
}

std::string Join(const std::string& proxy_base, std::string_view rest) {
  if (rest.empty() || rest.front() != '/') return proxy_base + "/" + std::string(rest);
  return proxy_base + std::string(rest);
}

// Where a driver's redirect goes, seen from the caller; nullopt when it leaves the driver's UI
// (that would make the proxy an open redirect).
std::optional<std::string> RewriteLocation(std::string_view location, const Origin& base,
                                           const std::string& proxy_base) {
  if (location.empty()) return std::nullopt;
  for (char c : location) {
    // Browsers read '\' as '/' ("/\evil.com" is "//evil.com") and drop tabs and newlines.
    if (!IsVisibleAscii(c) || c == '\\') return std::nullopt;
  }
  std::string absolute;
  if (location.substr(0, 2) == "//") {
    absolute = base.scheme + ":" + std::string(location);
    location = absolute;
  }
  bool same_origin = true;
  std::string path;
  if (HasScheme(location)) {
    auto split = SplitUrl(location);
    if (!split) return std::nullopt;
    // The driver may name itself by pod IP or host name rather than the address we used, so any
    // host is accepted for paths inside the UI; only the base URL's own origin may redirect to
    // a path outside it (which is then read as a path of the driver).
    same_origin = split->first.scheme == base.scheme && split->first.authority == base.authority;
    path = std::move(split->second);
  } else if (location.front() == '/') {
    path = std::string(location);
  } else {
    return std::string(location);  // relative to the page: stays under the proxy base's origin
  }
  if (UnderPrefix(path, proxy_base)) return path;
  if (UnderPrefix(path, base.path)) return Join(proxy_base, path.substr(base.path.size()));
  if (same_origin) return Join(proxy_base, path);
  return std::nullopt;
}

}  // namespace

SparkUiProxy::SparkUiProxy(SparkUiResolver resolver, SparkUiAccess access,
                           SparkUiProxyOptions options)
    : resolver_(std::move(resolver)),
      access_(std::move(access)),
      options_(options),
      pool_(std::make_unique<net::HttpPool>(options.pool)) {}

SparkUiProxy::~SparkUiProxy() = default;

std::string SparkUiProxy::ProxyBase(const std::string& run_id) {
  std::string out = "/runs/";
  for (char c : run_id) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      AppendEscaped(out, c);
    }
  }
  out += "/spark-ui";
  return out;
}

void SparkUiProxy::Register(net::Router& router) {
  for (const char* method : {"GET", "HEAD"}) {
    router.Add(method, "/runs/{id}/spark-ui", [this](net::Request& req) { return Bare(req); });
    router.Add(method, "/runs/{id}/spark-ui/{rest...}",
               [this](net::Request& req) { return Proxy(req); });
  }
}

net::Response SparkUiProxy::Bare(net::Request& req) const {
  const std::string& run_id = req.params.at("id");
  if (auto st = access_(req, run_id); !st.ok()) return Denied(st.error());
  auto forward = Validate(req, 3);
  if (!forward.ok()) return Refuse(forward.error().message());
  // Relative links in the UI only resolve under a trailing slash.
  net::Response r;
  r.status = 302;
  r.content_type.clear();
  r.headers.emplace_back("Location", ProxyBase(run_id) + forward->path_and_query);
  return r;
}

net::Response SparkUiProxy::Proxy(net::Request& req) const {
  const std::string& run_id = req.params.at("id");
  if (auto st = access_(req, run_id); !st.ok()) return Denied(st.error());
  auto forward = Validate(req, 3);
  if (!forward.ok()) return Refuse(forward.error().message());
  auto target = resolver_(run_id);
  if (!target.ok()) return net::ErrorResponse(target.error());
  switch (target->kind) {
    case SparkUiTarget::Kind::kNone:
      return net::ErrorResponse(
          NotFound(target->message.empty()
                       ? fmt::format("run '{}' has no Spark UI; see its events for why", run_id)
                       : target->message));
    case SparkUiTarget::Kind::kHistory: {
      const std::string& url = target->history_url;
      bool usable = (StartsWithNoCase(url, "http://") || StartsWithNoCase(url, "https://")) &&
                    std::all_of(url.begin(), url.end(), IsVisibleAscii);
      if (!usable) {
        return BadGateway(fmt::format(
            "the history server address for run '{}' is not an http(s) URL; check the server's "
            "Spark history settings",
            run_id));
      }
      net::Response r;
      r.status = 302;
      r.content_type.clear();
      r.headers.emplace_back("Location", url);
      return r;
    }
    case SparkUiTarget::Kind::kLive:
      break;
  }
  return Forward(req, run_id, forward->path_and_query, std::move(*target));
}

namespace {

// What the answer to one proxied request needs once the driver's arrives (on a pool thread).
struct Upstream {
  std::string run_id;
  std::string proxy_base;
  std::string base_url;  // for messages: the target's, without a trailing '/'
  Origin origin;
  std::chrono::milliseconds timeout;
  int64_t max_response_bytes;
};

net::Response Answer(const Upstream& up, Result<net::ClientResponse> upstream) {
  if (!upstream.ok()) {
    const Error& e = upstream.error();
    if (e.code() == Code::kDeadlineExceeded) {
      return net::ErrorResponse(Error(
          Code::kDeadlineExceeded,
          fmt::format("the Spark driver of run '{}' at {} did not answer within {}; it may be "
                      "busy, reload in a moment",
                      up.run_id, up.base_url, FormatTimeout(up.timeout))));
    }
    if (e.code() == Code::kResourceExhausted) {
      return BadGateway(fmt::format(
          "the Spark driver of run '{}' sent a page larger than {}, more than the proxy passes "
          "on; narrow the page (fewer tasks or executors shown)",
          up.run_id, net::HumanBytes(static_cast<uint64_t>(up.max_response_bytes))));
    }
    std::string cause = e.detail().empty() ? e.message() : e.detail();
    if (!cause.empty()) cause[0] = Lower(cause[0]);
    return BadGateway(fmt::format(
        "the Spark driver of run '{}' is not reachable at {}: {}; if the run just ended, reload "
        "in a moment for its history",
        up.run_id, up.base_url, cause));
  }

  net::Response out;
  out.status = upstream->status;
  out.content_type = upstream->content_type;
  out.body = std::move(upstream->body);
  for (const auto& [lower, name] : kPassedResponseHeaders) {
    std::string value = upstream->Header(lower);
    if (!value.empty()) out.headers.emplace_back(name, std::move(value));
  }
  std::string location = upstream->Header("location");
  if (!location.empty()) {
    auto rewritten = RewriteLocation(location, up.origin, up.proxy_base);
    if (!rewritten) {
      return BadGateway(fmt::format(
          "the Spark driver of run '{}' redirected outside its UI; the proxy does not follow "
          "such redirects",
          up.run_id));
    }
    out.headers.emplace_back("Location", std::move(*rewritten));
  }
  return out;
}

}  // namespace

net::Response SparkUiProxy::Forward(const net::Request& req, const std::string& run_id,
                                    const std::string& forward_target, SparkUiTarget target) const {
  net::HttpClientOptions co = std::move(target.client);
  if (co.timeout.count() <= 0 || co.timeout > options_.timeout) co.timeout = options_.timeout;
  co.peer = fmt::format("the Spark driver of run '{}'", run_id);
  co.max_response_bytes = options_.max_response_bytes;
  std::string base_url = target.base_url;
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  auto base = SplitUrl(base_url);
  if (!base) {
    return BadGateway(fmt::format(
        "the Spark driver of run '{}' has an unusable address '{}'; it must be an http(s) URL",
        run_id, target.base_url));
  }
  base->first.path = base->second;
  while (!base->first.path.empty() && base->first.path.back() == '/') base->first.path.pop_back();

  net::PoolRequest upstream;
  upstream.method = req.method;
  upstream.target = forward_target;
  for (const auto& [lower, name] : kForwardedRequestHeaders) {
    std::string value = req.Header(std::string(lower));
    if (!value.empty()) upstream.headers.emplace_back(name, std::move(value));
  }
  std::string proxy_base = ProxyBase(run_id);
  upstream.headers.emplace_back("X-Forwarded-Prefix", proxy_base);

  // The answer is written when the driver's arrives: this I/O thread goes back to serving other
  // connections, and the pool's thread finishes the exchange through the Deferred.
  net::Response out;
  out.deferred = std::make_shared<net::Deferred>();
  Upstream context{run_id,     std::move(proxy_base),      base_url, std::move(base->first),
                   co.timeout, options_.max_response_bytes};
  // The message names the URL but never the client's headers (they carry the API server's
  // token when the driver is reached through it).
  Status sent = pool_->Send(
      base_url, co, std::move(upstream),
      [deferred = out.deferred, context = std::move(context)](Result<net::ClientResponse> answer) {
        deferred->Reply(Answer(context, std::move(answer)));
      });
  if (!sent.ok()) {
    return BadGateway(fmt::format("the Spark driver of run '{}' has an unusable address: {}",
                                  run_id, sent.error().message()));
  }
  return out;
}

net::HttpPoolStats SparkUiProxy::pool_stats() const { return pool_->stats(); }

}  // namespace tug::server
