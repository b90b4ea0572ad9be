// Flotilla's JSON shapes, request parsing, filters and ordering, table by table. The fixtures
// come from stitchfix/flotilla-os: state/models.go (Definition and Run MarshalJSON, statuses),
// flotilla/endpoints.go (decodeListRequest, LaunchRequestV2, CreateRunV4's checks),
// flotilla/endpoints_test.go (the request bodies and query strings it replays),
// services/definition.go and services/execution.go (messages), state/pg_state_manager.go
// (orderBy, makeWhereClause) and ui/src/helpers/FlotillaClient.ts (what the web UI sends).
#include "flotilla/flotilla_json.h"
#include "flotilla/flotilla_lists.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/json.h"
#include "flotilla/flotilla_json_testing.h"

namespace json = boost::json;

namespace tug::flotilla {
namespace {

using json_testing::Keys;
using json_testing::Parse;

constexpr Micros kT = Micros{1'700'000'000} * kMicrosPerSecond;

TEST(FlotillaJsonTest, DefinitionAsFlotillaWritesIt) {
  // state/models.go Definition.MarshalJSON: env first, then the fields in declaration order,
  // the empty ones (omitempty) left out; memory in MB ("%dM" in eks_adapter.go), cpu in
  // millicores.
  Definition d;
  d.name = "hello";
  d.group = "science";
  d.image = "ubuntu:22.04";
  d.command = "echo hi";
  d.env = {{"B", "2"}, {"A", "1"}};
  d.secret_env["PASSWORD"] = SecretEnv{"hunter2", "", ""};
  d.resources.memory_bytes = 512'000'000;
  d.resources.cpu_millis = 256;
  d.labels["flotilla/tags"] = R"(["etl","nightly"])";
  EXPECT_EQ(json::serialize(DefinitionJson(d)),
            R"({"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],)"
            R"("definition_id":"hello","group_name":"science","alias":"hello",)"
            R"("command":"echo hi","image":"ubuntu:22.04","memory":512,"cpu":256,"ports":[],)"
            R"("tags":["etl","nightly"]})");

  // Nothing set: env is [] (never null, MarshalJSON), group_name and command are left out.
  Definition bare;
  bare.name = "bare";
  bare.args = {"/bin/true"};
  bare.resources.memory_bytes = int64_t{64} << 20;  // 67.1 MB: rounded up
  bare.adapt.rightsizing = "apply";
  EXPECT_EQ(json::serialize(DefinitionJson(bare)),
            R"({"env":[],"definition_id":"bare","alias":"bare","command":"/bin/true",)"
            R"("image":"","memory":68,"adaptive_resource_allocation":true,"ports":[],"tags":[]})");
}

TEST(FlotillaJsonTest, CreateBodiesAsFlotillaChecksThem) {
  // endpoints_test.go TestEndpoints_CreateDefinition
  auto def = DefinitionFromCreate(Parse(
      R"({"alias":"cupcake", "memory":100, "group_name":"cupcake", "image":"someimage", "command":"echo 'hi'"})"));
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->name, "cupcake");
  EXPECT_EQ(def->group, "cupcake");
  EXPECT_EQ(def->image, "someimage");
  EXPECT_EQ(def->command, "echo 'hi'");
  EXPECT_EQ(def->resources.memory_bytes, 100'000'000);

  // ui/src/types.ts CreateTaskPayload: env, tags; Go's decoder ignores what it does not know and
  // matches keys without regard to case.
  def = DefinitionFromCreate(Parse(
      R"({"alias":"etl","IMAGE":"python:3.11","command":"python -V","cpu":512,"tags":["x",""],)"
      R"("env":[{"name":"$A B","value":"1"}],"privileged":false,"unknown":{"x":1}})"));
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->image, "python:3.11");
  EXPECT_EQ(def->resources.cpu_millis, 512);
  EXPECT_EQ(def->env, (std::map<std::string, std::string>{{"AB", "1"}}));  // sanitizeEnvVar
  EXPECT_EQ(def->labels.at("flotilla/tags"), R"(["x"])");

  struct Case {
    const char* body;
    const char* message;  // a part of it
  };
  for (const Case& c : {
           // state/models.go Definition.IsValid, reasons joined by newlines
           Case{R"({"command":"echo"})",
                "string [image] must be specified\nstring [alias] must be specified"},
           Case{R"({"alias":"a"})", "string [image] must be specified"},
           Case{R"({"image":"i"})", "string [alias] must be specified"},
           Case{R"({"alias":"a","image":"i","memory":"lots"})", "of type int64"},
           Case{R"({"alias":"a","image":"i","gpu":-1})", "gpu -1 is negative"},
           Case{R"({"alias":"a","image":"i","ports":[8080]})", "ports have no equivalent"},
           Case{R"({"alias":"Hello World","image":"i"})", "also the task's name in Tugboat"},
           Case{R"([1,2])", "send a JSON object"},
       }) {
    SCOPED_TRACE(c.body);
    auto r = DefinitionFromCreate(Parse(c.body));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
  }
}

