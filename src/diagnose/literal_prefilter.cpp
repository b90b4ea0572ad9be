#include "diagnose/literal_prefilter.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TUG_PREFILTER_AVX2 1
#endif

#include "diagnose/regex_literals.h"

namespace tug::diagnose {
namespace {

constexpr size_t kMinMergedLength = 5;
// A merged anchor must itself be rare: at least 7 bytes and not a run of lower-case words
// (LiteralCost 5 and under). " task " would cover "Lost task " and "Finished task " but
// flags every other Spark INFO line.
constexpr double kMaxMergedCost = 5.5;

bool ContainsAny(const std::string& s, const std::vector<std::string>& subs) {
  return std::any_of(subs.begin(), subs.end(),
                     [&](const std::string& t) { return s.find(t) != std::string::npos; });
}

}  // namespace

std::vector<std::string> ReduceAnchors(std::vector<std::string> literals, size_t short_below,
                                       size_t target) {
  std::erase_if(literals, [](const std::string& s) {
    return s.empty() || s.find('\n') != std::string::npos;
  });
  std::sort(literals.begin(), literals.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  literals.erase(std::unique(literals.begin(), literals.end()), literals.end());
  std::vector<std::string> kept;
  for (std::string& s : literals) {
    if (!ContainsAny(s, kept)) kept.push_back(std::move(s));
  }
  for (;;) {
    auto shorts = static_cast<size_t>(std::count_if(
        kept.begin(), kept.end(), [&](const std::string& s) { return s.size() < short_below; }));
    if (shorts <= target) break;
    std::map<std::string, int> shared;
    for (const std::string& s : kept) {
      if (s.size() >= short_below) continue;
      std::set<std::string> subs;
      for (size_t len = kMinMergedLength; len < s.size(); ++len) {
        for (size_t i = 0; i + len <= s.size(); ++i) subs.insert(s.substr(i, len));
      }
      for (const std::string& t : subs) ++shared[t];
    }
    const std::string* best = nullptr;
    int best_count = 1;
    double best_cost = 0;
    for (const auto& [t, count] : shared) {
      double cost = LiteralCost(t);
      if (count < 2 || cost > kMaxMergedCost) continue;
      if (count > best_count || (count == best_count && best != nullptr && cost < best_cost)) {
        best = &t;
        best_count = count;
        best_cost = cost;
      }
    }
    if (best == nullptr) break;
    std::string anchor = *best;
    std::erase_if(kept, [&](const std::string& s) { return s.find(anchor) != std::string::npos; });
    kept.push_back(std::move(anchor));
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

namespace {

// An anchor's condition: the co-requirements of every pool literal it stands for (those that
// contain it); one without any makes it unconditional. Too many alternatives: unconditional.
LineCondition ConditionFor(const std::string& anchor, const std::vector<RequiredLiteral>& pool) {
  constexpr size_t kMaxAlternatives = 16;
  LineCondition cond;
  for (const RequiredLiteral& l : pool) {
    if (l.text.find(anchor) == std::string::npos) continue;
    if (l.also.empty()) return LineCondition{};
    if (std::find(cond.alternatives.begin(), cond.alternatives.end(), l.also) ==
        cond.alternatives.end()) {
      cond.alternatives.push_back(l.also);
    }
    if (cond.alternatives.size() > kMaxAlternatives) return LineCondition{};
  }
  return cond;
}

}  // namespace

LiteralPrefilter::LiteralPrefilter(const std::vector<std::vector<RequiredLiteral>>& required,
                                   const std::vector<std::string>& markers,
                                   const std::vector<std::string>& caseless_markers) {
  std::vector<RequiredLiteral> pool;
  pool.reserve(markers.size());
  for (const std::string& m : markers) pool.push_back(RequiredLiteral{m, {}});
  for (const auto& set : required) pool.insert(pool.end(), set.begin(), set.end());
  std::vector<std::string> texts;
  texts.reserve(pool.size());
  for (const RequiredLiteral& l : pool) texts.push_back(l.text);
  std::vector<std::string> anchors =
      ReduceAnchors(std::move(texts), SampledGramMatcher::kMinLength, kTeddyTarget);
  std::vector<TeddyMatcher::Literal> short_literals;
  std::vector<std::string> long_literals;
  std::vector<LineCondition> long_conditions;
  for (std::string& a : anchors) {
    LineCondition cond = ConditionFor(a, pool);
    if (a.size() >= SampledGramMatcher::kMinLength) {
      long_literals.push_back(std::move(a));
      long_conditions.push_back(std::move(cond));
    } else {
      short_literals.push_back(TeddyMatcher::Literal{std::move(a), false, std::move(cond)});
    }
  }
  for (const std::string& m : caseless_markers) {
    if (!m.empty() && m.find('\n') == std::string::npos) {
      short_literals.push_back(TeddyMatcher::Literal{m, true, {}});
    }
  }
  teddy_ = TeddyMatcher(std::move(short_literals));
  grams_ = SampledGramMatcher(std::move(long_literals), std::move(long_conditions));
}

// The vector kernels prefetch this far ahead. A log read through a memory map
// (mapped_file.h) comes from DRAM, and the hardware prefetchers of the Intel VM measured
// here did not keep up with the kernels: 2.7 GB/s over 40 MB in memory without, 4.7 GB/s
// with (AVX-512 kernel, docs/benchmarks.md); 2, 4 and 8 KiB ahead measured alike. On a chunk
// that read() has just left in L2 it costs nothing measurable.
constexpr size_t kPrefetchAhead = 4096;

struct PrefilterKernels {
  // Teddy, then the sampled grams, each over the whole range; merged.
  static void Sequential(const LiteralPrefilter& f, const char* data, size_t n,
                         std::vector<uint32_t>* hits, uint64_t* candidates) {
    size_t first = hits->size();
    f.teddy_.FindPortable(data, n, hits, candidates);
    size_t mid = hits->size();
    f.grams_.Find(data, n, hits, candidates);
    std::inplace_merge(hits->begin() + static_cast<std::ptrdiff_t>(first),
                       hits->begin() + static_cast<std::ptrdiff_t>(mid), hits->end());
  }

  // After a vector loop stopped at `i`: both matchers on what is left (Teddy windows from i,
  // gram samples from i & ~7), keeping only lines not reported yet.
  static void Tail(const LiteralPrefilter& f, const char* data, size_t n, size_t i,
                   size_t reported_end, std::vector<uint32_t>* hits, uint64_t* candidates) {
    std::vector<uint32_t> tail;
    f.teddy_.FindPortable(data, n, &tail, candidates, i);
    size_t mid = tail.size();
    f.grams_.FindFrom(data, n, i & ~(SampledGramMatcher::kStride - 1), &tail, candidates);
    std::inplace_merge(tail.begin(), tail.begin() + static_cast<std::ptrdiff_t>(mid), tail.end());
    for (uint32_t at : tail) {
      if (at < reported_end) continue;
      hits->push_back(at);
      const void* nl = std::memchr(data + at, '\n', n - at);
      if (nl == nullptr) return;
      reported_end = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
    }
  }

  // Verifies a vector block's candidates in position order: Teddy windows at i + each bit of
  // `tmask` (their buckets in `bits`), gram samples at g0 + 8 * each bit of `gmask` (their
  // hashes in `h`). The first one verified reports its line, and the loop goes on at the
  // next line (it may start inside this block); with none verified, at the next block.
  // SIZE_MAX: the reported line is the data's last, nothing is left to find.
  template <int kSets, size_t kBlock>
  static size_t VerifyBlock(const LiteralPrefilter& f, const char* data, size_t n, size_t i,
                            uint64_t tmask, const uint8_t (*bits)[kBlock], size_t g0,
                            unsigned gmask, const uint64_t* h, size_t* reported_end,
                            std::vector<uint32_t>* hits, uint64_t* candidates) {
    while ((tmask | gmask) != 0) {
      // The earlier of the next Teddy window and the next gram sample.
      size_t tpos = tmask != 0 ? i + static_cast<size_t>(__builtin_ctzll(tmask)) : SIZE_MAX;
      unsigned gs = gmask != 0 ? static_cast<unsigned>(__builtin_ctz(gmask)) : 0;
      size_t gpos = gmask != 0 ? g0 + gs * SampledGramMatcher::kStride : SIZE_MAX;
      size_t start;
      if (tpos <= gpos) {
        tmask &= tmask - 1;
        uint32_t buckets = bits[0][tpos - i];
        if constexpr (kSets == 2) buckets |= static_cast<uint32_t>(bits[1][tpos - i]) << 8;
        start = f.teddy_.Verify(data, n, tpos, buckets);
      } else {
        gmask &= gmask - 1;
        start = f.grams_.Verify(data, n, gpos, static_cast<uint32_t>(h[gs]));
      }
      if (candidates != nullptr) ++*candidates;
      // A gram sampled just before `i` may sit in the line reported last.
      if (start == TeddyMatcher::kNotFound || start < *reported_end) continue;
      hits->push_back(static_cast<uint32_t>(start));
      const void* nl = std::memchr(data + start, '\n', n - start);
      if (nl == nullptr) return SIZE_MAX;
      *reported_end = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
      return *reported_end;
    }
    return i + kBlock;
  }

#if defined(TUG_PREFILTER_AVX2)
  // Teddy (TeddyKernels::Avx2) and the sampled grams (SampledGramMatcher::Find) on the same
  // 32-byte blocks. The block at `i` tests Teddy windows i..i+31 and the grams at the four
  // multiples of 8 from i & ~7 (consecutive blocks tile both). Candidates of a block are
  // verified in position order; a verified one reports its line and the loop resumes at the
  // next line, so each line is reported once and lines come in order.
  template <int kSets>
  __attribute__((target("avx2"))) static void Fused(const LiteralPrefilter& f, const char* data,
                                                    size_t n, std::vector<uint32_t>* hits,
                                                    uint64_t* candidates) {
    const TeddyMatcher& t = f.teddy_;
    const SampledGramMatcher& g = f.grams_;
    constexpr size_t kWin = TeddyMatcher::kWindow;
    constexpr size_t kStride = SampledGramMatcher::kStride;
    const bool use_teddy = !t.empty();
    const bool use_grams = !g.empty();
    const uint64_t* filter = g.filter_.data();
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i mul = _mm256_set1_epi64x(static_cast<long long>(
        uint64_t{SampledGramMatcher::kMulHigh} << 32 | SampledGramMatcher::kMulLow));
    const __m256i low32 = _mm256_set1_epi64x(0xffffffffLL);
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i low6 = _mm256_set1_epi64x(63);
    __m256i lo[kSets][kWin], hi[kSets][kWin];
    for (int s = 0; s < kSets; ++s) {
      for (size_t k = 0; k < kWin; ++k) {
        lo[s][k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.lo_[s][k]));
        hi[s][k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.hi_[s][k]));
      }
    }
    size_t i = 0;
    size_t reported_end = 0;  // the line after the last one reported starts here
    while (i + 32 + kWin - 1 <= n) {
      uint32_t tmask = 0;
      alignas(32) uint8_t bits[kSets][32];
      if ((i & 63) < 32) _mm_prefetch(data + i + kPrefetchAhead, _MM_HINT_T0);
      if (use_teddy) {
        __m256i acc[kSets];
        for (int s = 0; s < kSets; ++s) acc[s] = _mm256_set1_epi8(-1);
          // Unrolled so that the tables stay in registers (GCC keeps the loop otherwise).
#pragma GCC unroll 4
        for (size_t k = 0; k < kWin; ++k) {
          __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + k));
          __m256i vl = _mm256_and_si256(v, low4);
          __m256i vh = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
#pragma GCC unroll 2
          for (int s = 0; s < kSets; ++s) {
            acc[s] = _mm256_and_si256(acc[s], _mm256_and_si256(_mm256_shuffle_epi8(lo[s][k], vl),
                                                               _mm256_shuffle_epi8(hi[s][k], vh)));
          }
        }
        __m256i any = acc[0];
        if constexpr (kSets == 2) any = _mm256_or_si256(acc[0], acc[1]);
        if (_mm256_testz_si256(any, any) == 0) {
          for (int s = 0; s < kSets; ++s) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(bits[s]), acc[s]);
          }
          tmask = ~static_cast<uint32_t>(
              _mm256_movemask_epi8(_mm256_cmpeq_epi8(any, _mm256_setzero_si256())));
        }
      }
      // The four grams are the four 64-bit lanes of one load; SampledGramMatcher::Hash,
      // Word and Bits in vector form. The filter words are read with four scalar loads: with
      // an AVX2 gather the loop waited on the gather's latency (12 % slower on Zen 3 here).
      const size_t g0 = i & ~(kStride - 1);
      alignas(32) uint64_t h[4];
      unsigned gmask = 0;
      if (use_grams) {
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + g0));
        __m256i prod = _mm256_mullo_epi32(v, mul);
        // Low 32 bits of each lane: low half product xor high half product.
        __m256i hv = _mm256_and_si256(_mm256_xor_si256(prod, _mm256_srli_epi64(prod, 32)), low32);
        hv = _mm256_xor_si256(hv, _mm256_srli_epi64(hv, SampledGramMatcher::kMixShift));
        __m256i word = _mm256_srli_epi64(hv, 32 - SampledGramMatcher::kWordBits);
        __m256i want = _mm256_or_si256(
            _mm256_sllv_epi64(one, _mm256_and_si256(_mm256_srli_epi64(hv, 15), low6)),
            _mm256_sllv_epi64(one, _mm256_and_si256(_mm256_srli_epi64(hv, 9), low6)));
        __m128i wlo = _mm256_castsi256_si128(word), whi = _mm256_extracti128_si256(word, 1);
        __m128i tlo = _mm256_castsi256_si128(want), thi = _mm256_extracti128_si256(want, 1);
        uint64_t t0 = static_cast<uint64_t>(_mm_cvtsi128_si64(tlo));
        uint64_t t1 = static_cast<uint64_t>(_mm_extract_epi64(tlo, 1));
        uint64_t t2 = static_cast<uint64_t>(_mm_cvtsi128_si64(thi));
        uint64_t t3 = static_cast<uint64_t>(_mm_extract_epi64(thi, 1));
        gmask = static_cast<unsigned>((filter[_mm_cvtsi128_si64(wlo)] & t0) == t0) |
                static_cast<unsigned>((filter[_mm_extract_epi64(wlo, 1)] & t1) == t1) << 1 |
                static_cast<unsigned>((filter[_mm_cvtsi128_si64(whi)] & t2) == t2) << 2 |
                static_cast<unsigned>((filter[_mm_extract_epi64(whi, 1)] & t3) == t3) << 3;
        if (gmask != 0) _mm256_store_si256(reinterpret_cast<__m256i*>(h), hv);
      }
      if ((tmask | gmask) == 0) {
        i += 32;
        continue;
      }
      i = VerifyBlock<kSets, 32>(f, data, n, i, tmask, bits, g0, gmask, h, &reported_end, hits,
                                 candidates);
      if (i == SIZE_MAX) return;
    }
    Tail(f, data, n, i, reported_end, hits, candidates);
  }

