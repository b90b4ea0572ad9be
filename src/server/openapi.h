#pragma once
/// The OpenAPI 3.1 document of API v1 (src/server/openapi.yaml, embedded at build time), served
/// as JSON at GET /api/v1/openapi.json without authentication: it describes the API, not data.
/// Thread-safe; parsed once.
#include <string>

#include <boost/json/value.hpp>

#include "core/error.h"

namespace tug::server {

/// The document as JSON; kInternal when the embedded YAML does not parse (a build defect, which
/// openapi_test catches).
[[nodiscard]] Result<boost::json::value> OpenApiDocument();

/// The same, serialized (what the route answers).
[[nodiscard]] Result<std::string> OpenApiJson();

}  // namespace tug::server
