// Flotilla v7 templates, gpu, idempotence keys and parent runs through the real routes
// (authentication off), checked against what Flotilla's handlers answer: flotilla/router.go at
// 748ce66b30095af2fe7b559af631fa72d29de200 (the v7 routes), flotilla/endpoints.go at
// 2920f4d8f830777c8d87fd9a9c27c4c1fa537438 (ListTemplates' envelope, CreateTemplate,
// CreateTemplateRun(ByName), ListTemplateRuns' executable_id, GetPayload),
// services/template.go (Create: same template → same version, changed → next version),
// services/execution.go at b0968e1c0ec3118cbd3d9905d41bf413f2bd8fe9 (CreateTemplateRunByTemplate
// Name's message, createAndEnqueueRun's idempotence), state/pg_queries.go at 2920f4d8…
// (TaskIdempotenceKeyCheckSQL), state/pg_state_manager.go at 2920f4d8… ("Template with ID %s not
// found", Template.ValidOrderFields).
#include <future>
#include <latch>
#include <set>

#include "flotilla/flotilla_test_fixture.h"

namespace tug::flotilla::testing {
namespace {

constexpr const char* kGreeter =
    R"({"template_name":"greeter","command_template":"echo hello {{.name}} x{{.times}}",)"
    R"("schema":{"type":"object","properties":{"name":{"type":"string","maxLength":20},)"
    R"("times":{"type":"integer","minimum":1}},"required":["name"]},)"
    R"("defaults":{"times":2},"image":"debian:12","memory":64})";

class FlotillaV7Test : public FlotillaTest {
 protected:
  void SetUp() override { Open(/*auth=*/false); }
};

TEST_F(FlotillaV7Test, CreateListAndGetTemplates) {
  auto created = Call("POST", "/api/v7/template", kGreeter);
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(created.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(created.Str("template_id"), "greeter");
  EXPECT_EQ(created.object().at("version"), json::value(1));
  EXPECT_EQ(created.Str("command_template"), "echo hello {{.name}} x{{.times}}");
  // services/template.go Create: the same template again is the same version; a change is the
  // next one.
  EXPECT_EQ(Call("POST", "/api/v7/template", kGreeter).object().at("version"), json::value(1));
  std::string changed = kGreeter;
  changed.replace(changed.find("echo hello"), 10, "echo hi");
  auto v2 = Call("POST", "/api/v7/template", changed);
  ASSERT_EQ(v2.status, 200) << v2.raw;
  EXPECT_EQ(v2.object().at("version"), json::value(2));
  // The template is a Tugboat definition with parameters.
  auto v1 = Call("GET", "/api/v1/definitions/greeter");
  ASSERT_EQ(v1.status, 200) << v1.raw;
  EXPECT_TRUE(v1.object().contains("parameters"));
  EXPECT_EQ(v1.Str("command"), "echo hi {{ name }} x{{ times }}");

  ASSERT_EQ(CreateTask("plain").status, 200);  // a task, not a template
  auto list = Call("GET", "/api/v7/template?limit=5&offset=0");
  ASSERT_EQ(list.status, 200) << list.raw;
  // endpoints.go ListTemplates: total, templates, limit, offset, sort_by, order (a map: sorted).
  std::vector<std::string> keys;
  for (const auto& kv : list.object()) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"limit", "offset", "order", "sort_by", "templates",
                                            "total"}));
  EXPECT_EQ(list.object().at("total"), json::value(1));
  EXPECT_EQ(list.Str("sort_by"), "template_name");  // Template.DefaultOrderField
  EXPECT_EQ(list.object().at("templates").at(0).at("template_name"), json::value("greeter"));
  // latest_only=false goes through orderBy, which refuses an unknown field (500, its SQL).
  auto bad = Call("GET", "/api/v7/template?latest_only=false&sort_by=image");
  EXPECT_EQ(bad.status, 500);
  EXPECT_NE(bad.Error().find("Invalid field to order by [image]"), std::string::npos) << bad.raw;
  EXPECT_EQ(Call("GET", "/api/v7/template?latest_only=false&sort_by=version&order=desc").status,
            200);

