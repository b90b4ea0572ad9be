// API v1: who is calling (authentication), what they may do (the policy, src/auth), and their
// bearer tokens: `tug token create|list|revoke`, `tug whoami`, the web UI's sign-in settings.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "auth/claims.h"
#include "auth/token.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/quantity.h"
#include "server/api.h"
#include "server/api_internal.h"

namespace tug::server {

using api_internal::Err;
using api_internal::Json;
using api_internal::ParseBody;
namespace json = boost::json;

namespace {

json::value Time(Micros t) {
  return t == 0 ? json::value(nullptr) : json::value(FormatTimestamp(t));
}

json::object TokenJson(const store::ApiToken& t) {
  json::array groups;
  for (const auto& g : t.groups) groups.emplace_back(g);
  return json::object{{"id", t.id},
                      {"name", t.name},
                      {"user", t.user},
                      {"groups", std::move(groups)},
                      {"role", t.role},
                      {"created_by", t.created_by},
                      {"created_at", Time(t.created_at)},
                      {"expires_at", Time(t.expires_at)},
                      {"revoked_at", Time(t.revoked_at)},
                      {"last_used_at", Time(t.last_used_at)}};
}

json::object IdentityJson(const auth::Identity& who) {
  json::array groups;
  for (const auto& g : who.groups) groups.emplace_back(g);
  return json::object{{"user", who.user},
                      {"groups", std::move(groups)},
                      {"role", auth::ToString(who.role)},
                      {"via", who.via},
                      {"authenticated", who.authenticated()}};
}

}  // namespace

Result<auth::Identity> Api::Identify(const net::Request& req) const {
  if (options_.authenticator == nullptr) return auth::Unauthenticated();
  const std::string authorization = req.Header("authorization");
  if (authorization.empty()) {
    // A browser opens the Spark UI in a tab of its own, which sends no Authorization header:
    // the web UI keeps its token in a `tug_token` cookie scoped to /runs/ (SameSite=Strict),
    // taken for GETs of the Spark UI proxy only, never for the API.
    if (auto token = api_internal::SparkUiCookieToken(req); !token.empty()) {
      return options_.authenticator->Authenticate("Bearer " + token);
    }
  }
  return options_.authenticator->Authenticate(authorization);
}

std::string api_internal::SparkUiCookieToken(const net::Request& req) {
  if (req.method != "GET" && req.method != "HEAD") return "";
  std::string_view target = req.target;
  if (!target.starts_with("/runs/")) return "";
  std::string_view rest = target.substr(6);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || !rest.substr(slash).starts_with("/spark-ui")) return "";
  const std::string cookie_header = req.Header("cookie");
  std::string_view cookies = cookie_header;
  while (!cookies.empty()) {
    size_t end = cookies.find(';');
    std::string_view pair = cookies.substr(0, end);
    cookies = end == std::string_view::npos ? std::string_view() : cookies.substr(end + 1);
    while (pair.starts_with(' ')) pair.remove_prefix(1);
    if (pair.starts_with("tug_token=")) return std::string(pair.substr(10));
  }
  return "";
}

Status Api::Check(Who who, auth::Action action, const auth::Resource& resource) const {
  return auth::Authorize(who, action, resource, options_.policy).ToStatus();
}

store::Visibility Api::VisibleTo(Who who) const {
  const auth::ListScope scope = auth::VisibleScope(who, options_.policy);
  return store::Visibility{scope.all, scope.groups, scope.owner};
}

Result<tug::Run> Api::ReadableRun(Who who, const std::string& id) {
  ASSIGN_OR_RETURN(tug::Run run, store_.GetRun(id));
  RETURN_IF_ERROR(
      Check(who, auth::Action::kReadRun,
            auth::Resource{"run", run.id, run.owner, run.group, "", auth::Role::kViewer, {}}));
  return run;
}

Status Api::MaySeeRun(const auth::Identity& who, const std::string& run_id) {
  auto run = ReadableRun(who, run_id);
  if (!run.ok()) return run.error();
  return OkStatus();
}

SparkUiAccess Api::SparkUiAccessCheck() {
  return [this](const net::Request& req, const std::string& run_id) -> Status {
    ASSIGN_OR_RETURN(auth::Identity who, Identify(req));
    return MaySeeRun(who, run_id);
  };
}

void Api::Audit(Who who, const net::Request& req, AuditEntry entry) {
  if (options_.audit == nullptr) return;
  if (entry.remote.empty()) entry.remote = req.remote;
  options_.audit->Record(who, entry);
}

net::Response Api::WhoAmI(net::Request&, Who who) { return Json(200, IdentityJson(who)); }

net::Response Api::AuthConfig(net::Request&) {
  json::object out = options_.auth_config;
  out["enabled"] = options_.authenticator != nullptr;
  return Json(200, out);
}

