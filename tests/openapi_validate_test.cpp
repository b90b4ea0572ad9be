// The served OpenAPI document is valid OpenAPI 3.1: a real `tug server` (port 0, temp data dir),
// the document fetched with curl, then checked by an OpenAPI validator from npm
// (@seriousme/openapi-schema-validator, installed by scripts/setup.sh into tests/openapi).
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tug::testing {
namespace {

TEST(OpenApiValidateTest, ServedDocumentIsValidOpenApi31) {
  const char* src = std::getenv("TUG_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "TUG_SOURCE_DIR is not set (ctest sets it)";
  const std::filesystem::path checker = std::filesystem::path(src) / "tests/openapi";
  ASSERT_TRUE(std::filesystem::exists(
      checker / "node_modules/@seriousme/openapi-schema-validator/package.json"))
      << "run scripts/setup.sh (npm ci in tests/openapi) to install the validator";

  TempDir dir;
  ServerProcess server(dir.path() + "/data");
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  const std::string doc = dir.path() + "/openapi.json";
  CommandResult curl =
      RunCommand({"curl", "-sS", "--fail", "-o", doc, server.url() + "/api/v1/openapi.json"});
  ASSERT_EQ(curl.exit_code, 0) << curl.err;

  CommandResult valid = RunCommand({"node", (checker / "validate.mjs").string(), doc});
  EXPECT_EQ(valid.exit_code, 0) << valid.out << valid.err;
  EXPECT_NE(valid.out.find("valid OpenAPI 3.1"), std::string::npos) << valid.out;

  // The checker can fail: a document that is not OpenAPI is refused.
  const std::string bad = dir.Write("bad.json", R"({"openapi":"3.1.0","paths":{"/x":1}})");
  CommandResult refused = RunCommand({"node", (checker / "validate.mjs").string(), bad});
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  server.Terminate();
}

}  // namespace
}  // namespace tug::testing
