#pragma once
/// Who is calling: a user name, the groups they belong to and their role, as an authenticator
/// established it (a bearer token from the store, or an OIDC/JWT identity mapped from its
/// claims). Plain values; no I/O.
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace tug::auth {

/// Ordered: every role can do what the roles before it can.
///   viewer: read the runs and definitions it may see (its groups', or all with visibility all)
///   user:   also submit, stop and re-run runs and change definitions of its groups
///   admin:  everything, every group, tokens of anyone
enum class Role { kViewer = 0, kUser = 1, kAdmin = 2 };

std::string_view ToString(Role role);
/// "viewer" | "user" | "admin"; kInvalidArgument naming the three otherwise.
[[nodiscard]] Result<Role> ParseRole(std::string_view text);

struct Identity {
  /// The user name ("alice", "alice@example.com"); "" only when authentication is off.
  std::string user;
  /// Groups in the order the credential lists them; the first is the default group of what
  /// the user creates.
  std::vector<std::string> groups;
  Role role = Role::kViewer;
  /// How it was established: "token:<id>", "oidc", or "none" (authentication off: every caller
  /// is an admin without a name).
  std::string via;

  bool authenticated() const { return via != "none"; }
  bool InGroup(std::string_view group) const;
  /// The first group, "" when none.
  std::string PrimaryGroup() const;
};

/// The identity of every caller while authentication is off (loopback only): an admin with no
/// name, so today's behaviour (the client names the owner) is kept.
Identity Unauthenticated();

}  // namespace tug::auth
