#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <fmt/format.h>

#include "core/log.h"
#include "net/http.h"

namespace tug::net {
namespace {

constexpr size_t kMaxParams = 16;

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> param_names;  // in the order the {params} appear
  Handler handler;
};

[[noreturn]] void FatalPattern(const std::string& method, const std::string& pattern,
                               const char* why) {
  std::fprintf(stderr, "fatal: route %s %s: %s\n", method.c_str(), pattern.c_str(), why);
  std::abort();
}

/// "/" → {}, "/a/{id}" → {"a", "{id}"}, "/a/" → {"a", ""}.
std::vector<std::string_view> SplitPattern(std::string_view pattern) {
  std::vector<std::string_view> out;
  if (pattern == "/") return out;
  std::string_view rest = pattern.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    out.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return out;
}

}  // namespace

struct Router::Node {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> exact;
  std::unique_ptr<Node> param;
  std::unique_ptr<Node> catch_all;  // {name...}: always a leaf
  std::vector<Route> routes;        // non-empty only where a pattern ends
  std::string allow;

  struct Walk {
    std::string_view method;
    std::array<std::string_view, kMaxParams> captures{};
    size_t count = 0;
    const Node* first_path_match = nullptr;  // where the path matched, for 405
  };

  // Depth-first with backtracking: an exact child is tried before the param child, and both
  // before a catch-all, so "/runs/stats" beats "/runs/{id}" but "/runs/x/logs" still reaches
  // "/runs/{id}/logs", and "/files/{rest...}" only gets what nothing more specific took.
  const Route* Visit(std::string_view rest, Walk& walk) const {
    if (rest.empty()) return Ends(walk);
    rest.remove_prefix(1);  // the '/'
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    std::string_view next =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    for (const auto& [name, child] : exact) {
      if (name == seg) {
        if (const Route* r = child->Visit(next, walk)) return r;
        break;
      }
    }
    if (param && !seg.empty()) {
      walk.captures[walk.count++] = seg;
      if (const Route* r = param->Visit(next, walk)) return r;
      --walk.count;
    }
    return CatchAll(rest, walk);
  }

  /// The remainder after a '/' (possibly empty, possibly with more slashes) for a {name...}.
  const Route* CatchAll(std::string_view remainder, Walk& walk) const {
    if (!catch_all) return nullptr;
    walk.captures[walk.count++] = remainder;
    if (const Route* r = catch_all->Ends(walk)) return r;
    --walk.count;
    return nullptr;
  }

  const Route* Ends(Walk& walk) const {
    if (routes.empty()) return nullptr;
    if (walk.first_path_match == nullptr) walk.first_path_match = this;
    return ForMethod(walk.method);
  }

