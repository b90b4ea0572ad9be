#include "auth/identity.h"

#include <algorithm>

namespace tug::auth {

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kUser:
      return "user";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

Result<Role> ParseRole(std::string_view text) {
  if (text == "viewer") return Role::kViewer;
  if (text == "user") return Role::kUser;
  if (text == "admin") return Role::kAdmin;
  return InvalidArgument(std::string("role '") + std::string(text) +
                         "' is unknown; use viewer, user or admin");
}

bool Identity::InGroup(std::string_view group) const {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

std::string Identity::PrimaryGroup() const { return groups.empty() ? "" : groups.front(); }

Identity Unauthenticated() {
  Identity id;
  id.role = Role::kAdmin;
  id.via = "none";
  return id;
}

}  // namespace tug::auth
