// Flotilla v6: routes, errors, task definitions, groups, tags and clusters. Runs, logs and events
// are in flotilla_runs.cpp.
#include "flotilla/flotilla_api.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "flotilla/flotilla_json.h"
#include "flotilla/flotilla_lists.h"

namespace json = boost::json;

namespace tug::flotilla {

net::Response JsonAnswer(int status, const json::value& body) {
  net::Response r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = json::serialize(body);
  r.body += '\n';
  return r;
}

net::Response ErrorAnswer(const Error& error) {
  int status = 500;
  switch (error.code()) {
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:  // Flotilla has no 422: its checks are MalformedInput
      status = 400;
      break;
    case Code::kNotFound:
      status = 404;
      break;
    case Code::kAlreadyExists:
    case Code::kAborted:
      status = 409;
      break;
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
    case Code::kResourceExhausted:
    case Code::kUnavailable:
      status = HttpStatus(error.code());
      break;
    default:
      break;
  }
  net::Response r = JsonAnswer(status, json::object{{"error", error.message()}});
  if (error.code() == Code::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"tugboat\"");
  }
  return r;
}

FlotillaApi::FlotillaApi(server::Api& api, FlotillaOptions options)
    : api_(api), options_(options) {}

void FlotillaApi::Register(net::Router& router) {
  // As API v1: authenticate first, then each handler asks the policy; refused changes are
  // audited here, once for every route.
  auto authed = [this](Handler fn) {
    return [this, fn](net::Request& req) {
      const bool change = req.method != "GET" && req.method != "HEAD";
      auto who = api_.Identify(req);
      if (!who.ok()) {
        if (change) {
          auth::Identity anonymous;
          anonymous.via = "anonymous";
          api_.Audit(anonymous, req,
                     {"request", req.method + " " + req.path, "unauthenticated",
                      who.error().message(), ""});
        }
        return ErrorAnswer(who.error());
      }
      net::Response resp = (this->*fn)(req, *who);
      if (change && resp.status == 403) {
        std::string message = "HTTP 403";
        boost::system::error_code ec;
        json::value v = json::parse(resp.body, ec);
        if (!ec && v.is_object() && v.as_object().contains("error") && v.at("error").is_string()) {
          message = std::string(v.at("error").as_string());
        }
        api_.Audit(*who, req, {"request", req.method + " " + req.path, "denied", message, ""});
      }
      return resp;
    };
  };
  const std::string v6 = "/api/v6";
  router.Add("GET", v6 + "/task", authed(&FlotillaApi::ListDefinitions));
  router.Add("POST", v6 + "/task", authed(&FlotillaApi::CreateDefinition));
  router.Add("GET", v6 + "/task/{definition_id}", authed(&FlotillaApi::GetDefinition));
  router.Add("PUT", v6 + "/task/{definition_id}", authed(&FlotillaApi::UpdateDefinition));
  router.Add("DELETE", v6 + "/task/{definition_id}", authed(&FlotillaApi::DeleteDefinition));
  router.Add("PUT", v6 + "/task/{definition_id}/execute", authed(&FlotillaApi::Execute));
  router.Add("GET", v6 + "/task/alias/{alias}", authed(&FlotillaApi::GetDefinitionByAlias));
  router.Add("PUT", v6 + "/task/alias/{alias}/execute", authed(&FlotillaApi::ExecuteByAlias));
  router.Add("GET", v6 + "/history", authed(&FlotillaApi::ListRuns));
  router.Add("GET", v6 + "/history/{run_id}", authed(&FlotillaApi::GetRun));
  router.Add("GET", v6 + "/task/history/{run_id}", authed(&FlotillaApi::GetRun));
  router.Add("GET", v6 + "/task/{definition_id}/history", authed(&FlotillaApi::ListDefinitionRuns));
  router.Add("GET", v6 + "/task/{definition_id}/history/{run_id}", authed(&FlotillaApi::GetRun));
  router.Add("DELETE", v6 + "/task/{definition_id}/history/{run_id}",
             authed(&FlotillaApi::StopRun));
  router.Add("GET", v6 + "/{run_id}/logs", authed(&FlotillaApi::GetLogs));
  router.Add("GET", v6 + "/{run_id}/events", authed(&FlotillaApi::GetEvents));
  router.Add("GET", v6 + "/groups", authed(&FlotillaApi::GetGroups));
  router.Add("GET", v6 + "/tags", authed(&FlotillaApi::GetTags));
  router.Add("GET", v6 + "/clusters", authed(&FlotillaApi::ListClusters));
  router.Add("PUT", v6 + "/{run_id}/status", authed(&FlotillaApi::UpdateRunStatus));
  router.Add("GET", v6 + "/history/{run_id}/payload", authed(&FlotillaApi::GetPayload));
  // flotilla/router.go's v7 routes: templates.
  const std::string v7 = "/api/v7/template";
  router.Add("GET", v7, authed(&FlotillaApi::ListTemplates));
  router.Add("POST", v7, authed(&FlotillaApi::CreateTemplate));
  router.Add("GET", v7 + "/{template_id}", authed(&FlotillaApi::GetTemplate));
  router.Add("PUT", v7 + "/{template_id}/execute", authed(&FlotillaApi::ExecuteTemplate));
  router.Add("PUT", v7 + "/name/{template_name}/version/{template_version}/execute",
             authed(&FlotillaApi::ExecuteTemplateByName));
  router.Add("GET", v7 + "/history/{run_id}", authed(&FlotillaApi::GetRun));
  router.Add("GET", v7 + "/{template_id}/history", authed(&FlotillaApi::ListTemplateRuns));
  router.Add("GET", v7 + "/{template_id}/history/{run_id}", authed(&FlotillaApi::GetRun));
  router.Add("DELETE", v7 + "/{template_id}/history/{run_id}", authed(&FlotillaApi::StopRun));
}

