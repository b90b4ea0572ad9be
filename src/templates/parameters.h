#pragma once
/// Parameterised definitions: a definition's `parameters` is a JSON Schema (draft 7, an object
/// schema) and its command a template with `{{ name }}` placeholders. A run submitted with
/// `parameters` has them validated against the schema (defaults filled in first) and its command
/// rendered:
///   - a shell string command (run by /bin/sh -c): each placeholder becomes the value as ONE
///     single-quoted shell word ('it'\''s'), so no value can end the word, start a command or
///     expand anything (`'; rm -rf / #`, `$(id)` arrive as that text);
///   - a list command (exec'd without a shell): each placeholder is replaced by the value's text
///     inside its element; a list that starts a shell with -c may not hold placeholders (the shell
///     would parse the value), so it is refused when the definition is applied.
///   - a Spark definition: placeholders in spark.args elements and spark.conf values, replaced by
///     the value's text inside them (each stays one spark-submit argument, or one entry of EMR's
///     JSON; no shell). Keys are fixed, and conf whose values Spark turns into code or a command
///     line (JVM options, class paths, jars, files, the Python interpreter) may hold none.
/// Values render as their text: strings as they are, numbers and booleans as JSON writes them,
/// null (or an optional parameter left out) as the empty string, arrays and objects as JSON.
///
/// Validation uses valijson (Debian's libvalijson-dev) over Boost.JSON. Pure functions, no I/O;
/// thread-safe. Errors: kInvalidArgument for a bad schema or template (a definition to fix, 400),
/// kFailedPrecondition for parameters that do not satisfy the schema (422), naming the parameter
/// and the rule.
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/model.h"

namespace tug::templates {

/// Longest string a parameter value may be (the schema's `pattern` runs std::regex over it).
inline constexpr size_t kMaxValueLength = 4096;

/// Checks a schema on its own: valid against the draft-07 meta-schema, `type: object` with
/// `properties` whose names are identifiers ([A-Za-z_][A-Za-z0-9_]*), local `$ref`s only, and
/// regular expressions that compile. `what` prefixes messages ("definition 'x': parameters").
[[nodiscard]] Status CheckSchema(const boost::json::value& schema, std::string_view what);

/// Does `instance` satisfy `schema` (draft 7, validated as Resolve does)? The error when the
/// schema cannot be used (kInvalidArgument).
[[nodiscard]] Result<bool> Satisfies(const boost::json::value& schema,
                                     const boost::json::value& instance);

/// What in `instance` breaks `schema` first ("path: rule"), "" when it satisfies it. `schema` may
/// hold its `$ref` targets anywhere in itself (e.g. an OpenAPI document's components).
[[nodiscard]] Result<std::string> Violation(const boost::json::value& schema,
                                            const boost::json::value& instance);

/// Checks a definition's `parameters` and command template: the schema (CheckSchema), every
/// placeholder names a declared parameter, no placeholder in a list command that runs a shell
/// with -c; for Spark, no placeholder in a spark.conf key or in a value Spark runs as code
/// (SparkConfRunsCode in parameters.cpp). OK without `parameters`.
[[nodiscard]] Status CheckDefinition(const Definition& def);

/// The placeholders' names in a command string, in order of appearance (repeats kept).
std::vector<std::string> Placeholders(std::string_view text);

/// `s` as one single-quoted POSIX shell word: 'a'\''b'.
std::string ShellQuote(std::string_view s);

/// The parameters a run gets: `given` with the schema's top-level defaults filled in, validated
/// against the schema. kFailedPrecondition naming the parameter and the rule; kFailedPrecondition
/// too when `given` is not empty and the definition declares no parameters.
[[nodiscard]] Result<boost::json::object> Resolve(const Definition& def,
                                                  const boost::json::object& given);

/// `def` with its command rendered from `values` (what Resolve returned). A definition without
/// `parameters` comes back unchanged.
Definition Render(const Definition& def, const boost::json::object& values);

}  // namespace tug::templates
