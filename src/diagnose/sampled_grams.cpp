#include "diagnose/sampled_grams.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "diagnose/byte_frequency.h"

namespace tug::diagnose {
namespace {

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Expected occurrences of the 8-gram at `p` per position of log text; a piece of a common
// word counts as very likely.
double GramProbability(const char* p) {
  std::string_view gram(p, SampledGramMatcher::kGram);
  return SharesCommonWord(gram) ? 1e-2 : TextProbability(gram);
}

}  // namespace

SampledGramMatcher::SampledGramMatcher(std::vector<std::string> literals,
                                       std::vector<LineCondition> conditions)
    : filter_(size_t{1} << kWordBits, 0) {
  for (size_t i = 0; i < literals.size(); ++i) {
    if (literals[i].size() < kMinLength) continue;
    literals_.push_back(std::move(literals[i]));
    conditions_.push_back(i < conditions.size() ? std::move(conditions[i]) : LineCondition{});
  }
  for (uint32_t li = 0; li < literals_.size(); ++li) {
    const std::string& lit = literals_[li];
    // The stretch of kStride consecutive 8-grams least likely in ordinary text: the sampled
    // position lands on one of them, and common ones would only cost verifications.
    std::vector<double> gram(lit.size() - kGram + 1);
    for (size_t k = 0; k < gram.size(); ++k) gram[k] = GramProbability(lit.data() + k);
    size_t best_j = 0;
    double best = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j + kMinLength <= lit.size(); ++j) {
      double sum = 0;
      for (size_t k = j; k < j + kStride; ++k) sum += gram[k];
      if (sum < best) {
        best = sum;
        best_j = j;
      }
    }
    for (size_t k = best_j; k < best_j + kStride; ++k) {
      uint32_t h = Hash(Load64(lit.data() + k));
      filter_[Word(h)] |= Bits(h);
      entries_.push_back(Entry{h, li, static_cast<uint32_t>(k)});
    }
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const Entry& a, const Entry& b) { return a.hash < b.hash; });
}

size_t SampledGramMatcher::Verify(const char* data, size_t n, size_t pos, uint32_t hash) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), hash,
                             [](const Entry& e, uint32_t h) { return e.hash < h; });
  for (; it != entries_.end() && it->hash == hash; ++it) {
    if (pos < it->offset) continue;
    size_t start = pos - it->offset;
    const std::string& lit = literals_[it->literal];
    if (start + lit.size() > n) continue;
    if (std::memcmp(data + start, lit.data(), lit.size()) != 0) continue;
    const LineCondition& cond = conditions_[it->literal];
    if (cond.always() || cond.HoldsAround(data, n, start)) return start;
  }
  return kNotFound;
}

void SampledGramMatcher::FindFrom(const char* data, size_t n, size_t from,
                                  std::vector<uint32_t>* hits, uint64_t* candidates) const {
  if (literals_.empty() || n < kGram) return;
  const uint64_t* filter = filter_.data();
  // Returns false when the search is over (a hit on the last line).
  auto check = [&](size_t pos, uint32_t h, size_t* next) {
    if (candidates != nullptr) ++*candidates;
    size_t start = Verify(data, n, pos, h);
    if (start == kNotFound) return true;
    hits->push_back(static_cast<uint32_t>(start));
    const void* nl = std::memchr(data + start, '\n', n - start);
    if (nl == nullptr) return false;
    // Resume at the next line, on the sampling grid: a line start rounded down to a multiple
    // of kStride still samples every occurrence that starts in that line or later (and it
    // lies past `pos`, since the literal holding the gram at `pos` has no newline).
    *next = (static_cast<size_t>(static_cast<const char*>(nl) - data) + 1) & ~(kStride - 1);
    return true;
  };
  size_t p = from;
  // Four samples (32 bytes) per step; only a filter pass leaves the straight-line path.
  while (p + 3 * kStride + kGram <= n) {
    uint32_t h[4];
    unsigned pass = 0;
    for (unsigned s = 0; s < 4; ++s) {
      h[s] = Hash(Load64(data + p + s * kStride));
      uint64_t bits = Bits(h[s]);
      pass |= static_cast<unsigned>((filter[Word(h[s])] & bits) == bits) << s;
    }
    size_t next = p + 4 * kStride;
    while (pass != 0) {
      auto s = static_cast<unsigned>(__builtin_ctz(pass));
      pass &= pass - 1;
      size_t line_next = next;
      if (!check(p + s * kStride, h[s], &line_next)) return;
      if (line_next != next) {
        next = line_next;
        break;
      }
    }
    p = next;
  }
  for (; p + kGram <= n; p += kStride) {
    uint32_t h = Hash(Load64(data + p));
    uint64_t bits = Bits(h);
    if ((filter[Word(h)] & bits) != bits) continue;
    size_t next = p + kStride;
    if (!check(p, h, &next)) return;
    p = next - kStride;
  }
}

}  // namespace tug::diagnose
