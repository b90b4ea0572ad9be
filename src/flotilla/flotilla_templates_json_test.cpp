// Flotilla's v7 template shapes and the gpu / parent mappings, table by table. The fixtures come
// from stitchfix/flotilla-os: state/models.go at dcdeaf39f79750fa04908e6f3dca7425c0d62762
// (Template, CreateTemplateRequest, TemplateExecutionRequest, ExecutionRequestCommon, Template.
// IsValid's reasons, Run's gpu and execution_request_custom, ExecutableResources' field order),
// flotilla/endpoints.go at 2920f4d8f830777c8d87fd9a9c27c4c1fa537438 (CreateTemplateRun's
// owner_id message) and services/execution.go at b0968e1c0ec3118cbd3d9905d41bf413f2bd8fe9
// (constructRunFromTemplate, terminateWorker's PARENT_FLOTILLA_RUN_ID).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/json.h"
#include "flotilla/flotilla_json.h"
#include "flotilla/flotilla_json_testing.h"
#include "flotilla/flotilla_templates_json.h"

namespace json = boost::json;

namespace tug::flotilla {
namespace {

using json_testing::Keys;
using json_testing::Parse;

// A CreateTemplateRequest as Flotilla's clients post it: its fields, ExecutableResources
// embedded (image, memory, gpu, cpu, env, adaptive_resource_allocation, tags).
constexpr const char* kCreate =
    R"({"template_name":"greeter","command_template":"echo hello {{.name}} x{{ .times }}",)"
    R"("schema":{"type":"object","properties":{"name":{"type":"string"},)"
    R"("times":{"type":"integer","minimum":1}},"required":["name"]},)"
    R"("defaults":{"times":2},"avatar_uri":"https://example.com/a.png","image":"debian:12",)"
    R"("memory":512,"cpu":250,"gpu":1,"env":[{"name":"MODE","value":"x"}],"tags":["t1"]})";

TEST(FlotillaTemplatesJsonTest, CreateRequestBecomesAParameterisedDefinition) {
  auto def = TemplateFromCreate(Parse(kCreate));
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->name, "greeter");
  EXPECT_EQ(def->image, "debian:12");
  EXPECT_EQ(def->command, "echo hello {{ name }} x{{ times }}");
  EXPECT_EQ(def->resources.memory_bytes, 512'000'000);
  EXPECT_EQ(def->resources.cpu_millis, 250);
  EXPECT_EQ(def->resources.gpu, 1);
  EXPECT_EQ(def->env.at("MODE"), "x");
  EXPECT_EQ(def->labels.at("flotilla/avatar_uri"), "https://example.com/a.png");
  EXPECT_EQ(def->labels.at("flotilla/tags"), R"(["t1"])");
  // Flotilla's defaults are merged into the payload before validation; Tugboat keeps them as
  // the schema's property defaults, which Resolve fills in.
  json::value schema = Parse(def->parameters);
  EXPECT_EQ(schema.at("properties").at("times").at("default"), json::value(2));
  EXPECT_FALSE(schema.at("properties").at("name").as_object().contains("default"));