// GCC 12's AVX-512 intrinsics start some results from a deliberately undefined register
// (_mm512_undefined_epi32), which -Wuninitialized reports in every caller.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  // The same loop on 64-byte blocks with AVX-512 (F, BW, DQ, VL and VBMI's byte permutes):
  // the block at `i` tests Teddy windows i..i+63 and the grams at the eight multiples of 8
  // from i & ~7. The filter words are gathered here: on the Intel cores that have AVX-512 a
  // gather of eight words costs less than extracting eight lanes and loading them one by one.
  template <int kSets>
  __attribute__((
      target("avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,bmi,bmi2,popcnt"))) static void
  Fused512(const LiteralPrefilter& f, const char* data, size_t n, std::vector<uint32_t>* hits,
           uint64_t* candidates) {
    const TeddyMatcher& t = f.teddy_;
    const SampledGramMatcher& g = f.grams_;
    constexpr size_t kWin = TeddyMatcher::kWindow;
    constexpr size_t kStride = SampledGramMatcher::kStride;
    const bool use_teddy = !t.empty();
    const bool use_grams = !g.empty();
    const auto* filter = reinterpret_cast<const long long*>(g.filter_.data());
    const __m512i mul = _mm512_set1_epi64(static_cast<long long>(
        uint64_t{SampledGramMatcher::kMulHigh} << 32 | SampledGramMatcher::kMulLow));
    const __m512i low32 = _mm512_set1_epi64(0xffffffffLL);
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i low6 = _mm512_set1_epi64(63);
    // Teddy's nibble tables as one 128-entry table per set and window position
    // (TeddyMatcher::bytes_), so a window costs one vpermi2b instead of two shuffles and the
    // nibble split. vpermi2b reads the low 7 bits of each byte, so an entry also accepts
    // b | 0x80: only extra candidates, which Verify rejects.
    __m512i t0[kSets][kWin], t1[kSets][kWin];
    for (int s = 0; s < kSets; ++s) {
      for (size_t k = 0; k < kWin; ++k) {
        t0[s][k] = _mm512_load_si512(t.bytes_[s][k]);
        t1[s][k] = _mm512_load_si512(t.bytes_[s][k] + 64);
      }
    }
    size_t i = 0;
    size_t reported_end = 0;  // the line after the last one reported starts here
    while (i + 128 <= n) {
      uint64_t tmask = 0;
      alignas(64) uint8_t bits[kSets][64];
      _mm_prefetch(data + i + kPrefetchAhead, _MM_HINT_T0);
      if (use_teddy) {
        __m512i acc[kSets];
        for (int s = 0; s < kSets; ++s) acc[s] = _mm512_set1_epi8(-1);
        // The 64 bytes from i + k for k = 0..3 from two loads (64-byte loads at i + 1..3
        // would each cross a cache line): `ahead` is the block 16 bytes on, and vpalignr
        // takes each 16-byte lane of the block k bytes on from a lane of each.
        const __m512i cur = _mm512_loadu_si512(data + i);
        const __m512i ahead = _mm512_alignr_epi64(_mm512_loadu_si512(data + i + 64), cur, 2);
        const __m512i at[kWin] = {cur, _mm512_alignr_epi8(ahead, cur, 1),
                                  _mm512_alignr_epi8(ahead, cur, 2),
                                  _mm512_alignr_epi8(ahead, cur, 3)};
        static_assert(kWin == 4);
#pragma GCC unroll 4
        for (size_t k = 0; k < kWin; ++k) {
          const __m512i v = at[k];
#pragma GCC unroll 2
          for (int s = 0; s < kSets; ++s) {
            acc[s] = _mm512_and_si512(acc[s], _mm512_permutex2var_epi8(t0[s][k], v, t1[s][k]));
          }
        }
        __m512i any = acc[0];
        if constexpr (kSets == 2) any = _mm512_or_si512(acc[0], acc[1]);
        tmask = _mm512_test_epi8_mask(any, any);
        if (tmask != 0) {
          for (int s = 0; s < kSets; ++s) _mm512_store_si512(bits[s], acc[s]);
        }
      }
      const size_t g0 = i & ~(kStride - 1);
      alignas(64) uint64_t h[8];
      unsigned gmask = 0;
      if (use_grams) {
        __m512i v = _mm512_loadu_si512(data + g0);
        __m512i prod = _mm512_mullo_epi32(v, mul);
        // Low 32 bits of each lane: low half product xor high half product.
        __m512i hv = _mm512_and_si512(_mm512_xor_si512(prod, _mm512_srli_epi64(prod, 32)), low32);
        hv = _mm512_xor_si512(hv, _mm512_srli_epi64(hv, SampledGramMatcher::kMixShift));
        __m512i word = _mm512_srli_epi64(hv, 32 - SampledGramMatcher::kWordBits);
        __m512i want = _mm512_or_si512(
            _mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64(hv, 15), low6)),
            _mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64(hv, 9), low6)));
        __m512i words = _mm512_i64gather_epi64(word, filter, 8);
        gmask = _mm512_cmpeq_epi64_mask(_mm512_and_si512(words, want), want);
        if (gmask != 0) _mm512_store_si512(h, hv);
      }
      if ((tmask | gmask) == 0) {
        i += 64;
        continue;
      }
      i = VerifyBlock<kSets, 64>(f, data, n, i, tmask, bits, g0, gmask, h, &reported_end, hits,
                                 candidates);
      if (i == SIZE_MAX) return;
    }
    Tail(f, data, n, i, reported_end, hits, candidates);
  }
