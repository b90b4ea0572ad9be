#include <cstdlib>

#include <gtest/gtest.h>

#include "kube/client.h"
#include "kube/testing.h"

namespace tug::kube {
namespace {

using testing::TempDir;
using testing::WriteFile;

// "hello\n" in base64.
constexpr const char* kCertData = "aGVsbG8K";

const char* kFull = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority-data: Y2EtZGF0YQo=
    tls-server-name: kubernetes.default.svc
- name: dev
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: certs/ca.crt
    insecure-skip-tls-verify: true
users:
- name: alice
  user:
    token: "0123456789"
- name: bob
  user:
    tokenFile: secrets/token
    client-certificate: certs/bob.crt
    client-key: /abs/ignored-when-data.key
    client-key-data: a2V5Cg==
- name: carol
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/get-token
      args: ["--cluster", "dev"]
      env:
      - name: REGION
        value: eu-west-1
- name: dave
  user:
    exec: {command: aws, args: [eks, get-token]}
contexts:
- name: dev
  context: {cluster: dev, user: alice, namespace: jobs}
- name: bob@dev
  context: {cluster: dev, user: bob}
- name: carol@prod
  context: {cluster: prod, user: carol}
- name: dave@prod
  context: {cluster: prod, user: dave}
- name: anon
  context: {cluster: prod}
- name: ghost
  context: {cluster: nowhere, user: alice}
)";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_ / "certs/ca.crt", "CA PEM\n");
    WriteFile(dir_ / "certs/bob.crt", "BOB PEM\n");
  }
  Result<ClusterConfig> Parse(const std::string& context) {
    return ParseKubeconfig(kFull, dir_.path(), context);
  }
  TempDir dir_;
};

TEST_F(KubeconfigTest, CurrentContextWithRelativeCaFileAndToken) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM\n");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, "0123456789");  // a token made of digits stays a string
  EXPECT_EQ(c->namespace_, "jobs");
  EXPECT_FALSE(c->exec.has_value());
}

TEST_F(KubeconfigTest, NamedContextWithFilesAndBase64Data) {
  auto c = Parse("bob@dev");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->token_file, dir_ / "secrets/token");
  EXPECT_EQ(c->client_cert_pem, "BOB PEM\n");
  EXPECT_EQ(c->client_key_pem, "key\n");  // -data wins over the file
  EXPECT_EQ(c->namespace_, "default");
}

TEST_F(KubeconfigTest, CaDataAndServerName) {
  auto c = Parse("anon");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->server, "https://prod.example:6443");
  EXPECT_EQ(c->ca_pem, "ca-data\n");
  EXPECT_EQ(c->tls_server_name, "kubernetes.default.svc");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_TRUE(c->token.empty());
}

TEST_F(KubeconfigTest, ExecPlugins) {
  auto c = Parse("carol@prod");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  ASSERT_TRUE(c->exec.has_value());
  EXPECT_EQ(c->exec->command, dir_ / "bin/get-token");  // relative to the kubeconfig
  EXPECT_EQ(c->exec->args, (std::vector<std::string>{"--cluster", "dev"}));
  EXPECT_EQ(c->exec->env, (std::map<std::string, std::string>{{"REGION", "eu-west-1"}}));
  EXPECT_EQ(c->exec->api_version, "client.authentication.k8s.io/v1");

  auto d = Parse("dave@prod");
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  EXPECT_EQ(d->exec->command, "aws");  // looked up in PATH
  EXPECT_EQ(d->exec->args, (std::vector<std::string>{"eks", "get-token"}));
}

