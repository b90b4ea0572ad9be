// GET /api/v1/openapi.json: the OpenAPI document (openapi.yaml) as JSON.
#include <mutex>
#include <string_view>

#include <boost/json.hpp>

#include "core/yaml.h"
#include "server/api.h"
#include "server/api_internal.h"
#include "server/openapi.h"

namespace tug::server {

extern const std::string_view kOpenApiYaml;  // openapi_embedded.cpp, from openapi.yaml

namespace json = boost::json;

namespace {

struct Parsed {
  Result<json::value> document = Internal("not parsed");
  Result<std::string> text = Internal("not parsed");
};

const Parsed& Document() {
  static const Parsed parsed = [] {
    Parsed p;
    auto docs = YamlToJson(std::string(kOpenApiYaml));
    if (!docs.ok() || docs->size() != 1) {
      p.document = Internal("the embedded OpenAPI document does not parse: " +
                            (docs.ok() ? std::string("not one document") : docs.error().message()));
      p.text = p.document.error();
      return p;
    }
    p.document = std::move(docs->front());
    p.text = json::serialize(*p.document);
    return p;
  }();
  return parsed;
}

}  // namespace

Result<json::value> OpenApiDocument() { return Document().document; }

Result<std::string> OpenApiJson() { return Document().text; }

net::Response Api::OpenApi(net::Request& req) {
  const Parsed& p = Document();
  if (!p.document.ok()) return api_internal::Err(p.document.error());
  return api_internal::Revalidated(req, *p.document);
}

}  // namespace tug::server
