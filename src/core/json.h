#pragma once
/// JSON mapping of the domain (Boost.JSON). Output uses bytes for memory, Kubernetes quantity
/// strings for cpu, RFC 3339 for times; input also accepts human sizes ("64Mi", "500m", "10m").
/// Parsing never throws: errors come back as InvalidArgument naming the field to fix.
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/model.h"

namespace tug {

boost::json::value ToJson(const Resources& r);
boost::json::value ToJson(const Definition& d);
boost::json::value ToJson(const RunOverrides& o);
boost::json::value ToJson(const Outcome& o);
boost::json::value ToJson(const Attempt& a);
boost::json::value ToJson(const Run& r);
/// A run for listings: everything but its spec and attempts.
boost::json::object ToJsonSummary(const Run& r);
boost::json::value ToJson(const Event& e);
boost::json::value ToJson(const ComponentStatus& c);
/// Attempt::components: a JSON array text ("" for none) and back.
std::string ComponentsJson(const std::vector<ComponentStatus>& components);
Result<std::vector<ComponentStatus>> ComponentsFromJson(std::string_view text);

Result<Resources> ResourcesFromJson(const boost::json::value& v);
/// The definition's `kubernetes:` section; `what` prefixes error messages.
boost::json::value ToJson(const KubernetesSpec& k);
Result<KubernetesSpec> KubernetesFromJson(const boost::json::value& v, const std::string& what);
/// A definition as users write it (YAML converted to JSON, or JSON). Unknown fields are rejected.
Result<Definition> DefinitionFromJson(const boost::json::value& v);
Result<RunOverrides> OverridesFromJson(const boost::json::value& v);
Result<Outcome> OutcomeFromJson(const boost::json::value& v);
Result<Attempt> AttemptFromJson(const boost::json::value& v);
Result<Run> RunFromJson(const boost::json::value& v);
Result<Event> EventFromJson(const boost::json::value& v);

/// Parses text; the error message carries the position and says it is not valid JSON.
Result<boost::json::value> ParseJson(std::string_view text);
std::string Serialize(const boost::json::value& v);

}  // namespace tug
