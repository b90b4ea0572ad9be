#include "diagnose/teddy.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cstring>
#include <limits>

#include "diagnose/byte_frequency.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TUG_TEDDY_AVX2 1
#endif

namespace tug::diagnose {
namespace {

unsigned char Lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
unsigned char Upper(unsigned char c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

using Nibbles = std::array<uint16_t, TeddyMatcher::kWindow>;  // a 16-bit set per position

// A fingerprint that accepts a piece of a common log word passes on ordinary lines all the
// time, whatever the byte model says of its nibble sets (" res" of "resource" through
// "Pres" and " quo" sharing a bucket).
constexpr double kCommonPieceRate = 1e-3;

// Expected fraction of positions where a bucket with these nibble sets reports a candidate:
// the class-aware byte model (runs of digits and letters are likely, byte_frequency.h) plus
// the common-word pieces it accepts.
double FalseRate(const Nibbles& lo, const Nibbles& hi) {
  std::bitset<256> sets[TeddyMatcher::kWindow];
  for (size_t k = 0; k < TeddyMatcher::kWindow; ++k) {
    for (size_t b = 0; b < 256; ++b) {
      if ((lo[k] >> (b & 15) & 1) != 0 && (hi[k] >> (b >> 4) & 1) != 0) sets[k].set(b);
    }
  }
  double p = SequenceProbability(sets, TeddyMatcher::kWindow);
  // The pieces are sorted: those starting with an accepted first byte are one range each.
  const std::vector<std::string>& pieces = CommonWordPieces();
  for (size_t b = sets[0]._Find_first(); b < 256; b = sets[0]._Find_next(b)) {
    auto it = std::lower_bound(pieces.begin(), pieces.end(), std::string(1, static_cast<char>(b)));
    for (; it != pieces.end() && static_cast<unsigned char>((*it)[0]) == b; ++it) {
      bool passes = true;
      for (size_t k = 1; k < TeddyMatcher::kWindow && passes; ++k) {
        passes = sets[k].test(static_cast<unsigned char>((*it)[k]));
      }
      if (passes) p += kCommonPieceRate;
    }
  }
  return p;
}

// Adds the window of `lit` at offset `w` to nibble sets (positions past the literal's end
// accept anything).
void AddWindow(const TeddyMatcher::Literal& lit, size_t w, Nibbles* lo, Nibbles* hi) {
  for (size_t k = 0; k < TeddyMatcher::kWindow; ++k) {
    if (w + k >= lit.text.size()) {
      (*lo)[k] = 0xffff;
      (*hi)[k] = 0xffff;
      continue;
    }
    auto c = static_cast<unsigned char>(lit.text[w + k]);
    for (unsigned char v : {c, lit.caseless ? Lower(c) : c, lit.caseless ? Upper(c) : c}) {
      (*lo)[k] |= static_cast<uint16_t>(1u << (v & 15));
      (*hi)[k] |= static_cast<uint16_t>(1u << (v >> 4));
    }
  }
}

bool Equal(const char* a, const std::string& lit, bool caseless) {
  if (!caseless) return std::memcmp(a, lit.data(), lit.size()) == 0;
  for (size_t i = 0; i < lit.size(); ++i) {
    if (Lower(static_cast<unsigned char>(a[i])) != Lower(static_cast<unsigned char>(lit[i]))) {
      return false;
    }
  }
  return true;
}

// A window made of word pieces: letters and spaces, capitals only where a word starts, and
// the punctuation of prose next to a space ("ded ", " Cod", "was ", "or: ", ") no"). The byte
// model takes letters for independent, so it prices such a window at a few per million
// positions; in log text the common suffixes, prefixes and short words behind them ("Added ",
// "Code generated", "Executor: ", "has no") come hundreds of times more often. Windows with
// digits, a capital inside a word, runs of capitals or other punctuation ("owDo" of SlowDown,
// "(143", "SEGV", "de:4", "\", l") are what log prose does not produce.
constexpr double kWordLikeFactor = 300;

bool WordLike(std::string_view w) {
  for (size_t i = 0; i < w.size(); ++i) {
    auto c = static_cast<unsigned char>(w[i]);
    bool lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
    bool space_before = i == 0 || w[i - 1] == ' ';
    bool space_after = i + 1 == w.size() || w[i + 1] == ' ';
    if (c == ' ' || lower) continue;
    if (upper && space_before) continue;
    if (std::strchr(":,.;)", c) != nullptr && space_after) continue;
    if (c == '(' && space_before) continue;
    return false;
  }
  return true;
}

// How often the window of `lit` at offset `w` occurs in log text (word-aware byte model;
// caseless literals as written, lower case being the common spelling).
double WindowOccurrence(const TeddyMatcher::Literal& lit, size_t w) {
  std::string_view text(lit.text);
  text = text.substr(w, TeddyMatcher::kWindow);
  // A piece of a common word, also with the space before or after it (" Cod" of " Code").
  std::string_view core = text;
  while (!core.empty() && core.front() == ' ') core.remove_prefix(1);
  while (!core.empty() && core.back() == ' ') core.remove_suffix(1);
  if (core.size() >= 3 && InCommonWord(core)) return 1e-2;
  double p = TextProbability(text);
  if (lit.caseless) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(Lower(static_cast<unsigned char>(c)));
    p = std::max(p, TextProbability(lower));
  }
  if (WordLike(text)) p *= kWordLikeFactor;
  return p;
}

// Greedy bucket assignment: each literal (short ones first: they have the fewest windows to
// choose from) takes the window and bucket that raise the estimated false rate least.
struct Assignment {
  std::vector<Nibbles> lo, hi;
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> members;  // (literal, window)
  double false_rate = 0;  // expected fingerprint passes per position from mixed nibbles
  double occurrence = 0;  // expected occurrences of the chosen windows themselves
};

Assignment Assign(const std::vector<TeddyMatcher::Literal>& literals, size_t buckets) {
  Assignment a;
  a.lo.assign(buckets, Nibbles{});
  a.hi.assign(buckets, Nibbles{});
  a.members.resize(buckets);
  std::vector<uint32_t> order(literals.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    return literals[x].text.size() < literals[y].text.size();
  });
  std::vector<double> rate(buckets, 0.0);  // FalseRate of each bucket as filled so far
  for (uint32_t li : order) {
    const TeddyMatcher::Literal& lit = literals[li];
    size_t windows =
        lit.text.size() > TeddyMatcher::kWindow ? lit.text.size() - TeddyMatcher::kWindow + 1 : 1;
    double best = std::numeric_limits<double>::infinity();
    size_t best_bucket = 0, best_window = 0;
    for (size_t w = 0; w < windows; ++w) {
      // The window itself occurs in ordinary text this often, and each occurrence is a
      // candidate whatever the bucket: the nibble model treats bytes as independent, so it
      // takes "ting" (Preempting), "code" (exit code) or "or: " (fatal error: ) for rare when
      // words make them common. The word-aware model prices that.
      const double occurs = WindowOccurrence(lit, w);
      for (size_t b = 0; b < buckets; ++b) {
        Nibbles l = a.lo[b], h = a.hi[b];
        AddWindow(lit, w, &l, &h);
        double delta = FalseRate(l, h) - rate[b] + occurs;
        if (delta < best) {
          best = delta;
          best_bucket = b;
          best_window = w;
        }
      }
    }
    AddWindow(lit, best_window, &a.lo[best_bucket], &a.hi[best_bucket]);
    a.members[best_bucket].emplace_back(li, static_cast<uint32_t>(best_window));
    rate[best_bucket] = FalseRate(a.lo[best_bucket], a.hi[best_bucket]);
    a.occurrence += WindowOccurrence(lit, best_window);
  }
  for (size_t b = 0; b < buckets; ++b) {
    if (!a.members[b].empty()) a.false_rate += FalseRate(a.lo[b], a.hi[b]);
  }
  return a;
}

// One set of 8 buckets costs half the shuffles of two; the second set is worth it only when
// the first one would report many false candidates.
constexpr double kOneSetFalseRate = 1e-3;

}  // namespace

