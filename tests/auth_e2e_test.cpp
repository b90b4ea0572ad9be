// Authentication end to end, against a real `tug server` and the real CLI (issue 19's check):
//   - without authentication the server refuses a non-loopback address, saying how to turn it on;
//   - with it, listening on 0.0.0.0: anonymous GET /api/v1/runs is 401, a viewer's POST
//     /api/v1/runs 403, a user's 201; `tug login` stores the token (0600) and later commands use
//     it;
//   - a secret env value reaches the job but no API answer, CLI output, server log, audit log or
//     event.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "net/http_client.h"
#include "test_util.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

constexpr const char* kSecret = "pl4nted-s3cret-c0ffee";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class AuthTest : public ::testing::Test {
 protected:
  // A server with bearer tokens on, listening on `listen`; its first admin token in admin_.
  void StartWithAuth(const std::string& listen) {
    const std::string config =
        dir_.Write("tug.yaml", "auth:\n  enabled: true\n  bootstrap_token_file: " + dir_.path() +
                                   "/admin-token\n  audit_log: " + dir_.path() + "/audit.log\n");
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data",
                                              std::vector<std::string>{"--config", config}, listen);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    admin_ = Trimmed(ReadFile(dir_.path() + "/admin-token"));
    ASSERT_FALSE(admin_.empty());
    // The CLI's own settings live in the test's directory, never in $HOME.
    ::setenv("TUG_CLI_CONFIG", (dir_.path() + "/cli-config").c_str(), 1);
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->Log() << "\n";
    server_.reset();
    ::unsetenv("TUG_CLI_CONFIG");
  }

  // `tug --token TOKEN args...` (no token: whatever `tug login` stored).
  CommandResult Tug(const std::string& token, std::vector<std::string> args) {
    if (!token.empty()) args.insert(args.begin(), {"--token", token});
    return server_->Tug(args);
  }
  // `tug token create` as admin; the new token.
  std::string CreateToken(const std::string& user, const std::string& role,
                          const std::string& group) {
    auto r = Tug(admin_, {"token", "create", "--name", user + "-e2e", "--user", user, "--role",
                          role, "--group", group});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(Has(r.err, "shown only now")) << r.err;
    return Trimmed(r.out);
  }

  struct Reply {
    int status = 0;
    std::string body;
  };
  Reply Http(const std::string& method, const std::string& target, const std::string& body,
             const std::string& token) {
    auto c = net::HttpClient::Create(server_->url());
    EXPECT_TRUE(c.ok());
    net::HeaderList headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto r = c->Send(method, target, body, "application/json", headers);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    if (!r.ok()) return {};
    return {r->status, r->body};
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::string admin_;
};

TEST_F(AuthTest, WithoutAuthANonLoopbackAddressIsRefused) {
  auto r = RunCommand(
      {TugBinary(), "server", "--listen", "0.0.0.0:0", "--data-dir", dir_.path() + "/data"},
      std::chrono::seconds(60));
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "refusing to listen on '0.0.0.0'")) << r.err;
  EXPECT_TRUE(Has(r.err, "without authentication")) << r.err;
  EXPECT_TRUE(Has(r.err, "auth: {enabled: true")) << r.err;
  EXPECT_TRUE(Has(r.err, "listen on 127.0.0.1")) << r.err;
  EXPECT_FALSE(Has(r.out, "listening on")) << r.out;
}

TEST_F(AuthTest, AnonymousIs401ViewerIs403UserIs201OnAnyAddress) {
  StartWithAuth("0.0.0.0:0");
  ASSERT_TRUE(Has(server_->Log(), "wrote a first admin token")) << server_->Log();
  const std::string viewer = CreateToken("vic", "viewer", "science");
  const std::string user = CreateToken("ada", "user", "science");
  const std::string def = dir_.Write("def.yaml", "name: hello\ncommand: echo hi\ngroup: science\n");
  auto applied = Tug(admin_, {"apply", "-f", def});
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;

  auto anonymous = Http("GET", "/api/v1/runs", "", "");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_TRUE(Has(anonymous.body, "tug login")) << anonymous.body;
  auto viewer_post = Http("POST", "/api/v1/runs", R"({"definition":"hello"})", viewer);
  EXPECT_EQ(viewer_post.status, 403) << viewer_post.body;
  EXPECT_TRUE(Has(viewer_post.body, "role viewer")) << viewer_post.body;
  auto user_post = Http("POST", "/api/v1/runs", R"({"definition":"hello"})", user);
  EXPECT_EQ(user_post.status, 201) << user_post.body;

  // The CLI says the same, and exits non-zero.
  auto cli_anonymous = server_->Tug({"get", "runs"});
  EXPECT_NE(cli_anonymous.exit_code, 0);
  EXPECT_TRUE(Has(cli_anonymous.err, "tug login")) << cli_anonymous.err;
  auto cli_viewer = Tug(viewer, {"run", "hello"});
  EXPECT_NE(cli_viewer.exit_code, 0);
  EXPECT_TRUE(Has(cli_viewer.err, "may not submit runs")) << cli_viewer.err;
}

