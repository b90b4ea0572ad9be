#pragma once
/// client-go's exec credential plugins: run the configured command with KUBERNETES_EXEC_INFO set
/// (an ExecCredential with spec.interactive=false) and no stdin, read the ExecCredential it
/// prints. Caching and refresh on 401 are the Client's job.
/// Errors: kUnauthenticated naming the command and the first line of its stderr.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "kube/client.h"

namespace tug::kube {

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiry;  // none: valid until a 401
};

/// Parses the plugin's stdout: {"kind":"ExecCredential","status":{"token","expirationTimestamp",
/// "clientCertificateData","clientKeyData"}}.
[[nodiscard]] Result<ExecCredential> ParseExecCredential(std::string_view text,
                                                         const std::string& command);

/// Runs the plugin and parses its output; kills it after `timeout`.
[[nodiscard]] Result<ExecCredential> RunExecPlugin(
    const ClusterConfig::Exec& exec, std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+02:00".
[[nodiscard]] Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

}  // namespace tug::kube
