#pragma once
// Internal to core's JSON mapping (json.cpp, json_definition.cpp): field readers that name the
// field in every error, and the small writers both files use. Not a public surface.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "core/quantity.h"

namespace tug::json_internal {

namespace json = boost::json;

inline json::value Time(Micros t) {
  if (t == 0) return nullptr;
  return json::string(FormatTimestamp(t));
}

// A memory size that means exactly what it says when sent back: "64Mi", else "5G" (decimal
// units), else the bytes ("5000000001"). FormatMemory's "4.7Gi" is for reading; a definition
// printed with it and applied again would change size.
inline json::value ExactMemory(int64_t bytes) {
  std::string text = FormatMemory(bytes);
  if (text.find('.') == std::string::npos) return json::string(text);
  static constexpr std::pair<int64_t, const char*> kDecimal[] = {
      {1'000'000'000'000, "T"}, {1'000'000'000, "G"}, {1'000'000, "M"}, {1'000, "k"}};
  for (const auto& [size, unit] : kDecimal) {
    if (bytes % size == 0) return json::string(fmt::format("{}{}", bytes / size, unit));
  }
  return json::string(std::to_string(bytes));
}

inline json::object StringMap(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

// Field readers: each returns an error naming the field.
class Reader {
 public:
  Reader(const json::value& v, std::string what) : what_(std::move(what)) {
    if (v.is_object()) obj_ = &v.get_object();
  }
  bool is_object() const { return obj_ != nullptr; }
  Status NotObject() const {
    return InvalidArgument(fmt::format("{} must be a JSON object", what_));
  }
  const json::value* Get(std::string_view key) const {
    if (obj_ == nullptr) return nullptr;
    const json::value* v = obj_->if_contains(key);
    if (v != nullptr && v->is_null()) return nullptr;
    return v;
  }
  Status OnlyKeys(std::initializer_list<std::string_view> keys) const {
    if (obj_ == nullptr) return OkStatus();
    for (const auto& kv : *obj_) {
      bool known = false;
      for (auto k : keys) known = known || kv.key() == k;
      if (!known) {
        std::string list;
        for (auto k : keys) {
          if (!list.empty()) list += ", ";
          list += k;
        }
        return InvalidArgument(fmt::format("{}: unknown field '{}'; known fields are {}", what_,
                                           std::string_view(kv.key()), list));
      }
    }
    return OkStatus();
  }
  Status String(std::string_view key, std::string& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_string()) {
      return InvalidArgument(fmt::format("{}: '{}' must be a string", what_, key));
    }
    out = std::string(v->get_string());
    return OkStatus();
  }
  Status Int(std::string_view key, int64_t& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (v->is_int64()) {
      out = v->get_int64();
    } else if (v->is_uint64() && v->get_uint64() <= INT64_MAX) {
      out = static_cast<int64_t>(v->get_uint64());
    } else {
      return InvalidArgument(fmt::format("{}: '{}' must be an integer", what_, key));
    }
    return OkStatus();
  }
  Status Int(std::string_view key, int& out) const {
    int64_t wide = out;
    RETURN_IF_ERROR(Int(key, wide));
    if (wide < INT32_MIN || wide > INT32_MAX) {
      return InvalidArgument(fmt::format("{}: '{}' is out of range", what_, key));
    }
    out = static_cast<int>(wide);
    return OkStatus();
  }
  Status Bool(std::string_view key, bool& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_bool())
      return InvalidArgument(fmt::format("{}: '{}' must be true or false", what_, key));
    out = v->get_bool();
    return OkStatus();
  }
  Status Double(std::string_view key, double& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_number()) {
      return InvalidArgument(fmt::format("{}: '{}' must be a number", what_, key));
    }
    out = v->to_number<double>();
    return OkStatus();
  }
  Status Duration(std::string_view key, int64_t& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (v->is_string()) {
      auto secs = ParseDuration(v->get_string());
      if (!secs.ok()) {
        return InvalidArgument(fmt::format("{}: {}: {}", what_, key, secs.error().message()));
      }
      out = *secs;
      return OkStatus();
    }
    RETURN_IF_ERROR(Int(key, out));
    if (out <= 0) {
      return InvalidArgument(fmt::format("{}: {} must be positive, e.g. 10m", what_, key));
    }
    return OkStatus();
  }
  Status StringList(std::string_view key, std::vector<std::string>& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_array()) {
      return InvalidArgument(fmt::format("{}: '{}' must be a list of strings", what_, key));
    }
    for (const auto& x : v->get_array()) {
      if (x.is_string()) {
        out.emplace_back(x.get_string());
      } else if (x.is_number()) {
        out.push_back(json::serialize(x));  // YAML: args: [1000]
      } else {
        return InvalidArgument(fmt::format("{}: '{}' items must be strings", what_, key));
      }
    }
    return OkStatus();
  }
  Status Time(std::string_view key, Micros& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_string()) {
      return InvalidArgument(fmt::format("{}: '{}' must be an RFC 3339 time", what_, key));
    }
    ASSIGN_OR_RETURN(out, ParseTimestamp(std::string(v->get_string())));
    return OkStatus();
  }
  Status Map(std::string_view key, std::map<std::string, std::string>& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_object()) {
      return InvalidArgument(fmt::format(
          "{}: '{}' must be a map of names to strings, e.g. {{\"K\": \"v\"}}", what_, key));
    }
    for (const auto& kv : v->get_object()) {
      const json::value& x = kv.value();
      if (x.is_string()) {
        out[std::string(kv.key())] = std::string(x.get_string());
      } else if (x.is_int64() || x.is_uint64() || x.is_double() || x.is_bool()) {
        // YAML users write FOO: 1; keep its text.
        out[std::string(kv.key())] = json::serialize(x);
      } else {
        return InvalidArgument(
            fmt::format("{}: {}.{} must be a string", what_, key, std::string_view(kv.key())));
      }
    }
    return OkStatus();
  }
  // A size given as a number or a human string.
  Status Quantity(std::string_view key, int64_t& out, Result<int64_t> (*parse)(std::string_view),
                  double number_scale) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (v->is_string()) {
      auto r = parse(v->get_string());
      if (!r.ok()) return InvalidArgument(fmt::format("{}: {}", what_, r.error().message()));
      out = *r;
      return OkStatus();
    }
    double d = 0;
    if (v->is_int64())
      d = static_cast<double>(v->get_int64());
    else if (v->is_uint64())
      d = static_cast<double>(v->get_uint64());
    else if (v->is_double())
      d = v->get_double();
    else
      return InvalidArgument(
          fmt::format("{}: '{}' must be a number or a string like \"512Mi\"", what_, key));
    if (d <= 0) {
      return InvalidArgument(fmt::format("{}: '{}' must be positive (got {})", what_, key, d));
    }
    if (d * number_scale > 9e18)
      return InvalidArgument(fmt::format("{}: '{}' is too large", what_, key));
    out = static_cast<int64_t>(d * number_scale);
    return OkStatus();
  }
  const std::string& what() const { return what_; }

 private:
  const json::object* obj_ = nullptr;
  std::string what_;
};

}  // namespace tug::json_internal
