#include "flotilla/flotilla_templates_json.h"

#include <cctype>
#include <regex>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json.hpp>

#include "flotilla/flotilla_decode.h"

namespace json = boost::json;

namespace tug::flotilla {
namespace {

bool IsIdentifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The schema's top-level property defaults: Flotilla's `defaults` (merged into the payload
// before validation, state/models.go compositeUserAndDefaults) as Tugboat keeps them.
json::object DefaultsOf(const json::value& schema) {
  json::object out;
  if (!schema.is_object()) return out;
  const json::value* props = schema.as_object().if_contains("properties");
  if (props == nullptr || !props->is_object()) return out;
  for (const auto& kv : props->as_object()) {
    if (!kv.value().is_object()) continue;
    if (const json::value* d = kv.value().as_object().if_contains("default")) out[kv.key()] = *d;
  }
  return out;
}

std::string Label(const Definition& d, const char* key) {
  auto it = d.labels.find(key);
  return it == d.labels.end() ? std::string() : it->second;
}

}  // namespace

Result<std::string> CommandFromGoTemplate(std::string_view go) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = go.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(go.substr(pos));
      return out;
    }
    const size_t close = go.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument(
          "command_template: a '{{' is not closed by '}}'; write placeholders as {{.name}}");
    }
    const std::string_view action = Trim(go.substr(open + 2, close - open - 2));
    if (action.size() < 2 || action[0] != '.' || !IsIdentifier(action.substr(1))) {
      return InvalidArgument(fmt::format(
          "command_template: '{{{{{}}}}}' is not a plain {{{{.name}}}} placeholder; Tugboat "
          "renders templates without Go's text/template functions, pipelines or conditionals "
          "(each value becomes one shell word): use {{{{.name}}}} and do the rest in the command",
          go.substr(open + 2, close - open - 2)));
    }
    out.append(go.substr(pos, open - pos));
    out += "{{ ";
    out.append(action.substr(1));
    out += " }}";
    pos = close + 2;
  }
}

std::string GoTemplateFromCommand(std::string_view command) {
  static const std::regex kPlaceholder(R"(\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\})");
  return std::regex_replace(std::string(command), kPlaceholder, "{{.$1}}");
}

json::object TemplateJson(const Definition& d) {
  json::value schema = nullptr;
  if (!d.parameters.empty()) {
    boost::system::error_code ec;
    schema = json::parse(d.parameters, ec);
    if (ec) schema = nullptr;
  }
  std::string command = d.command;
  if (command.empty()) {
    for (const auto& a : d.args) command += (command.empty() ? "" : " ") + a;
  }
  json::object o;
  o["template_id"] = d.name;
  o["template_name"] = d.name;
  o["version"] = d.version;
  o["schema"] = schema;
  o["command_template"] = GoTemplateFromCommand(command);
  o["defaults"] = DefaultsOf(schema);
  o["avatar_uri"] = Label(d, kAvatarLabel);
  o["image"] = d.image;
  if (d.resources.memory_bytes > 0) o["memory"] = Megabytes(d.resources.memory_bytes);
  if (d.resources.gpu > 0) o["gpu"] = d.resources.gpu;
  if (d.resources.cpu_millis > 0) o["cpu"] = d.resources.cpu_millis;
  // *EnvList without omitempty: null when the template has none.
  o["env"] = d.env.empty() ? json::value(nullptr) : json::value(EnvList(d.env));
  if (d.adapt.rightsizing == "apply") o["adaptive_resource_allocation"] = true;
  if (d.adapt.rightsizing == "off") o["adaptive_resource_allocation"] = false;
  if (json::array tags = TagsOf(d); !tags.empty()) o["tags"] = std::move(tags);
  return o;
}

