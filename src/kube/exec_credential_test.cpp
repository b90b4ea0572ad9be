#include "kube/exec_credential.h"

#include <gtest/gtest.h>

#include "kube/testing.h"

namespace tug::kube {
namespace {

using namespace std::chrono_literals;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteScript;

std::chrono::system_clock::time_point At(int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

TEST(Rfc3339Test, ParsesUtcOffsetsAndFractions) {
  auto z = ParseRfc3339("2024-05-01T10:00:00Z");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(*z, At(1714557600));
  auto off = ParseRfc3339("2024-05-01T12:30:00+02:30");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, At(1714557600));
  auto frac = ParseRfc3339("2024-05-01T10:00:00.25Z");
  ASSERT_TRUE(frac.ok());
  EXPECT_EQ(*frac - At(1714557600), 250ms);
  for (const char* bad : {"", "2024-05-01", "2024-05-01T10:00:00", "2024-13-01T10:00:00Z",
                          "2024-05-01T10:00:00+0200", "2024-05-01T10:00:00Zjunk"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

TEST(ExecCredentialTest, ParsesTokenCertificateAndExpiry) {
  auto c = ParseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
      R"("status":{"token":"abc","expirationTimestamp":"2024-05-01T10:00:00Z"}})",
      "get-token");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->token, "abc");
  ASSERT_TRUE(c->expiry.has_value());
  EXPECT_EQ(*c->expiry, At(1714557600));

  auto cert = ParseExecCredential(
      R"({"kind":"ExecCredential","status":{"clientCertificateData":"C","clientKeyData":"K"}})",
      "x");
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->client_cert_pem, "C");
  EXPECT_EQ(cert->client_key_pem, "K");
  EXPECT_FALSE(cert->expiry.has_value());

  for (const char* bad : {"nope", R"({"kind":"Pod"})", R"({"kind":"ExecCredential"})",
                          R"({"kind":"ExecCredential","status":{}})",
                          R"({"kind":"ExecCredential","status":{"clientCertificateData":"C"}})",
                          R"({"kind":"ExecCredential","status":{"token":"t",)"
                          R"("expirationTimestamp":"soon"}})"}) {
    auto r = ParseExecCredential(bad, "get-token");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), Code::kUnauthenticated) << bad;
    EXPECT_NE(r.error().message().find("exec credential plugin 'get-token' printed"),
              std::string::npos)
        << r.error().message();
  }
}

TEST(ExecCredentialTest, RunsThePluginWithArgsEnvAndExecInfo) {
  TempDir dir;
  WriteScript(dir / "plugin", R"(#!/bin/sh
echo "$KUBERNETES_EXEC_INFO" > "$OUT/info"
echo "$REGION $*" > "$OUT/args"
cat > "$OUT/stdin"
printf '{"kind":"ExecCredential","status":{"token":"tok-%s"}}\n' "$REGION"
)");
  ClusterConfig::Exec exec;
  exec.command = dir / "plugin";
  exec.args = {"--cluster", "a b"};
  exec.env = {{"REGION", "eu"}, {"OUT", dir.path()}};
  auto c = RunExecPlugin(exec);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->token, "tok-eu");
  EXPECT_EQ(ReadFile(dir / "args"), "eu --cluster a b\n");
  EXPECT_EQ(ReadFile(dir / "info"),
            R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",)"
            R"("spec":{"interactive":false}})"
            "\n");
  EXPECT_EQ(ReadFile(dir / "stdin"), "");  // not interactive: no terminal, no input
}

TEST(ExecCredentialTest, AFailingPluginIsUnauthenticatedWithItsStderr) {
  TempDir dir;
  WriteScript(dir / "plugin",
              "#!/bin/sh\necho 'error: no SSO session; run aws sso login' >&2\n"
              "echo 'details...' >&2\nexit 3\n");
  ClusterConfig::Exec exec;
  exec.command = dir / "plugin";
  auto c = RunExecPlugin(exec);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kUnauthenticated);
  EXPECT_EQ(c.error().message(), "exec credential plugin '" + (dir / "plugin") +
                                     "' failed (exit status 3): error: no SSO session; run aws "
                                     "sso login");

  exec.command = "tug-no-such-plugin";
  auto missing = RunExecPlugin(exec);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kUnauthenticated);
  EXPECT_NE(missing.error().message().find("cannot run the exec credential plugin "
                                           "'tug-no-such-plugin'"),
            std::string::npos)
      << missing.error().message();
}

TEST(ExecCredentialTest, AHungPluginIsKilledAfterTheTimeout) {
  TempDir dir;
  WriteScript(dir / "plugin", "#!/bin/sh\nexec sleep 30\n");
  ClusterConfig::Exec exec;
  exec.command = dir / "plugin";
  auto c = RunExecPlugin(exec, 200ms);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), Code::kUnauthenticated);
  EXPECT_NE(c.error().message().find("did not finish"), std::string::npos);
}

}  // namespace
}  // namespace tug::kube
