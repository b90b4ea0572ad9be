// The Flotilla v6 API under the same authentication and policy as API v1: no or bad credentials
// are 401 (with WWW-Authenticate), a caller without the right 403 naming what is missing, lists
// show only the caller's groups' tasks and runs, and refused changes reach the audit log.
#include "flotilla/flotilla_test_fixture.h"

namespace tug::flotilla::testing {
namespace {

class FlotillaAuthTest : public FlotillaTest {
 protected:
  void SetUp() override { Open(/*auth=*/true); }
};

TEST_F(FlotillaAuthTest, NoOrBadCredentialsAre401InFlotillasShape) {
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v6/task?limit=5&offset=0"},
           {"POST", "/api/v6/task"},
           {"GET", "/api/v6/history"},
           {"GET", "/api/v6/history/01jabc"},
           {"PUT", "/api/v6/task/a/execute"},
           {"DELETE", "/api/v6/task/a/history/01jabc"},
           {"GET", "/api/v6/01jabc/logs"},
           {"GET", "/api/v6/groups"},
           {"PUT", "/api/v6/01jabc/status"},
           {"GET", "/api/v6/history/01jabc/payload"},
           {"GET", "/api/v7/template"},
           {"POST", "/api/v7/template"},
           {"GET", "/api/v7/template/t"},
           {"PUT", "/api/v7/template/t/execute"},
           {"PUT",
            "/api/v7/template/name/t/version/1/"
            "execute"},
           {"GET", "/api/v7/template/t/history"},
           {"GET", "/api/v7/template/history/01j"},
           {"DELETE", "/api/v7/template/t/history/01j"}}) {
    SCOPED_TRACE(method + " " + target);
    for (const std::string& token : {std::string(), std::string("not-a-token")}) {
      auto r = Call(method, target, "{}", token);
      EXPECT_EQ(r.status, 401) << r.raw;
      EXPECT_FALSE(r.Error().empty()) << r.raw;  // {"error": "..."}
      EXPECT_EQ(r.www_authenticate, "Bearer realm=\"tugboat\"");
    }
  }
  // Refused changes are audited like v1's.
  bool audited = false;
  for (const auto& line : AuditLines()) {
    if (line.at("result") == json::value("unauthenticated") &&
        line.at("target") == json::value("POST /api/v6/task")) {
      audited = true;
    }
  }
  EXPECT_TRUE(audited);
}

