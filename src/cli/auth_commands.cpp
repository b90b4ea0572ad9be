#include "cli/auth_commands.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cli/cli_config.h"
#include "cli/output.h"
#include "core/clock.h"

namespace tug::cli {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start])) != 0) ++start;
  return s.substr(start);
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Groups(const json::object& o) {
  std::string out;
  if (const json::value* g = o.if_contains("groups"); g != nullptr && g->is_array()) {
    for (const auto& x : g->as_array()) {
      if (x.is_string()) out += (out.empty() ? "" : ",") + std::string(x.as_string());
    }
  }
  return out;
}

// Whether a server URL's host is loopback (a token sent to it over http stays on this machine).
bool LoopbackUrl(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  std::string host = rest.substr(0, rest.find_first_of(":/"));
  if (rest.rfind("[::1]", 0) == 0) return true;
  return host == "localhost" || host.rfind("127.", 0) == 0;
}

std::string IdentityLine(const json::object& who, const std::string& server) {
  if (const json::value* a = who.if_contains("authenticated");
      a != nullptr && a->is_bool() && !a->as_bool()) {
    return fmt::format(
        "authentication is off on {}: it listens on loopback and treats every caller as an "
        "admin\n",
        server);
  }
  std::string groups = Groups(who);
  return fmt::format("{} (role {}, {}) on {}, signed in with {}\n", Str(who, "user"),
                     Str(who, "role"), groups.empty() ? "no groups" : "groups " + groups, server,
                     Str(who, "via"));
}

int Login(const Globals& g, const AuthArgs& a) {
  std::string token = a.login_token;
  if (token.empty() && !a.login_token_file.empty()) {
    std::ifstream in(a.login_token_file);
    if (!in) return Fail(fmt::format("cannot read '{}'; check the path", a.login_token_file));
    std::stringstream ss;
    ss << in.rdbuf();
    token = ss.str();
  }
  if (token.empty() && a.login_token_file.empty()) {
    if (::isatty(0) != 0) {
      std::cerr << fmt::format("Paste a token for {} (from `tug token create`): ", g.server);
    }
    std::getline(std::cin, token);
  }
  token = Trimmed(token);
  if (token.empty()) {
    return Fail("no token given; pass --token-file FILE, or paste one on standard input");
  }
  Globals with = g;
  with.token = token;
  auto client = Client::Connect(with);
  if (!client.ok()) return Fail(client.error().message());
  auto who = client->Call("GET", "/api/v1/whoami");
  if (!who.ok()) {
    return Fail(fmt::format("{} refused the token: {}", g.server, who.error().message()));
  }
  const std::string path = CliConfigPath();
  auto config = LoadCliConfig(path);
  if (!config.ok()) return Fail(config.error().message());
  const std::string server = NormalizeServer(g.server);
  config->tokens[server] = token;
  config->current_server = server;
  if (auto st = SaveCliConfig(path, *config); !st.ok()) return Fail(st.error().message());
  if (server.rfind("http://", 0) == 0 && !LoopbackUrl(server)) {
    std::cerr << fmt::format(
        "warning: {} is plain http: the token crosses the network unencrypted; serve tug "
        "behind TLS (https)\n",
        server);
  }
  std::cout << "logged in: " << IdentityLine(who->as_object(), server);
  std::cout << fmt::format("token stored in {}\n", path);
  return 0;
}

int Logout(const Globals& g) {
  const std::string path = CliConfigPath();
  auto config = LoadCliConfig(path);
  if (!config.ok()) return Fail(config.error().message());
  const std::string server = NormalizeServer(g.server);
  if (config->tokens.erase(server) == 0) {
    std::cout << fmt::format("no token stored for {}\n", server);
    return 0;
  }
  if (auto st = SaveCliConfig(path, *config); !st.ok()) return Fail(st.error().message());
  std::cout << fmt::format(
      "logged out of {} (the token still works until revoked: `tug token revoke ID`)\n", server);
  return 0;
}

int WhoAmI(const Globals& g) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  auto who = client->Call("GET", "/api/v1/whoami");
  if (!who.ok()) return Fail(who.error().message());
  Print(g, *who, [&] { return IdentityLine(who->as_object(), g.server); });
  return 0;
}

int TokenCreate(const Globals& g, const AuthArgs& a) {
  json::object body;
  if (!a.name.empty()) body["name"] = a.name;
  if (!a.user.empty()) body["user"] = a.user;
  if (!a.role.empty()) body["role"] = a.role;
  if (!a.expires_in.empty()) body["expires_in"] = a.expires_in;
  if (!a.groups.empty()) {
    json::array groups;
    for (const auto& gr : a.groups) groups.emplace_back(gr);
    body["groups"] = std::move(groups);
  }
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  auto r = client->Call("POST", "/api/v1/tokens", json::serialize(body));
  if (!r.ok()) return Fail(r.error().message());
  const json::object& t = r->as_object();
  if (g.output != "table") {
    Print(g, *r, [] { return std::string(); });
    return 0;
  }
  // The token alone on stdout (for `> file`), what it is on stderr.
  std::string groups = Groups(t);
  const json::value* expires = t.if_contains("expires_at");
  std::cerr << fmt::format(
      "token '{}' (id {}) for {}, role {}, {}, {}; it is shown only now: store it (tug login "
      "--token-file FILE)\n",
      Str(t, "name"), Str(t, "id"), Str(t, "user"), Str(t, "role"),
      groups.empty() ? "no groups" : "groups " + groups,
      expires != nullptr && expires->is_string() ? "expires " + std::string(expires->as_string())
                                                 : "never expires");
  std::cout << Str(t, "token") << "\n";
  return 0;
}

