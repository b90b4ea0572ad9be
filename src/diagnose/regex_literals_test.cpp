// Required literal extraction: tables of regexes, and the soundness property against
// vectorscan (a string the regex matches always holds one of the required literals and that
// literal's co-requirements) on samples of every built-in catalog pattern and of random
// regexes.
#include "diagnose/regex_literals.h"

#include <hs/hs.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diagnose/catalog.h"
#include "diagnose/regex_sample_testing.h"

namespace tug::diagnose {
namespace {

using Strings = std::vector<std::string>;

Strings Texts(std::string_view re) {
  auto lits = RequiredLiterals(re);
  return lits ? *lits : Strings{"<none>"};
}

// A regex compiled alone, for "does vectorscan match this string".
class Matcher {
 public:
  explicit Matcher(const std::string& re) {
    hs_compile_error_t* err = nullptr;
    if (hs_compile(re.c_str(), HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY, HS_MODE_BLOCK, nullptr,
                   &db_, &err) != HS_SUCCESS) {
      hs_free_compile_error(err);
      db_ = nullptr;
      return;
    }
    if (hs_alloc_scratch(db_, &scratch_) != HS_SUCCESS) scratch_ = nullptr;
  }
  ~Matcher() {
    hs_free_scratch(scratch_);
    hs_free_database(db_);
  }
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  bool ok() const { return db_ != nullptr && scratch_ != nullptr; }
  bool Matches(const std::string& s) const {
    bool hit = false;
    auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned,
                       void* ctx) -> int {
      *static_cast<bool*>(ctx) = true;
      return 1;
    };
    hs_scan(db_, s.data(), static_cast<unsigned>(s.size()), 0, scratch_, on_match, &hit);
    return hit;
  }

 private:
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
};

// The prefilter's promise for a line that matches: some required literal is in it, with a
// member of each of its co-required sets.
bool Satisfies(const std::string& line, const std::vector<RequiredLiteral>& factors) {
  return std::any_of(factors.begin(), factors.end(), [&](const RequiredLiteral& l) {
    if (line.find(l.text) == std::string::npos) return false;
    return std::all_of(l.also.begin(), l.also.end(), [&](const Strings& set) {
      return std::any_of(set.begin(), set.end(),
                         [&](const std::string& m) { return line.find(m) != std::string::npos; });
    });
  });
}

TEST(RegexLiteralsTest, ExtractsTheCheapestRequiredSet) {
  EXPECT_EQ(Texts("No space left on device"), Strings{"No space left on device"});
  EXPECT_EQ(Texts("(Slow ?Down|Please reduce your request rate)"),
            (Strings{"Please reduce your request rate", "Slow Down", "SlowDown"}));
  EXPECT_EQ(Texts("Status Code: 50[0234]\\b"), (Strings{"Status Code: 500", "Status Code: 502",
                                                        "Status Code: 503", "Status Code: 504"}));
  EXPECT_EQ(Texts("Unable to acquire \\d+ bytes of memory"), Strings{" bytes of memory"});
  EXPECT_EQ(Texts("(?:exit|Exit) (code|status):? 137"),
            (Strings{"Exit code 137", "Exit code: 137", "Exit status 137", "Exit status: 137",
                     "exit code 137", "exit code: 137", "exit status 137", "exit status: 137"}));
  EXPECT_EQ(Texts("x{3}yz"), Strings{"xxxyz"});
  EXPECT_EQ(Texts("^MemoryError\\b"), Strings{"MemoryError"});
  EXPECT_EQ(Texts("[a-z]+Error: \\S+"), Strings{"Error: "});
  EXPECT_EQ(Texts("a\\.b\\(c\\)\\x41\\t"), Strings{"a.b(c)A\t"});
  // Alternatives without a literal of their own leave the whole pattern without one.
  EXPECT_EQ(Texts("(foo bar|\\d+)"), Strings{"<none>"});
  EXPECT_EQ(Texts(".*"), Strings{"<none>"});
  EXPECT_EQ(Texts("[A-Z]{2,}[0-9]"), Strings{"<none>"});
  EXPECT_EQ(Texts("ab?"), Strings{"<none>"});  // "a" is too short to be worth anything
}

TEST(RegexLiteralsTest, KeepsCoRequirementsOfAConcatenation) {
  auto f = RequiredFactors("(Too Many Requests|\\b429\\b.*(rate|limit))");
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0], (RequiredLiteral{"429", {{"limit", "rate"}}}));
  EXPECT_EQ((*f)[1], (RequiredLiteral{"Too Many Requests", {}}));
  // The same literal from two branches with different co-requirements keeps none.
  f = RequiredFactors("(OutOfMemoryError.*heap|OutOfMemoryError.*overhead)");
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0], (RequiredLiteral{"OutOfMemoryError", {}}));
}

