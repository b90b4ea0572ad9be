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
bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

std::bitset<256> DigitSet() {
  std::bitset<256> s;
  for (int c = '0'; c <= '9'; ++c) s.set(static_cast<size_t>(c));
  return s;
}
std::bitset<256> WordSet() {
  std::bitset<256> s;
  for (int c = 0; c < 256; ++c) {
    if (IsAlnum(static_cast<char>(c))) s.set(static_cast<size_t>(c));
  }
  return s;
}
std::bitset<256> SpaceSet() {
  std::bitset<256> s;
  for (char c : {' ', '\t', '\n', '\v', '\f', '\r'}) s.set(static_cast<unsigned char>(c));
  return s;
}

RegexNode Byte(unsigned char b) {
  RegexNode n;
  n.kind = Kind::kByte;
  n.byte = b;
  return n;
}
RegexNode Class(std::bitset<256> set) {
  RegexNode n;
  n.kind = Kind::kClass;
  n.set = set;
  return n;
}
RegexNode Assert() {
  RegexNode n;
  n.kind = Kind::kAssert;
  return n;
}

// Recursive descent over the supported subset; any unsupported construct sets ok_ = false.
class Parser {
 public:
  explicit Parser(std::string_view re) : re_(re) {}

  std::optional<RegexNode> Parse() {
    RegexNode n = Alt(0);
    if (!ok_ || pos_ != re_.size()) return std::nullopt;
    return n;
  }

 private:
  bool More() const { return pos_ < re_.size(); }
  char Peek() const { return re_[pos_]; }

  RegexNode Alt(int depth) {
    if (depth > 200) {  // hostile nesting: give up rather than overflow the stack
      ok_ = false;
      return {};
    }
    RegexNode first = Concat(depth);
    if (!More() || Peek() != '|') return first;
    RegexNode alt;
    alt.kind = Kind::kAlt;
    alt.children.push_back(std::move(first));
    while (ok_ && More() && Peek() == '|') {
      ++pos_;
      alt.children.push_back(Concat(depth));
    }
    return alt;
  }

  RegexNode Concat(int depth) {
    RegexNode cat;
    cat.kind = Kind::kConcat;
    while (ok_ && More() && Peek() != '|' && Peek() != ')') {
      RegexNode atom = Atom(depth);
      if (!ok_) break;
      cat.children.push_back(Quantified(std::move(atom)));
    }
    if (cat.children.size() == 1) return std::move(cat.children[0]);
    if (cat.children.empty()) return RegexNode{};
    return cat;
  }

  // {n}, {n,}, {n,m}; false (and pos_ unchanged) when the brace is a literal '{'.
  bool Braces(int* min, int* max) {
    size_t p = pos_ + 1;
    auto number = [&](int* out) {
      size_t start = p;
      long v = 0;
      while (p < re_.size() && IsDigit(re_[p]) && v < 100000) v = v * 10 + (re_[p++] - '0');
      *out = static_cast<int>(v);
      return p > start;
    };
    int lo = 0, hi = 0;
    if (!number(&lo)) return false;
    if (p < re_.size() && re_[p] == '}') {
      hi = lo;
    } else if (p < re_.size() && re_[p] == ',') {
      ++p;
      if (!number(&hi)) hi = -1;
      if (p >= re_.size() || re_[p] != '}') return false;
    } else {
      return false;
    }
    if (hi >= 0 && hi < lo) return false;
    pos_ = p + 1;
    *min = lo;
    *max = hi;
    return true;
  }

