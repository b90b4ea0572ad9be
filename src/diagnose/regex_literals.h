#pragma once
/// Required literal factors of a regex: a set of byte strings such that every match of the
/// regex contains at least one of them. The literal prefilter (literal_prefilter.h) searches
/// for these and runs the full patterns only on the lines that hold one.
///
/// Regexes are parsed by ParseRegex (regex_parse.h); one it refuses has no required literals
/// and runs on the full path: a conservative answer, never a wrong one. Pure functions;
/// thread-safe.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnose/regex_parse.h"

namespace tug::diagnose {

/// A literal every match of some branch contains, with what else that match must contain:
/// each set of `also` has a member in it too (co-requirements; empty when none are known).
/// `\b429\b.*(rate|limit)` gives {"429", also {{"limit", "rate"}}}: a line with "429" but
/// neither word cannot match.
struct RequiredLiteral {
  std::string text;
  std::vector<std::vector<std::string>> also;
  bool operator==(const RequiredLiteral&) const = default;
};

/// The cheapest set of literals one of which every match contains (see LiteralCost), each with
/// its co-requirements, sorted by text; nullopt when no such set is known.
std::optional<std::vector<RequiredLiteral>> RequiredFactors(const RegexNode& re);
std::optional<std::vector<RequiredLiteral>> RequiredFactors(std::string_view re);

/// The texts of RequiredFactors, or nullopt when no set is known (`\d+ bytes?` still yields
/// " byte"; `.*` or `[a-z]+` yield nothing). Literals are at most kMaxRequiredLiteral bytes.
std::optional<std::vector<std::string>> RequiredLiterals(const RegexNode& re);
std::optional<std::vector<std::string>> RequiredLiterals(std::string_view re);

inline constexpr size_t kMaxRequiredLiteral = 64;

/// How expensive a literal is as a prefilter anchor: short literals, dictionary words
/// (lower-case letters only) and bare numbers occur on ordinary lines. Lower is better;
/// literals under 3 bytes are useless (infinity).
double LiteralCost(std::string_view literal);

}  // namespace tug::diagnose