Result<Definition> TemplateFromCreate(const json::value& body) {
  if (!body.is_object()) {
    return InvalidArgument(
        "json: cannot unmarshal the body into a template; send a JSON object, e.g. "
        R"({"template_name":"hello","schema":{"type":"object","properties":{"name":)"
        R"({"type":"string"}}},"command_template":"echo hi {{.name}}","image":"debian:12",)"
        R"("memory":512})");
  }
  const json::object& o = body.as_object();
  ASSIGN_OR_RETURN(std::string name, StringField(o, "template_name"));
  ASSIGN_OR_RETURN(std::string command_template, StringField(o, "command_template"));
  ASSIGN_OR_RETURN(std::string image, StringField(o, "image"));
  ASSIGN_OR_RETURN(std::string avatar, StringField(o, "avatar_uri"));
  ASSIGN_OR_RETURN(std::optional<int64_t> memory, IntField(o, "memory"));
  ASSIGN_OR_RETURN(std::optional<int64_t> cpu, IntField(o, "cpu"));
  ASSIGN_OR_RETURN(std::optional<int64_t> gpu, GpuField(o));
  ASSIGN_OR_RETURN(std::optional<bool> ara, BoolField(o, "adaptive_resource_allocation"));
  ASSIGN_OR_RETURN(auto env, EnvField(o));
  json::object schema;
  if (const json::value* s = Field(o, "schema"); s != nullptr) {
    if (!s->is_object()) {
      return InvalidArgument(
          "json: cannot unmarshal schema: send a JSON Schema object, e.g. "
          R"({"type":"object","properties":{"name":{"type":"string"}}})");
    }
    schema = s->as_object();
  }
  // state/models.go Template.IsValid, its reasons joined by newlines.
  std::vector<std::string> reasons;
  if (name.empty()) reasons.emplace_back("string [template_name] must be specified");
  if (schema.empty()) reasons.emplace_back("schema must be specified");
  if (command_template.empty()) reasons.emplace_back("string [command_template] must be specified");
  if (image.empty()) reasons.emplace_back("string [image] must be specified");
  if (!memory) reasons.emplace_back("int [memory] must be specified");
  if (!reasons.empty()) return InvalidArgument(fmt::format("{}", fmt::join(reasons, "\n")));
  if (auto st = ValidateName(name); !st.ok()) {
    return InvalidArgument(
        fmt::format("template_name '{}' is also the template's name in "
                    "Tugboat, and {}",
                    name, st.error().message()));
  }
  if (const json::value* ports = Field(o, "ports");
      ports != nullptr && (!ports->is_array() || !ports->as_array().empty())) {
    return InvalidArgument(
        "ports have no equivalent in Tugboat: jobs publish no ports; leave ports out");
  }
  if (const json::value* defaults = Field(o, "defaults"); defaults != nullptr) {
    if (!defaults->is_object()) {
      return InvalidArgument(R"(json: cannot unmarshal defaults: send an object, e.g. {"n":1})");
    }
    json::value* props = schema.if_contains("properties");
    for (const auto& kv : defaults->as_object()) {
      json::value* prop = props != nullptr && props->is_object()
                              ? props->as_object().if_contains(kv.key())
                              : nullptr;
      if (prop == nullptr || !prop->is_object()) {
        return InvalidArgument(fmt::format(
            "defaults: '{}' is not a property of the schema; Tugboat keeps defaults in the "
            "schema, so declare it under schema.properties",
            std::string_view(kv.key())));
      }
      prop->as_object()["default"] = kv.value();
    }
  }
  Definition def;
  def.name = name;
  def.image = image;
  ASSIGN_OR_RETURN(def.command, CommandFromGoTemplate(command_template));
  RETURN_IF_ERROR(CheckMemory(*memory, "memory"));
  def.resources.memory_bytes = *memory * kMegabyte;
  if (cpu) def.resources.cpu_millis = *cpu;
  if (gpu) def.resources.gpu = *gpu;
  if (ara) def.adapt.rightsizing = *ara ? "apply" : "off";
  if (env) def.env = std::move(*env);
  if (!avatar.empty()) def.labels[kAvatarLabel] = avatar;
  RETURN_IF_ERROR(ApplyTags(o, def));
  def.parameters = json::serialize(schema);
  return def;
}

Result<TemplateExecuteRequest> ParseTemplateExecute(const json::value& body) {
  if (!body.is_object()) {
    return InvalidArgument(
        "json: cannot unmarshal the body into a template execution request; send a JSON object, "
        R"(e.g. {"owner_id":"ada","template_payload":{"name":"world"}})");
  }
  const json::object& o = body.as_object();
  TemplateExecuteRequest r;
  ASSIGN_OR_RETURN(r.launch.owner_id, StringField(o, "owner_id"));
  if (r.launch.owner_id.empty()) {
    // flotilla/endpoints.go CreateTemplateRun, word for word
    return InvalidArgument(
        "request payload must contain [owner_id]; the run_tags field is deprecated for the v7 "
        "endpoint.");
  }
  // CreateTemplateRun sets engine to eks whatever was sent, so spark_extension and engine are
  // not read; cluster_name is overridden by Flotilla's own cluster, as by Tugboat's planner.
  RETURN_IF_ERROR(ParseLaunchFields(o, r.launch));
  if (const json::value* p = Field(o, "template_payload"); p != nullptr) {
    if (!p->is_object()) {
      return InvalidArgument(
          R"(json: cannot unmarshal template_payload: send an object, e.g. {"name":"world"})");
    }
    r.payload = p->as_object();
  }
  ASSIGN_OR_RETURN(std::optional<bool> dry_run, BoolField(o, "dry_run"));
  r.dry_run = dry_run.value_or(false);
  return r;
}

}  // namespace tug::flotilla