  const Route* ForMethod(std::string_view method) const {
    for (const auto& r : routes) {
      if (r.method == method) return &r;
    }
    if (method == "HEAD") return ForMethod("GET");
    return nullptr;
  }
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::Add(std::string method, std::string pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    FatalPattern(method, pattern, "a pattern starts with '/'");
  }
  if (method.empty() || !handler) FatalPattern(method, pattern, "method and handler are required");
  Node* node = root_.get();
  std::vector<std::string> names;
  std::vector<std::string_view> segments = SplitPattern(pattern);
  for (size_t i = 0; i < segments.size(); ++i) {
    std::string_view seg = segments[i];
    bool is_param = !seg.empty() && seg.front() == '{';
    if (is_param) {
      if (seg.size() < 3 || seg.back() != '}') {
        FatalPattern(method, pattern, "a parameter segment is {name}");
      }
      std::string_view name = seg.substr(1, seg.size() - 2);
      bool rest = name.size() > 3 && name.substr(name.size() - 3) == "...";
      if (rest) name.remove_suffix(3);
      if (name.empty() || name.find_first_of("{}.") != std::string_view::npos) {
        FatalPattern(method, pattern, "a parameter segment is {name} or a last {name...}");
      }
      names.emplace_back(name);
      if (names.size() > kMaxParams) FatalPattern(method, pattern, "more than 16 parameters");
      if (rest) {
        if (i + 1 != segments.size()) {
          FatalPattern(method, pattern, "a {name...} parameter must be the last segment");
        }
        if (!node->catch_all) node->catch_all = std::make_unique<Node>();
        node = node->catch_all.get();
        continue;
      }
      if (!node->param) node->param = std::make_unique<Node>();
      node = node->param.get();
      continue;
    }
    if (seg.find_first_of("{}") != std::string_view::npos) {
      FatalPattern(method, pattern, "braces only enclose a whole segment");
    }
    auto it = std::find_if(node->exact.begin(), node->exact.end(),
                           [&](const auto& e) { return e.first == seg; });
    if (it == node->exact.end()) {
      node->exact.emplace_back(std::string(seg), std::make_unique<Node>());
      it = std::prev(node->exact.end());
    }
    node = it->second.get();
  }
  for (const auto& r : node->routes) {
    if (r.method == method) FatalPattern(method, pattern, "registered twice");
  }
  registered_.push_back({method, pattern});
  node->routes.push_back(
      Route{std::move(method), std::move(pattern), std::move(names), std::move(handler)});
  std::vector<std::string> methods;
  for (const auto& r : node->routes) methods.push_back(r.method);
  if (node->ForMethod("GET") != nullptr) methods.emplace_back("HEAD");  // served by GET
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  node->allow.clear();
  for (const auto& m : methods) {
    if (!node->allow.empty()) node->allow += ", ";
    node->allow += m;
  }
}

Router::Match Router::Find(Request& request) const {
  Match match;
  const std::string& path = request.path;
  if (path.empty() || path.front() != '/') return match;
  Node::Walk walk;
  walk.method = request.method;
  const Route* route = nullptr;
  if (path == "/") {
    // "/" is the root itself, or an empty remainder for "/{rest...}".
    route = root_->Ends(walk);
    if (route == nullptr) route = root_->CatchAll(std::string_view(), walk);
  } else {
    route = root_->Visit(path, walk);
  }
  if (route != nullptr) {
    match.handler = &route->handler;
    match.pattern = route->pattern;
    request.params.clear();
    for (size_t i = 0; i < walk.count; ++i) {
      request.params[route->param_names[i]] = std::string(walk.captures[i]);
    }
    return match;
  }
  if (walk.first_path_match != nullptr) {
    const Node* node = walk.first_path_match;
    match.method_mismatch = true;
    match.pattern = node->routes.front().pattern;
    match.allow = node->allow;
  }
  return match;
}

Response Dispatch(const Router& router, Request& request, std::string& route) {
  route.clear();
  if (auto st = ParseTarget(request.target, request.path, request.query); !st.ok()) {
    return ErrorResponse(st.error());
  }
  Router::Match match = router.Find(request);
  route = std::move(match.pattern);
  if (match.handler != nullptr) {
    // The dispatcher is a root: a handler bug must not take the server down. Log where, not
    // what (what() may quote request data).
    try {
      return (*match.handler)(request);
    } catch (...) {
      log::Error("http handler threw", {{"method", request.method}, {"route", route}});
      return ErrorResponse(Internal(fmt::format(
          "internal error while handling {} {}; see the server log", request.method, route)));
    }
  }
  if (match.method_mismatch) {
    Response r = ErrorResponse(InvalidArgument(fmt::format(
        "method {} is not allowed on {}; use {}", request.method, request.path, match.allow)));
    r.status = 405;
    r.headers.emplace_back("Allow", std::move(match.allow));
    return r;
  }
  return ErrorResponse(NotFound(fmt::format("no route for {} {}; see /api/v1 routes in docs/api.md",
                                            request.method, request.path)));
}

}  // namespace tug::net
