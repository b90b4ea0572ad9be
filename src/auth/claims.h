#pragma once
/// From a verified JWT's claims to an Identity: which claim names the user, which lists the
/// groups, and which groups make someone an admin, a user or a viewer. Pure; table-tested.
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "auth/identity.h"
#include "core/error.h"

namespace tug::auth {

struct ClaimMapping {
  /// The claim that names the user: "sub", "email", "preferred_username"... A dotted path
  /// reads nested objects ("realm_access.roles" in Keycloak's tokens).
  std::string user_claim = "sub";
  /// The claim listing the groups: a list of strings, or one string of names separated by
  /// spaces or commas. Missing: no groups.
  std::string groups_claim = "groups";
  /// The first list that shares a group with the identity decides its role, admin first.
  std::vector<std::string> admin_groups;
  std::vector<std::string> user_groups;
  std::vector<std::string> viewer_groups;
  /// The role of an identity in none of those groups; nullopt: refused (403).
  std::optional<Role> default_role = Role::kViewer;
};

/// kUnauthenticated when the user claim is missing or not a string; kPermissionDenied (with
/// the groups it has) when no role applies.
[[nodiscard]] Result<Identity> MapClaims(const boost::json::object& claims,
                                         const ClaimMapping& mapping);

/// A group or user name a credential may carry: 1-128 printable characters, no control
/// characters. kInvalidArgument naming `what` otherwise.
[[nodiscard]] Status ValidatePrincipalName(const std::string& name, const std::string& what);

}  // namespace tug::auth
