#include "templates/parameters.h"

#include <cstdio>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace json = boost::json;
using ::testing::HasSubstr;

namespace tug::templates {
namespace {

Definition Templated(std::string command, std::string schema) {
  Definition d;
  d.name = "greet";
  d.command = std::move(command);
  d.parameters = std::move(schema);
  return d;
}

const char* kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1},
    "count": {"type": "integer", "minimum": 1, "default": 3},
    "loud": {"type": "boolean"},
    "mode": {"enum": ["fast", "slow"], "default": "fast"}
  },
  "required": ["name"]
})";

// What /bin/sh makes of a rendered command: the words it passes to printf, one per line.
std::string ShellOutput(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "<popen failed>";
  std::string out;
  char buf[256];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(ShellQuote, WrapsInSingleQuotesAndEscapesThem) {
  EXPECT_EQ(ShellQuote("plain"), "'plain'");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("it's"), R"('it'\''s')");
}

TEST(Placeholders, FindsNamesWithOrWithoutSpacesAndIgnoresOtherBraces) {
  EXPECT_THAT(Placeholders("echo {{name}} {{ count }} {{  name  }}"),
              ::testing::ElementsAre("name", "count", "name"));
  EXPECT_TRUE(Placeholders("echo {{ 1x }} {{ a-b }} {{}} { {x} } {{x}").empty());
}

TEST(Render, HostileValuesReachTheShellAsLiteralText) {
  // The acceptance case: what a user types arrives as that text, never as shell code.
  Definition d =
      Templated("printf '%s\\n' {{ a }} {{ b }} {{ c }} {{ d }}",
                R"({"type":"object","properties":{"a":{"type":"string"},)"
                R"("b":{"type":"string"},"c":{"type":"string"},"d":{"type":"string"}}})");
  json::object values{{"a", "'; rm -rf / #"},
                      {"b", "$(id)"},
                      {"c", "`id` && echo pwned; \"q\" \\ $HOME"},
                      {"d", "new\nline"}};
  Definition r = Render(d, values);
  EXPECT_EQ(ShellOutput(r.command),
            "'; rm -rf / #\n$(id)\n`id` && echo pwned; \"q\" \\ $HOME\nnew\nline\n");
}

TEST(Render, ListCommandsGetTheTextInsideTheirElements) {
  Definition d = Templated("", R"({"type":"object","properties":{"n":{"type":"integer"},)"
                               R"("tags":{"type":"array"},"s":{"type":"string"}}})");
  d.args = {"/usr/bin/tool", "--count={{ n }}", "{{ s }}", "{{ tags }}", "{{ missing }}"};
  Definition r = Render(d, json::object{{"n", 4}, {"s", "$(id)"}, {"tags", json::array{"a", 1}}});
  EXPECT_THAT(r.args,
              ::testing::ElementsAre("/usr/bin/tool", "--count=4", "$(id)", R"(["a",1])", ""));
}

TEST(Render, ValuesRenderAsTheirText) {
  Definition d = Templated("run {{ s }} {{ i }} {{ f }} {{ b }} {{ z }} {{ o }}",
                           R"({"type":"object","properties":{"s":{},"i":{},"f":{},"b":{},)"
                           R"("z":{},"o":{}}})");
  Definition r = Render(d, json::object{{"s", "x y"},
                                        {"i", 7},
                                        {"f", 1.5},
                                        {"b", true},
                                        {"z", nullptr},
                                        {"o", json::object{{"k", "v"}}}});
  EXPECT_EQ(r.command, R"(run 'x y' '7' '1.5' 'true' '' '{"k":"v"}')");
}

TEST(Render, ADefinitionWithoutParametersIsUnchanged) {
  Definition d = Templated("echo {{ x }}", "");
  EXPECT_EQ(Render(d, {}).command, "echo {{ x }}");
}

TEST(Resolve, FillsDefaultsAndKeepsGivenValues) {
  auto v = Resolve(Templated("echo {{ name }}", kSchema), json::object{{"name", "ada"}});
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(json::value(*v), json::parse(R"({"name":"ada","count":3,"mode":"fast"})"));
  auto w = Resolve(Templated("echo", kSchema), json::object{{"name", "ada"}, {"count", 9}});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->at("count"), 9);
}