  EXPECT_EQ(Call("GET", "/api/v7/template/greeter").object().at("version"), json::value(2));
  auto missing = Call("GET", "/api/v7/template/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.raw, R"({"error":"Template with ID nope not found"})"
                         "\n");
  EXPECT_EQ(Call("GET", "/api/v7/template/plain").status, 404);
  // A task's name cannot become a template; Template.IsValid's reasons are MalformedInput.
  std::string clash = kGreeter;
  clash.replace(clash.find("greeter"), 7, "plain");
  EXPECT_EQ(Call("POST", "/api/v7/template", clash).status, 409);
  auto invalid = Call("POST", "/api/v7/template", R"({"template_name":"x"})");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(invalid.Error().find("schema must be specified"), std::string::npos);
}

TEST_F(FlotillaV7Test, ExecuteValidatesThePayloadAndRendersTheCommand) {
  ASSERT_EQ(Call("POST", "/api/v7/template", kGreeter).status, 200);
  auto run = Call("PUT", "/api/v7/template/greeter/execute",
                  R"({"owner_id":"ada","template_payload":{"name":"world"}})");
  ASSERT_EQ(run.status, 200) << run.raw;
  const std::string id = run.Str("run_id");
  EXPECT_EQ(run.Str("status"), "QUEUED");
  EXPECT_EQ(run.Str("executable_type"), "template");
  EXPECT_EQ(run.Str("executable_id"), "greeter");
  EXPECT_EQ(run.Str("user"), "ada");
  // The default filled in, each value one shell word.
  EXPECT_EQ(run.Str("command"), "echo hello 'world' x'2'");
  EXPECT_EQ(run.object().at("execution_request_custom"),
            json::parse(R"({"template_payload":{"name":"world","times":2}})"));

  // The payload against the schema: 422 in Flotilla's {"error": ...}, naming what to fix.
  for (const char* payload :
       {R"({})", R"({"name":"world","times":0})", R"({"name":"a-name-longer-than-twenty"})"}) {
    SCOPED_TRACE(payload);
    auto refused = Call("PUT", "/api/v7/template/greeter/execute",
                        std::string(R"({"owner_id":"ada","template_payload":)") + payload + "}");
    EXPECT_EQ(refused.status, 422) << refused.raw;
    EXPECT_FALSE(refused.Error().empty()) << refused.raw;
  }
  EXPECT_EQ(Call("PUT", "/api/v7/template/nope/execute", R"({"owner_id":"a"})").status, 404);
  auto no_owner = Call("PUT", "/api/v7/template/greeter/execute", R"({"run_tags":{"owner_id":1}})");
  EXPECT_EQ(no_owner.status, 400);

  // By name: a version that is a number must be the template's; anything else is the latest.
  const std::string exec = R"({"owner_id":"ada","template_payload":{"name":"x"}})";
  EXPECT_EQ(Call("PUT", "/api/v7/template/name/greeter/version/latest/execute", exec).status, 200);
  EXPECT_EQ(Call("PUT", "/api/v7/template/name/greeter/version/1/execute", exec).status, 200);
  auto wrong = Call("PUT", "/api/v7/template/name/greeter/version/7/execute", exec);
  EXPECT_EQ(wrong.status, 404);
  EXPECT_EQ(wrong.Error(),
            "invalid template name or version, template_name: greeter, template_version: 7");

  // A dry run answers the run it would create and stores nothing.
  auto dry = Call("PUT", "/api/v7/template/greeter/execute",
                  R"({"owner_id":"ada","dry_run":true,"template_payload":{"name":"dry"}})");
  ASSERT_EQ(dry.status, 200) << dry.raw;
  EXPECT_EQ(dry.Str("command"), "echo hello 'dry' x'2'");
  EXPECT_EQ(Call("GET", "/api/v6/history/" + dry.Str("run_id")).status, 404);

  // The template's runs, one run, its payload, stopping it.
  auto history = Call("GET", "/api/v7/template/greeter/history");
  ASSERT_EQ(history.status, 200) << history.raw;
  EXPECT_EQ(history.object().at("total"), json::value(3));
  EXPECT_EQ(history.object().at("executable_id"), (json::array{"greeter"}));
  EXPECT_EQ(Call("GET", "/api/v7/template/nope/history").status, 404);
  EXPECT_EQ(Call("GET", "/api/v7/template/history/" + id).Str("run_id"), id);
  EXPECT_EQ(Call("GET", "/api/v7/template/greeter/history/" + id).Str("run_id"), id);
  auto payload = Call("GET", "/api/v6/history/" + id + "/payload");
  ASSERT_EQ(payload.status, 200) << payload.raw;
  EXPECT_EQ(payload.raw, R"({"template_payload":{"name":"world","times":2}})"
                         "\n");
  auto stopped = Call("DELETE", "/api/v7/template/greeter/history/" + id);
  EXPECT_EQ(stopped.raw, R"({"terminated":true})"
                         "\n");
  EXPECT_EQ(Call("GET", "/api/v7/template/history/" + id).Str("status"), "STOPPED");

  // A task's run has no payload: {} (endpoints.go GetPayload).
  ASSERT_EQ(CreateTask("plain").status, 200);
  const std::string plain = Execute("plain");
  EXPECT_EQ(Call("GET", "/api/v6/history/" + plain + "/payload").raw, "{}\n");
}

