#pragma once
// Helpers shared by the Flotilla JSON table tests.
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "core/json.h"

namespace tug::flotilla::json_testing {

/// A fixture's JSON text, parsed (the fixtures are valid JSON).
inline boost::json::value Parse(const std::string& s) { return *ParseJson(s); }

/// An object's keys in their order (Flotilla's MarshalJSON field order is part of its shape).
inline std::vector<std::string> Keys(const boost::json::object& o) {
  std::vector<std::string> keys;
  for (const auto& kv : o) keys.emplace_back(kv.key());
  return keys;
}

}  // namespace tug::flotilla::json_testing