TEST(Resolve, NamesTheBadParameterAndTheRule) {
  Definition d = Templated("echo", kSchema);
  auto wrong_type = Resolve(d, json::object{{"name", "ada"}, {"count", "three"}});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(wrong_type.error().message(), HasSubstr("parameter 'count'"));
  EXPECT_THAT(wrong_type.error().message(), HasSubstr("'type' constraint"));
  EXPECT_THAT(wrong_type.error().message(), HasSubstr(R"("type":"integer")"));

  auto too_small = Resolve(d, json::object{{"name", "ada"}, {"count", 0}});
  ASSERT_FALSE(too_small.ok());
  EXPECT_THAT(too_small.error().message(), HasSubstr("parameter 'count'"));
  EXPECT_THAT(too_small.error().message(), HasSubstr("greater than or equal to 1"));

  auto not_in_enum = Resolve(d, json::object{{"name", "ada"}, {"mode", "warp"}});
  ASSERT_FALSE(not_in_enum.ok());
  EXPECT_THAT(not_in_enum.error().message(), HasSubstr("parameter 'mode'"));
  EXPECT_THAT(not_in_enum.error().message(), HasSubstr("enum"));

  auto missing = Resolve(d, json::object{});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message(), HasSubstr("parameter 'name': missing"));
  EXPECT_THAT(missing.error().message(), HasSubstr("required"));

  auto unknown = Resolve(d, json::object{{"name", "ada"}, {"cont", 2}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.error().message(), HasSubstr("parameter 'cont'"));
  EXPECT_THAT(unknown.error().message(), HasSubstr("it has: name, count, loud, mode"));

  auto huge = Resolve(d, json::object{{"name", std::string(kMaxValueLength + 1, 'x')}});
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.error().message(), HasSubstr("at most 4096"));
}

