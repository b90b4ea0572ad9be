// Flotilla v7 templates (flotilla/endpoints.go ListTemplates, GetTemplate, CreateTemplate,
// CreateTemplateRun, CreateTemplateRunByName, ListTemplateRuns) on Tugboat's parameterised
// definitions: a template is a definition with `parameters`, its payload the run's parameters,
// validated against the schema (src/templates) and rendered into the command.
#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "flotilla/flotilla_api.h"
#include "flotilla/flotilla_lists.h"
#include "flotilla/flotilla_templates_json.h"
#include "templates/parameters.h"

namespace json = boost::json;

namespace tug::flotilla {
namespace {

// state/pg_state_manager.go Template.ValidOrderFields (the request's filters are cleared:
// ListTemplates reads none).
const Columns& TemplateColumns() {
  static const Columns c{"templates",
                         {{"template_name", "template_name"}, {"version", "version"}},
                         {"template_name", "version"}};
  return c;
}

// strconv.Atoi: an optional sign and digits only.
std::optional<int64_t> Atoi(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size() || s.size() > 18) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return std::nullopt;
  }
  return std::stoll(s);
}

}  // namespace

Result<Definition> FlotillaApi::FindTemplate(Who who, const std::string& id) {
  auto def = api_.ReadableDefinition(who, id);
  if ((!def.ok() && def.error().code() == Code::kNotFound) ||
      (def.ok() && def->parameters.empty())) {
    return NotFound(fmt::format("Template with ID {} not found", id));
  }
  return def;
}

net::Response FlotillaApi::ListTemplates(net::Request& req, Who who) {
  auto parsed = ParseListRequest(req.target);
  if (!parsed.ok()) return ErrorAnswer(parsed.error());
  ListRequest request = std::move(*parsed);
  // endpoints.go decodeOrderableListRequest: Template's default order field.
  if (req.Query("sort_by").empty()) request.sort_by = "template_name";
  const std::string latest_only = req.Query("latest_only");
  std::string lower = latest_only;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto defs = api_.VisibleDefinitions(who);
  if (!defs.ok()) return ErrorAnswer(defs.error());
  std::vector<json::object> rows;
  for (const auto& d : *defs) {
    if (!d.parameters.empty()) rows.push_back(TemplateJson(d));
  }
  // latest_only (the default, "true"): ListTemplatesLatestOnly takes no order; otherwise
  // ListTemplates orders (and refuses an unknown field, 500). Tugboat serves each template's
  // newest version either way.
  ListRequest selection = request;
  selection.filters.clear();
  selection.env_filters.clear();
  if (latest_only.empty() || lower == "true") {
    selection.sort_by = "template_name";
    selection.order = "asc";
  }
  auto page = Select(std::move(rows), selection, TemplateColumns());
  if (!page.ok()) return ErrorAnswer(page.error());
  json::array items;
  for (auto& o : page->items) items.emplace_back(std::move(o));
  // The envelope, keys sorted as Go writes a map.
  std::map<std::string, json::value> fields;
  fields["limit"] = request.limit;
  fields["offset"] = request.offset;
  fields["order"] = request.order;
  fields["sort_by"] = request.sort_by;
  fields["templates"] = std::move(items);
  fields["total"] = page->total;
  json::object out;
  for (auto& [k, v] : fields) out[k] = std::move(v);
  return JsonAnswer(200, out);
}

net::Response FlotillaApi::GetTemplate(net::Request& req, Who who) {
  auto def = FindTemplate(who, req.params["template_id"]);
  if (!def.ok()) return ErrorAnswer(def.error());
  return JsonAnswer(200, TemplateJson(*def));
}

net::Response FlotillaApi::CreateTemplate(net::Request& req, Who who) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return ErrorAnswer(body.error());
  auto def = TemplateFromCreate(*body);
  if (!def.ok()) return ErrorAnswer(def.error());
  // services/template.go Create: a new name is version 1; a changed template is the next
  // version; an unchanged one is answered as it is (the store keeps an unchanged spec's version).
  if (auto existing = api_.store().GetDefinition(def->name);
      existing.ok() && existing->parameters.empty()) {
    return ErrorAnswer(AlreadyExists(
        fmt::format("a task definition named '{}' exists and is not a template; choose another "
                    "template_name",
                    def->name)));
  }
  auto stored = api_.StoreDefinition(who, req, std::move(*def), /*create_only=*/false);
  if (!stored.ok()) return ErrorAnswer(stored.error());
  return JsonAnswer(200, TemplateJson(stored->definition));
}

net::Response FlotillaApi::ExecuteTemplate(net::Request& req, Who who) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return ErrorAnswer(body.error());
  auto launch = ParseTemplateExecute(*body);
  if (!launch.ok()) return ErrorAnswer(launch.error());
  Result<Definition> def = NotFound("");
  if (req.params.count("template_name") > 0) {
    // services/execution.go CreateTemplateRunByTemplateName: a version that is a number names
    // that version, anything else the latest. Tugboat runs a template's newest version only.
    const std::string& name = req.params["template_name"];
    const std::string& version = req.params["template_version"];
    def = FindTemplate(who, name);
    const std::optional<int64_t> wanted = Atoi(version);
    if ((!def.ok() && def.error().code() == Code::kNotFound) ||
        (def.ok() && wanted && *wanted != def->version)) {
      return ErrorAnswer(NotFound(
          fmt::format("invalid template name or version, template_name: {}, template_version: {}",
                      name, version)));
    }
  } else {
    def = FindTemplate(who, req.params["template_id"]);
  }
  if (!def.ok()) return ErrorAnswer(def.error());
  // state/models.go GetExecutableCommand: the payload with the defaults merged in must satisfy
  // the schema. Flotilla answers its validator's errors as a plain error (500); this is the
  // caller's to fix, so 422, in Flotilla's {"error": ...}.
  auto values = templates::Resolve(*def, launch->payload);
  if (!values.ok()) {
    if (values.error().code() == Code::kFailedPrecondition) {
      return JsonAnswer(422, json::object{{"error", values.error().message()}});
    }
    return ErrorAnswer(values.error());
  }
  return Launch(req, who, *def, std::move(launch->launch), &*values, launch->dry_run);
}

net::Response FlotillaApi::ExecuteTemplateByName(net::Request& req, Who who) {
  return ExecuteTemplate(req, who);
}

net::Response FlotillaApi::ListTemplateRuns(net::Request& req, Who who) {
  return History(req, who, req.params["template_id"], /*template_runs=*/true);
}

}  // namespace tug::flotilla
