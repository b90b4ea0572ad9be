#pragma once
/// Reading Flotilla request bodies the way Go's encoding/json fills its structs (used by
/// flotilla_json.cpp and flotilla_templates_json.cpp): a key matches exactly, else without regard
/// to case; null is absent (a nil pointer); a value of the wrong kind is Go's "cannot unmarshal"
/// error, which Flotilla answers 400 (MalformedInput). Pure functions, no I/O.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/model.h"

namespace tug::flotilla {

/// Flotilla's memory unit: megabytes of 10^6 bytes ("%dM" in eks_adapter.go).
inline constexpr int64_t kMegabyte = 1'000'000;
/// Bytes as whole megabytes, rounded up.
int64_t Megabytes(int64_t bytes);
/// kInvalidArgument when `mb` megabytes is negative or overflows bytes.
[[nodiscard]] Status CheckMemory(int64_t mb, std::string_view field);

/// The field `name` of `o` (exact key, else one differing only in case); nullptr when absent or
/// null.
const boost::json::value* Field(const boost::json::object& o, std::string_view name);
/// A string field; "" when absent. kInvalidArgument for another kind.
[[nodiscard]] Result<std::string> StringField(const boost::json::object& o, std::string_view name);
/// An integer field (whole doubles accepted, as Go's decoder does); nullopt when absent.
[[nodiscard]] Result<std::optional<int64_t>> IntField(const boost::json::object& o,
                                                      std::string_view name);
[[nodiscard]] Result<std::optional<bool>> BoolField(const boost::json::object& o,
                                                    std::string_view name);
/// An env list, [{"name": ..., "value": ...}], as a map (a later name wins; names sanitized as
/// eks_adapter.go does: no leading '$', no spaces; empty names dropped); nullopt when absent.
[[nodiscard]] Result<std::optional<std::map<std::string, std::string>>> EnvField(
    const boost::json::object& o);
/// A map as Flotilla's env list, sorted by name.
boost::json::array EnvList(const std::map<std::string, std::string>& env);
/// `tags` of `o` into the definition's flotilla/tags label (Flotilla's placeholder tag ""
/// dropped; an empty list removes the label). Absent: unchanged.
[[nodiscard]] Status ApplyTags(const boost::json::object& o, Definition& def);
/// The definition's tags (its flotilla/tags label), [] when none.
boost::json::array TagsOf(const Definition& d);
/// `gpu` of `o` (GPUs per container, Flotilla's *int64 gpu) when present; kInvalidArgument for a
/// negative count.
[[nodiscard]] Result<std::optional<int64_t>> GpuField(const boost::json::object& o);

}  // namespace tug::flotilla
