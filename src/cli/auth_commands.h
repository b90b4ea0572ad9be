#pragma once
// Signing in and tokens: `tug login`, `tug logout`, `tug whoami`, `tug token create|list|revoke`,
// and how every command finds its server and token (ResolveCredentials).
#include <string>
#include <vector>

#include "cli/client.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace tug::cli {

struct AuthArgs {
  // login: the global --token when given (else --token-file, else standard input)
  std::string login_token;
  std::string login_token_file;
  // token create
  std::string name;
  std::string user;
  std::vector<std::string> groups;
  std::string role;
  std::string expires_in;
  // token list
  std::string list_user;
  // token revoke
  std::string revoke_id;

  CLI::App* login = nullptr;
  CLI::App* logout = nullptr;
  CLI::App* whoami = nullptr;
  CLI::App* token = nullptr;
  CLI::App* token_create = nullptr;
  CLI::App* token_list = nullptr;
  CLI::App* token_revoke = nullptr;
};

/// Registers login, logout, whoami and token (create, list, revoke).
void AddAuthCommands(CLI::App& app, AuthArgs& args);
/// Runs whichever of them was given; nullopt-like -1 when none was.
int AuthCmd(const Globals& g, const AuthArgs& args);

/// Fills g.server and g.token: the --server flag (server_flag_given), else TUG_SERVER, else the
/// config's current server, else http://127.0.0.1:8080; the --token flag, else TUG_TOKEN, else
/// the config's token for that server. A broken config file is an error only when it is needed.
[[nodiscard]] Status ResolveCredentials(Globals& g, bool server_flag_given, bool token_flag_given);

}  // namespace tug::cli
