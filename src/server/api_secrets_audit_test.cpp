// API v1: secret env values never come back (every answer is searched for a planted secret),
// engines get them only the way they can use them, and the audit log records who changed what.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "server/api_auth_fixture.h"

namespace tug::server::testing {
namespace {

constexpr const char* kSecret = "s3cr3t-planted-7f2c";

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(ApiAuthTest, SecretEnvValuesNeverComeBack) {
  const std::string def = std::string(R"({"name":"vault","command":"true","env":{"PLAIN":"p",)") +
                          R"("PASSWORD":{"secret":true,"value":")" + kSecret + R"("}}})";
  std::vector<Reply> answers;
  answers.push_back(Call("PUT", "/api/v1/definitions/vault", def, ada_));
  ASSERT_EQ(answers.back().status, 201) << answers.back().raw;
  EXPECT_EQ(answers.back().body.at("env").at("PASSWORD"), json::parse(R"({"secret":true})"));
  answers.push_back(Call("GET", "/api/v1/definitions/vault", "", ada_));
  answers.push_back(Call("GET", "/api/v1/definitions", "", ada_));

  // What GET answered, applied again, keeps the value: unchanged.
  Reply read = answers[1];
  auto again = Call("PUT", "/api/v1/definitions/vault", json::serialize(read.body), ada_);
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body.at("change"), "unchanged");
  answers.push_back(again);
  auto stored = api_->store().GetDefinition("vault");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->secret_env.at("PASSWORD").value, kSecret);
  // {secret: true} for a name with no stored value is an error that says what to do.
  auto nothing_to_keep =
      Call("PUT", "/api/v1/definitions/vault",
           R"({"name":"vault","command":"true","env":{"OTHER":{"secret":true}}})", ada_);
  EXPECT_EQ(nothing_to_keep.status, 400);
  EXPECT_TRUE(Has(nothing_to_keep.Message(), "no stored version")) << nothing_to_keep.raw;

  answers.push_back(Call("POST", "/api/v1/runs?dry_run=true", R"({"definition":"vault"})", ada_));
  EXPECT_EQ(answers.back().status, 200) << answers.back().raw;
  answers.push_back(Call("POST", "/api/v1/runs", R"({"definition":"vault"})", ada_));
  ASSERT_EQ(answers.back().status, 201) << answers.back().raw;
  const std::string id(answers.back().body.at("id").as_string());
  answers.push_back(Call("GET", "/api/v1/runs/" + id, "", ada_));
  answers.push_back(Call("GET", "/api/v1/runs", "", ada_));
  answers.push_back(Call("GET", "/api/v1/runs/" + id + "/events", "", ada_));
  answers.push_back(Call("POST", "/api/v1/runs/" + id + "/stop", "", ada_));
  answers.push_back(Call("GET", "/api/v1/runs/" + id + "/events", "", ada_));
  for (const Reply& r : answers) EXPECT_FALSE(Has(r.raw, kSecret)) << r.raw;
  // The run's snapshot keeps it for the engine.
  auto run = api_->store().GetRun(id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->spec.secret_env.at("PASSWORD").value, kSecret);
  EXPECT_FALSE(Has(ReadFile(dir_ + "/audit.log"), kSecret));
}

