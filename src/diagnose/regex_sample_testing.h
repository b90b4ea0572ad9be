#pragma once
/// Test helper (not part of tug_diagnose): random strings generated from a parsed regex, to
/// plant catalog matches in generated logs and to check RequiredFactors against vectorscan.
/// Assertions are not enforced (a sample of `\bfoo` may follow a word byte), so callers that
/// need a real match confirm it with vectorscan. Samples never contain '\n' (they are lines).
#include <random>
#include <string>

#include "diagnose/regex_literals.h"

namespace tug::diagnose::testing {

inline void SampleRegex(const RegexNode& n, std::mt19937_64& rng, std::string* out) {
  switch (n.kind) {
    case RegexNode::Kind::kEmpty:
    case RegexNode::Kind::kAssert:
      return;
    case RegexNode::Kind::kByte:
      out->push_back(static_cast<char>(n.byte));
      return;
    case RegexNode::Kind::kClass: {
      // Mostly printable members (what logs hold), sometimes any member but the newline.
      std::string members, printable;
      for (int b = 0; b < 256; ++b) {
        if (!n.set.test(static_cast<size_t>(b)) || b == '\n') continue;
        members.push_back(static_cast<char>(b));
        if (b >= 0x20 && b < 0x7f) printable.push_back(static_cast<char>(b));
      }
      const std::string& from = !printable.empty() && rng() % 8 != 0 ? printable : members;
      if (!from.empty()) out->push_back(from[rng() % from.size()]);
      return;
    }
    case RegexNode::Kind::kConcat:
      for (const RegexNode& c : n.children) SampleRegex(c, rng, out);
      return;
    case RegexNode::Kind::kAlt:
      SampleRegex(n.children[rng() % n.children.size()], rng, out);
      return;
    case RegexNode::Kind::kRepeat: {
      int span = n.max < 0 ? 3 : std::min(n.max - n.min, 3);
      int count = n.min + static_cast<int>(rng() % static_cast<uint64_t>(span + 1));
      for (int i = 0; i < count; ++i) SampleRegex(n.children[0], rng, out);
      return;
    }
  }
}

inline std::string SampleRegex(const RegexNode& n, std::mt19937_64& rng) {
  std::string out;
  SampleRegex(n, rng, &out);
  return out;
}

}  // namespace tug::diagnose::testing
