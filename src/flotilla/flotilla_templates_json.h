#pragma once
/// Flotilla's v7 templates (stitchfix/flotilla-os state/models.go Template, CreateTemplateRequest,
/// TemplateExecutionRequest) mapped onto Tugboat's parameterised definitions (src/templates): a
/// template is a definition with `parameters` (its JSON Schema) whose command is a template. Pure:
/// values in, values out, no I/O; table-tested in flotilla_json_test.cpp.
///
/// A template's id and name are both the definition's name, its version the definition's
/// version. Flotilla's `command_template` is a Go text/template over the payload ({{.name}});
/// Tugboat's placeholders are {{ name }}, rendered as one shell word each: only plain {{.name}}
/// actions translate (functions, pipelines, conditionals are refused with kInvalidArgument).
/// `defaults` become the schema's top-level property defaults (and are read back from them).
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/model.h"
#include "flotilla/flotilla_json.h"

namespace tug::flotilla {

/// A template definition as Flotilla writes a Template (no MarshalJSON: declaration order;
/// template_id, template_name, version, schema, command_template, defaults, avatar_uri, then
/// ExecutableResources: image, memory, gpu, cpu (omitempty), env (null when none),
/// adaptive_resource_allocation, tags (omitempty)).
boost::json::object TemplateJson(const Definition& d);

/// A definition from a POST /api/v7/template body. Template.IsValid's reasons first (joined by
/// newlines, word for word), then what Tugboat cannot take (a Go template beyond {{.name}}, a
/// default for an undeclared property, ports). kInvalidArgument.
[[nodiscard]] Result<Definition> TemplateFromCreate(const boost::json::value& body);

/// Go text/template {{.name}} / {{ .name }} → Tugboat {{ name }}; anything else in {{ }} is
/// kInvalidArgument naming the action.
[[nodiscard]] Result<std::string> CommandFromGoTemplate(std::string_view go_template);
/// Tugboat {{ name }} → Go text/template {{.name}}.
std::string GoTemplateFromCommand(std::string_view command);

/// A PUT /api/v7/template/.../execute body (TemplateExecutionRequest): ExecutionRequestCommon's
/// fields (owner_id at the top level; engine is always eks), template_payload and dry_run.
struct TemplateExecuteRequest {
  ExecuteRequest launch;
  boost::json::object payload;
  bool dry_run = false;
};
[[nodiscard]] Result<TemplateExecuteRequest> ParseTemplateExecute(const boost::json::value& body);

}  // namespace tug::flotilla
