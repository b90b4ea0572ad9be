// Server configuration: the `auth:` section (bearer tokens, OIDC, visibility, audit) and the
// rule that a server reachable beyond loopback has authentication on.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/quantity.h"
#include "server/config.h"
#include "server/config_keys.h"

namespace json = boost::json;

namespace tug::server {
namespace {

constexpr const char* kAuthHelp =
    "turn authentication on in the config file (--config/TUG_CONFIG): `auth: {enabled: true, "
    "bootstrap_token_file: /path/admin-token}` for bearer tokens (the server writes a first "
    "admin token there; `tug login` with it, then `tug token create` for everyone else), "
    "and/or `auth: {oidc: {issuer: ..., audience: ..., jwks_url: ...}}` for an identity "
    "provider; or set TUG_AUTH=true and TUG_AUTH_BOOTSTRAP_TOKEN_FILE; see the README's "
    "Authentication section. Or listen on 127.0.0.1";

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

// A list of names: a YAML list, or one string of names separated by commas.
Result<std::vector<std::string>> Names(const json::value& v, const std::string& what) {
  std::vector<std::string> out;
  auto add = [&out](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (!s.empty()) out.emplace_back(s);
  };
  if (v.is_array()) {
    for (const auto& item : v.as_array()) {
      if (!item.is_string()) {
        return InvalidArgument(fmt::format("{} must be a list of names", what));
      }
      add(item.as_string());
    }
    return out;
  }
  if (!v.is_string()) return InvalidArgument(fmt::format("{} must be a list of names", what));
  std::string_view s = v.as_string();
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    add(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Status ApplyOidc(AuthConfig& a, const json::value& section, const std::string& source) {
  if (!section.is_object()) {
    return InvalidArgument(
        fmt::format("{}: auth.oidc must be a map (issuer, audience, ...)", source));
  }
  for (const auto& kv : section.as_object()) {
    const std::string key(kv.key());
    const std::string what = "auth.oidc." + key;
    const std::string text = Text(kv.value());
    auto names = [&](std::vector<std::string>& out) -> Status {
      ASSIGN_OR_RETURN(out, Names(kv.value(), what));
      return OkStatus();
    };
    Status st = OkStatus();
    if (key == "issuer") {
      a.oidc_issuer = text;
    } else if (key == "audience" || key == "audiences") {
      st = names(a.oidc_audiences);
    } else if (key == "jwks_url") {
      a.oidc_jwks_url = text;
    } else if (key == "jwks_file") {
      a.oidc_jwks_file = text;
    } else if (key == "user_claim") {
      a.oidc_user_claim = text;
    } else if (key == "groups_claim") {
      a.oidc_groups_claim = text;
    } else if (key == "admin_groups") {
      st = names(a.oidc_admin_groups);
    } else if (key == "user_groups") {
      st = names(a.oidc_user_groups);
    } else if (key == "viewer_groups") {
      st = names(a.oidc_viewer_groups);
    } else if (key == "default_role") {
      a.oidc_default_role = text;
    } else if (key == "clock_skew") {
      auto d = text == "0" ? Result<int64_t>(int64_t{0}) : ParseDuration(text);
      if (!d.ok() || *d > 600) {
        st = InvalidArgument(
            fmt::format("{} '{}' must be a duration of at most 10m, e.g. 60s", what, text));
      } else {
        a.oidc_clock_skew_seconds = *d;
      }
    } else if (key == "client_id") {
      a.oidc_client_id = text;
    } else if (key == "authorization_endpoint") {
      a.oidc_authorization_endpoint = text;
    } else if (key == "token_endpoint") {
      a.oidc_token_endpoint = text;
    } else if (key == "scopes") {
      a.oidc_scopes = text;
    } else {
      return InvalidArgument(fmt::format(
          "{}: unknown key 'auth.oidc.{}'; known keys: issuer, audience, jwks_url, jwks_file, "
          "user_claim, groups_claim, admin_groups, user_groups, viewer_groups, default_role, "
          "clock_skew, client_id, authorization_endpoint, token_endpoint, scopes",
          source, key));
    }
    if (!st.ok()) return InvalidArgument(fmt::format("{}: {}", source, st.error().message()));
  }
  return OkStatus();
}

// An endpoint the server or a browser fetches keys or tokens from: https, or http on loopback
// (a test identity provider).
Status CheckEndpoint(const std::string& url, const std::string& what) {
  if (url.rfind("https://", 0) == 0) return OkStatus();
  if (url.rfind("http://", 0) == 0) {
    std::string rest = url.substr(7);
    std::string host = rest.substr(0, rest.find_first_of("/?"));
    if (host.front() == '[') {
      host = host.substr(0, host.find(']') + 1);
    } else {
      host = host.substr(0, host.rfind(':'));
    }
    if (IsLoopbackHost(host)) return OkStatus();
  }
  return InvalidArgument(
      fmt::format("{} '{}' must be an https URL (http only on loopback)", what, url));
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8 as an address, not a name that merely starts with "127." (which could resolve
  // anywhere).
  in_addr v4{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

Status ApplyAuthYaml(AuthConfig& a, const json::value& section, const std::string& source) {
  if (!section.is_object()) {
    return InvalidArgument(fmt::format("{}: auth must be a map, e.g. {{enabled: true}}", source));
  }
  for (const auto& kv : section.as_object()) {
    const std::string key(kv.key());
    const std::string text = Text(kv.value());
    Status st = OkStatus();
    if (key == "enabled") {
      st = SetBool(a.enabled, text, "auth.enabled");
    } else if (key == "visibility") {
      a.visibility = text;
    } else if (key == "bootstrap_token_file") {
      a.bootstrap_token_file = text;
    } else if (key == "audit_log") {
      a.audit_log = text;
    } else if (key == "token_ttl") {
      auto d = text == "0" || text == "never" ? Result<int64_t>(int64_t{0}) : ParseDuration(text);
      if (!d.ok() || *d < 0) {
        st = InvalidArgument(
            fmt::format("auth.token_ttl '{}' must be a duration such as 90d, or never", text));
      } else {
        a.token_ttl_seconds = *d;
      }
    } else if (key == "oidc") {
      RETURN_IF_ERROR(ApplyOidc(a, kv.value(), source));
    } else {
      return InvalidArgument(fmt::format(
          "{}: unknown key 'auth.{}'; known keys: enabled, visibility, bootstrap_token_file, "
          "audit_log, token_ttl, oidc",
          source, key));
    }
    if (!st.ok()) return InvalidArgument(fmt::format("{}: {}", source, st.error().message()));
  }
  return OkStatus();
}

Status ApplyAuthEnv(AuthConfig& a, const std::map<std::string, std::string>& env) {
  auto get = [&env](const char* name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (const std::string* v = get("TUG_AUTH")) RETURN_IF_ERROR(SetBool(a.enabled, *v, "TUG_AUTH"));
  if (const std::string* v = get("TUG_AUTH_VISIBILITY")) a.visibility = *v;
  if (const std::string* v = get("TUG_AUTH_BOOTSTRAP_TOKEN_FILE")) a.bootstrap_token_file = *v;
  if (const std::string* v = get("TUG_AUDIT_LOG")) a.audit_log = *v;
  if (const std::string* v = get("TUG_OIDC_ISSUER")) a.oidc_issuer = *v;
  if (const std::string* v = get("TUG_OIDC_AUDIENCE")) {
    ASSIGN_OR_RETURN(a.oidc_audiences, Names(json::value(*v), "TUG_OIDC_AUDIENCE"));
  }
  if (const std::string* v = get("TUG_OIDC_JWKS_URL")) a.oidc_jwks_url = *v;
  if (const std::string* v = get("TUG_OIDC_JWKS_FILE")) a.oidc_jwks_file = *v;
  if (const std::string* v = get("TUG_OIDC_CLIENT_ID")) a.oidc_client_id = *v;
  return OkStatus();
}

Status ValidateAuth(const AuthConfig& a, const std::string& listen_host) {
  if (!a.on() && !IsLoopbackHost(listen_host)) {
    return InvalidArgument(fmt::format(
        "refusing to listen on '{}' (not a loopback address) without authentication: anyone who "
        "can reach the port could run jobs and read every run's logs; {}",
        listen_host, kAuthHelp));
  }
  if (a.visibility != "group" && a.visibility != "all") {
    return InvalidArgument(
        fmt::format("auth.visibility '{}' is unknown; use group or all", a.visibility));
  }
  if (!a.oidc()) {
    bool oidc_keys = !a.oidc_jwks_url.empty() || !a.oidc_jwks_file.empty() ||
                     !a.oidc_audiences.empty() || !a.oidc_client_id.empty();
    if (oidc_keys) {
      return InvalidArgument(
          "auth.oidc is configured without an issuer; set auth.oidc.issuer (the identity "
          "provider's URL, as in its tokens' 'iss')");
    }
    return OkStatus();
  }
  if (a.oidc_audiences.empty() && a.oidc_client_id.empty()) {
    return InvalidArgument(
        "auth.oidc needs an audience (auth.oidc.audience, or the web UI's auth.oidc.client_id): "
        "the 'aud' the identity provider puts in tokens for this server");
  }
  if (a.oidc_jwks_url.empty() == a.oidc_jwks_file.empty()) {
    return InvalidArgument(
        "auth.oidc needs exactly one of jwks_url (the identity provider's keys, e.g. "
        "https://idp.example/.well-known/jwks.json) and jwks_file");
  }
  if (!a.oidc_jwks_url.empty())
    RETURN_IF_ERROR(CheckEndpoint(a.oidc_jwks_url, "auth.oidc.jwks_url"));
  if (a.oidc_default_role != "viewer" && a.oidc_default_role != "user" &&
      a.oidc_default_role != "none") {
    return InvalidArgument(fmt::format(
        "auth.oidc.default_role '{}' is unknown; use viewer, user or none", a.oidc_default_role));
  }
  if (!a.oidc_client_id.empty()) {
    if (a.oidc_authorization_endpoint.empty() || a.oidc_token_endpoint.empty()) {
      return InvalidArgument(
          "auth.oidc.client_id (the web UI's sign-in) needs authorization_endpoint and "
          "token_endpoint: the identity provider's, from its /.well-known/openid-configuration");
    }
    RETURN_IF_ERROR(
        CheckEndpoint(a.oidc_authorization_endpoint, "auth.oidc.authorization_endpoint"));
    RETURN_IF_ERROR(CheckEndpoint(a.oidc_token_endpoint, "auth.oidc.token_endpoint"));
  }
  return OkStatus();
}

}  // namespace tug::server
