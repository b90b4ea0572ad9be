// JSON Schema parameters and command templates (parameters.h). valijson is built with
// VALIJSON_USE_EXCEPTIONS (CMakeLists.txt): its parser throws on schemas it cannot use, and every
// throw is caught here and becomes an Error.
#include "templates/parameters.h"

#include <exception>
#include <regex>

#include <fmt/format.h>
#include <boost/json.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "templates/draft7_metaschema.h"

namespace json = boost::json;

namespace tug::templates {

namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdent(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

bool IsIdentifier(std::string_view s) {
  if (s.empty() || !IsIdentStart(s.front())) return false;
  for (char c : s) {
    if (!IsIdent(c)) return false;
  }
  return true;
}

// A placeholder at `pos` ("{{", spaces, an identifier, spaces, "}}"): its name and length, or
// an empty name when the text there is not one (it is then kept as it is).
struct Found {
  std::string name;
  size_t length = 0;
};
Found PlaceholderAt(std::string_view text, size_t pos) {
  if (text.substr(pos, 2) != "{{") return {};
  size_t i = pos + 2;
  while (i < text.size() && text[i] == ' ') ++i;
  const size_t start = i;
  if (i >= text.size() || !IsIdentStart(text[i])) return {};
  while (i < text.size() && IsIdent(text[i])) ++i;
  const size_t end = i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (text.substr(i, 2) != "}}") return {};
  return {std::string(text.substr(start, end - start)), i + 2 - pos};
}

template <typename Fn>
std::string Substitute(std::string_view text, Fn&& replacement) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    Found f = PlaceholderAt(text, i);
    if (f.name.empty()) {
      out += text[i++];
      continue;
    }
    out += replacement(f.name);
    i += f.length;
  }
  return out;
}

const valijson::Schema& MetaSchema() {
  static const valijson::Schema* schema = [] {
    auto* s = new valijson::Schema();
    json::value doc = json::parse(kDraft7MetaSchema);
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    parser.populateSchema(valijson::adapters::BoostJsonAdapter(doc), *s);
    return s;
  }();
  return *schema;
}

// The first (innermost) error of a validation, as "where: what" in lower case without the
// trailing period. valijson's context is ["<root>", "[name]", ...].
struct Failure {
  std::string path;     // "count", "tags[1]" ("" for the object itself)
  std::string top;      // the top-level property, "" for the object itself
  std::string message;  // valijson's description, lower-cased first letter
};
Failure FirstFailure(const valijson::ValidationResults& results) {
  valijson::ValidationResults copy = results;
  valijson::ValidationResults::Error e;
  Failure f;
  if (!copy.popError(e)) return f;
  for (size_t i = 1; i < e.context.size(); ++i) {
    std::string part = e.context[i];
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']') {
      std::string inner = part.substr(1, part.size() - 2);
      const bool index =
          !inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos;
      if (i == 1) f.top = inner;
      f.path += index ? part : (f.path.empty() ? inner : "." + inner);
    } else {
      f.path += (f.path.empty() ? "" : ".") + part;
    }
  }
  f.message = e.description;
  if (!f.message.empty()) {
    f.message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(f.message[0])));
  }
  while (!f.message.empty() && (f.message.back() == '.' || f.message.back() == ' ')) {
    f.message.pop_back();
  }
  return f;
}

// Every `pattern` and `patternProperties` key in a schema compiles as the std::regex (ECMAScript)
// valijson will build from it; a `$ref` points inside the document.
Status CheckSchemaNode(const json::value& v, const std::string& where, std::string_view what) {
  if (v.is_array()) {
    for (size_t i = 0; i < v.get_array().size(); ++i) {
      RETURN_IF_ERROR(CheckSchemaNode(v.get_array()[i], fmt::format("{}[{}]", where, i), what));
    }
    return OkStatus();
  }
  if (!v.is_object()) return OkStatus();
  for (const auto& kv : v.get_object()) {
    const std::string key(kv.key());
    const std::string here = where.empty() ? key : where + "." + key;
    std::vector<std::string> regexes;
    if (key == "pattern" && kv.value().is_string()) regexes.emplace_back(kv.value().get_string());
    if (key == "patternProperties" && kv.value().is_object()) {
      for (const auto& p : kv.value().get_object()) regexes.emplace_back(p.key());
    }
    for (const auto& re : regexes) {
      try {
        std::regex compiled(re);
      } catch (const std::regex_error& e) {
        return InvalidArgument(fmt::format("{}: {}: '{}' is not a regular expression ({}); fix it",
                                           what, here, re, e.what()));
      }
    }
    if (key == "$ref" && kv.value().is_string() &&
        !std::string_view(kv.value().get_string()).starts_with("#")) {
      return InvalidArgument(fmt::format(
          "{}: {}: '{}' refers outside the schema; only local references (#/definitions/...) "
          "are supported, so copy the referenced schema in",
          what, here, std::string_view(kv.value().get_string())));
    }
    if (key == "properties" || key == "definitions" || key == "patternProperties" ||
        key == "dependencies") {
      // Names here are data, not keywords: look inside each member's schema.
      if (kv.value().is_object()) {
        for (const auto& m : kv.value().get_object()) {
          RETURN_IF_ERROR(CheckSchemaNode(m.value(), here + "." + std::string(m.key()), what));
        }
      }
      continue;
    }
    if (key == "enum" || key == "const" || key == "default" || key == "examples") continue;
    RETURN_IF_ERROR(CheckSchemaNode(kv.value(), here, what));
  }
  return OkStatus();
}

