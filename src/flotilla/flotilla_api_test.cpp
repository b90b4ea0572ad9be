// Flotilla v6 requests replayed through the real routes (authentication off), checking the
// answers Flotilla's handlers give: flotilla/endpoints_test.go's requests and expectations
// (status 200, Content-Type "application/json; charset=utf-8", the keys of each answer),
// endpoints.go encodeError's {"error": ...} and statuses, and the messages of
// services/definition.go, services/execution.go and state/pg_state_manager.go.
#include <fstream>

#include "core/clock.h"
#include "flotilla/flotilla_test_fixture.h"

namespace tug::flotilla::testing {
namespace {

constexpr const char* kJson = "application/json; charset=utf-8";

class FlotillaApiTest : public FlotillaTest {
 protected:
  void SetUp() override { Open(/*auth=*/false); }
};

TEST_F(FlotillaApiTest, CreateGetUpdateDeleteTasks) {
  // endpoints_test.go TestEndpoints_CreateDefinition
  auto created = Call("POST", "/api/v6/task",
                      R"({"alias":"cupcake", "memory":100, "group_name":"cupcake", )"
                      R"("image":"someimage", "command":"echo 'hi'"})");
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(created.content_type, kJson);
  EXPECT_EQ(created.raw.back(), '\n');  // json.Encoder ends what it writes with a newline
  EXPECT_EQ(created.raw,
            R"({"env":[],"definition_id":"cupcake","group_name":"cupcake","alias":"cupcake",)"
            R"("command":"echo 'hi'","image":"someimage","memory":100,"ports":[],"tags":[]})"
            "\n");

  // services/definition.go Create: a taken alias is a ConflictingResource (409), its spelling.
  auto again = CreateTask("cupcake");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.raw, R"({"error":"definition with alias [cupcake] aleady exists"})"
                       "\n");
  // state/models.go IsValid: MalformedInput (400).
  auto invalid = Call("POST", "/api/v6/task", R"({"command":"echo"})");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.Error(), "string [image] must be specified\nstring [alias] must be specified");
  auto malformed = Call("POST", "/api/v6/task", "{\"alias\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_FALSE(malformed.Error().empty());

  // TestEndpoints_GetDefinition, TestEndpoints_GetDefinitionByAlias: env is never null.
  for (const char* target : {"/api/v6/task/cupcake", "/api/v6/task/alias/cupcake"}) {
    SCOPED_TRACE(target);
    auto got = Call("GET", target);
    ASSERT_EQ(got.status, 200) << got.raw;
    EXPECT_EQ(got.content_type, kJson);
    EXPECT_EQ(got.Str("definition_id"), "cupcake");
    EXPECT_TRUE(got.object().at("env").is_array());
  }
  // pg_state_manager.go GetDefinition / GetDefinitionByAlias: MissingResource (404).
  EXPECT_EQ(Call("GET", "/api/v6/task/nope").raw, R"({"error":"Definition with ID nope not found"})"
                                                  "\n");
  EXPECT_EQ(Call("GET", "/api/v6/task/nope").status, 404);
  EXPECT_EQ(Call("GET", "/api/v6/task/alias/nope").Error(), "Definition with alias nope not found");

  // TestEndpoints_UpdateDefinition: only what the body carries changes.
  auto updated = Call("PUT", "/api/v6/task/cupcake", R"({"image":"updatedImage"})");
  ASSERT_EQ(updated.status, 200) << updated.raw;
  EXPECT_EQ(updated.Str("image"), "updatedImage");
  EXPECT_EQ(updated.Str("command"), "echo 'hi'");
  EXPECT_EQ(updated.object().at("memory"), json::value(100));
  // The same definition, a new version, through v1.
  auto v1 = Call("GET", "/api/v1/definitions/cupcake");
  EXPECT_EQ(v1.object().at("version"), json::value(2));
  EXPECT_EQ(v1.Str("image"), "updatedImage");
  EXPECT_EQ(Call("PUT", "/api/v6/task/nope", R"({"image":"x"})").status, 404);
  EXPECT_EQ(Call("PUT", "/api/v6/task/cupcake", R"({"alias":"renamed"})").status, 400);

  // TestEndpoints_DeleteDefinition
  auto deleted = Call("DELETE", "/api/v6/task/cupcake");
  ASSERT_EQ(deleted.status, 200) << deleted.raw;
  EXPECT_EQ(deleted.raw, R"({"deleted":true})"
                         "\n");
  EXPECT_EQ(Call("GET", "/api/v6/task/cupcake").status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v6/task/cupcake").status, 404);
}

TEST_F(FlotillaApiTest, ListTasksWithTotalFiltersOrderAndPages) {
  for (const char* alias : {"delta", "alpha", "charlie", "bravo"}) {
    ASSERT_EQ(CreateTask(alias, alias[0] == 'a' || alias[0] == 'c' ? R"(,"group_name":"science")"
                                                                   : R"(,"group_name":"ops")")
                  .status,
              200);
  }
  // The issue's check: total and definitions.
  auto page = Call("GET", "/api/v6/task?limit=5&offset=0");
  ASSERT_EQ(page.status, 200) << page.raw;
  EXPECT_EQ(page.content_type, kJson);
  EXPECT_EQ(page.object().at("total"), json::value(4));
  EXPECT_EQ(page.object().at("definitions").as_array().size(), 4u);

  // endpoints_test.go TestEndpoints_ListDefinitions: the request and the keys it expects.
  auto listed = Call(
      "GET",
      "/api/v6/task?limit=100&offset=0&sort_by=alias&order=desc&group_name=science&env=E1%7CV1");
  ASSERT_EQ(listed.status, 200) << listed.raw;
  for (const char* key : {"total", "definitions", "limit", "offset", "sort_by", "order",
                          "group_name", "env_filters"}) {
    EXPECT_TRUE(listed.object().contains(key)) << key;
  }
  EXPECT_EQ(listed.object().at("env_filters").at("E1"), json::value("V1"));
  EXPECT_EQ(listed.object().at("total"), json::value(0));  // no task has E1=V1

  listed = Call("GET", "/api/v6/task?sort_by=alias&order=desc&group_name=science");
  EXPECT_EQ(listed.raw.rfind(R"({"definitions":[{"env":[],"definition_id":"charlie",)", 0), 0u)
      << listed.raw;
  std::vector<std::string> aliases;
  for (const auto& d : listed.object().at("definitions").as_array()) {
    aliases.emplace_back(d.at("alias").as_string());
  }
  EXPECT_EQ(aliases, (std::vector<std::string>{"charlie", "alpha"}));
  EXPECT_EQ(listed.object().at("group_name"), (json::array{"science"}));

  listed = Call("GET", "/api/v6/task?sort_by=alias&limit=2&offset=1");
  EXPECT_EQ(listed.object().at("total"), json::value(4));
  ASSERT_EQ(listed.object().at("definitions").as_array().size(), 2u);
  EXPECT_EQ(listed.object().at("definitions").at(0).at("alias"), json::value("bravo"));

  // pg_state_manager.go orderBy: its errors are untyped, so encodeError answers 500.
  auto bad = Call("GET", "/api/v6/task?sort_by=cpu");
  EXPECT_EQ(bad.status, 500);
  EXPECT_EQ(bad.Error(),
            "Invalid field to order by [cpu], must be one of [alias, image, group_name, memory]");
  EXPECT_EQ(Call("GET", "/api/v6/task?order=sideways").status, 500);
}

TEST_F(FlotillaApiTest, ExecuteByIdAndAliasAndReadTheRun) {
  ASSERT_EQ(CreateTask("A").status, 400);  // upper case is no Tugboat name
  ASSERT_EQ(CreateTask("a", R"(,"env":[{"name":"FROM_DEF","value":"1"}])").status, 200);
  // endpoints_test.go TestEndpoints_CreateRun4 (v6 execute is CreateRunV4)
  auto run = Call("PUT", "/api/v6/task/a/execute",
                  R"({"cluster":"cupcake", "env":[{"name":"E1","value":"V1"}], )"
                  R"("run_tags":{"owner_id":"flotilla"}, "labels": {"foo": "bar"}})");
  ASSERT_EQ(run.status, 200) << run.raw;
  EXPECT_EQ(run.content_type, kJson);
  const std::string id = run.Str("run_id");
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(run.Str("status"), "QUEUED");
  EXPECT_EQ(run.Str("user"), "flotilla");
  EXPECT_EQ(run.object().at("labels"), (json::object{{"foo", "bar"}}));
  EXPECT_EQ(run.object().at("env"),
            (json::array{json::object{{"name", "E1"}, {"value", "V1"}},
                         json::object{{"name", "FLOTILLA_RUN_ID"}, {"value", id}},
                         json::object{{"name", "FLOTILLA_RUN_OWNER_ID"}, {"value", "flotilla"}}}));
  EXPECT_TRUE(run.object().at("instance").is_object());

  // TestEndpoints_GetRun / GetRun2 on each route that reads one run.
  for (const std::string& target :
       {"/api/v6/history/" + id, "/api/v6/task/history/" + id, "/api/v6/task/a/history/" + id}) {
    SCOPED_TRACE(target);
    auto got = Call("GET", target);
    ASSERT_EQ(got.status, 200) << got.raw;
    EXPECT_EQ(got.Str("run_id"), id);
    EXPECT_TRUE(got.object().at("instance").is_object());
    EXPECT_EQ(got.Str("definition_id"), "a");
  }
  EXPECT_EQ(Call("GET", "/api/v6/history/01jzzzzzzzzzzzzzzzzzzzzzzz").raw,
            R"({"error":"Run with id 01jzzzzzzzzzzzzzzzzzzzzzzz not found"})"
            "\n");
  // The run's spec, through v1: the definition's env, the request's, and Flotilla's own.
  auto v1 = Call("GET", "/api/v1/runs/" + id);
  ASSERT_EQ(v1.status, 200) << v1.raw;
  EXPECT_EQ(v1.object().at("spec").at("env").at("FROM_DEF"), json::value("1"));
  EXPECT_EQ(v1.object().at("spec").at("env").at("FLOTILLA_RUN_ID"), json::value(id));
  EXPECT_EQ(v1.Str("owner"), "flotilla");

  // TestEndpoints_CreateRunByAlias
  auto by_alias = Call("PUT", "/api/v6/task/alias/a/execute",
                       R"({"cluster":"cupcake", "env":[{"name":"E1","value":"V1"}], )"
                       R"("run_tags":{"owner_id":"flotilla"}, "command":"echo overridden", )"
                       R"("memory":256, "cpu":250, "node_lifecycle":"ondemand"})");
  ASSERT_EQ(by_alias.status, 200) << by_alias.raw;
  EXPECT_EQ(by_alias.Str("command"), "echo overridden");
  EXPECT_EQ(by_alias.object().at("memory"), json::value(256));
  EXPECT_EQ(by_alias.object().at("cpu"), json::value(250));
  EXPECT_EQ(by_alias.Str("node_lifecycle"), "ondemand");

  // endpoints.go CreateRunV4's checks, then the definition lookup.
  auto no_owner = Call("PUT", "/api/v6/task/a/execute", R"({"env":[]})");
  EXPECT_EQ(no_owner.status, 400);
  EXPECT_EQ(no_owner.Error(), "run_tags must exist in body and contain [owner_id]");
  EXPECT_EQ(Call("PUT", "/api/v6/task/a/execute",
                 R"({"run_tags":{"owner_id":"x"},"node_lifecycle":"normal"})")
                .Error(),
            "Nodelifecyle must be [normal, spot]");
  auto missing = Call("PUT", "/api/v6/task/nope/execute", R"({"run_tags":{"owner_id":"x"}})");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Error(), "Definition with ID nope not found");
  EXPECT_EQ(
      Call("PUT", "/api/v6/task/alias/nope/execute", R"({"run_tags":{"owner_id":"x"}})").Error(),
      "Definition with alias nope not found");
  // More memory than the server allows: Tugboat's check, Flotilla's status for bad input.
  auto huge =
      Call("PUT", "/api/v6/task/a/execute", R"({"run_tags":{"owner_id":"x"},"memory":900000000})");
  EXPECT_EQ(huge.status, 400) << huge.raw;
  EXPECT_NE(huge.Error().find("exceeds the largest allowed"), std::string::npos) << huge.raw;
}

TEST_F(FlotillaApiTest, IdempotenceKeyGivesTheEarlierRun) {
  ASSERT_EQ(CreateTask("nightly").status, 200);
  const std::string first = Execute("nightly", R"(,"idempotence_key":"2026-11-24")");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(Execute("nightly", R"(,"idempotence_key":"2026-11-24")"), first);
  const std::string other = Execute("nightly", R"(,"idempotence_key":"2026-11-25")");
  EXPECT_NE(other, first);
  // A stopped run (exit code 1) does not count: services/execution.go's query wants exit code 0
  // or none.
  ASSERT_EQ(Call("DELETE", "/api/v6/task/nightly/history/" + first).status, 200);
  const std::string again = Execute("nightly", R"(,"idempotence_key":"2026-11-24")");
  EXPECT_NE(again, first);
  EXPECT_FALSE(again.empty());
}

TEST_F(FlotillaApiTest, HistoryListsWithStatusFilters) {
  ASSERT_EQ(CreateTask("a").status, 200);
  ASSERT_EQ(CreateTask("b").status, 200);
  const std::string a1 = Execute("a");
  const std::string a2 = Execute("a", R"(,"env":[{"name":"E1","value":"V1"}])");
  const std::string b1 = Execute("b");
  ASSERT_EQ(Call("DELETE", "/api/v6/task/a/history/" + a1).status, 200);

  // endpoints_test.go TestEndpoints_ListRuns: its query and the keys it expects.
  auto listed = Call("GET",
                     "/api/v6/history?status=RUNNING&status=QUEUED&limit=100&offset=0&"
                     "sort_by=started_at&order=desc&cluster=local&env=E1%7CV1");
  ASSERT_EQ(listed.status, 200) << listed.raw;
  EXPECT_EQ(listed.content_type, kJson);
  for (const char* key : {"total", "history", "limit", "offset", "sort_by", "order", "cluster",
                          "env_filters", "status"}) {
    EXPECT_TRUE(listed.object().contains(key)) << key;
  }
  EXPECT_EQ(listed.object().at("status"), (json::array{"RUNNING", "QUEUED"}));
  EXPECT_EQ(listed.object().at("total"), json::value(1));
  EXPECT_EQ(listed.object().at("history").at(0).at("run_id"), json::value(a2));

  auto ids = [&](const std::string& target) {
    auto r = Call("GET", target);
    EXPECT_EQ(r.status, 200) << r.raw;
    std::vector<std::string> out;
    if (r.status != 200) return out;
    for (const auto& h : r.object().at("history").as_array()) {
      out.emplace_back(h.at("run_id").as_string());
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids("/api/v6/history?sort_by=run_id&order=desc"), (Ids{b1, a2, a1}));
  EXPECT_EQ(ids("/api/v6/history?status=STOPPED"), (Ids{a1}));
  EXPECT_EQ(ids("/api/v6/history?status=QUEUED&sort_by=run_id&order=asc"), (Ids{a2, b1}));
  EXPECT_EQ(ids("/api/v6/history?status=PENDING"), (Ids{}));
  EXPECT_EQ(ids("/api/v6/history?alias=a&sort_by=run_id"), (Ids{a1, a2}));
  EXPECT_EQ(ids("/api/v6/history?sort_by=run_id&limit=1&offset=1"), (Ids{a2}));
  EXPECT_EQ(ids("/api/v6/history?queued_at_since=2000-01-01T00:00:00Z&sort_by=run_id"),
            (Ids{a1, a2, b1}));
  EXPECT_EQ(ids("/api/v6/history?queued_at_until=2000-01-01T00:00:00Z"), (Ids{}));

  // A task's history: its definition_id echoed (endpoints.go ListDefinitionRuns).
  auto of_a = Call("GET", "/api/v6/task/a/history?sort_by=run_id");
  ASSERT_EQ(of_a.status, 200) << of_a.raw;
  EXPECT_EQ(of_a.object().at("definition_id"), (json::array{"a"}));
  EXPECT_EQ(of_a.object().at("total"), json::value(2));
  EXPECT_EQ(Call("GET", "/api/v6/task/nope/history").Error(), "Definition with ID nope not found");

  // services/execution.go List: an unknown status is MalformedInput (400).
  auto bad = Call("GET", "/api/v6/history?status=SUCCEEDED");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Error(), "invalid status [SUCCEEDED]");
  auto bad_sort = Call("GET", "/api/v6/history?sort_by=alias");
  EXPECT_EQ(bad_sort.status, 500);
  EXPECT_EQ(bad_sort.Error(),
            "Invalid field to order by [alias], must be one of [run_id, cluster_name, status, "
            "started_at, finished_at, group_name]");
}

TEST_F(FlotillaApiTest, StopRunsAndTheirChildren) {
  ASSERT_EQ(CreateTask("parent").status, 200);
  ASSERT_EQ(CreateTask("child").status, 200);
  const std::string parent = Execute("parent");
  const std::string child =
      Execute("child", R"(,"env":[{"name":"PARENT_FLOTILLA_RUN_ID","value":")" + parent + "\"}]");
  const std::string grandchild =
      Execute("child", R"(,"env":[{"name":"PARENT_FLOTILLA_RUN_ID","value":")" + child + "\"}]");
  const std::string other = Execute("child");
  // The Flotilla parent is also API v1's lineage.
  EXPECT_EQ(api_->store().GetRun(child)->parent_run_id, parent);
  EXPECT_EQ(api_->store().GetRun(grandchild)->parent_run_id, child);
  EXPECT_EQ(api_->store().GetRun(other)->parent_run_id, "");

  // endpoints_test.go TestEndpoints_StopRun
  auto stopped = Call("DELETE", "/api/v6/task/parent/history/" + parent);
  ASSERT_EQ(stopped.status, 200) << stopped.raw;
  EXPECT_EQ(stopped.raw, R"({"terminated":true})"
                         "\n");
  for (const std::string& id : {parent, child, grandchild}) {
    auto run = Call("GET", "/api/v6/history/" + id);
    EXPECT_EQ(run.Str("status"), "STOPPED") << id;
    EXPECT_EQ(run.object().at("exit_code"), json::value(1)) << id;
  }
  EXPECT_EQ(Call("GET", "/api/v6/history/" + other).Str("status"), "QUEUED");
  // endpoints.go StopRun answers {"terminated": true} whatever happened: an ended run, none.
  EXPECT_EQ(Call("DELETE", "/api/v6/task/parent/history/" + parent).status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v6/task/x/history/01jzzzzzzzzzzzzzzzzzzzzzzz").raw,
            R"({"terminated":true})"
            "\n");
}

