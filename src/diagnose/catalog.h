#pragma once
/// Failure-pattern catalog: the data half of the diagnoser. The built-in catalog is
/// src/diagnose/catalog.yaml, embedded in the binary at build time; operators may add files
/// (same schema) and job definitions may add `retry_on` / `fatal_on` regex lists.
///
/// Every regex is compiled with vectorscan at load, so a bad pattern is rejected there with its
/// file, line and the compiler's reason (InvalidArgument). Loading does no I/O except
/// LoadCatalogFile. Catalog values are immutable after load and safe to share across threads.
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace tug::diagnose {

/// How a pattern takes part in the decision.
enum class PatternKind {
  kCause,     // a failure signature: may become the root cause
  kWrapper,   // located (job abort, "Exception in task"); never classifies on its own
  kNoise,     // known red herring: never the root cause; suppresses the block it introduces
  kSuccess,   // a task/stage finished (context for shutdown noise)
  kShutdown,  // SIGTERM-style lines: ambiguous unless preceded by success
};

/// Context rule applied after matching (taxonomy: driver vs executor, Spark vs batch).
enum class Resolve { kNone, kHeapOom, kContainerOom };

struct Pattern {
  std::string id;
  std::string regex;
  std::string cls;  // taxonomy label; empty for wrappers and markers
  int severity = 0;  // priority 0-100: causes outrank symptoms, symptoms outrank wrappers
  std::vector<std::string> components;
  bool retryable = false;
  std::string remediation;  // key into RemediationText
  PatternKind kind = PatternKind::kCause;
  Resolve resolve = Resolve::kNone;
  std::string origin;  // "file:line" the pattern came from
};

struct Catalog {
  std::vector<Pattern> patterns;
};

/// Every class label of the taxonomy (failure-taxonomy.md), in table order.
const std::vector<std::string>& TaxonomyLabels();
/// Human remediation for a key (or the class default when the key is unknown).
std::string RemediationText(std::string_view key, std::string_view cls);

/// Parses a catalog document (`patterns:` list). `file` names the source in errors:
/// "catalog.yaml:42: pattern 'x': regex does not compile: <reason>".
[[nodiscard]] Result<Catalog> ParseCatalog(const std::string& text, const std::string& file);
/// The embedded built-in catalog (parsed and validated once; an error here is a build bug).
[[nodiscard]] Result<Catalog> BuiltinCatalog();
/// Reads and parses an operator catalog file. NotFound / InvalidArgument.
[[nodiscard]] Result<Catalog> LoadCatalogFile(const std::string& path);
/// Adds `extra` to `base`; a pattern with an id already in `base` replaces it.
void MergeCatalog(Catalog& base, Catalog extra);
/// Adds a job definition's lists: each `retry_on` regex becomes a retryable
/// transient_dependency pattern and each `fatal_on` a non-retryable user_code_error pattern,
/// both at severity 95 so the owner's knowledge wins. Bad regexes are rejected with the list
/// name and index as the "line".
[[nodiscard]] Status MergeDefinitionPatterns(Catalog& base, const std::vector<std::string>& retry_on,
                                             const std::vector<std::string>& fatal_on);
/// Compiles one regex alone; returns the vectorscan error message on failure.
[[nodiscard]] Status CheckRegex(const std::string& regex);

}  // namespace tug::diagnose