TEST(FlotillaJsonTest, UpdatesReplaceOnlyWhatTheyCarry) {
  // state/models.go Definition.UpdateWith; endpoints_test.go TestEndpoints_UpdateDefinition
  Definition current;
  current.name = "a";
  current.group = "g";
  current.image = "old";
  current.args = {"/bin/true"};
  current.env = {{"K", "v"}};
  current.secret_env["S"] = SecretEnv{"s3cret", "", ""};
  current.resources.memory_bytes = 512'000'000;
  auto def = DefinitionFromUpdate(Parse(R"({"image":"updatedImage"})"), current);
  ASSERT_TRUE(def.ok()) << def.error().message();
  Definition expected = current;
  expected.image = "updatedImage";
  EXPECT_EQ(*def, expected);

  def = DefinitionFromUpdate(
      Parse(
          R"({"command":"echo 2","memory":1024,"env":[{"name":"S","value":"plain"}],"alias":"a"})"),
      current);
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->command, "echo 2");
  EXPECT_TRUE(def->args.empty());
  EXPECT_EQ(def->resources.memory_bytes, 1'024'000'000);
  EXPECT_EQ(def->env, (std::map<std::string, std::string>{{"S", "plain"}}));
  EXPECT_TRUE(def->secret_env.empty());  // a plain value replaces the secret of that name

  auto renamed = DefinitionFromUpdate(Parse(R"({"alias":"b"})"), current);
  ASSERT_FALSE(renamed.ok());
  EXPECT_NE(renamed.error().message().find("alias cannot change"), std::string::npos);
}

Run MakeRun(RunStatus status) {
  Run r;
  r.id = "01jabc";
  r.owner = "ada";
  r.group = "science";
  r.definition = "hello";
  r.status = status;
  r.spec.name = "hello";
  r.spec.image = "ubuntu:22.04";
  r.spec.command = "echo hi";
  r.spec.resources.memory_bytes = 256'000'000;
  r.spec.resources.cpu_millis = 500;
  r.spec.timeout_seconds = 600;
  r.spec.labels = {{"team", "ds"}, {"flotilla/owner_id", "ada@example.com"}};
  r.overrides.env = {{"FLOTILLA_RUN_ID", "01jabc"}};
  r.created_at = kT;
  r.attempt_count = 1;
  return r;
}

