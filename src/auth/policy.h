#pragma once
/// Authorization in one place: identity × action × resource → allow or deny, with a reason that
/// names what is missing. Every API handler, the Spark UI proxy and /metrics ask Authorize;
/// nothing else decides. Pure; table-tested (policy_test.cpp).
///
/// The rules:
///   - admin: everything.
///   - "member" of a run or definition: the resource's group is one of the identity's groups,
///     or the identity is its owner. Resources without a group (created before authentication
///     was on) have only their owner and the admins as members.
///   - reading (runs, their logs, events, usage and Spark UI; definitions): members, or anyone
///     signed in when all_visible (auth.visibility: all; read-only).
///   - submitting a run: role user or admin, member of the definition, and the run's group one
///     of the identity's groups (or none: a personal run).
///   - stopping a run, changing or deleting a definition: role user, member.
///   - creating a definition: role user; its group one of the identity's (or none).
///   - /metrics: anyone signed in (counts only, no run data).
///   - tokens: anyone may create, list and revoke their own, with at most their own role and
///     groups; admins anyone's.
#include <string>
#include <vector>

#include "auth/identity.h"
#include "core/error.h"

namespace tug::auth {

enum class Action {
  kReadRun,
  kSubmitRun,
  kStopRun,
  kReadDefinition,
  kCreateDefinition,
  kChangeDefinition,
  kDeleteDefinition,
  kReadMetrics,
  kCreateToken,
  kListTokens,
  kRevokeToken,
};

std::string_view ToString(Action action);

struct Resource {
  std::string kind;  // "run", "definition", "token", "metrics": for messages
  std::string name;  // its id or name: for messages
  std::string owner;
  std::string group;
  /// kSubmitRun, kCreateDefinition: the group the new run or definition gets ("" for none).
  std::string target_group;
  /// kCreateToken: what the new token would carry.
  Role role = Role::kViewer;
  std::vector<std::string> groups;
};

struct PolicyOptions {
  /// auth.visibility: all — every signed-in identity may read every run and definition.
  bool all_visible = false;
};

struct Decision {
  bool allowed = false;
  std::string reason;  // why not (empty when allowed)
  /// OK, or kPermissionDenied with the reason.
  [[nodiscard]] Status ToStatus() const;
};

Decision Authorize(const Identity& who, Action action, const Resource& resource,
                   const PolicyOptions& options);

/// What a list may show this identity: everything, or the resources of these groups plus those
/// it owns (the store filters by both in SQL).
struct ListScope {
  bool all = false;
  std::vector<std::string> groups;
  std::string owner;
};
ListScope VisibleScope(const Identity& who, const PolicyOptions& options);

}  // namespace tug::auth
