#include "cli/cli_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/private_file.h"
#include "core/yaml.h"

namespace json = boost::json;

namespace tug::cli {
namespace {

// A YAML double-quoted scalar (JSON's escaping is valid YAML).
std::string Quoted(const std::string& s) { return json::serialize(json::value(s)); }

}  // namespace

std::string CliConfig::TokenFor(const std::string& server) const {
  auto it = tokens.find(NormalizeServer(server));
  return it == tokens.end() ? std::string() : it->second;
}

std::string NormalizeServer(std::string server) {
  if (server.empty()) return server;
  if (server.find("://") == std::string::npos) server = "http://" + server;
  while (!server.empty() && server.back() == '/') server.pop_back();
  return server;
}

std::string CliConfigPath() {
  if (const char* p = std::getenv("TUG_CLI_CONFIG"); p != nullptr && *p != '\0') return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0') {
    return std::string(x) + "/tug/config";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.config/tug/config";
}

Result<CliConfig> LoadCliConfig(const std::string& path) {
  CliConfig out;
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return out;
  std::ifstream in(path);
  if (!in) {
    return Unavailable(
        fmt::format("cannot read the CLI config '{}': {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto docs = YamlToJson(ss.str());
  auto bad = [&path](const std::string& why) {
    return InvalidArgument(
        fmt::format("the CLI config '{}' is not valid: {}; fix it or remove it and run `tug login`",
                    path, why));
  };
  if (!docs.ok()) return bad(docs.error().message());
  if (docs->empty() || (*docs)[0].is_null()) return out;
  if (!(*docs)[0].is_object()) return bad("it is not a map");
  const json::object& o = (*docs)[0].as_object();
  if (const json::value* c = o.if_contains("current-server"); c != nullptr && !c->is_null()) {
    if (!c->is_string()) return bad("current-server is not a string");
    out.current_server = NormalizeServer(std::string(c->as_string()));
  }
  if (const json::value* s = o.if_contains("servers"); s != nullptr && !s->is_null()) {
    if (!s->is_array()) return bad("servers is not a list");
    for (const auto& item : s->as_array()) {
      const json::object* e = item.if_object();
      const json::value* server = e != nullptr ? e->if_contains("server") : nullptr;
      const json::value* token = e != nullptr ? e->if_contains("token") : nullptr;
      if (server == nullptr || !server->is_string() || token == nullptr || !token->is_string()) {
        return bad("each entry of servers needs a server and a token");
      }
      out.tokens[NormalizeServer(std::string(server->as_string()))] =
          std::string(token->as_string());
    }
  }
  return out;
}

Status SaveCliConfig(const std::string& path, const CliConfig& config) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    if (!std::filesystem::exists(p.parent_path(), ec)) {
      std::filesystem::create_directories(p.parent_path(), ec);
      if (ec) {
        return Unavailable(
            fmt::format("cannot create '{}': {}", p.parent_path().string(), ec.message()));
      }
      ::chmod(p.parent_path().c_str(), 0700);
    }
  }
  std::string text = "# written by `tug login`; holds bearer tokens: keep it private (mode 0600)\n";
  if (!config.current_server.empty()) {
    text += "current-server: " + Quoted(config.current_server) + "\n";
  }
  text += config.tokens.empty() ? "servers: []\n" : "servers:\n";
  for (const auto& [server, token] : config.tokens) {
    text += "  - server: " + Quoted(server) + "\n    token: " + Quoted(token) + "\n";
  }
  auto written = WritePrivateFile(path, text, IfExists::kReplace);
  if (!written.ok()) {
    return Unavailable(fmt::format("cannot write the CLI config: {}", written.error().message()));
  }
  return OkStatus();
}

}  // namespace tug::cli