Result<std::unique_ptr<valijson::Schema>> Compile(const json::value& schema,
                                                  std::string_view what) {
  auto out = std::make_unique<valijson::Schema>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    parser.populateSchema(valijson::adapters::BoostJsonAdapter(schema), *out);
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("{}: the schema cannot be used: {}", what, e.what()));
  }
  return out;
}

std::string ValueText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  if (v.is_double()) return fmt::format("{}", v.get_double());  // 1.5, not Boost's 1.5E0
  return json::serialize(v);
}

bool RunsShellScript(const std::vector<std::string>& args) {
  if (args.size() < 2) return false;
  std::string_view prog = args[0];
  if (auto slash = prog.rfind('/'); slash != std::string_view::npos) prog.remove_prefix(slash + 1);
  static constexpr std::string_view kShells[] = {"sh", "bash", "dash", "zsh", "ksh", "ash", "fish"};
  bool shell = false;
  for (auto s : kShells) shell = shell || prog == s;
  if (!shell) return false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].size() >= 2 && args[i][0] == '-' && args[i][1] != '-' &&
        args[i].find('c') != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Spark conf keys whose values Spark turns into code or a command line: JVM options (split into
// arguments; -XX:OnOutOfMemoryError runs a shell command), class and library paths, jars, files
// and packages fetched and loaded, plugins, and the Python interpreter (also through the
// environment). A parameter there could run code the definition did not name, so placeholders
// are refused in them.
bool SparkConfRunsCode(std::string_view key) {
  auto ends_with = [&](std::string_view suffix) {
    return key.size() >= suffix.size() && key.substr(key.size() - suffix.size()) == suffix;
  };
  for (std::string_view suffix : {"JavaOptions", "ClassPath", "LibraryPath", "PYSPARK_PYTHON",
                                  "PYSPARK_DRIVER_PYTHON", "LD_PRELOAD", "LD_LIBRARY_PATH"}) {
    if (ends_with(suffix)) return true;
  }
  static constexpr std::string_view kCode[] = {
      "spark.jars",          "spark.jars.packages",        "spark.jars.repositories",
      "spark.jars.ivy",      "spark.jars.ivySettings",     "spark.jars.excludes",
      "spark.files",         "spark.submit.pyFiles",       "spark.archives",
      "spark.plugins",       "spark.pyspark.python",       "spark.pyspark.driver.python",
      "spark.extraListeners"};
  for (std::string_view k : kCode) {
    if (key == k) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> Placeholders(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    Found f = PlaceholderAt(text, i);
    if (f.name.empty()) {
      ++i;
      continue;
    }
    out.push_back(std::move(f.name));
    i += f.length;
  }
  return out;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

Status CheckSchema(const json::value& schema, std::string_view what) {
  if (!schema.is_object()) {
    return InvalidArgument(fmt::format(
        "{} must be a JSON Schema object, e.g. {{type: object, properties: {{count: {{type: "
        "integer}}}}}}",
        what));
  }
  valijson::ValidationResults results;
  valijson::Validator validator;
  bool valid = false;
  try {
    valid =
        validator.validate(MetaSchema(), valijson::adapters::BoostJsonAdapter(schema), &results);
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("{}: the schema cannot be checked: {}", what, e.what()));
  }
  if (!valid) {
    Failure f = FirstFailure(results);
    return InvalidArgument(fmt::format(
        "{} is not a valid JSON Schema (draft 7): {}{}{}; see https://json-schema.org/draft-07",
        what, f.path, f.path.empty() ? "" : ": ", f.message));
  }
  const json::object& o = schema.get_object();
  const json::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_string() || type->get_string() != "object") {
    return InvalidArgument(fmt::format(
        "{} must say type: object (the parameters are named), e.g. {{type: object, properties: "
        "{{count: {{type: integer}}}}}}",
        what));
  }
  const json::value* props = o.if_contains("properties");
  if (props == nullptr || !props->is_object() || props->get_object().empty()) {
    return InvalidArgument(fmt::format(
        "{} needs properties: one schema per parameter, e.g. properties: {{count: {{type: "
        "integer}}}}",
        what));
  }
  for (const auto& kv : props->get_object()) {
    if (!IsIdentifier(kv.key())) {
      return InvalidArgument(fmt::format(
          "{}: parameter name '{}' must be letters, digits and '_', not starting with a digit "
          "(it is written {{{{ {} }}}} in the command)",
          what, std::string_view(kv.key()), std::string_view(kv.key())));
    }
  }
  RETURN_IF_ERROR(CheckSchemaNode(schema, "", what));
  ASSIGN_OR_RETURN(auto compiled, Compile(schema, what));
  return OkStatus();
}

Result<bool> Satisfies(const json::value& schema, const json::value& instance) {
  ASSIGN_OR_RETURN(auto compiled, Compile(schema, "schema"));
  valijson::Validator validator;
  try {
    return validator.validate(*compiled, valijson::adapters::BoostJsonAdapter(instance), nullptr);
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("schema: cannot be checked: {}", e.what()));
  }
}