TEST_F(FlotillaV7Test, IdempotenceKeysUseTheStoresKeys) {
  ASSERT_EQ(CreateTask("nightly").status, 200);
  ASSERT_EQ(CreateTask("weekly").status, 200);
  const std::string first = Execute("nightly", R"(,"idempotence_key":"k-1")");
  ASSERT_FALSE(first.empty());
  // createAndEnqueueRun: the earlier run whatever the repeat says (no 409), and across tasks,
  // as TaskIdempotenceKeyCheckSQL matches the key alone.
  EXPECT_EQ(Execute("nightly", R"(,"idempotence_key":"k-1","env":[{"name":"X","value":"y"}])"),
            first);
  EXPECT_EQ(Execute("weekly", R"(,"idempotence_key":"k-1")"), first);
  auto runs = Call("GET", "/api/v6/history");
  EXPECT_EQ(runs.object().at("total"), json::value(1));
  // The key is held in the store's idempotency keys, apart from API v1's keys of the same owner.
  auto v1 = Call("POST", "/api/v1/runs",
                 R"({"definition":"nightly","owner":"flotilla","idempotency_key":"k-1"})");
  ASSERT_EQ(v1.status, 201) << v1.raw;
  EXPECT_NE(v1.Str("id"), first);
  // A run that failed frees the key (exit code 0 or none only), the next generation is claimed,
  // and repeats then answer the new run.
  ASSERT_EQ(Call("DELETE", "/api/v6/task/nightly/history/" + first).status, 200);
  const std::string second = Execute("nightly", R"(,"idempotence_key":"k-1")");
  ASSERT_FALSE(second.empty());
  EXPECT_NE(second, first);
  EXPECT_EQ(Execute("nightly", R"(,"idempotence_key":"k-1")"), second);
  // Templates take the key too.
  ASSERT_EQ(Call("POST", "/api/v7/template", kGreeter).status, 200);
  const std::string body =
      R"({"owner_id":"flotilla","idempotence_key":"t-1","template_payload":{"name":"a"}})";
  auto t1 = Call("PUT", "/api/v7/template/greeter/execute", body);
  auto t2 = Call("PUT", "/api/v7/template/greeter/execute", body);
  ASSERT_EQ(t1.status, 200) << t1.raw;
  EXPECT_EQ(t2.Str("run_id"), t1.Str("run_id"));
  EXPECT_EQ(t1.Str("idempotence_key"), "t-1");
  // Simultaneous repeats: the store holds the key for one run; the others get that run (those
  // that lost the race are answered from the store's idempotency record).
  std::vector<std::future<std::string>> racing;
  std::latch start(8);
  for (int i = 0; i < 8; ++i) {
    racing.push_back(std::async(std::launch::async, [this, &start] {
      start.arrive_and_wait();
      auto r = Call("PUT", "/api/v6/task/weekly/execute",
                    R"({"run_tags":{"owner_id":"flotilla"},"idempotence_key":"race"})");
      return r.status == 200 ? r.Str("run_id") + "/" + r.Str("status") : r.raw;
    }));
  }
  std::set<std::string> answers;
  for (auto& f : racing) answers.insert(f.get());
  ASSERT_EQ(answers.size(), 1u) << *answers.begin() << " / " << *answers.rbegin();
  EXPECT_NE(answers.begin()->find("/QUEUED"), std::string::npos) << *answers.begin();
  auto too_long =
      Call("PUT", "/api/v6/task/nightly/execute",
           R"({"run_tags":{"owner_id":"a"},"idempotence_key":")" + std::string(250, 'k') + "\"}");
  EXPECT_EQ(too_long.status, 400) << too_long.raw;
}

