// libFuzzer target for what users write: definitions as YAML (`tug apply`, the API's YAML bodies)
// or JSON (the API), and run bodies (overrides). Any bytes must come back as a value or an
// InvalidArgument/FailedPrecondition with a message, never crash, hang or leak; and a definition
// that validates must survive the trip through its JSON form (what `tug get definition -o json`
// prints and `tug apply` sends back) unchanged.
//
// The first byte picks the parser: 'x' (and every byte ≡ 0 mod 3) YAML definitions, 'y' (≡ 1) one
// JSON definition, 'z' (≡ 2) a JSON run body applied to a definition. Build and run with
// scripts/fuzz.sh yaml_definition, or:
//   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_yaml_definition
//   ./build/fuzz/src/core/fuzz_yaml_definition fuzz/corpus/fuzz_yaml_definition
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "core/json.h"
#include "core/model.h"
#include "core/yaml.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_yaml_definition: %s: %s\n", what, detail.c_str());
  std::abort();
}

void CheckError(const tug::Error& e) {
  if (e.message().empty()) Fail("an error without a message", std::string(tug::CodeName(e.code())));
  if (e.code() != tug::Code::kInvalidArgument && e.code() != tug::Code::kFailedPrecondition) {
    Fail("bad input gave an unexpected error code", e.ToString());
  }
}

void CheckDefinition(const boost::json::value& v) {
  auto def = tug::DefinitionFromJson(v);
  if (!def.ok()) return CheckError(def.error());
  auto st = tug::Validate(*def, tug::Limits{});
  if (!st.ok()) return CheckError(st.error());
  // What the API prints is what `tug apply` may send back: it must mean the same definition.
  boost::json::value printed = tug::ToJson(*def);
  auto again = tug::DefinitionFromJson(printed);
  if (!again.ok()) Fail("a valid definition's JSON does not parse", again.error().message());
  if (!(*again == *def))
    Fail("a valid definition changed through its JSON", tug::Serialize(printed));
  if (auto st2 = tug::Validate(*again, tug::Limits{}); !st2.ok()) {
    Fail("a valid definition's JSON does not validate", st2.error().message());
  }
}

void CheckRunBody(const boost::json::value& v) {
  static const tug::Definition base = [] {
    tug::Definition d;
    d.name = "hello";
    d.command = "echo hi";
    d.resources.memory_bytes = 64 << 20;
    return d;
  }();
  auto overrides = tug::OverridesFromJson(v);
  if (!overrides.ok()) return CheckError(overrides.error());
  tug::Definition spec = tug::ApplyOverrides(base, *overrides);
  if (auto st = tug::Validate(spec, tug::Limits{}); !st.ok()) return CheckError(st.error());
  (void)tug::Serialize(tug::ToJson(*overrides));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 3;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    auto docs = tug::YamlToJson(text);
    if (!docs.ok()) {
      CheckError(docs.error());
      return 0;
    }
    // As `tug apply` reads a file: documents, and lists of definitions in them.
    for (const auto& doc : *docs) {
      if (doc.is_array()) {
        for (const auto& d : doc.get_array()) CheckDefinition(d);
      } else {
        CheckDefinition(doc);
      }
    }
    return 0;
  }
  auto v = tug::ParseJson(text);
  if (!v.ok()) {
    CheckError(v.error());
    return 0;
  }
  if (mode == 1) {
    CheckDefinition(*v);
  } else {
    CheckRunBody(*v);
  }
  return 0;
}
