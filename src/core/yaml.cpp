#include "core/yaml.h"

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <boost/json.hpp>

namespace tug {
namespace {

boost::json::value Scalar(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() != "?") return boost::json::string(s);  // quoted or explicitly tagged
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && end != s.c_str() && *end == '\0') return static_cast<int64_t>(v);
  }
  {
    bool numeric = s.find_first_not_of("0123456789.eE+-") == std::string::npos &&
                   s.find_first_of("0123456789") != std::string::npos;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (numeric && end != s.c_str() && *end == '\0') return d;
  }
  return boost::json::string(s);
}

Result<boost::json::value> Convert(const YAML::Node& node, int depth) {
  if (depth > 64) return InvalidArgument("YAML is nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return boost::json::value(nullptr);
    case YAML::NodeType::Scalar:
      return Scalar(node);
    case YAML::NodeType::Sequence: {
      boost::json::array a;
      for (const auto& item : node) {
        ASSIGN_OR_RETURN(auto v, Convert(item, depth + 1));
        a.push_back(std::move(v));
      }
      return boost::json::value(std::move(a));
    }
    case YAML::NodeType::Map: {
      boost::json::object o;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return InvalidArgument(
              fmt::format("YAML line {}: map keys must be plain names", kv.first.Mark().line + 1));
        }
        ASSIGN_OR_RETURN(auto v, Convert(kv.second, depth + 1));
        o[kv.first.Scalar()] = std::move(v);
      }
      return boost::json::value(std::move(o));
    }
  }
  return boost::json::value(nullptr);
}

}  // namespace

Result<std::vector<boost::json::value>> YamlToJson(const std::string& text) {
  std::vector<boost::json::value> out;
  try {
    for (const auto& doc : YAML::LoadAll(text)) {
      if (doc.IsNull()) continue;
      ASSIGN_OR_RETURN(auto v, Convert(doc, 0));
      out.push_back(std::move(v));
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(
        fmt::format("YAML line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  return out;
}

}  // namespace tug