TEST_F(FlotillaApiTest, LogsPageWithLastSeen) {
  ASSERT_EQ(CreateTask("chatty").status, 200);
  const std::string id = Execute("chatty");
  // Before anything ran: an empty log and the token given back.
  auto none = Call("GET", "/api/v6/" + id + "/logs?last_seen=7");
  ASSERT_EQ(none.status, 200) << none.raw;
  EXPECT_EQ(none.raw, R"({"last_seen":"7","log":""})"
                      "\n");
  // What an engine writes: 300 lines in the log store's format.
  auto path = api_->api().logs().PathFor(id, id + "-1", "main");
  ASSERT_TRUE(path.ok());
  {
    std::ofstream out(*path);
    for (int i = 1; i <= 300; ++i) {
      out << FormatTimestamp(SystemClock::Instance().Now()) << " stdout line " << i << "\n";
    }
  }
  // At most 256 lines an answer (state/models.go MaxLogLines), then the rest from last_seen.
  auto first = Call("GET", "/api/v6/" + id + "/logs");
  ASSERT_EQ(first.status, 200) << first.raw;
  std::string log = first.Str("log");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 256);
  EXPECT_EQ(log.substr(0, 7), "line 1\n");
  auto second = Call("GET", "/api/v6/" + id + "/logs?last_seen=" + first.Str("last_seen"));
  log = second.Str("log");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 44);
  EXPECT_EQ(log.substr(0, 9), "line 257\n");
  auto third = Call("GET", "/api/v6/" + id + "/logs?last_seen=" + second.Str("last_seen"));
  EXPECT_EQ(third.Str("log"), "");
  EXPECT_EQ(third.Str("last_seen"), second.Str("last_seen"));
  // raw_text=true: the whole log as text.
  auto raw = Call("GET", "/api/v6/" + id + "/logs?raw_text=true");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(std::count(raw.raw.begin(), raw.raw.end(), '\n'), 300);
  EXPECT_EQ(Call("GET", "/api/v6/nope/logs").status, 404);

  // The run's timeline as pod events (state/models.go PodEventList).
  auto events = Call("GET", "/api/v6/" + id + "/events");
  ASSERT_EQ(events.status, 200) << events.raw;
  EXPECT_EQ(events.raw.substr(0, 9), R"({"total":)");
  ASSERT_FALSE(events.object().at("pod_events").as_array().empty());
  EXPECT_EQ(events.object().at("pod_events").at(0).at("reason"), json::value("submitted"));
}

