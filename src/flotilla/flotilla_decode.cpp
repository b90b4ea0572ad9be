#include "flotilla/flotilla_decode.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "flotilla/flotilla_json.h"

namespace json = boost::json;

namespace tug::flotilla {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// What a JSON value is, for messages in the words of Go's decoder.
std::string KindName(const json::value& v) {
  if (v.is_number()) return "number " + json::serialize(v);
  return std::string(json::to_string(v.kind()));
}

// eks_adapter.go sanitizeEnvVar: no leading '$', no spaces.
std::string SanitizeEnvName(std::string_view name) {
  if (name.starts_with('$')) name.remove_prefix(1);
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

}  // namespace

const json::value* Field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) {
    for (const auto& kv : o) {
      if (EqualsIgnoreCase(kv.key(), name)) {
        v = &kv.value();
        break;
      }
    }
  }
  return v == nullptr || v->is_null() ? nullptr : v;
}

Result<std::string> StringField(const json::object& o, std::string_view name) {
  const json::value* v = Field(o, name);
  if (v == nullptr) return std::string();
  if (!v->is_string()) {
    return InvalidArgument(
        fmt::format("json: cannot unmarshal {} into field '{}' of type string; send a string",
                    KindName(*v), name));
  }
  return std::string(v->as_string());
}

Result<std::optional<int64_t>> IntField(const json::object& o, std::string_view name) {
  const json::value* v = Field(o, name);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  if (v->is_double() && std::trunc(v->as_double()) == v->as_double() &&
      std::abs(v->as_double()) < 9e15) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_double()));
  }
  return InvalidArgument(
      fmt::format("json: cannot unmarshal {} into field '{}' of type int64; send a whole number",
                  KindName(*v), name));
}

Result<std::optional<bool>> BoolField(const json::object& o, std::string_view name) {
  const json::value* v = Field(o, name);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) {
    return InvalidArgument(
        fmt::format("json: cannot unmarshal {} into field '{}' of type bool; send true or false",
                    KindName(*v), name));
  }
  return std::optional<bool>(v->as_bool());
}

Result<std::optional<std::map<std::string, std::string>>> EnvField(const json::object& o) {
  const json::value* v = Field(o, "env");
  using Out = std::optional<std::map<std::string, std::string>>;
  if (v == nullptr) return Out();
  if (!v->is_array()) {
    return InvalidArgument(
        R"(json: cannot unmarshal env: send a list, e.g. [{"name":"GREETING","value":"hi"}])");
  }
  std::map<std::string, std::string> env;
  for (const auto& item : v->as_array()) {
    if (!item.is_object()) {
      return InvalidArgument(
          R"(json: cannot unmarshal an env entry: each is {"name":"GREETING","value":"hi"})");
    }
    ASSIGN_OR_RETURN(std::string name, StringField(item.as_object(), "name"));
    ASSIGN_OR_RETURN(std::string value, StringField(item.as_object(), "value"));
    name = SanitizeEnvName(name);
    if (name.empty()) continue;  // eks_adapter.go envOverrides drops empty names
    env[name] = std::move(value);
  }
  return Out(std::move(env));
}

json::array EnvList(const std::map<std::string, std::string>& env) {
  json::array out;
  for (const auto& [k, v] : env) out.push_back(json::object{{"name", k}, {"value", v}});
  return out;
}

Status ApplyTags(const json::object& o, Definition& def) {
  const json::value* v = Field(o, "tags");
  if (v == nullptr) return OkStatus();
  if (!v->is_array()) {
    return InvalidArgument(R"(json: cannot unmarshal tags: send a list of strings, e.g. ["etl"])");
  }
  json::array tags;
  for (const auto& t : v->as_array()) {
    if (!t.is_string()) {
      return InvalidArgument(
          R"(json: cannot unmarshal tags: send a list of strings, e.g. ["etl"])");
    }
    if (!t.as_string().empty()) tags.push_back(t);
  }
  if (tags.empty()) {
    def.labels.erase(kTagsLabel);
  } else {
    def.labels[kTagsLabel] = json::serialize(tags);
  }
  return OkStatus();
}

json::array TagsOf(const Definition& d) {
  auto it = d.labels.find(kTagsLabel);
  if (it == d.labels.end()) return {};
  boost::system::error_code ec;
  json::value v = json::parse(it->second, ec);
  if (ec || !v.is_array()) return {};
  return v.as_array();
}

int64_t Megabytes(int64_t bytes) { return (bytes + kMegabyte - 1) / kMegabyte; }

Status CheckMemory(int64_t mb, std::string_view field) {
  if (mb < 0 || mb > std::numeric_limits<int64_t>::max() / kMegabyte) {
    return InvalidArgument(
        fmt::format("{} {} is out of range; give megabytes, e.g. {}: 512", field, mb, field));
  }
  return OkStatus();
}

Result<std::optional<int64_t>> GpuField(const json::object& o) {
  ASSIGN_OR_RETURN(std::optional<int64_t> gpu, IntField(o, "gpu"));
  if (gpu && *gpu < 0) {
    return InvalidArgument(
        fmt::format("gpu {} is negative; give a whole number of GPUs, e.g. 1", *gpu));
  }
  return gpu;
}

}  // namespace tug::flotilla