TeddyMatcher::TeddyMatcher(std::vector<Literal> literals) : literals_(std::move(literals)) {
  Assignment a = Assign(literals_, 8);
  if (a.false_rate > kOneSetFalseRate && literals_.size() > 8) {
    Assignment two = Assign(literals_, 16);
    if (two.false_rate < a.false_rate / 2) a = std::move(two);
  }
  sets_ = a.lo.size() > 8 ? 2 : 1;
  false_rate_ = a.false_rate + a.occurrence;
  for (size_t b = 0; b < a.lo.size(); ++b) {
    if (a.members[b].empty()) continue;
    for (const auto& [lit, window] : a.members[b]) buckets_[b].push_back(Entry{lit, window});
    size_t set = b / 8;
    auto bit = static_cast<uint8_t>(1u << (b % 8));
    for (size_t k = 0; k < kWindow; ++k) {
      for (int nib = 0; nib < 16; ++nib) {
        if ((a.lo[b][k] >> nib & 1) != 0) lo_[set][k][nib] = lo_[set][k][nib + 16] |= bit;
        if ((a.hi[b][k] >> nib & 1) != 0) hi_[set][k][nib] = hi_[set][k][nib + 16] |= bit;
      }
    }
  }
  for (int set = 0; set < 2; ++set) {
    for (size_t k = 0; k < kWindow; ++k) {
      for (int b = 0; b < 128; ++b) {
        const int high = b | 0x80;
        bytes_[set][k][b] = static_cast<uint8_t>((lo_[set][k][b & 15] & hi_[set][k][b >> 4]) |
                                                 (lo_[set][k][high & 15] & hi_[set][k][high >> 4]));
      }
    }
  }
}

