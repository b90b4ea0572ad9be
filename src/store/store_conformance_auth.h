#pragma once
/// The Store conformance suite, part 6: what authentication and authorization keep in the store
/// (src/auth) — API tokens (only their hash), the owner and group of definitions and runs, and
/// lists filtered to what a caller may see. Include it after store_conformance.h in a backend's
/// test.
#include <string>
#include <vector>

#include "core/ids.h"
#include "store/store_conformance.h"

namespace tug::store::conformance {

inline ApiToken MakeToken(const std::string& user, Micros created_at, char hash_char = 'a') {
  ApiToken t;
  t.id = NewId(SystemClock::Instance());
  t.name = "laptop of " + user;
  t.user = user;
  t.groups = {"science", "ops"};
  t.role = "user";
  t.hash = std::string(63, hash_char) + std::string(1, static_cast<char>('0' + created_at % 10));
  t.created_by = "admin";
  t.created_at = created_at;
  t.expires_at = created_at + 90 * 86400 * kSec;
  return t;
}

TEST_P(StoreConformanceTest, TokensAreFoundByHashAndNeverTwice) {
  ApiToken t = MakeToken("ada", kT0);
  ASSERT_TRUE(Ok(store_->CreateToken(t)));
  auto by_hash = store_->GetTokenByHash(t.hash);
  ASSERT_TRUE(Ok(by_hash));
  EXPECT_EQ(*by_hash, t);
  auto by_id = store_->GetToken(t.id);
  ASSERT_TRUE(Ok(by_id));
  EXPECT_EQ(*by_id, t);

  ApiToken same_hash = MakeToken("bob", kT0);
  same_hash.hash = t.hash;
  EXPECT_TRUE(Fails(store_->CreateToken(same_hash), Code::kAlreadyExists));
  ApiToken same_id = MakeToken("bob", kT0 + 1, 'b');
  same_id.id = t.id;
  EXPECT_TRUE(Fails(store_->CreateToken(same_id), Code::kAlreadyExists));
  ApiToken no_hash = MakeToken("bob", kT0, 'c');
  no_hash.hash = "short";
  EXPECT_TRUE(Fails(store_->CreateToken(no_hash), Code::kInvalidArgument));
  ApiToken no_user = MakeToken("", kT0, 'd');
  EXPECT_TRUE(Fails(store_->CreateToken(no_user), Code::kInvalidArgument));

  EXPECT_TRUE(Fails(store_->GetTokenByHash(std::string(64, 'f')), Code::kNotFound));
  EXPECT_TRUE(Fails(store_->GetToken("nope"), Code::kNotFound));
}

TEST_P(StoreConformanceTest, TokensListByUserOldestFirst) {
  ApiToken a1 = MakeToken("ada", kT0 + 2 * kSec, 'a');
  ApiToken b1 = MakeToken("bob", kT0 + 1 * kSec, 'b');
  ApiToken a2 = MakeToken("ada", kT0 + 3 * kSec, 'c');
  a2.groups = {};
  a2.role = "admin";
  a2.expires_at = 0;
  for (const auto& t : {a1, b1, a2}) ASSERT_TRUE(Ok(store_->CreateToken(t)));
  auto ada = store_->ListTokens("ada");
  ASSERT_TRUE(Ok(ada));
  EXPECT_EQ(*ada, (std::vector<ApiToken>{a1, a2}));
  auto all = store_->ListTokens("");
  ASSERT_TRUE(Ok(all));
  EXPECT_EQ(*all, (std::vector<ApiToken>{b1, a1, a2}));
  auto nobody = store_->ListTokens("carol");
  ASSERT_TRUE(Ok(nobody));
  EXPECT_TRUE(nobody->empty());
}

TEST_P(StoreConformanceTest, RevokingKeepsTheFirstTimeAndTouchingOnlyMovesForward) {
  ApiToken t = MakeToken("ada", kT0);
  ASSERT_TRUE(Ok(store_->CreateToken(t)));
  auto revoked = store_->RevokeToken(t.id, kT0 + 10 * kSec);
  ASSERT_TRUE(Ok(revoked));
  EXPECT_EQ(revoked->revoked_at, kT0 + 10 * kSec);
  auto again = store_->RevokeToken(t.id, kT0 + 20 * kSec);
  ASSERT_TRUE(Ok(again));
  EXPECT_EQ(again->revoked_at, kT0 + 10 * kSec);
  EXPECT_EQ(store_->GetTokenByHash(t.hash)->revoked_at, kT0 + 10 * kSec);
  EXPECT_TRUE(Fails(store_->RevokeToken("nope", kT0), Code::kNotFound));

  ASSERT_TRUE(Ok(store_->TouchToken(t.id, kT0 + 5 * kSec)));
  ASSERT_TRUE(Ok(store_->TouchToken(t.id, kT0 + 3 * kSec)));
  EXPECT_EQ(store_->GetToken(t.id)->last_used_at, kT0 + 5 * kSec);
  EXPECT_TRUE(Fails(store_->TouchToken("nope", kT0), Code::kNotFound));
}

TEST_P(StoreConformanceTest, DefinitionsKeepOwnerAndGroupBesideTheSpec) {
  Definition d = MakeDefinition("etl");
  d.owner = "ada";
  d.group = "science";
  auto v1 = store_->PutDefinition(d, kT0);
  ASSERT_TRUE(Ok(v1));
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->owner, "ada");
  EXPECT_EQ(v1->group, "science");
  auto read = store_->GetDefinition("etl");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(*read, *v1);

