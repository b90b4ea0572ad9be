#pragma once
/// SampledGramMatcher: finds hundreds of long literals by looking at one position in eight.
/// Every occurrence of a literal of at least kMinLength bytes covers eight consecutive
/// positions p, ..., p + 7 at which the 8 bytes starting there lie inside it, and one of them
/// is a multiple of 8. So the matcher hashes the 8 bytes at every 8th offset of the input
/// and tests a 16 KiB blocked Bloom filter (two bits of one 64-bit word, from the hashes of
/// the eight 8-grams chosen per literal, in its rarest stretch under the log byte model); a
/// pass is verified against the literals that put it there. The cost per byte does not grow with
/// the number of literals, unlike Teddy's, whose false candidates do.
///
/// Immutable after construction; Find is thread-safe and portable (no SIMD needed).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "diagnose/line_condition.h"

namespace tug::diagnose {

struct PrefilterKernels;

class SampledGramMatcher {
 public:
  static constexpr size_t kGram = 8;
  static constexpr size_t kStride = 8;
  static constexpr size_t kMinLength = kGram + kStride - 1;  // 15
  static constexpr size_t kNotFound = SIZE_MAX;

  SampledGramMatcher() = default;
  /// Literals shorter than kMinLength are an error of the caller (ignored). `conditions`, if
  /// not empty, has one entry per literal: an occurrence counts only where it holds.
  explicit SampledGramMatcher(std::vector<std::string> literals,
                              std::vector<LineCondition> conditions = {});

  bool empty() const { return literals_.empty(); }
  const std::vector<std::string>& literals() const { return literals_; }

  /// Appends to `hits` the start offset of one occurrence per line of data[0, n) that holds a
  /// literal; offsets ascend. `candidates`, if given, is increased by the number of sampled
  /// positions whose bit was set.
  void Find(const char* data, size_t n, std::vector<uint32_t>* hits,
            uint64_t* candidates = nullptr) const {
    FindFrom(data, n, 0, hits, candidates);
  }
  /// The same, sampling only from offset `from` (a multiple of kStride) on: occurrences
  /// starting before `from` whose sampled 8-gram lies at or after it are found too.
  void FindFrom(const char* data, size_t n, size_t from, std::vector<uint32_t>* hits,
                uint64_t* candidates = nullptr) const;

 private:
  friend struct PrefilterKernels;  // LiteralPrefilter's fused kernel runs this filter

  static constexpr int kWordBits = 11;  // 2048 words of 64 bits: 16 KiB
  struct Entry {
    uint32_t hash;
    uint32_t literal;
    uint32_t offset;  // of the 8-gram in the literal
  };
  // Each 32-bit half times an odd constant, low 32 bits kept, the two xored (vpmulld does
  // eight halves at once in the AVX2 kernel), then xor-shifted: a bit of a low product depends
  // only on the input bits below it, and the shift mixes the well-mixed top bits into the
  // middle ones. Bits 9..31 are used: 11 pick the word, 2 x 6 two bits in it.
  static constexpr uint32_t kMulLow = 0x9E3779B1;
  static constexpr uint32_t kMulHigh = 0x85EBCA77;
  static constexpr int kMixShift = 13;
  static uint32_t Hash(uint64_t gram) {
    uint32_t h =
        (static_cast<uint32_t>(gram) * kMulLow) ^ (static_cast<uint32_t>(gram >> 32) * kMulHigh);
    return h ^ (h >> kMixShift);
  }
  static uint32_t Word(uint32_t h) { return h >> (32 - kWordBits); }
  static uint64_t Bits(uint32_t h) {
    return uint64_t{1} << (h >> 15 & 63) | uint64_t{1} << (h >> 9 & 63);
  }
  size_t Verify(const char* data, size_t n, size_t pos, uint32_t hash) const;

  std::vector<std::string> literals_;
  std::vector<LineCondition> conditions_;  // parallel to literals_
  std::vector<Entry> entries_;             // sorted by hash
  std::vector<uint64_t> filter_;
};

}  // namespace tug::diagnose
