#include "diagnose/regex_literals.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "diagnose/byte_frequency.h"

namespace tug::diagnose {
namespace {

using Kind = RegexNode::Kind;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ---- Required literals ------------------------------------------------------------------------

// Sets larger than this stop being expanded (a class of up to kMaxClassExpand bytes, products
// of alternatives): past it the concatenation keeps what it has as a candidate and restarts.
constexpr size_t kMaxSet = 64;
constexpr size_t kMaxClassExpand = 4;
// Co-requirements kept per literal: a few sets of a few literals are plenty to confirm a hit.
constexpr size_t kMaxAlso = 4;
constexpr size_t kMaxAlsoSet = 16;

using Strings = std::vector<std::string>;

// A required set: every match contains one of `lits` (and, per literal, its co-requirements).
struct Candidate {
  std::vector<RequiredLiteral> lits;
  double cost = std::numeric_limits<double>::infinity();
};

double SetCost(const Strings& s) {
  double c = 0;
  for (const std::string& x : s) c += LiteralCost(x);
  return c;
}

Candidate FromStrings(const Strings& s) {
  Candidate c;
  if (s.empty()) return c;
  c.cost = SetCost(s);  // infinite for any empty or too-short literal
  for (const std::string& x : s) c.lits.push_back(RequiredLiteral{x, {}});
  return c;
}

Strings Texts(const Candidate& c) {
  Strings out;
  for (const RequiredLiteral& l : c.lits) out.push_back(l.text);
  return out;
}

bool Usable(const Candidate& c) { return !c.lits.empty() && std::isfinite(c.cost); }

void Dedupe(Strings& s) {
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
}

// Unites literal lists; a text that comes with different co-requirements keeps none (either
// branch may have matched, and "one of two conditions" is not kept).
void Unite(std::vector<RequiredLiteral>* into, const std::vector<RequiredLiteral>& more) {
  for (const RequiredLiteral& l : more) {
    auto it = std::find_if(into->begin(), into->end(),
                           [&](const RequiredLiteral& x) { return x.text == l.text; });
    if (it == into->end()) {
      into->push_back(l);
    } else if (it->also != l.also) {
      it->also.clear();
    }
  }
}

struct Summary {
  std::optional<Strings> exact;  // the node matches exactly one of these strings
  Candidate required;            // the best set found inside (each match contains one)
};

Candidate Best(const Summary& s) {
  Candidate c = s.required;
  if (s.exact) {
    Candidate e = FromStrings(*s.exact);
    if (e.cost < c.cost) c = std::move(e);
  }
  return c;
}

// The cheapest of a concatenation's required sets, each of its literals told the others
// (every factor of a concatenation is in every match).
Candidate CombineFactors(std::vector<Candidate> factors) {
  Candidate best;
  size_t best_i = 0;
  for (size_t i = 0; i < factors.size(); ++i) {
    if (factors[i].cost < best.cost) {
      best = factors[i];
      best_i = i;
    }
  }
  if (!Usable(best)) return best;
  for (RequiredLiteral& l : best.lits) {
    for (size_t i = 0; i < factors.size() && l.also.size() < kMaxAlso; ++i) {
      if (i == best_i || !Usable(factors[i]) || factors[i].lits.size() > kMaxAlsoSet) continue;
      Strings set = Texts(factors[i]);
      Dedupe(set);
      if (std::find(l.also.begin(), l.also.end(), set) == l.also.end()) l.also.push_back(set);
    }
  }
  return best;
}

Summary Analyze(const RegexNode& n, int depth) {
  Summary out;
  if (depth > 200) return out;
  switch (n.kind) {
    case Kind::kEmpty:
    case Kind::kAssert:
      out.exact = Strings{""};
      return out;
    case Kind::kByte:
      out.exact = Strings{std::string(1, static_cast<char>(n.byte))};
      return out;
    case Kind::kClass:
      if (n.set.count() <= kMaxClassExpand && n.set.any()) {
        Strings s;
        for (size_t b = 0; b < 256; ++b) {
          if (n.set.test(b)) s.emplace_back(1, static_cast<char>(b));
        }
        out.exact = std::move(s);
      }
      return out;
    case Kind::kConcat: {
      std::vector<Candidate> factors;
      Strings run{""};
      bool all_exact = true;
      auto close_run = [&] {
        Candidate c = FromStrings(run);
        if (Usable(c)) factors.push_back(std::move(c));
      };
      for (const RegexNode& child : n.children) {
        Summary c = Analyze(child, depth + 1);
        if (Usable(c.required)) factors.push_back(c.required);
        if (!c.exact) {
          close_run();
          run = {""};
          all_exact = false;
          continue;
        }
        Strings product;
        bool fits = run.size() * c.exact->size() <= kMaxSet;
        for (size_t i = 0; fits && i < run.size(); ++i) {
          for (const std::string& e : *c.exact) {
            if (run[i].size() + e.size() > kMaxRequiredLiteral) {
              fits = false;
              break;
            }
            product.push_back(run[i] + e);
          }
        }
        if (!fits) {
          // Too many or too long: what ran so far is a requirement; start again here.
          close_run();
          run = *c.exact;
          all_exact = false;
          continue;
        }
        Dedupe(product);
        run = std::move(product);
      }
      if (all_exact) {
        out.exact = std::move(run);
      } else {
        close_run();
      }
      out.required = CombineFactors(std::move(factors));
      return out;
    }
    case Kind::kAlt: {
      Strings exact;
      Candidate required;
      required.cost = 0;
      bool exact_ok = true, required_ok = true;
      for (const RegexNode& child : n.children) {
        Summary c = Analyze(child, depth + 1);
        if (c.exact && exact_ok) {
          exact.insert(exact.end(), c.exact->begin(), c.exact->end());
          if (exact.size() > kMaxSet) exact_ok = false;
        } else {
          exact_ok = false;
        }
        Candidate b = Best(c);
        if (!Usable(b)) {
          required_ok = false;
        } else if (required_ok) {
          Unite(&required.lits, b.lits);
          required.cost += b.cost;
        }
      }
      if (exact_ok) {
        Dedupe(exact);
        out.exact = std::move(exact);
      }
      if (required_ok && !required.lits.empty()) out.required = std::move(required);
      return out;
    }
    case Kind::kRepeat: {
      Summary c = Analyze(n.children[0], depth + 1);
      if (n.min == 0) {
        if (n.max == 1 && c.exact && c.exact->size() < kMaxSet) {
          Strings e = *c.exact;
          e.emplace_back();
          Dedupe(e);
          out.exact = std::move(e);
        }
        return out;  // zero repetitions: nothing inside is required
      }
      out.required = Best(c);
      if (n.min == n.max && c.exact) {
        Strings run{""};
        bool fits = true;
        for (int i = 0; i < n.min && fits; ++i) {
          Strings next;
          for (const std::string& r : run) {
            for (const std::string& e : *c.exact) {
              if (next.size() >= kMaxSet || r.size() + e.size() > kMaxRequiredLiteral) {
                fits = false;
                break;
              }
              next.push_back(r + e);
            }
            if (!fits) break;
          }
          run = std::move(next);
        }
        if (fits) {
          Dedupe(run);
          out.exact = std::move(run);
        }
      }
      return out;
    }
  }
  return out;
}

}  // namespace

double LiteralCost(std::string_view s) {
  size_t n = s.size();
  if (n < 3) return std::numeric_limits<double>::infinity();
  double cost = n >= 15   ? 1
                : n >= 11 ? 2
                : n >= 8  ? 4
                : n == 7  ? 5
                : n == 6  ? 6
                : n == 5  ? 8
                : n == 4  ? 12
                          : 30;
  // "rate", "limit", " task ": words of ordinary lines.
  bool words =
      std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == ' '; });
  bool digits = std::all_of(s.begin(), s.end(), [](char c) { return IsDigit(c); });
  if (words && n <= 10) cost *= 8;
  if (digits) cost *= 2;  // numbers are everywhere in logs
  // Ties go to the literal made of rarer bytes ("Evicted" over "Reason:").
  double common = 0;
  for (char c : s) common += ByteProbability(static_cast<uint8_t>(c));
  return cost * (1 + common / static_cast<double>(n));
}

std::optional<std::vector<RequiredLiteral>> RequiredFactors(const RegexNode& re) {
  Candidate best = Best(Analyze(re, 0));
  if (!Usable(best)) return std::nullopt;
  std::sort(best.lits.begin(), best.lits.end(),
            [](const RequiredLiteral& x, const RequiredLiteral& y) { return x.text < y.text; });
  return best.lits;
}

std::optional<std::vector<RequiredLiteral>> RequiredFactors(std::string_view re) {
  std::optional<RegexNode> node = ParseRegex(re);
  if (!node) return std::nullopt;
  return RequiredFactors(*node);
}

std::optional<std::vector<std::string>> RequiredLiterals(const RegexNode& re) {
  std::optional<std::vector<RequiredLiteral>> f = RequiredFactors(re);
  if (!f) return std::nullopt;
  std::vector<std::string> out;
  for (RequiredLiteral& l : *f) out.push_back(std::move(l.text));
  return out;
}

std::optional<std::vector<std::string>> RequiredLiterals(std::string_view re) {
  std::optional<RegexNode> node = ParseRegex(re);
  if (!node) return std::nullopt;
  return RequiredLiterals(*node);
}

}  // namespace tug::diagnose
