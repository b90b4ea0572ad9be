#pragma once
/// YAML documents as JSON values, so one JSON mapping serves YAML and JSON input.
/// Plain (unquoted) scalars are typed as YAML 1.2's core schema does: null, true/false,
/// integers and floats; quoted scalars stay strings.
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.h"

namespace tug {

/// Every document in the text (a "---" separated stream), in order. Errors carry the line.
Result<std::vector<boost::json::value>> YamlToJson(const std::string& text);

}  // namespace tug
