#pragma once
/// `tug run DEF -p NAME=VALUE`: run parameters typed by the definition's JSON Schema (its
/// `parameters`). Pure; the server validates the values again against the schema.
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"

namespace tug::cli {

/// Each "NAME=VALUE" as the JSON value the schema's property NAME asks for: integer, number and
/// boolean are parsed (kInvalidArgument when the text is not one), array and object are parsed
/// as JSON, string (or no type) keeps the text. `schema`: the definition's `parameters` (nullptr:
/// none, every value a string). A NAME given twice: the last wins.
[[nodiscard]] Result<boost::json::object> TypedParameters(const std::vector<std::string>& args,
                                                          const boost::json::value* schema);

}  // namespace tug::cli