#pragma GCC diagnostic pop
#endif
};

bool LiteralPrefilter::Supported(Kernel kernel) {
  switch (kernel) {
    case Kernel::kPortable:
      return true;
#if defined(TUG_PREFILTER_AVX2)
    case Kernel::kAvx2:
      return __builtin_cpu_supports("avx2") != 0;
    case Kernel::kAvx512:
      return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
             __builtin_cpu_supports("avx512dq") != 0 && __builtin_cpu_supports("avx512vl") != 0 &&
             __builtin_cpu_supports("avx512vbmi") != 0;
#endif
    default:
      return false;
  }
}

LiteralPrefilter::Kernel LiteralPrefilter::Best() {
  static const Kernel best = [] {
    Kernel cap = Kernel::kAvx512;
    if (const char* v = std::getenv("TUG_SCAN_KERNEL"); v != nullptr) {
      const std::string_view want(v);
      if (want == "portable") cap = Kernel::kPortable;
      if (want == "avx2") cap = Kernel::kAvx2;
    }
    for (Kernel k : {Kernel::kAvx512, Kernel::kAvx2}) {
      if (k <= cap && Supported(k)) return k;
    }
    return Kernel::kPortable;
  }();
  return best;
}

const char* LiteralPrefilter::KernelName(Kernel kernel) {
  switch (kernel) {
    case Kernel::kAvx2:
      return "avx2";
    case Kernel::kAvx512:
      return "avx512";
    default:
      return "portable";
  }
}

