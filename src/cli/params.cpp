#include "cli/params.h"

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>
#include <boost/json.hpp>

namespace json = boost::json;

namespace tug::cli {
namespace {

// The type a property schema names ("" when none, or several: the text then stays a string
// unless it is the only reading that fits).
std::string TypeOf(const json::value* schema, const std::string& name) {
  if (schema == nullptr || !schema->is_object()) return "";
  const json::value* props = schema->as_object().if_contains("properties");
  if (props == nullptr || !props->is_object()) return "";
  const json::value* p = props->as_object().if_contains(name);
  if (p == nullptr || !p->is_object()) return "";
  const json::value* t = p->as_object().if_contains("type");
  if (t != nullptr && t->is_string()) return std::string(t->as_string());
  return "";
}

}  // namespace

Result<json::object> TypedParameters(const std::vector<std::string>& args,
                                     const json::value* schema) {
  json::object out;
  for (const auto& kv : args) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(fmt::format("-p '{}' must be NAME=VALUE, e.g. -p count=3", kv));
    }
    const std::string name = kv.substr(0, eq);
    const std::string text = kv.substr(eq + 1);
    const std::string type = TypeOf(schema, name);
    auto bad = [&](std::string_view want) {
      return InvalidArgument(fmt::format(
          "-p {}: '{}' is not {}, which the definition's schema asks for", name, text, want));
    };
    if (type == "integer") {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno == ERANGE) return bad("an integer");
      out[name] = static_cast<int64_t>(v);
    } else if (type == "number") {
      errno = 0;
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno == ERANGE) return bad("a number");
      out[name] = v;
    } else if (type == "boolean") {
      if (text == "true") {
        out[name] = true;
      } else if (text == "false") {
        out[name] = false;
      } else {
        return bad("a boolean (true or false)");
      }
    } else if (type == "array" || type == "object" || type == "null") {
      boost::system::error_code ec;
      json::value v = json::parse(text, ec);
      if (ec || (type == "array" && !v.is_array()) || (type == "object" && !v.is_object()) ||
          (type == "null" && !v.is_null())) {
        return bad(type == "array"    ? "a JSON array, e.g. [\"a\",\"b\"]"
                   : type == "object" ? "a JSON object, e.g. {\"k\":\"v\"}"
                                      : "null");
      }
      out[name] = std::move(v);
    } else {
      out[name] = text;
    }
  }
  return out;
}

}  // namespace tug::cli
