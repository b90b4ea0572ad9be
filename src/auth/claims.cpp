#include "auth/claims.h"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json.hpp>

namespace json = boost::json;

namespace tug::auth {
namespace {

const json::value* Lookup(const json::object& claims, const std::string& path) {
  // An exact key first: claim names may contain dots ("https://example.com/groups").
  if (const json::value* v = claims.if_contains(path)) return v;
  const json::object* at = &claims;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view key = std::string_view(path).substr(start, dot - start);
    const json::value* v = at->if_contains(key);
    if (v == nullptr || dot == std::string::npos) return v;
    if (!v->is_object()) return nullptr;
    at = &v->as_object();
    start = dot + 1;
  }
}

bool Shares(const std::vector<std::string>& groups, const std::vector<std::string>& list) {
  return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
    return std::find(list.begin(), list.end(), g) != list.end();
  });
}

}  // namespace

Status ValidatePrincipalName(const std::string& name, const std::string& what) {
  if (name.empty() || name.size() > 128) {
    return InvalidArgument(fmt::format("{} must be 1 to 128 characters long", what));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument(fmt::format("{} contains control characters", what));
    }
  }
  return OkStatus();
}

Result<Identity> MapClaims(const json::object& claims, const ClaimMapping& mapping) {
  const json::value* user = Lookup(claims, mapping.user_claim);
  if (user == nullptr || !user->is_string() || user->as_string().empty()) {
    return Error(Code::kUnauthenticated,
                 fmt::format("the token has no '{}' claim naming the user; ask the identity "
                             "provider to include it, or set auth.oidc.user_claim",
                             mapping.user_claim));
  }
  Identity id;
  id.user = std::string(user->as_string());
  if (auto st = ValidatePrincipalName(id.user, "the token's user"); !st.ok()) {
    return Error(Code::kUnauthenticated, st.error().message());
  }
  id.via = "oidc";
  auto add_group = [&id](std::string_view g) {
    if (g.empty() || g.size() > 128) return;
    std::string name(g);
    if (std::find(id.groups.begin(), id.groups.end(), name) == id.groups.end()) {
      id.groups.push_back(std::move(name));
    }
  };
  if (const json::value* groups = Lookup(claims, mapping.groups_claim)) {
    if (groups->is_array()) {
      for (const auto& g : groups->as_array()) {
        if (g.is_string()) add_group(g.as_string());
      }
    } else if (groups->is_string()) {
      std::string_view s = groups->as_string();
      size_t start = 0;
      while (start <= s.size()) {
        size_t end = s.find_first_of(" ,", start);
        if (end == std::string_view::npos) end = s.size();
        add_group(s.substr(start, end - start));
        start = end + 1;
      }
    }
  }
  if (Shares(id.groups, mapping.admin_groups)) {
    id.role = Role::kAdmin;
  } else if (Shares(id.groups, mapping.user_groups)) {
    id.role = Role::kUser;
  } else if (Shares(id.groups, mapping.viewer_groups)) {
    id.role = Role::kViewer;
  } else if (mapping.default_role) {
    id.role = *mapping.default_role;
  } else {
    std::string have;
    for (const auto& g : id.groups) have += (have.empty() ? "" : ", ") + g;
    return Error(Code::kPermissionDenied,
                 fmt::format("user '{}' is in no group this server gives a role to (groups: {}); "
                             "ask an admin to add you to one of auth.oidc's admin_groups, "
                             "user_groups or viewer_groups",
                             id.user, have.empty() ? "none" : have));
  }
  return id;
}

}  // namespace tug::auth
