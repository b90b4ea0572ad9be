// `tug server`: the config (defaults, file, environment, flags) and the authenticator it asks for.
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "serve_internal.h"

namespace tug::serve_internal {

// The authenticator for the `auth:` section (nullptr when authentication is off).
Result<std::unique_ptr<auth::Authenticator>> MakeAuthenticator(const server::AuthConfig& a,
                                                               store::Store& store,
                                                               const Clock& clock) {
  if (!a.on()) return std::unique_ptr<auth::Authenticator>();
  auth::AuthenticatorOptions o;
  if (a.oidc()) {
    auth::OidcOptions oidc;
    oidc.issuer = a.oidc_issuer;
    oidc.audiences = a.oidc_audiences;
    // The web UI's tokens are issued to its client id.
    if (!a.oidc_client_id.empty()) oidc.audiences.push_back(a.oidc_client_id);
    oidc.jwks_url = a.oidc_jwks_url;
    oidc.jwks_file = a.oidc_jwks_file;
    oidc.claims.user_claim = a.oidc_user_claim;
    oidc.claims.groups_claim = a.oidc_groups_claim;
    oidc.claims.admin_groups = a.oidc_admin_groups;
    oidc.claims.user_groups = a.oidc_user_groups;
    oidc.claims.viewer_groups = a.oidc_viewer_groups;
    if (a.oidc_default_role == "none") {
      oidc.claims.default_role.reset();
    } else {
      ASSIGN_OR_RETURN(oidc.claims.default_role, auth::ParseRole(a.oidc_default_role));
    }
    oidc.clock_skew_seconds = a.oidc_clock_skew_seconds;
    o.oidc = std::move(oidc);
  }
  return auth::Authenticator::Create(std::move(o), store, clock);
}

// GET /api/v1/auth/config: what a client needs to sign in.
boost::json::object AuthClientConfig(const server::AuthConfig& a) {
  boost::json::object out{{"tokens", a.on()}};
  if (a.oidc() && !a.oidc_client_id.empty()) {
    out["oidc"] = boost::json::object{{"issuer", a.oidc_issuer},
                                      {"client_id", a.oidc_client_id},
                                      {"authorization_endpoint", a.oidc_authorization_endpoint},
                                      {"token_endpoint", a.oidc_token_endpoint},
                                      {"scopes", a.oidc_scopes}};
  }
  return out;
}

Result<server::Config> LoadConfig(const cli::ServerFlags& flags) {
  server::Config c = server::DefaultConfig();
  auto env = server::ProcessEnv();
  std::string file = flags.config_file;
  if (file.empty() && env.count("TUG_CONFIG") > 0) file = env["TUG_CONFIG"];
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return InvalidArgument(fmt::format("cannot read config file '{}'", file));
    std::stringstream ss;
    ss << in.rdbuf();
    RETURN_IF_ERROR(server::ApplyYaml(c, ss.str(), file));
  }
  RETURN_IF_ERROR(server::ApplyEnv(c, env));
  if (!flags.listen.empty()) c.listen = flags.listen;
  if (!flags.data_dir.empty()) c.data_dir = flags.data_dir;
  if (!flags.log_level.empty()) c.log_level = flags.log_level;
  if (!flags.cgroup.empty()) c.cgroup_mode = flags.cgroup;
  RETURN_IF_ERROR(server::ValidateConfig(c));
  return c;
}

}  // namespace tug::serve_internal