  RegexNode Quantified(RegexNode atom) {
    while (ok_ && More()) {
      int lo = 0, hi = -1;
      char c = Peek();
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        lo = 1;
        ++pos_;
      } else if (c == '?') {
        hi = 1;
        ++pos_;
      } else if (c == '{' && Braces(&lo, &hi)) {
      } else {
        break;
      }
      if (More() && (Peek() == '?' || Peek() == '+')) ++pos_;  // lazy / possessive
      if (atom.kind == Kind::kAssert) continue;                // a repeated assertion is itself
      RegexNode rep;
      rep.kind = Kind::kRepeat;
      rep.min = lo;
      rep.max = hi;
      rep.children.push_back(std::move(atom));
      atom = std::move(rep);
    }
    return atom;
  }

  // One escape after '\' (pos_ at the escaped char). In a class, assertions are errors.
  // Returns a byte (kByte) or a class (kClass) or an assertion (kAssert).
  RegexNode Escape(bool in_class) {
    if (!More()) {
      ok_ = false;
      return {};
    }
    char c = re_[pos_++];
    switch (c) {
      case 'd':
        return Class(DigitSet());
      case 'D':
        return Class(~DigitSet());
      case 'w':
        return Class(WordSet());
      case 'W':
        return Class(~WordSet());
      case 's':
        return Class(SpaceSet());
      case 'S':
        return Class(~SpaceSet());
      case 't':
        return Byte('\t');
      case 'n':
        return Byte('\n');
      case 'r':
        return Byte('\r');
      case 'f':
        return Byte('\f');
      case 'e':
        return Byte(0x1b);
      case 'a':
        return Byte(0x07);
      case 'x': {
        int v = 0, digits = 0;
        bool braced = More() && Peek() == '{';
        if (braced) ++pos_;
        while (More() && std::isxdigit(static_cast<unsigned char>(Peek())) &&
               digits < (braced ? 8 : 2)) {
          char h = re_[pos_++];
          v = v * 16 +
              (IsDigit(h) ? h - '0' : (std::tolower(static_cast<unsigned char>(h)) - 'a' + 10));
          ++digits;
        }
        if (braced) {
          if (!More() || Peek() != '}') {
            ok_ = false;
            return {};
          }
          ++pos_;
        }
        if (digits == 0 || v > 0xff) {
          ok_ = false;
          return {};
        }
        return Byte(static_cast<unsigned char>(v));
      }
      case 'b':
      case 'B':
      case 'A':
      case 'z':
      case 'Z':
      case 'G':
        if (in_class) {
          ok_ = false;
          return {};
        }
        return Assert();
      default:
        // Escaped punctuation is itself; escaped letters and digits we do not know (\p, \k,
        // \Q, back-references, octal, \h, \v, \R ...) are unsupported.
        if (IsAlnum(c) || static_cast<unsigned char>(c) >= 0x80) {
          ok_ = false;
          return {};
        }
        return Byte(static_cast<unsigned char>(c));
    }
  }

  RegexNode ClassAtom() {
    // pos_ is just past '['.
    std::bitset<256> set;
    bool negate = More() && Peek() == '^';
    if (negate) ++pos_;
    bool first = true;
    while (ok_) {
      if (!More()) {
        ok_ = false;
        break;
      }
      char c = Peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == '[' && pos_ + 1 < re_.size() &&
          (re_[pos_ + 1] == ':' || re_[pos_ + 1] == '.' || re_[pos_ + 1] == '=')) {
        ok_ = false;  // POSIX classes and collating elements
        break;
      }
      int lo;
      ++pos_;
      if (c == '\\') {
        RegexNode e = Escape(true);
        if (!ok_) break;
        if (e.kind == Kind::kClass) {
          set |= e.set;
          continue;
        }
        lo = e.byte;
      } else {
        lo = static_cast<unsigned char>(c);
      }
      // A range "a-z" (a '-' before ']' is a literal).
      if (More() && Peek() == '-' && pos_ + 1 < re_.size() && re_[pos_ + 1] != ']') {
        ++pos_;
        int hi;
        char h = re_[pos_++];
        if (h == '\\') {
          RegexNode e = Escape(true);
          if (!ok_ || e.kind != Kind::kByte) {
            ok_ = false;
            break;
          }
          hi = e.byte;
        } else {
          hi = static_cast<unsigned char>(h);
        }
        if (hi < lo) {
          ok_ = false;
          break;
        }
        for (int b = lo; b <= hi; ++b) set.set(static_cast<size_t>(b));
      } else {
        set.set(static_cast<size_t>(lo));
      }
    }
    return Class(negate ? ~set : set);
  }

  RegexNode Atom(int depth) {
    char c = re_[pos_++];
    switch (c) {
      case '(': {
        if (More() && Peek() == '?') {
          if (pos_ + 1 < re_.size() && re_[pos_ + 1] == ':') {
            pos_ += 2;
          } else {
            ok_ = false;  // inline flags, lookaround, named groups, comments
            return {};
          }
        }
        RegexNode inner = Alt(depth + 1);
        if (!More() || Peek() != ')') {
          ok_ = false;
          return {};
        }
        ++pos_;
        return inner;
      }
      case ')':
        ok_ = false;
        return {};
      case '[':
        return ClassAtom();
      case '.': {
        std::bitset<256> all;
        all.set();
        all.reset('\n');
        return Class(all);
      }
      case '^':
      case '$':
        return Assert();
      case '\\':
        return Escape(false);
      case '*':
      case '+':
      case '?':
        ok_ = false;  // a quantifier with nothing to repeat
        return {};
      default:
        return Byte(static_cast<unsigned char>(c));
    }
  }

  std::string_view re_;
  size_t pos_ = 0;
  bool ok_ = true;
};

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

std::optional<RegexNode> ParseRegex(std::string_view re) { return Parser(re).Parse(); }

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
