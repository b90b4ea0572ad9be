#include "auth/policy.h"

#include <algorithm>

#include <fmt/format.h>

namespace tug::auth {
namespace {

Decision Allow() { return {true, ""}; }
Decision Deny(std::string reason) { return {false, std::move(reason)}; }

bool Member(const Identity& who, const Resource& r) {
  if (!r.group.empty() && who.InGroup(r.group)) return true;
  return !r.owner.empty() && r.owner == who.user;
}

std::string GroupsText(const Identity& who) {
  if (who.groups.empty()) return "no groups";
  std::string out = who.groups.size() == 1 ? "group " : "groups ";
  for (size_t i = 0; i < who.groups.size(); ++i) {
    out += (i == 0 ? "" : ", ") + who.groups[i];
  }
  return out;
}

std::string Named(const Resource& r) {
  return r.name.empty() ? r.kind : fmt::format("{} '{}'", r.kind, r.name);
}

Decision NotMember(const Identity& who, const Resource& r, std::string_view verb) {
  if (r.group.empty()) {
    return Deny(fmt::format(
        "you ('{}') may not {} {}: it has no group and belongs to '{}', so only its owner and "
        "admins may; ask an admin",
        who.user, verb, Named(r), r.owner.empty() ? "nobody" : r.owner));
  }
  return Deny(fmt::format(
      "you ('{}', {}) may not {} {}: it belongs to group '{}'; ask a member of '{}' or an admin",
      who.user, GroupsText(who), verb, Named(r), r.group, r.group));
}

Decision NeedsUser(const Identity& who, std::string_view doing) {
  return Deny(
      fmt::format("you ('{}') have the role {}, which may not {}; ask an admin for the user role",
                  who.user, ToString(who.role), doing));
}

Decision TargetGroup(const Identity& who, const Resource& r) {
  if (r.target_group.empty() || who.InGroup(r.target_group)) return Allow();
  return Deny(
      fmt::format("you ('{}', {}) may not create a {} in group '{}'; pick one of your groups",
                  who.user, GroupsText(who), r.kind, r.target_group));
}

}  // namespace

std::string_view ToString(Action action) {
  switch (action) {
    case Action::kReadRun:
      return "read_run";
    case Action::kSubmitRun:
      return "submit_run";
    case Action::kStopRun:
      return "stop_run";
    case Action::kReadDefinition:
      return "read_definition";
    case Action::kCreateDefinition:
      return "create_definition";
    case Action::kChangeDefinition:
      return "change_definition";
    case Action::kDeleteDefinition:
      return "delete_definition";
    case Action::kReadMetrics:
      return "read_metrics";
    case Action::kCreateToken:
      return "create_token";
    case Action::kListTokens:
      return "list_tokens";
    case Action::kRevokeToken:
      return "revoke_token";
  }
  return "unknown";
}

Status Decision::ToStatus() const {
  if (allowed) return OkStatus();
  return Error(Code::kPermissionDenied, reason);
}

Decision Authorize(const Identity& who, Action action, const Resource& r,
                   const PolicyOptions& options) {
  if (who.role == Role::kAdmin) return Allow();
  const bool user = who.role >= Role::kUser;
  switch (action) {
    case Action::kReadRun:
    case Action::kReadDefinition:
      if (options.all_visible || Member(who, r)) return Allow();
      return NotMember(who, r, "see");
    case Action::kSubmitRun: {
      if (!user) return NeedsUser(who, "submit runs");
      if (!Member(who, r)) return NotMember(who, r, "submit runs of");
      Resource run = r;
      run.kind = "run";
      return TargetGroup(who, run);
    }
    case Action::kStopRun:
      if (!user) return NeedsUser(who, "stop runs");
      if (!Member(who, r)) return NotMember(who, r, "stop");
      return Allow();
    case Action::kCreateDefinition:
      if (!user) return NeedsUser(who, "create definitions");
      return TargetGroup(who, r);
    case Action::kChangeDefinition:
      if (!user) return NeedsUser(who, "change definitions");
      if (!Member(who, r)) return NotMember(who, r, "change");
      return Allow();
    case Action::kDeleteDefinition:
      if (!user) return NeedsUser(who, "delete definitions");
      if (!Member(who, r)) return NotMember(who, r, "delete");
      return Allow();
    case Action::kReadMetrics:
      return Allow();
    case Action::kCreateToken: {
      if (r.owner != who.user) {
        return Deny(fmt::format(
            "you ('{}') may create tokens only for yourself, not for '{}'; ask an admin", who.user,
            r.owner));
      }
      if (r.role > who.role) {
        return Deny(
            fmt::format("you ('{}') have the role {} and may not create a token with the role {}",
                        who.user, ToString(who.role), ToString(r.role)));
      }
      for (const auto& g : r.groups) {
        if (!who.InGroup(g)) {
          return Deny(fmt::format(
              "you ('{}', {}) may not create a token for group '{}'; use your own groups", who.user,
              GroupsText(who), g));
        }
      }
      return Allow();
    }
    case Action::kListTokens:
    case Action::kRevokeToken:
      if (!r.owner.empty() && r.owner == who.user) return Allow();
      return Deny(fmt::format("you ('{}') may {} only your own tokens; ask an admin", who.user,
                              action == Action::kListTokens ? "list" : "revoke"));
  }
  return Deny("unknown action");
}

ListScope VisibleScope(const Identity& who, const PolicyOptions& options) {
  ListScope s;
  if (who.role == Role::kAdmin || options.all_visible) {
    s.all = true;
    return s;
  }
  s.groups = who.groups;
  s.owner = who.user;
  return s;
}

}  // namespace tug::auth