TEST_F(FlotillaV7Test, GpuMapsOntoResourcesGpu) {
  auto created = CreateTask("trainer", R"(,"gpu":1)");
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(created.object().at("gpu"), json::value(1));
  auto v1 = Call("GET", "/api/v1/definitions/trainer");
  EXPECT_EQ(v1.object().at("resources").at("gpu"), json::value(1));
  // The local engine has no GPU here: refused at submission, saying what to do.
  auto refused = Call("PUT", "/api/v6/task/trainer/execute", R"({"run_tags":{"owner_id":"a"}})");
  EXPECT_EQ(refused.status, 400) << refused.raw;
  EXPECT_NE(refused.Error().find("GPU"), std::string::npos) << refused.raw;
  EXPECT_EQ(Call("PUT", "/api/v6/task/trainer", R"({"gpu":0})").object().contains("gpu"), false);
}

class FlotillaGpuHostTest : public FlotillaTest {
 protected:
  void SetUp() override {
    host_gpu_ = true;
    Open(/*auth=*/false);
  }
};

TEST_F(FlotillaGpuHostTest, ExecuteAsksForGpus) {
  ASSERT_EQ(CreateTask("trainer").status, 200);
  auto run =
      Call("PUT", "/api/v6/task/trainer/execute", R"({"run_tags":{"owner_id":"a"},"gpu":2})");
  ASSERT_EQ(run.status, 200) << run.raw;
  EXPECT_EQ(run.object().at("gpu"), json::value(2));
  auto v1 = Call("GET", "/api/v1/runs/" + run.Str("run_id"));
  EXPECT_EQ(v1.object().at("spec").at("resources").at("gpu"), json::value(2)) << v1.raw;
}

TEST_F(FlotillaV7Test, ParentRunsInBothDirections) {
  ASSERT_EQ(CreateTask("a").status, 200);
  const std::string parent = Execute("a");
  // A child by Flotilla's variable is also the run's parent_run_id (API v1 lineage).
  const std::string child =
      Execute("a", R"(,"env":[{"name":"PARENT_FLOTILLA_RUN_ID","value":")" + parent + "\"}]");
  EXPECT_EQ(Call("GET", "/api/v1/runs/" + child).Str("parent_run_id"), parent);
  // A child by API v1's parent_run_id shows Flotilla's variable, and stops with its parent.
  auto v1 = Call("POST", "/api/v1/runs", R"({"definition":"a","parent_run_id":")" + parent + "\"}");
  ASSERT_EQ(v1.status, 201) << v1.raw;
  const std::string v1_child = v1.Str("id");
  auto shown = Call("GET", "/api/v6/history/" + v1_child);
  bool has_parent = false;
  for (const auto& e : shown.object().at("env").as_array()) {
    if (e.at("name") == json::value("PARENT_FLOTILLA_RUN_ID") &&
        e.at("value") == json::value(parent)) {
      has_parent = true;
    }
  }
  EXPECT_TRUE(has_parent) << shown.raw;
  ASSERT_EQ(Call("DELETE", "/api/v6/task/a/history/" + parent).status, 200);
  for (const std::string& id : {parent, child, v1_child}) {
    EXPECT_EQ(Call("GET", "/api/v1/runs/" + id).Str("status"), "STOPPED") << id;
  }
}

}  // namespace
}  // namespace tug::flotilla::testing