TEST_F(FlotillaApiTest, GroupsTagsAndClusters) {
  ASSERT_EQ(CreateTask("a", R"(,"group_name":"science","tags":["etl","nightly"])").status, 200);
  ASSERT_EQ(CreateTask("b", R"(,"group_name":"ops","tags":["etl"])").status, 200);
  // endpoints_test.go TestEndpoints_GetGroups / GetTags: total, and a list.
  auto groups = Call("GET", "/api/v6/groups");
  ASSERT_EQ(groups.status, 200) << groups.raw;
  EXPECT_EQ(groups.raw, R"({"groups":["ops","science"],"limit":1024,"offset":0,"total":2})"
                        "\n");
  EXPECT_EQ(Call("GET", "/api/v6/groups?name=sci&limit=10000&offset=0").object().at("groups"),
            (json::array{"science"}));
  auto tags = Call("GET", "/api/v6/tags?offset=0&limit=10000");
  ASSERT_EQ(tags.status, 200) << tags.raw;
  EXPECT_EQ(tags.object().at("tags"), (json::array{"etl", "nightly"}));
  EXPECT_EQ(tags.object().at("total"), json::value(2));
  EXPECT_EQ(Call("GET", "/api/v6/task/a").object().at("tags"), (json::array{"etl", "nightly"}));
  auto clusters = Call("GET", "/api/v6/clusters");
  ASSERT_EQ(clusters.status, 200) << clusters.raw;
  EXPECT_EQ(clusters.raw, R"({"clusters":["local"]})"
                          "\n");
}

TEST_F(FlotillaApiTest, StatusReportsAreNotServed) {
  auto r = Call("PUT", "/api/v6/01jabc/status", R"({"status":"STOPPED"})");
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.Error().find("not served"), std::string::npos) << r.raw;
}

class FlotillaOffTest : public FlotillaTest {
 protected:
  void SetUp() override { Open(/*auth=*/false, /*v6=*/false); }
};

TEST_F(FlotillaOffTest, NotServedUnlessEnabled) {
  EXPECT_EQ(Call("GET", "/api/v6/task?limit=5&offset=0").status, 404);
  EXPECT_EQ(Call("GET", "/api/v7/template").status, 404);
  EXPECT_EQ(Call("PUT", "/api/v7/template/t/execute", "{}").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/definitions").status, 200);
}

}  // namespace
}  // namespace tug::flotilla::testing
