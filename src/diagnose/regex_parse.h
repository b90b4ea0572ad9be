#pragma once
/// A parser for the part of the vectorscan/PCRE syntax the catalogs use: literals and escapes,
/// classes, `.`, groups `(...)` / `(?:...)`, alternation, the quantifiers `* + ? {n} {n,}
/// {n,m}` (lazy or possessive), and the assertions `^ $ \b \B \A \z \Z \G`. Anything else
/// (inline flags, lookaround, back-references, `\Q...\E`, POSIX classes, `\p{..}`) is
/// refused, so callers treat such a pattern conservatively. Pure functions; thread-safe.
#include <bitset>
#include <optional>
#include <string_view>
#include <vector>

namespace tug::diagnose {

struct RegexNode {
  enum class Kind { kEmpty, kByte, kClass, kAssert, kConcat, kAlt, kRepeat };
  Kind kind = Kind::kEmpty;
  unsigned char byte = 0;           // kByte
  std::bitset<256> set;             // kClass: the bytes it matches
  int min = 0;                      // kRepeat
  int max = -1;                     // kRepeat; -1 = unbounded
  std::vector<RegexNode> children;  // kConcat, kAlt; kRepeat has exactly one
};

/// Parses `re` (the subset above). nullopt for unsupported syntax or a malformed regex.
std::optional<RegexNode> ParseRegex(std::string_view re);

}  // namespace tug::diagnose