TEST_F(AuthTest, LoginStoresTheTokenPrivatelyAndCommandsUseIt) {
  StartWithAuth("127.0.0.1:0");
  const std::string user = CreateToken("ada", "user", "science");
  const std::string token_file = dir_.Write("ada-token", user + "\n");
  auto login = server_->Tug({"login", "--token-file", token_file});
  ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  EXPECT_TRUE(Has(login.out, "ada (role user, groups science)")) << login.out;
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() + "/cli-config").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(Has(ReadFile(dir_.path() + "/cli-config"), user));

  auto whoami = server_->Tug({"whoami"});
  ASSERT_EQ(whoami.exit_code, 0) << whoami.err;
  EXPECT_TRUE(Has(whoami.out, "ada (role user, groups science)")) << whoami.out;
  // Without --server too: login made it the current server.
  auto bare = RunCommand({TugBinary(), "whoami"});
  EXPECT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_TRUE(Has(bare.out, server_->url())) << bare.out;

  const std::string def = dir_.Write("def.yaml", "name: hello\ncommand: echo hi\n");
  auto applied = server_->Tug({"apply", "-f", def});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  auto run = server_->Tug({"run", "hello", "--wait", "-o", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  json::object o = json::parse(run.out).as_object();
  EXPECT_EQ(o.at("owner"), "ada");
  EXPECT_EQ(o.at("group"), "science");
  auto events = server_->Tug({"events", std::string(o.at("id").as_string())});
  EXPECT_TRUE(Has(events.out, "submitted by 'ada' (group 'science')")) << events.out;

  auto tokens = server_->Tug({"token", "list"});
  ASSERT_EQ(tokens.exit_code, 0) << tokens.err;
  EXPECT_TRUE(Has(tokens.out, "ada-e2e")) << tokens.out;
  EXPECT_FALSE(Has(tokens.out, user));
  auto logout = server_->Tug({"logout"});
  ASSERT_EQ(logout.exit_code, 0) << logout.err;
  EXPECT_NE(server_->Tug({"whoami"}).exit_code, 0);
  EXPECT_FALSE(Has(ReadFile(dir_.path() + "/cli-config"), user));

  // An admin revokes it; it stops working at once.
  auto listed = Tug(admin_, {"token", "list", "--user", "ada", "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::string id(json::parse(listed.out).at("tokens").at(0).at("id").as_string());
  auto revoke = Tug(admin_, {"token", "revoke", id});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_TRUE(Has(revoke.out, "revoked")) << revoke.out;
  auto after = Tug(user, {"whoami"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_TRUE(Has(after.err, "was revoked")) << after.err;
}

TEST_F(AuthTest, ASecretReachesTheJobAndNothingElse) {
  StartWithAuth("127.0.0.1:0");
  const std::string user = CreateToken("ada", "user", "science");
  // The job proves it got the value by writing it where only the test looks.
  const std::string proof = dir_.path() + "/proof";
  const std::string def = dir_.Write(
      "def.yaml", "name: vault\ncommand: printf %s \"$PASSWORD\" > " + proof +
                      "; echo done\nenv:\n  PLAIN: visible\n  PASSWORD: {secret: true, value: " +
                      kSecret + "}\n");
  std::vector<CommandResult> outputs;
  outputs.push_back(Tug(user, {"apply", "-f", def}));
  ASSERT_EQ(outputs.back().exit_code, 0) << outputs.back().err;
  outputs.push_back(Tug(user, {"run", "vault", "--wait", "-o", "json"}));
  ASSERT_EQ(outputs.back().exit_code, 0) << outputs.back().out << outputs.back().err;
  const std::string id(json::parse(outputs.back().out).at("id").as_string());
  EXPECT_EQ(ReadFile(proof), kSecret);

  for (const char* format : {"json", "yaml", "table"}) {
    outputs.push_back(Tug(user, {"get", "run", id, "-o", format}));
    outputs.push_back(Tug(user, {"get", "definition", "vault", "-o", format}));
    outputs.push_back(Tug(user, {"get", "definitions", "-o", format}));
    outputs.push_back(Tug(user, {"get", "runs", "-o", format}));
    outputs.push_back(Tug(user, {"events", id, "-o", format}));
  }
  outputs.push_back(Tug(user, {"run", "vault", "--dry-run"}));
  outputs.push_back(Tug(user, {"logs", id}));
  outputs.push_back(Tug(user, {"run", "vault", "--follow"}));
  for (const auto& r : outputs) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(Has(r.out, kSecret)) << r.out;
    EXPECT_FALSE(Has(r.err, kSecret)) << r.err;
  }
  std::vector<std::string> bodies;
  for (const char* target : {"/api/v1/definitions", "/api/v1/definitions/vault", "/api/v1/runs"}) {
    bodies.push_back(Http("GET", target, "", user).body);
  }
  for (const char* view : {"", "/events", "/logs", "/usage"}) {
    bodies.push_back(Http("GET", "/api/v1/runs/" + id + view, "", user).body);
  }
  bodies.push_back(
      Http("POST", "/api/v1/runs?dry_run=true", R"({"definition":"vault"})", user).body);
  for (const auto& b : bodies) EXPECT_FALSE(Has(b, kSecret)) << b;
  EXPECT_TRUE(Has(bodies[1], "\"PASSWORD\":{\"secret\":true}")) << bodies[1];

  server_->Terminate();  // flushes the logs
  EXPECT_FALSE(Has(server_->Log(), kSecret));
  EXPECT_FALSE(Has(ReadFile(dir_.path() + "/audit.log"), kSecret));
  EXPECT_TRUE(Has(ReadFile(dir_.path() + "/audit.log"), "\"action\":\"submit_run\""));
}

}  // namespace
}  // namespace tug::testing
