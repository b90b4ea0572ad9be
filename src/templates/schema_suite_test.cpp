// The JSON Schema project's own test suite (Debian: json-schema-test-suite), draft 7: a few of
// its files run through Satisfies, the path run parameters take, to prove the validator is wired
// in (Boost.JSON adapter, draft-7 parser) and answers as the specification says.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "templates/parameters.h"

namespace json = boost::json;

namespace tug::templates {
namespace {

std::filesystem::path SuiteDir() {
  const char* dir = std::getenv("TUG_SCHEMA_SUITE");
  return dir != nullptr ? dir : "/usr/share/json-schema-test-suite/tests/draft7";
}

class SchemaSuiteTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SchemaSuiteTest, AnswersAsTheSuiteExpects) {
  const auto path = SuiteDir() / (std::string(GetParam()) + ".json");
  // The suite is a setup.sh package: a missing file is a broken setup, not a skip.
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path
                  << "; install json-schema-test-suite (scripts/setup.sh)";
  std::stringstream text;
  text << in.rdbuf();
  json::value groups = json::parse(text.str());
  int cases = 0;
  for (const auto& group : groups.as_array()) {
    const json::value& schema = group.at("schema");
    for (const auto& t : group.at("tests").as_array()) {
      auto got = Satisfies(schema, t.at("data"));
      ASSERT_TRUE(got.ok()) << group.at("description") << ": " << got.error().message();
      EXPECT_EQ(*got, t.at("valid").as_bool())
          << GetParam() << ": " << json::serialize(group.at("description")) << " / "
          << json::serialize(t.at("description"));
      ++cases;
    }
  }
  EXPECT_GT(cases, 0);
}

// The keywords a parameters schema uses: types, required fields, bounds, enums, patterns,
// arrays, defaults, combinators and local references.
INSTANTIATE_TEST_SUITE_P(Draft7, SchemaSuiteTest,
                         ::testing::Values("type", "properties", "required", "enum", "const",
                                           "minimum", "maximum", "exclusiveMinimum",
                                           "exclusiveMaximum", "multipleOf", "minLength",
                                           "maxLength", "pattern", "items", "minItems", "maxItems",
                                           "uniqueItems", "additionalProperties", "allOf", "anyOf",
                                           "oneOf", "not", "default", "if-then-else"));

}  // namespace
}  // namespace tug::templates