Result<std::string> Violation(const json::value& schema, const json::value& instance) {
  ASSIGN_OR_RETURN(auto compiled, Compile(schema, "schema"));
  valijson::Validator validator;
  valijson::ValidationResults results;
  try {
    if (validator.validate(*compiled, valijson::adapters::BoostJsonAdapter(instance), &results)) {
      return std::string();
    }
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("schema: cannot be checked: {}", e.what()));
  }
  Failure f = FirstFailure(results);
  return (f.path.empty() ? std::string("(top)") : f.path) + ": " + f.message;
}

Status CheckDefinition(const Definition& def) {
  const std::string what = fmt::format("definition '{}': parameters", def.name);
  std::vector<std::string> used;
  for (const auto& a : def.args) {
    for (auto& n : Placeholders(a)) used.push_back(std::move(n));
  }
  for (auto& n : Placeholders(def.command)) used.push_back(std::move(n));
  if (def.parameters.empty()) return OkStatus();
  if (def.kind == "spark") {
    // Spark: spark.args elements and spark.conf values are templates (both reach spark-submit
    // as single argv elements, or EMR's JSON, never a shell).
    for (const auto& a : def.spark.args) {
      for (auto& n : Placeholders(a)) used.push_back(std::move(n));
    }
    for (const auto& [key, value] : def.spark.conf) {
      if (!Placeholders(key).empty()) {
        return InvalidArgument(fmt::format(
            "definition '{}': spark.conf key '{}' holds a placeholder; placeholders go in values, "
            "keys are fixed",
            def.name, key));
      }
      std::vector<std::string> names = Placeholders(value);
      if (!names.empty() && SparkConfRunsCode(key)) {
        return InvalidArgument(fmt::format(
            "definition '{}': spark.conf '{}' cannot hold a placeholder: Spark turns its value "
            "into code or a command line, so a parameter could run what the definition does not "
            "name; fix its value in the definition",
            def.name, key));
      }
      for (auto& n : names) used.push_back(std::move(n));
    }
  }
  boost::system::error_code ec;
  json::value schema = json::parse(def.parameters, ec);
  if (ec) return InvalidArgument(fmt::format("{} is not valid JSON: {}", what, ec.message()));
  RETURN_IF_ERROR(CheckSchema(schema, what));
  const json::object& props = schema.get_object().at("properties").get_object();
  for (const auto& n : used) {
    if (!props.contains(n)) {
      std::string known;
      for (const auto& kv : props) known += (known.empty() ? "" : ", ") + std::string(kv.key());
      return InvalidArgument(fmt::format(
          "definition '{}': command uses {{{{ {} }}}}, but parameters declares no '{}' (it has: "
          "{}); add it under parameters.properties or fix the name",
          def.name, n, n, known));
    }
  }
  if (!used.empty() && RunsShellScript(def.args)) {
    return InvalidArgument(fmt::format(
        "definition '{}': the list command runs a shell with -c, which would parse parameter "
        "values as shell code; write the command as a string (placeholders are then quoted) or "
        "run the program directly",
        def.name));
  }
  return OkStatus();
}