TEST(FlotillaJsonTest, RunAsFlotillaWritesIt) {
  // state/models.go Run.MarshalJSON: instance, pod_events, cloudtrail_notifications and
  // spark_extension first, then Run's fields in declaration order without the empty ones.
  tug::Run r = MakeRun(RunStatus::kSucceeded);
  r.started_at = kT + 2 * kMicrosPerSecond;
  r.ended_at = kT + 3 * kMicrosPerSecond + 500'000;
  r.outcome = Outcome{0, "Completed", "exited with code 0"};
  Attempt a;
  a.id = "01jabc-1";
  a.engine = "local";
  a.resources.memory_bytes = 384'000'000;
  a.resources.cpu_millis = 500;
  a.placement.capacity = "on-demand";
  a.peak_memory_bytes = 12'500'000;
  r.attempts = {a};
  json::object o = RunJson(r, EngineContext{});
  EXPECT_EQ(Keys(o), (std::vector<std::string>{"instance",
                                               "pod_events",
                                               "cloudtrail_notifications",
                                               "spark_extension",
                                               "run_id",
                                               "definition_id",
                                               "alias",
                                               "image",
                                               "cluster",
                                               "exit_code",
                                               "status",
                                               "queued_at",
                                               "started_at",
                                               "finished_at",
                                               "group_name",
                                               "user",
                                               "task_type",
                                               "env",
                                               "command",
                                               "memory",
                                               "memory_limit",
                                               "cpu",
                                               "cpu_limit",
                                               "exit_reason",
                                               "engine",
                                               "node_lifecycle",
                                               "max_memory_used",
                                               "executable_id",
                                               "executable_type",
                                               "attempt_count",
                                               "active_deadline_seconds",
                                               "description",
                                               "labels"}));
  EXPECT_EQ(json::serialize(o),
            R"({"instance":{"dns_name":"","instance_id":""},"pod_events":[],)"
            R"("cloudtrail_notifications":{"Records":null},"spark_extension":{},)"
            R"("run_id":"01jabc","definition_id":"hello","alias":"hello",)"
            R"("image":"ubuntu:22.04","cluster":"local","exit_code":0,"status":"STOPPED",)"
            R"("queued_at":"2023-11-14T22:13:20Z","started_at":"2023-11-14T22:13:22Z",)"
            R"("finished_at":"2023-11-14T22:13:23.5Z","group_name":"science","user":"ada",)"
            R"("task_type":"task","env":[{"name":"FLOTILLA_RUN_ID","value":"01jabc"}],)"
            R"("command":"echo hi","memory":384,"memory_limit":384,"cpu":500,"cpu_limit":500,)"
            R"("exit_reason":"exited with code 0","engine":"eks","node_lifecycle":"ondemand",)"
            R"("max_memory_used":13,"executable_id":"hello","executable_type":"task_definition",)"
            R"("attempt_count":1,"active_deadline_seconds":600,"description":"hello",)"
            R"("labels":{"team":"ds"}})");
}

TEST(FlotillaJsonTest, StatusesAndExitCodes) {
  // Flotilla's lifecycle is QUEUED → PENDING → RUNNING → STOPPED (NEEDS_RETRY between tries);
  // success is STOPPED with exit code 0 (ui/src/helpers/getEnhancedRunStatus.ts).
  struct Case {
    RunStatus status;
    std::optional<Outcome> outcome;
    const char* flotilla;
    std::optional<int64_t> exit_code;
    const char* exit_reason;
  };
  for (const Case& c : {
           Case{RunStatus::kQueued, std::nullopt, "QUEUED", std::nullopt, nullptr},
           Case{RunStatus::kRunning, std::nullopt, "RUNNING", std::nullopt, nullptr},
           Case{RunStatus::kRetrying, std::nullopt, "NEEDS_RETRY", std::nullopt, nullptr},
           Case{RunStatus::kSucceeded, Outcome{0, "Completed", "exited with code 0"}, "STOPPED", 0,
                "exited with code 0"},
           Case{RunStatus::kFailed, Outcome{137, "OOMKilled", "killed"}, "STOPPED", 137,
                "OOMKilled"},
           Case{RunStatus::kStopped, Outcome{std::nullopt, "Stopped", "stopped"}, "STOPPED", 1,
                "Stopped"},
           Case{RunStatus::kLost, Outcome{std::nullopt, "Lost", "gone"}, "STOPPED", 1, "Lost"},
       }) {
    SCOPED_TRACE(std::string(ToString(c.status)));
    tug::Run r = MakeRun(c.status);
    r.outcome = c.outcome;
    if (IsTerminal(c.status)) r.ended_at = kT + kMicrosPerSecond;
    json::object o = RunJson(r, EngineContext{});
    EXPECT_EQ(o.at("status"), json::value(c.flotilla));
    EXPECT_EQ(o.contains("exit_code"), c.exit_code.has_value());
    if (c.exit_code) {
      EXPECT_EQ(o.at("exit_code"), json::value(*c.exit_code));
    }
    EXPECT_EQ(o.contains("finished_at"), IsTerminal(c.status));
    if (c.exit_reason) {
      EXPECT_EQ(o.at("exit_reason"), json::value(c.exit_reason));
    }
  }
  // Filters: state/models.go IsValidStatus, services/execution.go List's message.
  EXPECT_EQ(StatusesFor("STOPPED")->size(), 4u);
  EXPECT_EQ(*StatusesFor("NEEDS_RETRY"), std::vector<RunStatus>{RunStatus::kRetrying});
  EXPECT_TRUE(StatusesFor("PENDING")->empty());
  auto bad = StatusesFor("SUCCEEDED");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "invalid status [SUCCEEDED]");
}

