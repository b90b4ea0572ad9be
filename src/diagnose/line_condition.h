#pragma once
/// LineCondition: when an anchor's occurrence makes its line worth the per-line logic. An
/// anchor stands for pattern literals that may come with co-requirements (RequiredLiteral::
/// also): "429" counts only on a line that also holds "rate", "limit" or "Too Many". A line
/// qualifies if, for one alternative, every set has a member in it. No alternatives: always.
/// Immutable; thread-safe.
#include <string>
#include <string_view>
#include <vector>

namespace tug::diagnose {

struct LineCondition {
  std::vector<std::vector<std::vector<std::string>>> alternatives;

  bool always() const { return alternatives.empty(); }
  bool Holds(std::string_view line) const;
  /// Holds for the line of data[0, n) around offset `at`.
  bool HoldsAround(const char* data, size_t n, size_t at) const;
};

}  // namespace tug::diagnose