TEST_F(ApiAuthTest, SecretsGoOnlyWhereTheEngineCanUseThem) {
  // The harness' engine is "local": a Kubernetes Secret reference cannot be read there.
  ASSERT_EQ(Call("PUT", "/api/v1/definitions/ref",
                 R"({"name":"ref","command":"true","env":{"DB":{"valueFrom":{"secretKeyRef":)"
                 R"({"name":"db-creds","key":"password"}}}}})",
                 ada_)
                .status,
            201);
  auto refused = Call("POST", "/api/v1/runs", R"({"definition":"ref"})", ada_);
  EXPECT_EQ(refused.status, 422) << refused.raw;
  EXPECT_TRUE(Has(refused.Message(), "local engine cannot read")) << refused.raw;
  // And a spark or kubernetes run with an inline value is refused even as a dry run.
  ASSERT_EQ(
      Call("PUT", "/api/v1/definitions/kube",
           std::string(R"({"name":"kube","image":"busybox","command":"true",)") +
               R"("engine":"kubernetes","env":{"P":{"secret":true,"value":")" + kSecret + R"("}}})",
           ada_)
          .status,
      201);
  auto inline_on_kube = Call("POST", "/api/v1/runs?dry_run=true", R"({"definition":"kube"})", ada_);
  EXPECT_EQ(inline_on_kube.status, 422) << inline_on_kube.raw;
  EXPECT_TRUE(Has(inline_on_kube.Message(), "secretKeyRef")) << inline_on_kube.raw;
  EXPECT_FALSE(Has(inline_on_kube.raw, kSecret));
}

TEST_F(ApiAuthTest, AuditLogRecordsWhoChangedWhat) {
  Define("etl", "science");
  std::string id = Submit("etl", ada_);
  ASSERT_EQ(Call("POST", "/api/v1/runs/" + id + "/stop", "", ada_).status, 202);
  ASSERT_EQ(Call("POST", "/api/v1/runs", R"({"definition":"etl"})", vic_).status, 403);
  ASSERT_EQ(Call("POST", "/api/v1/runs", R"({"definition":"etl"})").status, 401);
  auto token = Call("POST", "/api/v1/tokens", R"({"name":"ci"})", bob_);
  ASSERT_EQ(token.status, 201);
  ASSERT_EQ(
      Call("PUT", "/api/v1/definitions/etl", R"({"name":"etl","command":"echo new"})", ada_).status,
      200);

  auto lines = AuditLines();
  auto find = [&](const std::string& action, const std::string& actor) -> const json::object* {
    for (const auto& l : lines) {
      if (l.at("action") == action.c_str() && l.at("actor") == actor.c_str()) return &l;
    }
    return nullptr;
  };
  const json::object* created = find("create_definition", "admin");
  ASSERT_NE(created, nullptr) << json::serialize(json::value_from(lines));
  EXPECT_EQ(created->at("target"), "definition/etl");
  const json::object* submitted = find("submit_run", "ada");
  ASSERT_NE(submitted, nullptr);
  EXPECT_EQ(submitted->at("target"), ("run/" + id).c_str());
  EXPECT_EQ(submitted->at("result"), "ok");
  EXPECT_EQ(submitted->at("role"), "user");
  EXPECT_TRUE(Has(std::string(submitted->at("via").as_string()), "token:"));
  EXPECT_EQ(submitted->at("remote"), "127.0.0.1:40000");
  const json::object* stopped = find("stop_run", "ada");
  ASSERT_NE(stopped, nullptr);
  EXPECT_EQ(stopped->at("target"), ("run/" + id).c_str());
  const json::object* denied = find("request", "vic");
  ASSERT_NE(denied, nullptr);
  EXPECT_EQ(denied->at("result"), "denied");
  EXPECT_EQ(denied->at("target"), "POST /api/v1/runs");
  EXPECT_TRUE(Has(std::string(denied->at("detail").as_string()), "role viewer"));
  const json::object* anonymous = find("request", "");
  ASSERT_NE(anonymous, nullptr);
  EXPECT_EQ(anonymous->at("result"), "unauthenticated");
  const json::object* token_line = find("create_token", "bob");
  ASSERT_NE(token_line, nullptr);
  EXPECT_FALSE(Has(json::serialize(*token_line), std::string(token.body.at("token").as_string())));
  const json::object* changed = find("change_definition", "ada");
  ASSERT_NE(changed, nullptr);
  EXPECT_TRUE(Has(std::string(changed->at("detail").as_string()), "changed: command"))
      << json::serialize(*changed);
  for (const auto& l : lines) EXPECT_TRUE(l.contains("time"));
}

}  // namespace
}  // namespace tug::server::testing
