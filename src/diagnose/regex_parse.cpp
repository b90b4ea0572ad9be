#include "diagnose/regex_parse.h"

#include <cctype>

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

}  // namespace

std::optional<RegexNode> ParseRegex(std::string_view re) { return Parser(re).Parse(); }

}  // namespace tug::diagnose
