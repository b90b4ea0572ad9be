// The policy as a table: who × what × which resource → allowed, or denied naming what is missing.
#include "auth/policy.h"

#include <gtest/gtest.h>

namespace tug::auth {
namespace {

Identity Who(std::string user, Role role, std::vector<std::string> groups) {
  Identity id;
  id.user = std::move(user);
  id.role = role;
  id.groups = std::move(groups);
  id.via = "token:t";
  return id;
}

Resource RunOf(std::string owner, std::string group) {
  return Resource{"run", "r1", std::move(owner), std::move(group), "", Role::kViewer, {}};
}
Resource Def(std::string owner, std::string group, std::string target = "") {
  return Resource{"definition",  "etl", std::move(owner), std::move(group), std::move(target),
                  Role::kViewer, {}};
}
Resource Token(std::string user, Role role, std::vector<std::string> groups) {
  return Resource{"token", "", std::move(user), "", "", role, std::move(groups)};
}

TEST(PolicyTest, Table) {
  const Identity viewer = Who("vera", Role::kViewer, {"ds"});
  const Identity user = Who("ada", Role::kUser, {"ds", "ml"});
  const Identity loner = Who("lou", Role::kUser, {});
  const Identity admin = Who("root", Role::kAdmin, {});
  const PolicyOptions group_only{false};
  const PolicyOptions all_visible{true};
  struct Case {
    const char* name;
    Identity who;
    Action action;
    Resource resource;
    PolicyOptions options;
    bool allowed;
    const char* why;  // a part of the reason when denied
  };
  const Case cases[] = {
      // reading runs
      {"viewer reads its group's run", viewer, Action::kReadRun, RunOf("bob", "ds"), group_only,
       true, ""},
      {"viewer reads another group's run", viewer, Action::kReadRun, RunOf("bob", "ml"), group_only,
       false, "belongs to group 'ml'"},
      {"everything visible", viewer, Action::kReadRun, RunOf("bob", "ml"), all_visible, true, ""},
      {"owner reads its run without the group", loner, Action::kReadRun, RunOf("lou", "ml"),
       group_only, true, ""},
      {"a legacy run without group", user, Action::kReadRun, RunOf("bob", ""), group_only, false,
       "has no group and belongs to 'bob'"},
      {"a legacy run of its owner", user, Action::kReadRun, RunOf("ada", ""), group_only, true, ""},
      {"empty owners never match", Who("", Role::kUser, {}), Action::kReadRun, RunOf("", ""),
       group_only, false, "nobody"},
      {"admin reads anything", admin, Action::kReadRun, RunOf("bob", "x"), group_only, true, ""},
      // submitting
      {"viewer submits", viewer, Action::kSubmitRun, Def("bob", "ds", "ds"), all_visible, false,
       "role viewer, which may not submit runs"},
      {"user submits in its group", user, Action::kSubmitRun, Def("bob", "ml", "ml"), group_only,
       true, ""},
      {"user submits a definition of another group", user, Action::kSubmitRun,
       Def("bob", "ops", "ds"), all_visible, false, "may not submit runs of definition 'etl'"},
      {"user submits into a group it is not in", user, Action::kSubmitRun, Def("bob", "ds", "ops"),
       group_only, false, "in group 'ops'"},
      {"a personal run", loner, Action::kSubmitRun, Def("lou", "", ""), group_only, true, ""},
      {"admin submits anywhere", admin, Action::kSubmitRun, Def("x", "y", "z"), group_only, true,
       ""},
      // stopping
      {"viewer stops", viewer, Action::kStopRun, RunOf("bob", "ds"), group_only, false,
       "may not stop runs"},
      {"user stops its group's run", user, Action::kStopRun, RunOf("bob", "ml"), group_only, true,
       ""},
      {"user stops another group's run even if visible", user, Action::kStopRun,
       RunOf("bob", "ops"), all_visible, false, "may not stop run 'r1'"},
      // definitions
      {"viewer reads a definition", viewer, Action::kReadDefinition, Def("bob", "ds"), group_only,
       true, ""},
      {"viewer creates a definition", viewer, Action::kCreateDefinition, Def("", "", "ds"),
       group_only, false, "may not create definitions"},
      {"user creates in its group", user, Action::kCreateDefinition, Def("", "", "ml"), group_only,
       true, ""},
      {"user creates in another group", user, Action::kCreateDefinition, Def("", "", "ops"),
       group_only, false, "may not create a definition in group 'ops'"},
      {"user changes its group's definition", user, Action::kChangeDefinition, Def("bob", "ds"),
       group_only, true, ""},
      {"user changes another group's definition", user, Action::kChangeDefinition,
       Def("bob", "ops"), all_visible, false, "may not change definition 'etl'"},
      {"user deletes another group's definition", user, Action::kDeleteDefinition,
       Def("bob", "ops"), group_only, false, "may not delete"},
      {"viewer deletes", viewer, Action::kDeleteDefinition, Def("vera", "ds"), group_only, false,
       "may not delete definitions"},
      // metrics
      {"viewer reads metrics", viewer, Action::kReadMetrics, Token("", Role::kViewer, {}),
       group_only, true, ""},
      // tokens
      {"own token", user, Action::kCreateToken, Token("ada", Role::kUser, {"ml"}), group_only, true,
       ""},
      {"own token with a higher role", user, Action::kCreateToken, Token("ada", Role::kAdmin, {}),
       group_only, false, "may not create a token with the role admin"},
      {"own token for a foreign group", user, Action::kCreateToken,
       Token("ada", Role::kUser, {"ops"}), group_only, false, "for group 'ops'"},
      {"a token for someone else", user, Action::kCreateToken, Token("bob", Role::kViewer, {}),
       group_only, false, "only for yourself"},
      {"admin makes tokens for anyone", admin, Action::kCreateToken,
       Token("bob", Role::kAdmin, {"x"}), group_only, true, ""},
      {"list own tokens", user, Action::kListTokens, Token("ada", Role::kUser, {}), group_only,
       true, ""},
      {"list everyone's tokens", user, Action::kListTokens, Token("", Role::kUser, {}), group_only,
       false, "only your own"},
      {"revoke someone else's", user, Action::kRevokeToken, Token("bob", Role::kUser, {}),
       all_visible, false, "revoke only your own"},
  };
  for (const Case& c : cases) {
    Decision d = Authorize(c.who, c.action, c.resource, c.options);
    EXPECT_EQ(d.allowed, c.allowed) << c.name << ": " << d.reason;
    if (!c.allowed) {
      EXPECT_NE(d.reason.find(c.why), std::string::npos) << c.name << ": " << d.reason;
      EXPECT_FALSE(d.ToStatus().ok());
      EXPECT_EQ(d.ToStatus().error().code(), Code::kPermissionDenied);
    } else {
      EXPECT_TRUE(d.reason.empty()) << c.name;
    }
  }
}

TEST(PolicyTest, UnauthenticatedCallersAreAdminsWithoutAName) {
  Identity none = Unauthenticated();
  EXPECT_FALSE(none.authenticated());
  EXPECT_TRUE(Authorize(none, Action::kStopRun, RunOf("bob", "ml"), {}).allowed);
}

TEST(PolicyTest, ListScopes) {
  ListScope admin = VisibleScope(Who("root", Role::kAdmin, {"x"}), {});
  EXPECT_TRUE(admin.all);
  ListScope all = VisibleScope(Who("vera", Role::kViewer, {"ds"}), {true});
  EXPECT_TRUE(all.all);
  ListScope mine = VisibleScope(Who("ada", Role::kUser, {"ds", "ml"}), {});
  EXPECT_FALSE(mine.all);
  EXPECT_EQ(mine.groups, (std::vector<std::string>{"ds", "ml"}));
  EXPECT_EQ(mine.owner, "ada");
}

}  // namespace
}  // namespace tug::auth