// --- task definitions ---

Result<Definition> FlotillaApi::FindDefinition(Who who, const std::string& key, bool by_alias) {
  auto def = api_.ReadableDefinition(who, key);
  if (!def.ok() && def.error().code() == Code::kNotFound) {
    // pg_state_manager.go GetDefinition / GetDefinitionByAlias
    return NotFound(fmt::format("Definition with {} {} not found", by_alias ? "alias" : "ID", key));
  }
  return def;
}

net::Response FlotillaApi::ListDefinitions(net::Request& req, Who who) {
  auto request = ParseListRequest(req.target);
  if (!request.ok()) return ErrorAnswer(request.error());
  auto defs = api_.VisibleDefinitions(who);
  if (!defs.ok()) return ErrorAnswer(defs.error());
  std::vector<json::object> rows;
  for (const auto& d : *defs) {
    if (MatchesEnv(d.env, *request)) rows.push_back(DefinitionJson(d));
  }
  auto page = Select(std::move(rows), *request, DefinitionColumns());
  if (!page.ok()) return ErrorAnswer(page.error());
  json::array items;
  for (auto& o : page->items) items.emplace_back(std::move(o));
  return JsonAnswer(200, ListEnvelope(*request, page->total, "definitions", std::move(items)));
}

net::Response FlotillaApi::GetDefinition(net::Request& req, Who who) {
  auto def = FindDefinition(who, req.params["definition_id"], /*by_alias=*/false);
  if (!def.ok()) return ErrorAnswer(def.error());
  return JsonAnswer(200, DefinitionJson(*def));
}

net::Response FlotillaApi::GetDefinitionByAlias(net::Request& req, Who who) {
  auto def = FindDefinition(who, req.params["alias"], /*by_alias=*/true);
  if (!def.ok()) return ErrorAnswer(def.error());
  return JsonAnswer(200, DefinitionJson(*def));
}

net::Response FlotillaApi::CreateDefinition(net::Request& req, Who who) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return ErrorAnswer(body.error());
  auto def = DefinitionFromCreate(*body);
  if (!def.ok()) return ErrorAnswer(def.error());
  if (api_.store().GetDefinition(def->name).ok()) {
    // services/definition.go Create (its spelling)
    return ErrorAnswer(
        AlreadyExists(fmt::format("definition with alias [{}] aleady exists", def->name)));
  }
  auto stored = api_.StoreDefinition(who, req, std::move(*def), /*create_only=*/true);
  if (!stored.ok()) return ErrorAnswer(stored.error());
  return JsonAnswer(200, DefinitionJson(stored->definition));
}