void LiteralPrefilter::FindWith(Kernel kernel, const char* data, size_t n,
                                std::vector<uint32_t>* hits, uint64_t* candidates) const {
#if defined(TUG_PREFILTER_AVX2)
  if (kernel == Kernel::kAvx512 && Supported(kernel)) {
    if (teddy_.sets() == 2) {
      PrefilterKernels::Fused512<2>(*this, data, n, hits, candidates);
    } else {
      PrefilterKernels::Fused512<1>(*this, data, n, hits, candidates);
    }
    return;
  }
  if (kernel == Kernel::kAvx2 && Supported(kernel)) {
    if (teddy_.sets() == 2) {
      PrefilterKernels::Fused<2>(*this, data, n, hits, candidates);
    } else {
      PrefilterKernels::Fused<1>(*this, data, n, hits, candidates);
    }
    return;
  }
#endif
  PrefilterKernels::Sequential(*this, data, n, hits, candidates);
}

std::vector<std::string> LiteralPrefilter::short_anchors() const {
  std::vector<std::string> out;
  for (const auto& l : teddy_.literals()) {
    std::string a = l.caseless ? "(?i)" + l.text : l.text;
    for (size_t i = 0; i < l.condition.alternatives.size(); ++i) {
      a += i == 0 ? " if " : " or ";
      for (const auto& set : l.condition.alternatives[i]) {
        a += "(";
        for (size_t j = 0; j < set.size(); ++j) a += (j > 0 ? "|" : "") + set[j];
        a += ")";
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace tug::diagnose