TEST(RegexLiteralsTest, UnsupportedSyntaxHasNoLiterals) {
  for (const char* re : {"(?i)error", "foo(?=bar)", "(a)\\1", "\\p{L}+x", "[[:alpha:]]+ok",
                         "\\Qa.b\\E", "(unbalanced", "unbalanced)", "*x", "[z-a]", "\\x{1F600}"}) {
    EXPECT_FALSE(ParseRegex(re).has_value()) << re;
    EXPECT_FALSE(RequiredLiterals(re).has_value()) << re;
  }
  // "{,3}" is not a quantifier in PCRE 8 syntax (vectorscan's): the brace is a literal.
  EXPECT_EQ(Texts("a{,3}bc"), Strings{"a{,3}bc"});
  Matcher brace("a{,3}bc");
  ASSERT_TRUE(brace.ok());
  EXPECT_TRUE(brace.Matches("xa{,3}bcx"));
  EXPECT_FALSE(brace.Matches("aaabc"));
}

TEST(RegexLiteralsTest, CatalogSamplesHoldTheirRequiredFactors) {
  auto catalog = BuiltinCatalog();
  ASSERT_TRUE(catalog.ok());
  std::mt19937_64 rng(24);
  size_t without = 0;
  for (const Pattern& p : catalog->patterns) {
    std::optional<RegexNode> node = ParseRegex(p.regex);
    auto factors = RequiredFactors(p.regex);
    if (!node || !factors) {
      ++without;
      continue;
    }
    Matcher m(p.regex);
    ASSERT_TRUE(m.ok()) << p.id;
    int matched = 0;
    for (int i = 0; i < 300; ++i) {
      // The sample alone and inside noise.
      std::string s = testing::SampleRegex(*node, rng);
      if (i % 2 == 1) s = "2024-01-01 10:00:00 INFO x: pre " + s + " post";
      if (!m.Matches(s)) continue;  // an assertion the sampler ignored
      ++matched;
      EXPECT_TRUE(Satisfies(s, *factors)) << p.id << ": [" << s << "]";
    }
    EXPECT_GT(matched, 30) << p.id << ": too few samples match to check anything";
  }
  EXPECT_EQ(without, 0u) << "every built-in pattern has required literals";
}

// A random regex over a small alphabet with every construct the parser knows.
std::string RandomRegex(std::mt19937_64& rng, int depth) {
  static const char* kAtoms[] = {"a",    "b",     "ab",  "abc", "X",    "1",    " ",
                                 "\\.",  "\\d",   "\\w", "\\s", "\\S",  ".",    "[ab]",
                                 "[^a]", "[a-c]", "\\b", "^",   "$",    "xyz",  "ba",
                                 "cab",  "[0-9]", "Q",   "\\t", "[ax]", "a\\(b"};
  if (depth > 3) return kAtoms[rng() % (sizeof kAtoms / sizeof *kAtoms)];
  std::string out;
  switch (rng() % 6) {
    case 0:
    case 1: {  // concatenation
      int n = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) out += RandomRegex(rng, depth + 1);
      break;
    }
    case 2: {  // alternation
      out = "(" + RandomRegex(rng, depth + 1);
      int n = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < n; ++i) out += "|" + RandomRegex(rng, depth + 1);
      out += ")";
      break;
    }
    case 3: {  // repetition
      static const char* kQuant[] = {"*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}", "+?"};
      out = "(?:" + RandomRegex(rng, depth + 1) + ")" +
            kQuant[rng() % (sizeof kQuant / sizeof *kQuant)];
      break;
    }
    default:
      out = kAtoms[rng() % (sizeof kAtoms / sizeof *kAtoms)];
  }
  return out;
}

TEST(RegexLiteralsTest, RandomRegexesMatchOnlyWhereTheirFactorsAre) {
  std::mt19937_64 rng(2024);
  int checked = 0, with_literals = 0;
  for (int r = 0; r < 400; ++r) {
    std::string re = RandomRegex(rng, 0);
    std::optional<RegexNode> node = ParseRegex(re);
    ASSERT_TRUE(node.has_value()) << re;
    auto factors = RequiredFactors(*node);
    if (!factors) continue;
    Matcher m(re);
    if (!m.ok()) continue;  // vectorscan refuses some (e.g. assertions it cannot satisfy)
    ++with_literals;
    for (int i = 0; i < 60; ++i) {
      std::string s;
      if (i % 3 == 0) {
        // Random text over the same alphabet: matches that the sampler would not produce.
        static const std::string kAlphabet = "abcXQxyz1 .\t(";
        for (size_t k = rng() % 12; k > 0; --k) s.push_back(kAlphabet[rng() % kAlphabet.size()]);
      } else {
        s = testing::SampleRegex(*node, rng);
        if (i % 3 == 2) s = "zz " + s + " zz";
      }
      if (!m.Matches(s)) continue;
      ++checked;
      EXPECT_TRUE(Satisfies(s, *factors)) << "regex " << re << " matched [" << s << "]";
    }
  }
  EXPECT_GT(with_literals, 50);
  EXPECT_GT(checked, 2000);
}

TEST(RegexLiteralsTest, CostPrefersLongRareLiterals) {
  EXPECT_LT(LiteralCost("No space left on device"), LiteralCost("Evicted"));
  EXPECT_LT(LiteralCost("Evicted"), LiteralCost("rate"));
  EXPECT_LT(LiteralCost("429"), LiteralCost("rate") + LiteralCost("limit"));
  EXPECT_TRUE(std::isinf(LiteralCost("ab")));
}

}  // namespace
}  // namespace tug::diagnose