TEST_F(KubeconfigTest, ErrorsNameTheFileAndTheField) {
  struct Case {
    std::string yaml;
    std::string context;
    std::string message;
  };
  std::string clusters = "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n";
  const std::vector<Case> cases = {
      {kFull, "foo",
       "kubeconfig: context 'foo' not found; contexts: dev, bob@dev, carol@prod, dave@prod, anon, "
       "ghost"},
      {kFull, "ghost",
       "kubeconfig: cluster 'nowhere' (used by context 'ghost') not found; clusters: prod, dev"},
      {clusters + "contexts:\n- name: a\n  context: {cluster: c}\n- name: b\n  context: {cluster: "
                  "c}\n",
       "", "kubeconfig: no current-context is set; pick a context (a, b)"},
      {"clusters:\n- name: c\n  cluster: {certificate-authority-data: 'x'}\ncontexts:\n- name: "
       "a\n  context: {cluster: c}\n",
       "a", "kubeconfig: cluster 'c': server is not set"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://x', certificate-authority-data: "
       "'#!'}\ncontexts:\n- name: a\n  context: {cluster: c}\n",
       "a", "kubeconfig: cluster 'c': certificate-authority-data is not valid base64"},
      {clusters + "users:\n- name: u\n  user: {client-certificate-data: " + kCertData +
           "}\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n",
       "a",
       "kubeconfig: user 'u': client-certificate and client-key go together; set both or "
       "neither"},
      {clusters + "users:\n- name: u\n  user: {exec: {args: [x]}}\ncontexts:\n- name: a\n  "
                  "context: {cluster: c, user: u}\n",
       "a", "kubeconfig: user 'u': exec: command is not set"},
      {clusters + "users:\n- name: u\n  user: {auth-provider: {name: gcp}}\ncontexts:\n- name: "
                  "a\n  context: {cluster: c, user: u}\n",
       "a", "kubeconfig: user 'u': auth-provider is not supported; use an exec credential plugin"},
      {clusters + "contexts:\n- name: a\n  context: {cluster: c, user: nobody}\n", "a",
       "kubeconfig: user 'nobody' (used by context 'a') not found; users: none"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://x', insecure-skip-tls-verify: "
       "maybe}\ncontexts:\n- name: a\n  context: {cluster: c}\n",
       "a", "kubeconfig: cluster 'c': insecure-skip-tls-verify must be true or false"},
      {"- just\n- a list\n", "",
       "kubeconfig: not a kubeconfig (expected a map with clusters, "
       "users, contexts)"},
  };
  for (const auto& c : cases) {
    auto r = ParseKubeconfig(c.yaml, dir_.path(), c.context);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << c.yaml;
    EXPECT_EQ(r.error().message(), c.message) << c.yaml;
  }
  auto bad_yaml = ParseKubeconfig("clusters: [\n", dir_.path());
  ASSERT_FALSE(bad_yaml.ok());
  EXPECT_EQ(bad_yaml.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_yaml.error().message().find("kubeconfig: not valid YAML at line"),
            std::string::npos)
      << bad_yaml.error().message();
}

TEST_F(KubeconfigTest, LoadReadsTheFileAndResolvesAgainstItsDirectory) {
  WriteFile(dir_ / "kubeconfig", kFull);
  auto c = LoadKubeconfig(dir_ / "kubeconfig", "bob@dev");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->client_cert_pem, "BOB PEM\n");

  std::filesystem::remove(dir_ / "certs/ca.crt");
  auto missing_ca = LoadKubeconfig(dir_ / "kubeconfig");
  ASSERT_FALSE(missing_ca.ok());
  EXPECT_EQ(missing_ca.error().code(), Code::kNotFound);
  EXPECT_EQ(missing_ca.error().message(),
            "kubeconfig " + (dir_ / "kubeconfig") + ": cluster 'dev' certificate-authority: " +
                "cannot read '" + (dir_ / "certs/ca.crt") + "' (No such file or directory)");

  auto missing = LoadKubeconfig(dir_ / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_EQ(missing.error().message().rfind("kubeconfig " + (dir_ / "nope") + ": cannot read", 0),
            0u)
      << missing.error().message();
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(InClusterConfigTest, ReadsTheServiceAccountDirectory) {
  TempDir sa;
  WriteFile(sa / "ca.crt", "CLUSTER CA\n");
  WriteFile(sa / "token", "sa-token\n");
  WriteFile(sa / "namespace", "batch\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  auto c = InClusterConfig(sa.path());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->ca_pem, "CLUSTER CA\n");
  EXPECT_EQ(c->token_file, sa / "token");
  EXPECT_EQ(c->namespace_, "batch");

  ScopedEnv v6("KUBERNETES_SERVICE_HOST", "fd00::1");
  auto c6 = InClusterConfig(sa.path());
  ASSERT_TRUE(c6.ok());
  EXPECT_EQ(c6->server, "https://[fd00::1]:443");

  std::filesystem::remove(sa / "token");
  auto no_token = InClusterConfig(sa.path());
  ASSERT_FALSE(no_token.ok());
  EXPECT_EQ(no_token.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(no_token.error().message().find("token"), std::string::npos);
}

TEST(InClusterConfigTest, OutsideAPodIsFailedPrecondition) {
  ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
  auto c = InClusterConfig("/nonexistent");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(c.error().message().find("not running inside a Kubernetes pod"), std::string::npos);
}

}  // namespace
}  // namespace tug::kube
