#include "server/bootstrap_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "auth/token.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/private_file.h"

namespace tug::server {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start])) != 0) ++start;
  return s.substr(start);
}

Result<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Unavailable(
        fmt::format("cannot read auth.bootstrap_token_file '{}': {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = Trimmed(ss.str());
  if (!auth::LooksLikeToken(token)) {
    return InvalidArgument(fmt::format(
        "auth.bootstrap_token_file '{}' does not hold a tug token (tug_ and 43 characters); "
        "delete it and the server writes a new one",
        path));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    log::Warn("the bootstrap token file is readable by others; chmod 600 it", {{"path", path}});
  }
  return token;
}

// Writes a new token to `path` unless the file exists (then ""). The token goes to a private
// temporary file first and is linked into place, so a replica starting at the same moment sees
// either no file or the whole token, and only one of them wins.
Result<std::string> WriteNewToken(const std::string& path) {
  ASSIGN_OR_RETURN(std::string token, auth::GenerateToken());
  auto written = WritePrivateFile(path, token + "\n", IfExists::kKeep);
  if (!written.ok()) {
    return Unavailable(
        fmt::format("cannot create auth.bootstrap_token_file: {}", written.error().message()));
  }
  if (!*written) return std::string();  // another replica was first
  return token;
}

}  // namespace

Result<BootstrapResult> BootstrapAdminToken(store::Store& store, const std::string& path,
                                            const Clock& clock) {
  BootstrapResult out;
  std::string token;
  if (::access(path.c_str(), F_OK) != 0) {
    ASSIGN_OR_RETURN(token, WriteNewToken(path));
    out.wrote_file = !token.empty();
  }
  if (token.empty()) {
    ASSIGN_OR_RETURN(token, ReadToken(path));
  }
  const std::string hash = auth::HashToken(token);
  auto existing = store.GetTokenByHash(hash);
  if (existing.ok()) {
    out.token_id = existing->id;
    out.revoked = existing->revoked_at > 0;
    return out;
  }
  if (existing.error().code() != Code::kNotFound) return existing.error();
  store::ApiToken t;
  t.id = NewId(clock);
  t.name = "bootstrap";
  t.user = "admin";
  t.role = "admin";
  t.hash = hash;
  t.created_by = "auth.bootstrap_token_file";
  t.created_at = clock.Now();
  if (auto st = store.CreateToken(t); !st.ok()) {
    if (st.error().code() != Code::kAlreadyExists) return st.error();
    // Another replica registered it meanwhile.
    ASSIGN_OR_RETURN(store::ApiToken again, store.GetTokenByHash(hash));
    out.token_id = again.id;
    return out;
  }
  out.token_id = t.id;
  out.registered = true;
  return out;
}

}  // namespace tug::server
