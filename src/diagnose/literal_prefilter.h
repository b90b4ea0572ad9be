#pragma once
/// LiteralPrefilter: the first pass of the fast scan. Given each catalog pattern's required
/// literals (regex_literals.h) and the literals the per-line logic itself needs (markers:
/// exception words, traceback openers, task lines), it finds the lines of a chunk that hold
/// any of them; only those lines go through the per-line logic and the full patterns.
///
/// Anchor selection, once per catalog: the literals are pooled, a literal that contains
/// another one is dropped (the shorter one finds its lines too), short literals are merged
/// into a shared substring while there are more than Teddy handles well, then literals of at
/// least SampledGramMatcher::kMinLength bytes go to the sampled 8-gram matcher and the rest
/// (plus the case-insensitive markers) to the Teddy matcher. With AVX2 (AVX-512) one fused
/// loop runs both on each 32-byte (64-byte) block, so a block is loaded once and its
/// candidates are verified in position order; without them the two run one after the other.
/// Either way at most one offset per line is reported, in ascending order.
///
/// Immutable after construction; Find is thread-safe.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "diagnose/regex_literals.h"
#include "diagnose/sampled_grams.h"
#include "diagnose/teddy.h"

namespace tug::diagnose {

class LiteralPrefilter {
 public:
  /// More short literals than this are merged into shared substrings when possible.
  static constexpr size_t kTeddyTarget = 32;

  LiteralPrefilter() = default;
  /// `required`: one literal set per pattern (a match of the pattern contains one of its set,
  /// with that literal's co-requirements); `markers`: literals whose lines must be found too;
  /// `caseless_markers`: the same, matched ignoring ASCII case. Literals containing '\n' are
  /// dropped: no line holds them. An anchor's hit counts only on a line that satisfies the
  /// co-requirements of one of the literals it stands for (markers have none).
  LiteralPrefilter(const std::vector<std::vector<RequiredLiteral>>& required,
                   const std::vector<std::string>& markers,
                   const std::vector<std::string>& caseless_markers);

  /// The kernels Find can run: the portable one (a byte at a time), AVX2 (32-byte blocks) and
  /// AVX-512 (64-byte blocks, F+BW+DQ+VL); all report the same lines.
  enum class Kernel { kPortable, kAvx2, kAvx512 };
  /// Whether this CPU runs `kernel`.
  static bool Supported(Kernel kernel);
  /// What Find runs: the widest supported kernel, capped by the environment variable
  /// TUG_SCAN_KERNEL (`portable` or `avx2`; for benchmarks and for ruling a kernel out).
  static Kernel Best();
  static const char* KernelName(Kernel kernel);
  /// Whether Find runs a vector kernel (otherwise the portable one, a byte at a time:
  /// LogScan then prefers the stream prefilter).
  static bool Vectorized() { return Best() != Kernel::kPortable; }

  /// Appends to `hits` ascending offsets in data[0, n), at least one inside every line that
  /// holds an anchor (and none elsewhere). `candidates`, if given, counts fingerprint hits.
  void Find(const char* data, size_t n, std::vector<uint32_t>* hits,
            uint64_t* candidates = nullptr) const {
    FindWith(Best(), data, n, hits, candidates);
  }
  /// The same with a given kernel (the portable one if this CPU lacks it).
  void FindWith(Kernel kernel, const char* data, size_t n, std::vector<uint32_t>* hits,
                uint64_t* candidates = nullptr) const;
  /// The portable kernels (what Find runs without AVX2); the same lines.
  void FindPortable(const char* data, size_t n, std::vector<uint32_t>* hits,
                    uint64_t* candidates = nullptr) const {
    FindWith(Kernel::kPortable, data, n, hits, candidates);
  }

  /// The anchors, for reports: Teddy's (short, and the caseless markers) and the sampled
  /// matcher's (long). Conditional anchors are followed by " if ..." in short_anchors().
  std::vector<std::string> short_anchors() const;
  const std::vector<std::string>& long_anchors() const { return grams_.literals(); }
  const TeddyMatcher& teddy() const { return teddy_; }
  const SampledGramMatcher& grams() const { return grams_; }

 private:
  friend struct PrefilterKernels;
  TeddyMatcher teddy_;
  SampledGramMatcher grams_;
};

/// The anchor pool before the split (exposed for tests): `literals` without those holding
/// '\n' or another literal, then short ones merged down towards `target` (a substring of at
/// least 5 bytes shared by the most short literals replaces them, while one is shared by two).
std::vector<std::string> ReduceAnchors(std::vector<std::string> literals, size_t short_below,
                                       size_t target);

}  // namespace tug::diagnose