TEST(FlotillaJsonTest, ClusterAndEngineOfARun) {
  tug::Run r = MakeRun(RunStatus::kQueued);
  EngineContext kube{"kubernetes", {"prod", "dev"}};
  EXPECT_EQ(RunJson(r, kube).at("cluster"), json::value("prod"));
  r.spec.cluster = "dev";
  EXPECT_EQ(RunJson(r, kube).at("cluster"), json::value("dev"));
  EXPECT_EQ(RunJson(r, EngineContext{}).at("cluster"), json::value("local"));
  Attempt a;
  a.engine = "kubernetes:dev";
  r.attempts = {a};
  EXPECT_EQ(RunJson(r, EngineContext{}).at("cluster"), json::value("dev"));
  r.spec.kind = "spark";
  EXPECT_EQ(RunJson(r, kube).at("engine"), json::value("eks-spark"));
}

TEST(FlotillaJsonTest, ExecuteRequestsAsCreateRunV4ChecksThem) {
  // endpoints_test.go TestEndpoints_CreateRun4
  auto r = ParseExecute(Parse(
      R"({"cluster":"cupcake", "env":[{"name":"E1","value":"V1"}], "run_tags":{"owner_id":"flotilla"}, "labels": {"foo": "bar"}})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->owner_id, "flotilla");
  EXPECT_EQ(r->overrides.env, (std::map<std::string, std::string>{{"E1", "V1"}}));
  EXPECT_EQ(r->labels.at("foo"), "bar");
  EXPECT_EQ(r->labels.at("flotilla/owner_id"), "flotilla");
  EXPECT_TRUE(r->capacity.empty());  // the definition's adapt.capacity decides

  // ui/src/helpers/FlotillaClient.ts runTask sends run_tags.OWNER_ID; Go matches it to owner_id.
  r = ParseExecute(
      Parse(R"({"run_tags":{"OWNER_ID":"ui-user"},"command":"echo 2","memory":1024,"cpu":2000,)"
            R"("node_lifecycle":"ondemand","active_deadline_seconds":60,"idempotence_key":"k1",)"
            R"("arch":"arm64","description":"nightly","engine":"eks"})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->owner_id, "ui-user");
  EXPECT_EQ(r->command, "echo 2");
  EXPECT_EQ(r->overrides.resources.memory_bytes, 1'024'000'000);
  EXPECT_EQ(r->overrides.resources.cpu_millis, 2000);
  EXPECT_EQ(r->overrides.timeout_seconds, 60);
  EXPECT_EQ(r->capacity, "on-demand");
  EXPECT_EQ(r->idempotence_key, "k1");
  EXPECT_EQ(r->node_selector.at("kubernetes.io/arch"), "arm64");
  EXPECT_EQ(r->labels.at("flotilla/description"), "nightly");
  EXPECT_EQ(r->overrides.resources.gpu, 0);

  // LaunchRequestV2's Gpu (*int64): services/execution.go sends gpu > 0 to its GPU cluster;
  // Tugboat asks for that many nvidia.com/gpu.
  r = ParseExecute(Parse(R"({"run_tags":{"owner_id":"a"},"gpu":2})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->overrides.resources.gpu, 2);

  struct Case {
    const char* body;
    Code code;
    const char* message;
  };
  for (const Case& c : {
           // endpoints.go CreateRunV4, word for word
           Case{R"({"env":[]})", Code::kInvalidArgument,
                "run_tags must exist in body and contain [owner_id]"},
           // endpoints_test.go TestEndpoints_CreateRun2: the v2 run_tags are not enough for v4+
           Case{R"({"run_tags":{"owner_email":"flotilla@github.com", "team_name":"thebest"}})",
                Code::kInvalidArgument, "run_tags must exist in body and contain [owner_id]"},
           Case{R"({"run_tags":{"owner_id":"a"},"node_lifecycle":"normal"})",
                Code::kInvalidArgument, "Nodelifecyle must be [normal, spot]"},
           Case{R"({"run_tags":{"owner_id":"a"},"engine":"eks-spark"})", Code::kInternal,
                "spark_extension can't be nil, when using eks-spark engine type"},
           Case{R"({"run_tags":{"owner_id":"a"},"spark_extension":{}})", Code::kInvalidArgument,
                "spark_extension (Spark on EMR) has no equivalent"},
           Case{R"({"run_tags":{"owner_id":"a"},"gpu":-2})", Code::kInvalidArgument,
                "gpu -2 is negative"},
           Case{R"({"run_tags":{"owner_id":"a"},"labels":{"flotilla/x":"y"}})",
                Code::kInvalidArgument, "hold Flotilla's own fields"},
       }) {
    SCOPED_TRACE(c.body);
    auto bad = ParseExecute(Parse(c.body));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), c.code);
    EXPECT_NE(bad.error().message().find(c.message), std::string::npos) << bad.error().message();
  }
}

TEST(FlotillaJsonTest, ListRequestsAsDecodeListRequestReadsThem) {
  // endpoints_test.go TestEndpoints_ListDefinitions
  auto r = ParseListRequest(
      "/api/v1/task?limit=100&offset=2&sort_by=alias&order=desc&group_name=cupcake&env=E1%7CV1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->limit, 100);
  EXPECT_EQ(r->offset, 2);
  EXPECT_EQ(r->sort_by, "alias");
  EXPECT_EQ(r->order, "desc");
  EXPECT_EQ(r->filters,
            (std::map<std::string, std::vector<std::string>>{{"group_name", {"cupcake"}}}));
  EXPECT_EQ(r->env_filters, (std::map<std::string, std::string>{{"E1", "V1"}}));
  // The defaults, and numbers that do not parse (strconv.Atoi's error is ignored: 0).
  r = ParseListRequest("/api/v6/history?limit=lots&status=RUNNING&status=QUEUED&env=bad");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->limit, 0);
  EXPECT_EQ(r->offset, 0);
  EXPECT_EQ(r->sort_by, "group_name");
  EXPECT_EQ(r->order, "asc");
  EXPECT_EQ(r->filters.at("status"), (std::vector<std::string>{"RUNNING", "QUEUED"}));
  EXPECT_TRUE(r->env_filters.empty());  // not NAME|VALUE
  r = ParseListRequest("/api/v6/task");
  EXPECT_EQ(r->limit, 1024);

  // endpoints_test.go TestEndpoints_ListRuns: the envelope's keys (Go writes a map sorted).
  r = ParseListRequest(
      "/api/v1/history?status=RUNNING&status=QUEUED&limit=100&offset=2&sort_by=started_at&"
      "order=desc&cluster=cupcake&env=E1%7CV1");
  ASSERT_TRUE(r.ok());
  json::object envelope = ListEnvelope(*r, 7, "history", json::array{});
  EXPECT_EQ(json::serialize(envelope),
            R"({"cluster":["cupcake"],"env_filters":{"E1":"V1"},"history":[],"limit":100,)"
            R"("offset":2,"order":"desc","sort_by":"started_at","status":["RUNNING","QUEUED"],)"
            R"("total":7})");
}

std::vector<json::object> Rows() {
  auto row = [](const char* alias, const char* image, const char* group, std::optional<int> mem) {
    json::object o{{"alias", alias}, {"image", image}, {"group_name", group}};
    if (mem) o["memory"] = *mem;
    return o;
  };
  return {row("alpha", "python:3.11", "science", 512), row("bravo", "ubuntu", "ops", std::nullopt),
          row("charlie", "python:3.12", "science", 2048), row("delta", "ubuntu", "ops", 128)};
}

std::vector<std::string> Aliases(const Page& p) {
  std::vector<std::string> out;
  for (const auto& o : p.items) out.emplace_back(o.at("alias").as_string());
  return out;
}

TEST(FlotillaJsonTest, SelectFiltersOrdersAndPagesAsTheSqlDoes) {
  using Names = std::vector<std::string>;
  struct Case {
    const char* target;
    Names aliases;
    int64_t total;
  };
  for (const Case& c : {
           // default: group_name asc; ties keep the input order
           Case{"/t", {"bravo", "delta", "alpha", "charlie"}, 4},
           Case{"/t?sort_by=alias&order=desc", {"delta", "charlie", "bravo", "alpha"}, 4},
           // NULLS LAST whatever the direction
           Case{"/t?sort_by=memory&order=asc", {"delta", "alpha", "charlie", "bravo"}, 4},
           Case{"/t?sort_by=memory&order=desc", {"charlie", "alpha", "delta", "bravo"}, 4},
           // LIKE for image, alias, group_name, command; IN for a repeated key
           Case{"/t?image=python&sort_by=alias", {"alpha", "charlie"}, 2},
           Case{"/t?alias=alpha&alias=delta&sort_by=alias", {"alpha", "delta"}, 2},
           Case{"/t?memory=512", {"alpha"}, 1},
           // paging after ordering; total counts before it
           Case{"/t?sort_by=alias&limit=2&offset=1", {"bravo", "charlie"}, 4},
           Case{"/t?sort_by=alias&limit=0", {}, 4},
           Case{"/t?sort_by=alias&offset=9", {}, 4},
       }) {
    SCOPED_TRACE(c.target);
    auto request = ParseListRequest(c.target);
    ASSERT_TRUE(request.ok());
    auto page = Select(Rows(), *request, DefinitionColumns());
    ASSERT_TRUE(page.ok()) << page.error().message();
    EXPECT_EQ(Aliases(*page), c.aliases);
    EXPECT_EQ(page->total, c.total);
  }
  // pg_state_manager.go orderBy's messages (its SQL errors are 500s); an unknown column fails in
  // its SQL.
  struct Bad {
    const char* target;
    const char* message;
  };
  for (const Bad& b : {
           Bad{"/t?sort_by=cpu",
               "Invalid field to order by [cpu], must be one of [alias, image, group_name, "
               "memory]"},
           Bad{"/t?order=up", "Invalid order string, must be one of ('asc', 'desc'), was up"},
           Bad{"/t?colour=red",
               "issue running list definitions sql: column \"colour\" does not exist"},
           Bad{"/t?limit=-1", "LIMIT must not be negative"},
       }) {
    SCOPED_TRACE(b.target);
    auto page = Select(Rows(), *ParseListRequest(b.target), DefinitionColumns());
    ASSERT_FALSE(page.ok());
    EXPECT_EQ(page.error().code(), Code::kInternal);
    EXPECT_EQ(page.error().message(), b.message);
  }
}

TEST(FlotillaJsonTest, RunTimesFilterAndSortAsTimes) {
  std::vector<json::object> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(json::object{{"run_id", std::to_string(i)},
                                {"group_name", "g"},
                                {"cluster", "local"},
                                {"started_at", GoTime(kT + i * 500'000)}});  // .0, .5, 1.0 s
  }
  runs.push_back(json::object{{"run_id", "queued"}, {"group_name", "g"}, {"cluster", "local"}});
  auto request = ParseListRequest("/h?sort_by=started_at&order=desc");
  auto page = Select(runs, *request, RunColumns());
  ASSERT_TRUE(page.ok()) << page.error().message();
  std::vector<std::string> ids;
  for (const auto& o : page->items) ids.emplace_back(o.at("run_id").as_string());
  EXPECT_EQ(ids, (std::vector<std::string>{"2", "1", "0", "queued"}));
  request = ParseListRequest("/h?started_at_since=" + GoTime(kT) + "&cluster_name=local");
  page = Select(runs, *request, RunColumns());
  ASSERT_TRUE(page.ok()) << page.error().message();
  EXPECT_EQ(page->total, 2);  // strictly after; NULL never matches
  // endpoints_test.go TestEndpoints_ListRuns filters on `cluster`: accepted like cluster_name.
  request = ParseListRequest("/h?cluster=local&engine=ecs");
  page = Select(runs, *request, RunColumns());
  ASSERT_TRUE(page.ok()) << page.error().message();
  EXPECT_EQ(page->total, 4);  // engine is ListRuns' own (eks, eks-spark): ignored
  request = ParseListRequest("/h?started_at_until=yesterday");
  EXPECT_EQ(Select(runs, *request, RunColumns()).error().code(), Code::kInternal);
}

TEST(FlotillaJsonTest, GoTimeTrimsTheFraction) {
  EXPECT_EQ(GoTime(kT), "2023-11-14T22:13:20Z");
  EXPECT_EQ(GoTime(kT + 120'000), "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(GoTime(kT + 1), "2023-11-14T22:13:20.000001Z");
}

}  // namespace
}  // namespace tug::flotilla