Result<json::object> Resolve(const Definition& def, const json::object& given) {
  if (def.parameters.empty()) {
    if (given.empty()) return json::object{};
    return FailedPrecondition(fmt::format(
        "definition '{}' declares no parameters, so the run cannot take any; leave parameters "
        "out or add a parameters schema to the definition",
        def.name));
  }
  boost::system::error_code ec;
  json::value schema = json::parse(def.parameters, ec);
  if (ec || !schema.is_object()) {
    return Internal(
        fmt::format("definition '{}': stored parameters schema is unreadable", def.name));
  }
  const json::object& s = schema.get_object();
  const json::object* props = nullptr;
  if (const json::value* p = s.if_contains("properties"); p && p->is_object()) {
    props = &p->get_object();
  }
  // A typo'd name would otherwise be ignored: unknown names are refused unless the schema says
  // what to do with them (additionalProperties / patternProperties).
  const bool open = s.contains("additionalProperties") || s.contains("patternProperties");
  for (const auto& kv : given) {
    if (!open && (props == nullptr || !props->contains(kv.key()))) {
      std::string known;
      if (props != nullptr) {
        for (const auto& p : *props) known += (known.empty() ? "" : ", ") + std::string(p.key());
      }
      return FailedPrecondition(
          fmt::format("parameter '{}': definition '{}' declares no such parameter (it has: {})",
                      std::string_view(kv.key()), def.name, known));
    }
    if (kv.value().is_string() && kv.value().get_string().size() > kMaxValueLength) {
      return FailedPrecondition(fmt::format("parameter '{}': is {} characters long; use at most {}",
                                            std::string_view(kv.key()),
                                            kv.value().get_string().size(), kMaxValueLength));
    }
  }
  json::object values = given;
  if (props != nullptr) {
    for (const auto& kv : *props) {
      if (values.contains(kv.key()) || !kv.value().is_object()) continue;
      if (const json::value* d = kv.value().get_object().if_contains("default")) {
        values[kv.key()] = *d;
      }
    }
  }
  ASSIGN_OR_RETURN(auto compiled,
                   Compile(schema, fmt::format("definition '{}': parameters", def.name)));
  valijson::ValidationResults results;
  valijson::Validator validator;
  json::value target = values;
  bool valid = false;
  try {
    valid = validator.validate(*compiled, valijson::adapters::BoostJsonAdapter(target), &results);
  } catch (const std::exception& e) {
    return FailedPrecondition(
        fmt::format("parameters of definition '{}' cannot be checked: {}", def.name, e.what()));
  }
  if (!valid) {
    Failure f = FirstFailure(results);
    std::string rule;
    if (props != nullptr && !f.top.empty()) {
      if (const json::value* p = props->if_contains(f.top)) {
        json::value shown = *p;
        if (shown.is_object()) {
          shown.get_object().erase("description");
          shown.get_object().erase("title");
        }
        rule = " (schema: " + json::serialize(shown) + ")";
      }
    }
    static constexpr std::string_view kMissing = "missing required property '";
    if (f.top.empty() && f.message.starts_with(kMissing)) {
      std::string name = f.message.substr(kMissing.size());
      if (!name.empty() && name.back() == '\'') name.pop_back();
      return FailedPrecondition(fmt::format(
          "parameter '{}': missing; the schema lists it as required and gives no default", name));
    }
    if (f.top.empty()) {
      return FailedPrecondition(fmt::format("parameters: {}", f.message));
    }
    return FailedPrecondition(fmt::format("parameter '{}': {}{}", f.path, f.message, rule));
  }
  return values;
}

Definition Render(const Definition& def, const json::object& values) {
  if (def.parameters.empty()) return def;
  Definition out = def;
  auto text = [&](const std::string& name) {
    const json::value* v = values.if_contains(name);
    return v == nullptr ? std::string() : ValueText(*v);
  };
  if (out.kind == "spark") {
    // Each argument stays one argument of the application (after the main resource
    // spark-submit parses nothing); conf values stay the value of their key.
    for (auto& a : out.spark.args) a = Substitute(a, text);
    for (auto& [key, value] : out.spark.conf) value = Substitute(value, text);
    return out;
  }
  if (!out.args.empty()) {
    for (auto& a : out.args) a = Substitute(a, text);
  } else {
    out.command =
        Substitute(out.command, [&](const std::string& name) { return ShellQuote(text(name)); });
  }
  return out;
}

}  // namespace tug::templates