net::Response FlotillaApi::UpdateDefinition(net::Request& req, Who who) {
  const std::string& id = req.params["definition_id"];
  auto body = ParseJson(req.body);
  if (!body.ok()) return ErrorAnswer(body.error());
  auto current = FindDefinition(who, id, /*by_alias=*/false);
  if (!current.ok()) return ErrorAnswer(current.error());
  auto def = DefinitionFromUpdate(*body, std::move(*current));
  if (!def.ok()) return ErrorAnswer(def.error());
  auto stored = api_.StoreDefinition(who, req, std::move(*def), /*create_only=*/false);
  if (!stored.ok()) return ErrorAnswer(stored.error());
  return JsonAnswer(200, DefinitionJson(stored->definition));
}

net::Response FlotillaApi::DeleteDefinition(net::Request& req, Who who) {
  const std::string& id = req.params["definition_id"];
  if (auto st = api_.RemoveDefinition(who, req, id); !st.ok()) {
    if (st.error().code() == Code::kNotFound) {
      return ErrorAnswer(NotFound(fmt::format("Definition with ID {} not found", id)));
    }
    return ErrorAnswer(st.error());
  }
  return JsonAnswer(200, json::object{{"deleted", true}});
}

net::Response FlotillaApi::UpdateRunStatus(net::Request&, Who) {
  // What Flotilla serves and Tugboat does not: say so in Flotilla's shape rather than 404.
  return JsonAnswer(501,
                    json::object{{"error",
                                  "runs report their status through Tugboat's engines; PUT "
                                  "/api/v6/{run_id}/status is not served (docs/flotilla.md)"}});
}

// --- groups, tags, clusters ---

namespace {

// A name list's answer, as endpoints.go GetGroups/GetTags fill it from ListGroups/ListTags:
// sorted, distinct, `name` a substring filter, limit and offset applied, total before paging.
json::object NameList(const std::set<std::string>& names, const char* key,
                      const ListRequest& request) {
  std::string name;
  if (auto it = request.filters.find("name"); it != request.filters.end() && !it->second.empty()) {
    name = it->second.front();
  }
  std::vector<std::string> matching;
  for (const auto& n : names) {
    if (n.find(name) != std::string::npos) matching.push_back(n);
  }
  json::array page;
  for (size_t i = static_cast<size_t>(std::max<int64_t>(request.offset, 0));
       i < matching.size() && static_cast<int64_t>(page.size()) < request.limit; ++i) {
    page.emplace_back(matching[i]);
  }
  std::map<std::string, json::value> fields;  // Go writes a map's keys sorted
  fields[key] = std::move(page);
  fields["limit"] = request.limit;
  fields["offset"] = request.offset;
  fields["total"] = static_cast<int64_t>(matching.size());
  json::object out;
  for (auto& [k, v] : fields) out[k] = std::move(v);
  return out;
}

}  // namespace

net::Response FlotillaApi::GetGroups(net::Request& req, Who who) {
  auto request = ParseListRequest(req.target);
  if (!request.ok()) return ErrorAnswer(request.error());
  auto defs = api_.VisibleDefinitions(who);
  if (!defs.ok()) return ErrorAnswer(defs.error());
  std::set<std::string> groups;
  for (const auto& d : *defs) {
    if (!d.group.empty()) groups.insert(d.group);
  }
  return JsonAnswer(200, NameList(groups, "groups", *request));
}

net::Response FlotillaApi::GetTags(net::Request& req, Who who) {
  auto request = ParseListRequest(req.target);
  if (!request.ok()) return ErrorAnswer(request.error());
  auto defs = api_.VisibleDefinitions(who);
  if (!defs.ok()) return ErrorAnswer(defs.error());
  std::set<std::string> tags;
  for (const auto& d : *defs) {
    const json::object o = DefinitionJson(d);
    for (const auto& t : o.at("tags").as_array()) {
      if (t.is_string()) tags.emplace(t.as_string());
    }
  }
  return JsonAnswer(200, NameList(tags, "tags", *request));
}

net::Response FlotillaApi::ListClusters(net::Request&, Who) {
  // Where runs go: the local engine, or the configured Kubernetes clusters.
  json::array clusters;
  const server::ApiOptions& o = api_.options();
  if (o.default_engine == "local") clusters.emplace_back("local");
  for (const auto& c : o.clusters) clusters.emplace_back(c);
  return JsonAnswer(200, json::object{{"clusters", std::move(clusters)}});
}

}  // namespace tug::flotilla