int TokenList(const Globals& g, const AuthArgs& a) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  std::string target = "/api/v1/tokens";
  if (!a.list_user.empty()) target += "?user=" + UrlEncode(a.list_user);
  auto r = client->Call("GET", target);
  if (!r.ok()) return Fail(r.error().message());
  const Micros now = SystemClock::Instance().Now();
  Print(g, *r, [&] {
    std::vector<std::vector<std::string>> rows{
        {"ID", "NAME", "USER", "ROLE", "GROUPS", "CREATED", "EXPIRES", "LAST USED", "STATE"}};
    for (const auto& v : r->as_object().at("tokens").as_array()) {
      const json::object& t = v.as_object();
      std::string state = "live";
      if (t.at("revoked_at").is_string()) {
        state = "revoked";
      } else if (t.at("expires_at").is_string() && Until(t.at("expires_at"), now) == "now") {
        state = "expired";
      }
      rows.push_back({Str(t, "id"), Str(t, "name"), Str(t, "user"), Str(t, "role"), Groups(t),
                      Age(t.at("created_at"), now),
                      t.at("expires_at").is_string() ? Until(t.at("expires_at"), now) : "never",
                      t.at("last_used_at").is_string() ? Age(t.at("last_used_at"), now) : "never",
                      state});
    }
    return Table(rows);
  });
  return 0;
}

int TokenRevoke(const Globals& g, const AuthArgs& a) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  auto r = client->Call("DELETE", "/api/v1/tokens/" + UrlEncode(a.revoke_id));
  if (!r.ok()) return Fail(r.error().message());
  Print(g, *r, [&] {
    return fmt::format("token {} ('{}' of {}) revoked\n", a.revoke_id, Str(r->as_object(), "name"),
                       Str(r->as_object(), "user"));
  });
  return 0;
}

}  // namespace

void AddAuthCommands(CLI::App& app, AuthArgs& a) {
  a.login = app.add_subcommand(
      "login", "Store a bearer token for the server (--server) in the CLI config, and use it");
  a.login->add_option("--token-file", a.login_token_file,
                      "File holding the token (default: read it from standard input)");
  a.logout = app.add_subcommand("logout", "Forget the stored token of the server (--server)");
  a.whoami = app.add_subcommand("whoami", "Show who the server takes you for");
  a.token = app.add_subcommand("token", "Create, list and revoke API bearer tokens");
  a.token->require_subcommand(1);
  a.token_create = a.token->add_subcommand("create", "Create a token; it is shown only once");
  a.token_create->add_option("--name", a.name, "What it is for, e.g. laptop or ci");
  a.token_create->add_option("--user", a.user, "Whose token (admins only; default: yours)");
  a.token_create->add_option("--group", a.groups,
                             "A group it acts in (repeatable; default: yours)");
  a.token_create->add_option("--role", a.role, "viewer, user or admin (default: yours)");
  a.token_create->add_option("--expires-in", a.expires_in,
                             "Lifetime, e.g. 30d or 12h, or never (default: the server's)");
  a.token_list = a.token->add_subcommand("list", "List tokens (yours; admins: everyone's)");
  a.token_list->add_option("--user", a.list_user, "Only this user's tokens");
  a.token_revoke = a.token->add_subcommand("revoke", "Revoke a token by id");
  a.token_revoke->add_option("id", a.revoke_id, "Token id (see `tug token list`)")->required();
}

int AuthCmd(const Globals& g, const AuthArgs& a) {
  if (*a.login) return Login(g, a);
  if (*a.logout) return Logout(g);
  if (*a.whoami) return WhoAmI(g);
  if (*a.token_create) return TokenCreate(g, a);
  if (*a.token_list) return TokenList(g, a);
  if (*a.token_revoke) return TokenRevoke(g, a);
  return -1;
}

Status ResolveCredentials(Globals& g, bool server_flag_given, bool token_flag_given) {
  const char* env_server = std::getenv("TUG_SERVER");
  const char* env_token = std::getenv("TUG_TOKEN");
  const bool server_known = server_flag_given || (env_server != nullptr && *env_server != '\0');
  const bool token_known = token_flag_given || (env_token != nullptr && *env_token != '\0');
  if (!server_flag_given && env_server != nullptr && *env_server != '\0') g.server = env_server;
  if (!token_flag_given && token_known) g.token = env_token;
  if (!server_known || !token_known) {
    auto config = LoadCliConfig(CliConfigPath());
    if (!config.ok()) return config.error();
    if (!server_known && !config->current_server.empty()) g.server = config->current_server;
    if (!token_known) g.token = config->TokenFor(g.server);
  }
  g.server = NormalizeServer(g.server);
  return OkStatus();
}

}  // namespace tug::cli