TEST_F(FlotillaAuthTest, RolesAndGroupsDecideAsInV1) {
  // ada (user, science) creates and runs a science task; the owner is the caller.
  auto created = CreateTask("sci", R"(,"group_name":"science")", ada_);
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(created.Str("group_name"), "science");
  // Not in ops: creating a task there is 403 with the policy's reason.
  auto elsewhere = CreateTask("ops-task", R"(,"group_name":"ops")", ada_);
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.raw;
  EXPECT_NE(elsewhere.Error().find("ops"), std::string::npos) << elsewhere.raw;
  ASSERT_EQ(CreateTask("ops-task", R"(,"group_name":"ops")", bob_).status, 200);

  const std::string run = Execute("sci", "", ada_);
  ASSERT_FALSE(run.empty());
  auto got = Call("GET", "/api/v6/history/" + run, "", ada_);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.Str("user"), "ada");  // not run_tags.owner_id: the caller
  EXPECT_EQ(got.Str("group_name"), "science");

  // vic (viewer, science) reads but does not change.
  EXPECT_EQ(Call("GET", "/api/v6/task/sci", "", vic_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v6/history/" + run, "", vic_).status, 200);
  Execute("sci", "", vic_, 403);
  auto viewer_stop = Call("DELETE", "/api/v6/task/sci/history/" + run, "", vic_);
  EXPECT_EQ(viewer_stop.status, 403) << viewer_stop.raw;
  EXPECT_NE(viewer_stop.Error().find("viewer"), std::string::npos) << viewer_stop.raw;
  EXPECT_EQ(Call("PUT", "/api/v6/task/sci", R"({"image":"x"})", vic_).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v6/task/sci", "", vic_).status, 403);

  // bob (user, ops) sees neither science's tasks nor its runs.
  EXPECT_EQ(Call("GET", "/api/v6/task/sci", "", bob_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v6/history/" + run, "", bob_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v6/" + run + "/logs", "", bob_).status, 403);
  auto bob_tasks = Call("GET", "/api/v6/task?limit=5&offset=0", "", bob_);
  ASSERT_EQ(bob_tasks.status, 200);
  EXPECT_EQ(bob_tasks.object().at("total"), json::value(1));
  EXPECT_EQ(bob_tasks.object().at("definitions").at(0).at("alias"), json::value("ops-task"));
  auto bob_history = Call("GET", "/api/v6/history", "", bob_);
  EXPECT_EQ(bob_history.object().at("total"), json::value(0));
  EXPECT_EQ(Call("GET", "/api/v6/groups", "", bob_).object().at("groups"), (json::array{"ops"}));
  Execute("sci", "", bob_, 403);
  EXPECT_EQ(Call("DELETE", "/api/v6/task/sci/history/" + run, "", bob_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v6/history/" + run, "", ada_).Str("status"), "QUEUED");

  // ada sees her group's run listed, and stops it.
  auto ada_history = Call("GET", "/api/v6/history?status=QUEUED", "", ada_);
  EXPECT_EQ(ada_history.object().at("total"), json::value(1));
  EXPECT_EQ(Call("DELETE", "/api/v6/task/sci/history/" + run, "", ada_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v6/history/" + run, "", ada_).Str("status"), "STOPPED");
  // The admin sees everything.
  EXPECT_EQ(Call("GET", "/api/v6/task", "", admin_).object().at("total"), json::value(2));

  // The refusals of changes, and the changes, are in the audit log.
  int denied = 0;
  bool stop_audited = false;
  for (const auto& line : AuditLines()) {
    if (line.at("result") == json::value("denied")) ++denied;
    if (line.at("action") == json::value("stop_run") &&
        line.at("target") == json::value("run/" + run)) {
      stop_audited = true;
    }
  }
  EXPECT_GE(denied, 5);
  EXPECT_TRUE(stop_audited);
}

TEST_F(FlotillaAuthTest, TemplatesFollowTheSamePolicy) {
  const std::string body =
      R"({"template_name":"sci-tpl","schema":{"type":"object","properties":{"n":)"
      R"({"type":"string"}}},"command_template":"echo {{.n}}","image":"i","memory":64})";
  // A viewer may not create (403); ada creates in her group; bob (ops) does not see it.
  EXPECT_EQ(Call("POST", "/api/v7/template", body, vic_).status, 403);
  auto created = Call("POST", "/api/v7/template", body, ada_);
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(Call("GET", "/api/v7/template/sci-tpl", "", ada_).status, 200);
  auto hidden = Call("GET", "/api/v7/template/sci-tpl", "", bob_);
  EXPECT_NE(hidden.status, 200) << hidden.raw;
  auto listed = Call("GET", "/api/v7/template", "", bob_);
  ASSERT_EQ(listed.status, 200) << listed.raw;
  EXPECT_EQ(listed.object().at("total"), json::value(0));
  // bob may not run it; the viewer may read but not execute.
  const std::string exec = R"({"owner_id":"x","template_payload":{"n":"a"}})";
  EXPECT_NE(Call("PUT", "/api/v7/template/sci-tpl/execute", exec, bob_).status, 200);
  EXPECT_EQ(Call("PUT", "/api/v7/template/sci-tpl/execute", exec, vic_).status, 403);
  auto run = Call("PUT", "/api/v7/template/sci-tpl/execute", exec, ada_);
  ASSERT_EQ(run.status, 200) << run.raw;
  EXPECT_EQ(run.Str("user"), "ada");
}

}  // namespace
}  // namespace tug::flotilla::testing