std::vector<std::vector<std::string>> TeddyMatcher::bucket_windows() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& bucket : buckets_) {
    if (bucket.empty()) continue;
    out.emplace_back();
    for (const Entry& e : bucket) {
      const Literal& lit = literals_[e.literal];
      out.back().push_back((lit.caseless ? "(?i)" : "") + lit.text.substr(e.window, kWindow));
    }
  }
  return out;
}

size_t TeddyMatcher::Verify(const char* data, size_t n, size_t pos, uint32_t mask) const {
  while (mask != 0) {
    int b = __builtin_ctz(mask);
    mask &= mask - 1;
    for (const Entry& e : buckets_[b]) {
      if (pos < e.window) continue;
      size_t start = pos - e.window;
      const Literal& lit = literals_[e.literal];
      if (start + lit.text.size() > n) continue;
      if (!Equal(data + start, lit.text, lit.caseless)) continue;
      if (lit.condition.always() || lit.condition.HoldsAround(data, n, start)) return start;
    }
  }
  return kNotFound;
}

// The kernels are friends through this struct so that the AVX2 one can carry its own target
// attribute (no -mavx2 for the rest of the build; Find dispatches at run time).
struct TeddyKernels {
  // Byte-at-a-time over window positions [from, n).
  static void Portable(const TeddyMatcher& t, const char* data, size_t n, size_t from,
                       std::vector<uint32_t>* hits, uint64_t* candidates) {
    for (size_t i = from; i < n; ++i) {
      uint32_t acc = 0xffff;
      for (size_t k = 0; k < TeddyMatcher::kWindow && acc != 0; ++k) {
        auto x = static_cast<unsigned char>(i + k < n ? data[i + k] : 0);
        uint32_t l = t.lo_[0][k][x & 15] | static_cast<uint32_t>(t.lo_[1][k][x & 15]) << 8;
        uint32_t h = t.hi_[0][k][x >> 4] | static_cast<uint32_t>(t.hi_[1][k][x >> 4]) << 8;
        acc &= l & h;
      }
      if (acc == 0) continue;
      if (candidates != nullptr) ++*candidates;
      size_t start = t.Verify(data, n, i, acc);
      if (start == TeddyMatcher::kNotFound) continue;
      hits->push_back(static_cast<uint32_t>(start));
      const void* nl = std::memchr(data + start, '\n', n - start);
      if (nl == nullptr) return;
      i = static_cast<size_t>(static_cast<const char*>(nl) - data);  // ++i: next line
    }
  }

#if defined(TUG_TEDDY_AVX2)
  template <int kSets>
  __attribute__((target("avx2"))) static void Avx2(const TeddyMatcher& t, const char* data,
                                                   size_t n, std::vector<uint32_t>* hits,
                                                   uint64_t* candidates) {
    constexpr size_t kWin = TeddyMatcher::kWindow;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i lo[kSets][kWin], hi[kSets][kWin];
    for (int s = 0; s < kSets; ++s) {
      for (size_t k = 0; k < kWin; ++k) {
        lo[s][k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.lo_[s][k]));
        hi[s][k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.hi_[s][k]));
      }
    }
    size_t i = 0;
    while (i + 32 + kWin - 1 <= n) {
      __m256i acc[kSets];
      for (int s = 0; s < kSets; ++s) acc[s] = _mm256_set1_epi8(-1);
      for (size_t k = 0; k < kWin; ++k) {
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + k));
        __m256i vl = _mm256_and_si256(v, low4);
        __m256i vh = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        for (int s = 0; s < kSets; ++s) {
          acc[s] = _mm256_and_si256(acc[s], _mm256_and_si256(_mm256_shuffle_epi8(lo[s][k], vl),
                                                             _mm256_shuffle_epi8(hi[s][k], vh)));
        }
      }
      __m256i any = acc[0];
      if constexpr (kSets == 2) any = _mm256_or_si256(acc[0], acc[1]);
      if (_mm256_testz_si256(any, any) != 0) {
        i += 32;
        continue;
      }
      alignas(32) uint8_t bits[kSets][32];
      for (int s = 0; s < kSets; ++s) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(bits[s]), acc[s]);
      }
      auto mask = ~static_cast<uint32_t>(
          _mm256_movemask_epi8(_mm256_cmpeq_epi8(any, _mm256_setzero_si256())));
      size_t next = i + 32;
      while (mask != 0) {
        int j = __builtin_ctz(mask);
        mask &= mask - 1;
        if (candidates != nullptr) ++*candidates;
        uint32_t buckets = bits[0][j];
        if constexpr (kSets == 2) buckets |= static_cast<uint32_t>(bits[1][j]) << 8;
        size_t start = t.Verify(data, n, i + static_cast<size_t>(j), buckets);
        if (start == TeddyMatcher::kNotFound) continue;
        hits->push_back(static_cast<uint32_t>(start));
        const void* nl = std::memchr(data + start, '\n', n - start);
        if (nl == nullptr) return;
        // Resume at the next line (it may start inside this block).
        next = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
        break;
      }
      i = next;
    }
    Portable(t, data, n, i, hits, candidates);
  }
#endif
};

void TeddyMatcher::Find(const char* data, size_t n, std::vector<uint32_t>* hits,
                        uint64_t* candidates) const {
  if (literals_.empty()) return;
#if defined(TUG_TEDDY_AVX2)
  static const bool avx2 = __builtin_cpu_supports("avx2") != 0;
  if (avx2) {
    if (sets_ == 2) {
      TeddyKernels::Avx2<2>(*this, data, n, hits, candidates);
    } else {
      TeddyKernels::Avx2<1>(*this, data, n, hits, candidates);
    }
    return;
  }
#endif
  TeddyKernels::Portable(*this, data, n, 0, hits, candidates);
}

void TeddyMatcher::FindPortable(const char* data, size_t n, std::vector<uint32_t>* hits,
                                uint64_t* candidates, size_t from) const {
  if (literals_.empty()) return;
  TeddyKernels::Portable(*this, data, n, from, hits, candidates);
}

}  // namespace tug::diagnose