  // The same spec, owner and group: unchanged. Another group: a new version in that group.
  EXPECT_EQ(store_->PutDefinition(d, kT0 + kSec)->version, 1);
  Definition moved = d;
  moved.group = "ops";
  auto v2 = store_->PutDefinition(moved, kT0 + 2 * kSec);
  ASSERT_TRUE(Ok(v2));
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(store_->GetDefinition("etl")->group, "ops");

  // A run's snapshot of the definition carries neither: they are the definition's, not its
  // spec's.
  Run r = Submit("etl");
  auto run = store_->GetRun(r.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->spec.owner, "");
  EXPECT_EQ(run->spec.group, "");
}

TEST_P(StoreConformanceTest, ListsShowOnlyWhatAVisibilityAllows) {
  auto put = [&](const std::string& name, const std::string& owner, const std::string& group) {
    Definition d = MakeDefinition(name);
    d.owner = owner;
    d.group = group;
    ASSERT_TRUE(Ok(store_->PutDefinition(d, kT0)));
  };
  put("a-science", "ada", "science");
  put("b-ops", "bob", "ops");
  put("c-legacy-ada", "ada", "");
  put("d-legacy", "", "");
  auto names = [&](const Visibility& v) {
    std::vector<std::string> out;
    auto defs = store_->ListDefinitions(v);
    EXPECT_TRUE(Ok(defs));
    if (defs.ok()) {
      for (const auto& d : *defs) out.push_back(d.name);
    }
    return out;
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(names(Visibility{}), (Names{"a-science", "b-ops", "c-legacy-ada", "d-legacy"}));
  EXPECT_EQ(names(Visibility{false, {"science"}, "carol"}), (Names{"a-science"}));
  EXPECT_EQ(names(Visibility{false, {"science", "ops"}, ""}), (Names{"a-science", "b-ops"}));
  EXPECT_EQ(names(Visibility{false, {}, "ada"}), (Names{"a-science", "c-legacy-ada"}));
  EXPECT_EQ(names(Visibility{false, {}, ""}), Names{});
  EXPECT_EQ(store_->GetDefinition("c-legacy-ada")->owner, "ada");

  // Runs: the same rule, with the other filters and paging.
  auto submit = [&](const std::string& owner, const std::string& group) {
    NewRun n = MakeRun("listed");
    n.run.owner = owner;
    n.run.group = group;
    EXPECT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
    return n.run.id;
  };
  std::string s1 = submit("ada", "science");
  std::string o1 = submit("bob", "ops");
  std::string l1 = submit("ada", "");
  std::string s2 = submit("carol", "science");
  std::string l2 = submit("", "");
  auto ids = [&](RunFilter f) {
    std::vector<std::string> out;
    f.definition = "listed";
    while (true) {
      auto page = store_->ListRuns(f);
      EXPECT_TRUE(Ok(page));
      if (!page.ok()) return out;
      for (const auto& r : page->runs) out.push_back(r.id);
      if (page->next_cursor.empty()) return out;
      f.cursor = page->next_cursor;
    }
  };
  RunFilter all;
  EXPECT_EQ(ids(all), (Names{l2, s2, l1, o1, s1}));
  RunFilter science;
  science.visible = {false, {"science"}, "bob"};
  science.limit = 1;
  EXPECT_EQ(ids(science), (Names{s2, o1, s1}));
  RunFilter ada;
  ada.visible = {false, {}, "ada"};
  EXPECT_EQ(ids(ada), (Names{l1, s1}));
  RunFilter ada_in_ops;
  ada_in_ops.visible = {false, {"ops"}, "ada"};
  ada_in_ops.owner = "ada";
  EXPECT_EQ(ids(ada_in_ops), (Names{l1, s1}));
  RunFilter nobody;
  nobody.visible = {false, {}, ""};
  EXPECT_EQ(ids(nobody), Names{});
  auto run = store_->GetRun(s1);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->group, "science");
  EXPECT_EQ(run->owner, "ada");
}

TEST_P(StoreConformanceTest, SecretEnvIsKeptWithTheSpecAndItsRuns) {
  Definition d = MakeDefinition("secretive");
  d.secret_env = {{"PASSWORD", SecretEnv{"hunter2", "", ""}},
                  {"DB", SecretEnv{"", "db-creds", "password"}}};
  auto v1 = store_->PutDefinition(d, kT0);
  ASSERT_TRUE(Ok(v1));
  auto read = store_->GetDefinition("secretive");
  ASSERT_TRUE(Ok(read));
  EXPECT_EQ(read->secret_env, d.secret_env);
  // Unchanged: the same version. Another secret value: a new one.
  EXPECT_EQ(store_->PutDefinition(d, kT0 + kSec)->version, 1);
  d.secret_env["PASSWORD"].value = "correct horse";
  EXPECT_EQ(store_->PutDefinition(d, kT0 + 2 * kSec)->version, 2);

  NewRun n = MakeRun("secretive");
  n.run.spec.secret_env = d.secret_env;
  ASSERT_TRUE(Ok(store_->CreateRun(n.run, n.first)));
  auto run = store_->GetRun(n.run.id);
  ASSERT_TRUE(Ok(run));
  EXPECT_EQ(run->spec.secret_env, d.secret_env);
}

TEST_P(StoreConformanceTest, EventsNameWhoSubmittedAndWhoStopped) {
  Run r = Submit("hello");
  ASSERT_TRUE(Ok(store_->RequestStop(r.id, kT0 + kSec, "bob")));
  std::vector<Event> events = Events(r.id);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].type, "submitted");
  EXPECT_EQ(events[0].message,
            "submitted by 'ada' (group 'science'): definition 'hello' version 2");
  bool stop_named = false;
  for (const Event& e : events) {
    if (e.type == "stop_requested") stop_named = e.message == "stop requested by 'bob'";
  }
  EXPECT_TRUE(stop_named);
}

}  // namespace tug::store::conformance