  struct Case {
    const char* body;
    const char* message;  // a part of it
  };
  for (const Case& c : {
           // state/models.go Template.IsValid, its reasons joined by newlines, word for word
           Case{R"({})",
                "string [template_name] must be specified\nschema must be specified\nstring "
                "[command_template] must be specified\nstring [image] must be specified\nint "
                "[memory] must be specified"},
           Case{R"({"template_name":"a","schema":{},"command_template":"x","image":"i",)"
                R"("memory":1})",
                "schema must be specified"},
           Case{R"({"template_name":"a","schema":{"type":"object"},"command_template":"x",)"
                R"("image":"i"})",
                "int [memory] must be specified"},
           // Go's text/template beyond a plain field: Tugboat renders no functions
           Case{R"({"template_name":"a","schema":{"type":"object"},"image":"i","memory":1,)"
                R"("command_template":"echo {{.name | quote}}"})",
                "'{{.name | quote}}' is not a plain {{.name}} placeholder"},
           Case{R"({"template_name":"a","schema":{"type":"object"},"image":"i","memory":1,)"
                R"("command_template":"{{if .x}}y{{end}}"})",
                "'{{if .x}}' is not a plain"},
           Case{R"({"template_name":"a","schema":{"type":"object"},"image":"i","memory":1,)"
                R"("command_template":"echo {{.x"})",
                "is not closed"},
           Case{R"({"template_name":"a","schema":{"type":"object"},"image":"i","memory":1,)"
                R"("command_template":"x","defaults":{"y":1}})",
                "defaults: 'y' is not a property of the schema"},
           Case{R"({"template_name":"A B","schema":{"type":"object"},"image":"i","memory":1,)"
                R"("command_template":"x"})",
                "also the template's name in Tugboat"},
           Case{R"({"template_name":"a","schema":[1],"image":"i","memory":1,)"
                R"("command_template":"x"})",
                "cannot unmarshal schema"},
       }) {
    SCOPED_TRACE(c.body);
    auto r = TemplateFromCreate(Parse(c.body));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
  }
}

TEST(FlotillaTemplatesJsonTest, TemplateAsFlotillaWritesIt) {
  auto def = TemplateFromCreate(Parse(kCreate));
  ASSERT_TRUE(def.ok()) << def.error().message();
  def->version = 3;
  json::object o = TemplateJson(*def);
  // state/models.go Template: no MarshalJSON, so declaration order; ExecutableResources'
  // memory, gpu, cpu and tags omitempty, env (no omitempty) null when there is none.
  EXPECT_EQ(Keys(o), (std::vector<std::string>{"template_id", "template_name", "version", "schema",
                                               "command_template", "defaults", "avatar_uri",
                                               "image", "memory", "gpu", "cpu", "env", "tags"}));
  EXPECT_EQ(o.at("template_id"), json::value("greeter"));
  EXPECT_EQ(o.at("template_name"), json::value("greeter"));
  EXPECT_EQ(o.at("version"), json::value(3));
  EXPECT_EQ(o.at("command_template"), json::value("echo hello {{.name}} x{{.times}}"));
  EXPECT_EQ(o.at("defaults"), Parse(R"({"times":2})"));
  EXPECT_EQ(o.at("memory"), json::value(512));
  EXPECT_EQ(o.at("gpu"), json::value(1));
  EXPECT_EQ(o.at("env"), Parse(R"([{"name":"MODE","value":"x"}])"));
  EXPECT_EQ(o.at("schema").at("required"), Parse(R"(["name"])"));

  Definition bare = *def;
  bare.env.clear();
  bare.labels.clear();
  bare.resources.gpu = 0;
  json::object b = TemplateJson(bare);
  EXPECT_TRUE(b.at("env").is_null());
  EXPECT_FALSE(b.contains("gpu"));
  EXPECT_FALSE(b.contains("tags"));
  EXPECT_EQ(b.at("avatar_uri"), json::value(""));
}

TEST(FlotillaTemplatesJsonTest, GoTemplatesTranslateBothWays) {
  EXPECT_EQ(*CommandFromGoTemplate("a {{.x}} b {{ .y_2 }}c{{.x}}"),
            "a {{ x }} b {{ y_2 }}c{{ x }}");
  EXPECT_EQ(*CommandFromGoTemplate("no placeholders"), "no placeholders");
  EXPECT_FALSE(CommandFromGoTemplate("{{ . }}").ok());
  EXPECT_FALSE(CommandFromGoTemplate("{{.a.b}}").ok());
  EXPECT_FALSE(CommandFromGoTemplate("{{ upper .x }}").ok());
  EXPECT_EQ(GoTemplateFromCommand("a {{ x }} b {{y}}"), "a {{.x}} b {{.y}}");
  EXPECT_EQ(*CommandFromGoTemplate(GoTemplateFromCommand("run {{ a }} {{ b }}")),
            "run {{ a }} {{ b }}");
}

TEST(FlotillaTemplatesJsonTest, ExecuteRequestsAsCreateTemplateRunReadsThem) {
  auto r = ParseTemplateExecute(
      Parse(R"({"owner_id":"ada","template_payload":{"name":"world"},"dry_run":true,"memory":1024,)"
            R"("gpu":1,"node_lifecycle":"ondemand","idempotence_key":"k","engine":"eks-spark",)"
            R"("cluster_name":"c","ephemeral_storage":10})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->launch.owner_id, "ada");
  EXPECT_EQ(r->payload, Parse(R"({"name":"world"})").as_object());
  EXPECT_TRUE(r->dry_run);
  EXPECT_EQ(r->launch.overrides.resources.memory_bytes, 1'024'000'000);
  EXPECT_EQ(r->launch.overrides.resources.gpu, 1);
  EXPECT_EQ(r->launch.capacity, "on-demand");
  EXPECT_EQ(r->launch.idempotence_key, "k");

  for (const char* body : {R"({"template_payload":{}})",
                           // the v6 run_tags are not read by v7
                           R"({"run_tags":{"owner_id":"ada"}})"}) {
    SCOPED_TRACE(body);
    auto bad = ParseTemplateExecute(Parse(body));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message(),
              "request payload must contain [owner_id]; the run_tags field is deprecated for "
              "the v7 endpoint.");
  }
  auto bad = ParseTemplateExecute(Parse(R"({"owner_id":"a","template_payload":[1]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("template_payload"), std::string::npos);
}

TEST(FlotillaTemplatesJsonTest, GpuParentAndTemplateRunsInFlotillasShapes) {
  // Definition: ExecutableResources' memory, gpu, cpu in that order.
  Definition d;
  d.name = "g";
  d.image = "i";
  d.resources.memory_bytes = 1'000'000;
  d.resources.cpu_millis = 100;
  d.resources.gpu = 2;
  json::object dj = DefinitionJson(d);
  EXPECT_EQ(Keys(dj), (std::vector<std::string>{"env", "definition_id", "alias", "image", "memory",
                                                "gpu", "cpu", "ports", "tags"}));
  auto created = DefinitionFromCreate(Parse(R"({"alias":"g","image":"i","gpu":2})"));
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ(created->resources.gpu, 2);

  tug::Run run;
  run.id = "r1";
  run.definition = "greeter";
  run.status = RunStatus::kQueued;
  run.spec = *TemplateFromCreate(Parse(kCreate));
  run.overrides.parameters = R"({"name":"world","times":2})";
  run.parent_run_id = "p1";
  json::object o = RunJson(run, EngineContext{});
  // Run: Cpu, CpuLimit, Gpu; ExecutableType, ExecutionRequestCustom.
  EXPECT_EQ(o.at("gpu"), json::value(1));
  EXPECT_EQ(o.at("executable_type"), json::value("template"));
  EXPECT_EQ(o.at("executable_id"), json::value("greeter"));
  EXPECT_EQ(o.at("execution_request_custom"),
            Parse(R"({"template_payload":{"name":"world","times":2}})"));
  // A parent named by API v1's parent_run_id shows as Flotilla's variable.
  EXPECT_EQ(o.at("env"), Parse(R"([{"name":"PARENT_FLOTILLA_RUN_ID","value":"p1"}])"));
  std::vector<std::string> keys = Keys(o);
  auto at = [&](const char* k) { return std::find(keys.begin(), keys.end(), k) - keys.begin(); };
  EXPECT_LT(at("cpu_limit"), at("gpu"));
  EXPECT_LT(at("executable_type"), at("execution_request_custom"));
}

}  // namespace
}  // namespace tug::flotilla
