#pragma once
// The CLI's own settings file, like kubectl's kubeconfig or gh's hosts.yml: which server to talk
// to and the bearer token for each server, written by `tug login` and read by every command.
//
//   # written by `tug login`; holds bearer tokens: keep it private (mode 0600)
//   current-server: https://tug.example.com
//   servers:
//     - server: https://tug.example.com
//       token: tug_...
//
// Where: $TUG_CLI_CONFIG, else $XDG_CONFIG_HOME/tug/config, else ~/.config/tug/config.
// (Not $TUG_CONFIG: that names the server's config file, which `tug login` must never
// overwrite.) The file is written atomically (a temporary file renamed over it), mode 0600, in
// a directory created 0700.
//
// Errors: kInvalidArgument for a file that is not such a YAML document; kUnavailable when it
// cannot be read or written. A missing file is an empty config.
#include <map>
#include <string>

#include "core/error.h"

namespace tug::cli {

struct CliConfig {
  std::string current_server;
  std::map<std::string, std::string> tokens;  // by server URL (normalised: NormalizeServer)

  /// The token stored for `server` ("" when none).
  std::string TokenFor(const std::string& server) const;
};

/// "http://" added when there is no scheme, trailing slashes dropped.
std::string NormalizeServer(std::string server);
/// Where the config lives (see above).
std::string CliConfigPath();
[[nodiscard]] Result<CliConfig> LoadCliConfig(const std::string& path);
[[nodiscard]] Status SaveCliConfig(const std::string& path, const CliConfig& config);

}  // namespace tug::cli
