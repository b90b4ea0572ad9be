// API v1: definitions — create, update (versioned), list, read and delete, each through the
// authorization policy. A definition belongs to its creator and a group (src/auth).
#include <optional>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "server/api.h"
#include "server/api_internal.h"
#include "templates/parameters.h"

namespace tug::server {

using api_internal::Err;
using api_internal::Json;
using api_internal::ParseBody;
using api_internal::Revalidated;
namespace json = boost::json;

namespace {

auth::Resource DefinitionResource(const Definition& d, std::string target_group = "") {
  return auth::Resource{"definition",        d.name, d.owner, d.group, std::move(target_group),
                        auth::Role::kViewer, {}};
}

// An audit line's detail for a stored definition: version, owner, group and, for a change, which
// top-level fields differ from `before` (by name; secret values are never written, only that
// secret env changed).
std::string Describe(const Definition& d, const Definition* before = nullptr) {
  std::string out = fmt::format("version {}, owner '{}', group '{}'", d.version, d.owner, d.group);
  if (before == nullptr) return out;
  json::object now = ToJson(d).as_object();
  json::object was = ToJson(*before).as_object();
  std::string changed;
  for (const auto& kv : now) {
    if (kv.key() == "version" || kv.key() == "created_at") continue;
    const json::value* old = was.if_contains(kv.key());
    if (old == nullptr || *old != kv.value()) {
      changed += (changed.empty() ? "" : ", ") + std::string(kv.key());
    }
  }
  for (const auto& kv : was) {
    if (!now.contains(kv.key())) changed += (changed.empty() ? "" : ", ") + std::string(kv.key());
  }
  if (d.secret_env != before->secret_env && changed.find("env") == std::string::npos) {
    changed += (changed.empty() ? "" : ", ") + std::string("env (secret values)");
  }
  return out + fmt::format(" (was version {}); changed: {}", before->version,
                           changed.empty() ? "nothing but the version" : changed);
}

}  // namespace

Result<Definition> Api::ParseDefinitionBody(const net::Request& req) {
  if (req.body.empty()) {
    return InvalidArgument(
        "request body is empty; send a definition as JSON, e.g. "
        "{\"name\":\"hello\",\"command\":\"echo hi\"}");
  }
  ASSIGN_OR_RETURN(json::value v, ParseBody(req));
  ASSIGN_OR_RETURN(Definition def, DefinitionFromJson(v));
  // {secret: true} without a value is what GET answers for a secret: applying a definition as
  // read back keeps the stored value (the caller's right to change the definition is checked
  // after, before anything is written).
  std::optional<Definition> stored;
  for (auto& [name, secret] : def.secret_env) {
    if (!secret.kept()) continue;
    if (!stored) {
      auto current = store_.GetDefinition(def.name);
      if (!current.ok() && current.error().code() != Code::kNotFound) return current.error();
      stored = current.ok() ? std::move(*current) : Definition{};
    }
    auto it = stored->secret_env.find(name);
    if (it == stored->secret_env.end()) {
      return InvalidArgument(fmt::format(
          "definition '{}': env '{}' is secret but has no value, and no stored version of the "
          "definition has one to keep; give it with {{secret: true, value: ...}} or "
          "{{valueFrom: {{secretKeyRef: {{name: ..., key: ...}}}}}}",
          def.name, name));
    }
    secret = it->second;
  }
  return def;  // validated by StoreDefinition
}

Status Api::AssignOwnership(Who who, Definition& def, const Definition* existing) {
  if (!who.authenticated()) {
    // Without authentication the request's owner and group are taken as they are, and an
    // update that names neither keeps the stored ones.
    if (existing != nullptr) {
      if (def.owner.empty()) def.owner = existing->owner;
      if (def.group.empty()) def.group = existing->group;
    }
    return OkStatus();
  }
  if (existing != nullptr) {
    RETURN_IF_ERROR(Check(who, auth::Action::kChangeDefinition, DefinitionResource(*existing)));
    const std::string group = def.group.empty() ? existing->group : def.group;
    if (group != existing->group) {
      // Moving it to another group is creating it there.
      RETURN_IF_ERROR(
          Check(who, auth::Action::kCreateDefinition, DefinitionResource(*existing, group)));
    }
    // The owner is the server's to say: whoever created it (a body's `owner`, from a definition
    // read back, is ignored like `version`).
    def.owner = existing->owner;
    def.group = group;
    return OkStatus();
  }
  def.owner = who.role == auth::Role::kAdmin && !def.owner.empty() ? def.owner : who.user;
  if (def.group.empty()) def.group = who.PrimaryGroup();
  return Check(who, auth::Action::kCreateDefinition, DefinitionResource(def, def.group));
}

Result<Definition> Api::ReadableDefinition(Who who, const std::string& name) {
  ASSIGN_OR_RETURN(Definition def, store_.GetDefinition(name));
  RETURN_IF_ERROR(Check(who, auth::Action::kReadDefinition, DefinitionResource(def)));
  return def;
}

Result<std::vector<Definition>> Api::VisibleDefinitions(Who who) {
  return store_.ListDefinitions(VisibleTo(who));
}

Result<StoredDefinition> Api::StoreDefinition(Who who, const net::Request& req, Definition def,
                                              bool create_only) {
  RETURN_IF_ERROR(Validate(def, options_.limits));
  RETURN_IF_ERROR(templates::CheckDefinition(def));
  auto before = store_.GetDefinition(def.name);
  if (!before.ok() && before.error().code() != Code::kNotFound) return before.error();
  if (create_only && before.ok()) {
    return AlreadyExists(fmt::format(
        "definition '{}' already exists; update it with PUT /api/v1/definitions/{} (tug apply)",
        def.name, def.name));
  }
  RETURN_IF_ERROR(AssignOwnership(who, def, before.ok() ? &*before : nullptr));
  ASSIGN_OR_RETURN(Definition stored, store_.PutDefinition(def, clock_.Now()));
  StoredDefinition out;
  out.change = !before.ok()                        ? "created"
               : before->version == stored.version ? "unchanged"
                                                   : "updated";
  if (out.change != "unchanged") {
    Audit(who, req,
          {before.ok() ? "change_definition" : "create_definition", "definition/" + stored.name,
           "ok", Describe(stored, before.ok() ? &*before : nullptr), ""});
  }
  if (before.ok()) out.before = std::move(*before);
  out.definition = std::move(stored);
  return out;
}

Status Api::RemoveDefinition(Who who, const net::Request& req, const std::string& name) {
  ASSIGN_OR_RETURN(Definition def, store_.GetDefinition(name));
  RETURN_IF_ERROR(Check(who, auth::Action::kDeleteDefinition, DefinitionResource(def)));
  RETURN_IF_ERROR(store_.DeleteDefinition(name, clock_.Now()));
  Audit(who, req,
        {"delete_definition", "definition/" + name, "ok",
         fmt::format("version {}, owner '{}', group '{}'", def.version, def.owner, def.group), ""});
  return OkStatus();
}

net::Response Api::CreateDefinition(net::Request& req, Who who) {
  auto def = ParseDefinitionBody(req);
  if (!def.ok()) return Err(def.error());
  auto stored = StoreDefinition(who, req, std::move(*def), /*create_only=*/true);
  if (!stored.ok()) return Err(stored.error());
  return Json(201, ToJson(stored->definition));
}

net::Response Api::PutDefinition(net::Request& req, Who who) {
  auto def = ParseDefinitionBody(req);
  if (!def.ok()) return Err(def.error());
  const std::string& name = req.params["name"];
  if (def->name != name) {
    return Err(InvalidArgument(fmt::format(
        "definition name '{}' in the body does not match '{}' in the path; make them equal",
        def->name, name)));
  }
  auto stored = StoreDefinition(who, req, std::move(*def), /*create_only=*/false);
  if (!stored.ok()) return Err(stored.error());
  json::object out = ToJson(stored->definition).as_object();
  out["change"] = stored->change;
  return Json(stored->change == "created" ? 201 : 200, out);
}

net::Response Api::ListDefinitions(net::Request& req, Who who) {
  auto defs = VisibleDefinitions(who);
  if (!defs.ok()) return Err(defs.error());
  json::array a;
  for (const auto& d : *defs) a.push_back(ToJson(d));
  return Revalidated(req, json::object{{"definitions", std::move(a)}});
}

net::Response Api::GetDefinition(net::Request& req, Who who) {
  auto def = ReadableDefinition(who, req.params["name"]);
  if (!def.ok()) return Err(def.error());
  return Revalidated(req, ToJson(*def));
}

net::Response Api::DeleteDefinition(net::Request& req, Who who) {
  const std::string& name = req.params["name"];
  if (auto st = RemoveDefinition(who, req, name); !st.ok()) return Err(st.error());
  return Json(200, json::object{{"deleted", name}});
}

}  // namespace tug::server