net::Response Api::CreateToken(net::Request& req, Who who) {
  auto body = req.body.empty() ? Result<json::value>(json::object{}) : ParseBody(req);
  if (!body.ok()) return Err(body.error());
  if (!body->is_object()) {
    return Err(InvalidArgument(R"(request body must be a JSON object, e.g. {"name":"laptop"})"));
  }
  const json::object& o = body->as_object();
  store::ApiToken t;
  t.user = who.user;
  t.groups = who.groups;
  t.role = std::string(auth::ToString(who.role));
  std::string expires;
  for (const auto& kv : o) {
    const std::string key(kv.key());
    const json::value& v = kv.value();
    auto text = [&](std::string& out) -> Status {
      if (!v.is_string()) {
        return InvalidArgument(fmt::format("token: field '{}' must be a string", key));
      }
      out = std::string(v.as_string());
      return OkStatus();
    };
    Status st = OkStatus();
    if (key == "name") {
      st = text(t.name);
    } else if (key == "user") {
      st = text(t.user);
    } else if (key == "role") {
      st = text(t.role);
    } else if (key == "expires_in") {
      st = text(expires);
    } else if (key == "groups") {
      if (!v.is_array()) {
        st = InvalidArgument(R"(token: field 'groups' must be a list, e.g. ["ml"])");
      } else {
        t.groups.clear();
        for (const auto& g : v.as_array()) {
          if (!g.is_string()) {
            st = InvalidArgument(R"(token: field 'groups' must be a list of names)");
            break;
          }
          t.groups.emplace_back(g.as_string());
        }
      }
    } else {
      st = InvalidArgument(fmt::format(
          "token: unknown field '{}'; known fields are name, user, groups, role, expires_in", key));
    }
    if (!st.ok()) return Err(st.error());
  }
  if (t.name.empty()) t.name = "token";
  if (t.name.size() > 64) {
    return Err(InvalidArgument("token: name is longer than 64 characters; use a short label"));
  }
  if (auto st = auth::ValidatePrincipalName(t.name, "token: name"); !st.ok()) {
    return Err(st.error());
  }
  if (t.user.empty()) {
    return Err(InvalidArgument(
        "token: field 'user' is required while authentication is off (whose token is it?)"));
  }
  if (auto st = auth::ValidatePrincipalName(t.user, "token: user"); !st.ok()) {
    return Err(st.error());
  }
  for (const auto& g : t.groups) {
    if (auto st = auth::ValidatePrincipalName(g, "token: a group"); !st.ok()) {
      return Err(st.error());
    }
  }
  auto role = auth::ParseRole(t.role);
  if (!role.ok()) return Err(InvalidArgument("token: " + role.error().message()));
  const Micros now = clock_.Now();
  if (expires.empty()) {
    t.expires_at =
        options_.token_ttl_seconds > 0 ? now + options_.token_ttl_seconds * kMicrosPerSecond : 0;
  } else if (expires != "never" && expires != "0") {
    auto d = ParseDuration(expires);
    if (!d.ok() || *d <= 0) {
      return Err(InvalidArgument(fmt::format(
          "token: expires_in '{}' must be a duration such as 30d or 12h, or never", expires)));
    }
    t.expires_at = now + *d * kMicrosPerSecond;
  }
  if (auto st = Check(who, auth::Action::kCreateToken,
                      auth::Resource{"token", t.name, t.user, "", "", *role, t.groups});
      !st.ok()) {
    return Err(st.error());
  }
  auto text = auth::GenerateToken();
  if (!text.ok()) return Err(text.error());
  t.id = NewId(clock_);
  t.hash = auth::HashToken(*text);
  t.created_by = who.authenticated() ? who.user : "(authentication off)";
  t.created_at = now;
  if (auto st = store_.CreateToken(t); !st.ok()) return Err(st.error());
  std::string groups;
  for (const auto& g : t.groups) groups += (groups.empty() ? "" : ", ") + g;
  Audit(who, req,
        {"create_token", "token/" + t.id, "ok",
         fmt::format("token '{}' for user '{}', role {}, groups [{}], {}", t.name, t.user, t.role,
                     groups,
                     t.expires_at == 0 ? std::string("never expires")
                                       : "expires " + FormatTimestamp(t.expires_at)),
         ""});
  json::object out = TokenJson(t);
  // The only time the token is ever shown: the store keeps its hash.
  out["token"] = *text;
  return Json(201, out);
}

net::Response Api::ListTokens(net::Request& req, Who who) {
  // Without a user: everyone's for admins, one's own for the others.
  std::string user = req.Query("user");
  if (user.empty() && who.role != auth::Role::kAdmin) user = who.user;
  if (auto st = Check(who, auth::Action::kListTokens,
                      auth::Resource{"token", "", user, "", "", auth::Role::kViewer, {}});
      !st.ok()) {
    return Err(st.error());
  }
  auto tokens = store_.ListTokens(user);
  if (!tokens.ok()) return Err(tokens.error());
  json::array a;
  for (const auto& t : *tokens) a.push_back(TokenJson(t));
  return Json(200, json::object{{"tokens", std::move(a)}});
}

net::Response Api::RevokeToken(net::Request& req, Who who) {
  const std::string& id = req.params["id"];
  auto token = store_.GetToken(id);
  if (!token.ok()) return Err(token.error());
  if (auto st =
          Check(who, auth::Action::kRevokeToken,
                auth::Resource{"token", token->name, token->user, "", "", auth::Role::kViewer, {}});
      !st.ok()) {
    return Err(st.error());
  }
  auto revoked = store_.RevokeToken(id, clock_.Now());
  if (!revoked.ok()) return Err(revoked.error());
  if (options_.authenticator != nullptr) options_.authenticator->Forget(id);
  Audit(who, req,
        {"revoke_token", "token/" + id, "ok",
         fmt::format("token '{}' of user '{}'", revoked->name, revoked->user), ""});
  return Json(200, TokenJson(*revoked));
}

}  // namespace tug::server
