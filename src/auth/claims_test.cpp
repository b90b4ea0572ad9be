#include "auth/claims.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace json = boost::json;

namespace tug::auth {
namespace {

ClaimMapping Mapping() {
  ClaimMapping m;
  m.user_claim = "email";
  m.groups_claim = "groups";
  m.admin_groups = {"platform"};
  m.user_groups = {"data-science", "ml"};
  m.viewer_groups = {"finance"};
  m.default_role = std::nullopt;
  return m;
}

TEST(ClaimsTest, RolesComeFromTheFirstMatchingGroupList) {
  struct Case {
    json::value groups;
    std::optional<Role> role;  // nullopt: refused
  };
  const Case cases[] = {
      {json::array{"platform", "ml"}, Role::kAdmin},
      {json::array{"ml"}, Role::kUser},
      {json::array{"finance", "data-science"}, Role::kUser},
      {json::array{"finance"}, Role::kViewer},
      {json::array{"marketing"}, std::nullopt},
      {json::array{}, std::nullopt},
      {"ml finance", Role::kUser},  // a space-separated string
      {"finance,marketing", Role::kViewer},
      {nullptr, std::nullopt},
  };
  for (const Case& c : cases) {
    json::object claims{{"email", "ada@example.com"}};
    if (!c.groups.is_null()) claims["groups"] = c.groups;
    auto id = MapClaims(claims, Mapping());
    if (!c.role) {
      ASSERT_FALSE(id.ok()) << json::serialize(c.groups);
      EXPECT_EQ(id.error().code(), Code::kPermissionDenied);
      EXPECT_NE(id.error().message().find("in no group"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(id.ok()) << json::serialize(c.groups) << ": " << id.error().ToString();
    EXPECT_EQ(id->role, *c.role) << json::serialize(c.groups);
    EXPECT_EQ(id->user, "ada@example.com");
    EXPECT_EQ(id->via, "oidc");
  }
  ClaimMapping lenient = Mapping();
  lenient.default_role = Role::kViewer;
  auto viewer = MapClaims(json::object{{"email", "x@example.com"}}, lenient);
  ASSERT_TRUE(viewer.ok());
  EXPECT_EQ(viewer->role, Role::kViewer);
  EXPECT_TRUE(viewer->groups.empty());
}

TEST(ClaimsTest, NestedClaimsGroupsInOrderAndAMissingUser) {
  ClaimMapping m = Mapping();
  m.user_claim = "preferred_username";
  m.groups_claim = "realm_access.roles";
  json::object claims{
      {"preferred_username", "ada"},
      {"realm_access", json::object{{"roles", json::array{"ml", "finance", "ml", 42, ""}}}}};
  auto id = MapClaims(claims, m);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_EQ(id->groups, (std::vector<std::string>{"ml", "finance"}));
  EXPECT_EQ(id->PrimaryGroup(), "ml");
  // A claim name with dots is read as it is first.
  m.groups_claim = "https://example.com/groups";
  auto dotted = MapClaims(
      json::object{{"preferred_username", "ada"}, {"https://example.com/groups", "platform"}}, m);
  ASSERT_TRUE(dotted.ok());
  EXPECT_EQ(dotted->role, Role::kAdmin);

  for (const json::object& bad : {json::object{}, json::object{{"preferred_username", 7}},
                                  json::object{{"preferred_username", ""}},
                                  json::object{{"preferred_username", std::string("a\nb")}}}) {
    auto r = MapClaims(bad, m);
    ASSERT_FALSE(r.ok()) << json::serialize(bad);
    EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  }
}

}  // namespace
}  // namespace tug::auth
