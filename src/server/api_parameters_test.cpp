// API v1 with parameterised definitions (src/templates): a bad schema is refused when applied,
// bad parameters are 422 naming the parameter and the rule with no row written, and a good
// submission stores the command rendered with its values shell-quoted and the defaults filled in.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "server/api_harness.h"

namespace tug::server {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

constexpr const char* kDefinition = R"({
  "name": "greet",
  "command": "echo {{ who }} x{{ times }}",
  "parameters": {
    "type": "object",
    "properties": {
      "who": {"type": "string", "minLength": 1},
      "times": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2}
    },
    "required": ["who"]
  }
})";

class ApiParametersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tug_api_params_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto api = ApiHarness::Open(dir_);
    ASSERT_TRUE(api.ok()) << api.error().ToString();
    api_ = std::move(*api);
  }
  void TearDown() override {
    api_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Message(const net::Response& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error")) return r.body;
    return std::string(v.at("error").at("message").as_string());
  }
  ApiHarness::Rows Rows() {
    auto rows = api_->CountRows();
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : ApiHarness::Rows{};
  }

  std::string dir_;
  std::unique_ptr<ApiHarness> api_;
};

TEST_F(ApiParametersTest, ABadSchemaOrTemplateIsRefusedWhenApplied) {
  struct Case {
    std::string body;
    std::string says;
  };
  const Case cases[] = {
      {R"({"name":"a","command":"echo","parameters":{"type":"object","properties":{"n":{"type":"nope"}}}})",
       "not a valid JSON Schema (draft 7)"},
      {R"({"name":"a","command":"echo","parameters":[1]})", "parameters must be a JSON Schema"},
      {R"({"name":"a","command":"echo {{ m }}","parameters":{"type":"object","properties":{"n":{}}}})",
       "command uses {{ m }}"},
  };
  for (const auto& c : cases) {
    net::Response r = api_->Call("POST", "/api/v1/definitions", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_THAT(Message(r), HasSubstr(c.says)) << c.body;
  }
  EXPECT_EQ(Rows(), ApiHarness::Rows{});
}

TEST_F(ApiParametersTest, BadParametersAre422NamingTheParameterAndTheRuleAndWriteNothing) {
  ASSERT_EQ(api_->Call("POST", "/api/v1/definitions", kDefinition).status, 201);
  const ApiHarness::Rows before = Rows();
  struct Case {
    std::string parameters;
    std::string says;
  };
  const Case cases[] = {
      {R"({"who":"ada","times":9})", "parameter 'times': expected number less than or equal to 5"},
      {R"({"who":"ada","times":"two"})", "parameter 'times': value type not permitted by 'type'"},
      {R"({"times":1})", "parameter 'who': missing"},
      {R"({"who":""})", "parameter 'who': string should be no fewer than 1"},
      {R"({"who":"ada","whom":"x"})", "parameter 'whom': definition 'greet' declares no such"},
  };
  for (const auto& c : cases) {
    net::Response r = api_->Call("POST", "/api/v1/runs",
                                 R"({"definition":"greet","parameters":)" + c.parameters + "}");
    EXPECT_EQ(r.status, 422) << c.parameters << ": " << r.body;
    EXPECT_THAT(Message(r), HasSubstr(c.says)) << c.parameters;
  }
  net::Response not_object =
      api_->Call("POST", "/api/v1/runs", R"({"definition":"greet","parameters":"who=ada"})");
  EXPECT_EQ(not_object.status, 400);
  EXPECT_THAT(Message(not_object), HasSubstr("parameters must be an object"));
  EXPECT_EQ(Rows(), before);
}

TEST_F(ApiParametersTest, ARunGetsItsCommandRenderedWithQuotedValuesAndDefaults) {
  ASSERT_EQ(api_->Call("POST", "/api/v1/definitions", kDefinition).status, 201);
  net::Response def = api_->Call("GET", "/api/v1/definitions/greet");
  ASSERT_EQ(def.status, 200);
  EXPECT_EQ(json::parse(def.body).at("parameters").at("required"), json::array{"who"});

  net::Response r = api_->Call("POST", "/api/v1/runs",
                               R"({"definition":"greet","parameters":{"who":"'; rm -rf / #"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id(json::parse(r.body).at("id").as_string());
  net::Response got = api_->Call("GET", "/api/v1/runs/" + id);
  ASSERT_EQ(got.status, 200);
  json::value run = json::parse(got.body);
  EXPECT_EQ(run.at("spec").at("command"), R"(echo ''\''; rm -rf / #' x'2')");
  EXPECT_EQ(run.at("overrides").at("parameters"),
            json::parse(R"({"who":"'; rm -rf / #","times":2})"));

  // A dry run shows the same rendering without storing anything.
  const ApiHarness::Rows before = Rows();
  net::Response dry =
      api_->Call("POST", "/api/v1/runs?dry_run=true",
                 R"x({"definition":"greet","parameters":{"who":"$(id)","times":3}})x");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_THAT(dry.body, HasSubstr(R"x(echo '$(id)' x'3')x"));
  EXPECT_EQ(Rows(), before);
}

}  // namespace
}  // namespace tug::server