TEST(Resolve, NestedFailuresGiveTheirPath) {
  Definition d = Templated("echo", R"({"type":"object","properties":{"tags":{"type":"array",)"
                                   R"("items":{"type":"string","pattern":"^[a-z]+$"}}}})");
  auto bad = Resolve(d, json::object{{"tags", json::array{"ok", "NO"}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("parameter 'tags[1]'"));
  EXPECT_THAT(bad.error().message(), HasSubstr("pattern"));
}

TEST(Resolve, ParametersForADefinitionWithoutThemAreRefused) {
  Definition d = Templated("echo", "");
  EXPECT_TRUE(Resolve(d, {}).ok());
  auto r = Resolve(d, json::object{{"x", 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("declares no parameters"));
}

TEST(Resolve, AdditionalPropertiesInTheSchemaDecideAboutUnknownNames) {
  Definition d = Templated("echo", R"({"type":"object","properties":{"a":{}},)"
                                   R"("additionalProperties":{"type":"integer"}})");
  EXPECT_TRUE(Resolve(d, json::object{{"b", 2}}).ok());
  auto r = Resolve(d, json::object{{"b", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("parameter 'b'"));
}

TEST(CheckDefinition, AcceptsAGoodTemplate) {
  EXPECT_TRUE(CheckDefinition(Templated("echo {{ name }} x{{count}}", kSchema)).ok());
  EXPECT_TRUE(CheckDefinition(Templated("echo {{ anything }}", "")).ok());
}

TEST(CheckDefinition, RefusesBadSchemasAndTemplates) {
  struct Case {
    std::string command;
    std::string schema;
    std::string message;
  };
  const Case cases[] = {
      {"echo", R"({"type":"object","properties":{"n":{"type":"integr"}}})",
       "not a valid JSON Schema (draft 7)"},
      {"echo", R"({"type":"object","properties":{"n":{"minimum":"one"}}})",
       "not a valid JSON Schema (draft 7)"},
      {"echo", R"({"properties":{"n":{}}})", "must say type: object"},
      {"echo", R"({"type":"object"})", "needs properties"},
      {"echo", R"({"type":"object","properties":{"a-b":{}}})", "parameter name 'a-b'"},
      {"echo", R"({"type":"object","properties":{"n":{"type":"string","pattern":"(["}}})",
       "is not a regular expression"},
      {"echo", R"({"type":"object","properties":{"n":{"$ref":"http://x/y.json"}}})",
       "only local references"},
      {"echo", R"({"type":"object","properties":{"n":{"$ref":"#/definitions/none"}}})",
       "cannot be used"},
      {"echo {{ nme }}", R"({"type":"object","properties":{"name":{}}})",
       "command uses {{ nme }}, but parameters declares no 'nme' (it has: name)"},
  };
  for (const auto& c : cases) {
    auto st = CheckDefinition(Templated(c.command, c.schema));
    ASSERT_FALSE(st.ok()) << c.schema;
    EXPECT_EQ(st.error().code(), Code::kInvalidArgument) << c.schema;
    EXPECT_THAT(st.error().message(), HasSubstr(c.message)) << c.schema;
  }
}

TEST(CheckDefinition, RefusesPlaceholdersInAShellScriptArgument) {
  Definition d = Templated("", R"({"type":"object","properties":{"x":{}}})");
  d.args = {"/bin/bash", "-ec", "echo {{ x }}"};
  auto st = CheckDefinition(d);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("write the command as a string"));
  d.args = {"/usr/bin/env", "tool", "{{ x }}"};
  EXPECT_TRUE(CheckDefinition(d).ok());
}

Definition SparkTemplated() {
  Definition d = Templated("", R"({"type":"object","properties":{"day":{"type":"string"},)"
                               R"("parts":{"type":"integer","default":64},"note":{}}})");
  d.kind = "spark";
  d.spark.version = "3.5";
  d.spark.main = "local:///opt/app/etl.py";
  d.spark.args = {"--day", "{{ day }}", "--note={{ note }}"};
  d.spark.conf = {{"spark.sql.shuffle.partitions", "{{ parts }}"},
                  {"spark.app.name", "etl-{{ day }}"},
                  {"spark.executor.extraJavaOptions", "-Dx=1"}};
  return d;
}

TEST(CheckDefinition, SparkArgsAndConfValuesAreTemplates) {
  EXPECT_TRUE(CheckDefinition(SparkTemplated()).ok());
  struct Case {
    std::string key;
    std::string value;
    std::string message;
  };
  const Case cases[] = {
      {"spark.{{ day }}.x", "1", "spark.conf key 'spark.{{ day }}.x' holds a placeholder"},
      {"spark.driver.extraJavaOptions", "-Dday={{ day }}", "cannot hold a placeholder"},
      {"spark.executor.defaultJavaOptions", "{{ note }}", "cannot hold a placeholder"},
      {"spark.jars", "s3://b/{{ day }}.jar", "cannot hold a placeholder"},
      {"spark.driver.extraClassPath", "/x/{{ day }}", "cannot hold a placeholder"},
      {"spark.pyspark.python", "{{ note }}", "cannot hold a placeholder"},
      {"spark.executorEnv.PYSPARK_PYTHON", "{{ note }}", "cannot hold a placeholder"},
      {"spark.kubernetes.driverEnv.LD_PRELOAD", "{{ note }}", "cannot hold a placeholder"},
      {"spark.sql.x", "{{ nope }}", "uses {{ nope }}, but parameters declares no 'nope'"},
  };
  for (const auto& c : cases) {
    Definition d = SparkTemplated();
    d.spark.conf[c.key] = c.value;
    auto st = CheckDefinition(d);
    ASSERT_FALSE(st.ok()) << c.key;
    EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
    EXPECT_THAT(st.error().message(), HasSubstr(c.message)) << c.key;
  }
  Definition bad_arg = SparkTemplated();
  bad_arg.spark.args.push_back("{{ missing }}");
  EXPECT_THAT(CheckDefinition(bad_arg).error().message(), HasSubstr("no 'missing'"));
  // Without parameters the braces are plain text, wherever they are.
  Definition plain = SparkTemplated();
  plain.parameters.clear();
  plain.spark.conf["spark.driver.extraJavaOptions"] = "-Dt={{ x }}";
  EXPECT_TRUE(CheckDefinition(plain).ok());
}

TEST(Render, SparkValuesStayOneArgumentOrOneConfValue) {
  Definition d = SparkTemplated();
  auto values = Resolve(d, json::object{{"day", "2026-12-07 --conf spark.jars=s3://evil.jar"},
                                        {"note", "$(id); `id`"}});
  ASSERT_TRUE(values.ok()) << values.error().message();
  Definition r = Render(d, *values);
  EXPECT_THAT(r.spark.args,
              ::testing::ElementsAre("--day", "2026-12-07 --conf spark.jars=s3://evil.jar",
                                     "--note=$(id); `id`"));
  EXPECT_EQ(r.spark.conf.at("spark.sql.shuffle.partitions"), "64");  // the default
  EXPECT_EQ(r.spark.conf.at("spark.app.name"), "etl-2026-12-07 --conf spark.jars=s3://evil.jar");
  EXPECT_EQ(r.spark.conf.at("spark.executor.extraJavaOptions"), "-Dx=1");
  EXPECT_EQ(r.spark.conf.count("spark.jars"), 0u);
  EXPECT_EQ(r.spark.main, "local:///opt/app/etl.py");
  EXPECT_TRUE(r.command.empty());
  EXPECT_TRUE(r.args.empty());
}

}  // namespace
}  // namespace tug::templates
