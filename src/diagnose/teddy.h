#pragma once
/// TeddyMatcher: a packed multi-literal matcher after Hyperscan's and ripgrep's Teddy, for a
/// few dozen short literals. Each literal gets a 4-byte fingerprint window (the rarest window
/// of the literal under the log byte model, byte_frequency.h) and one of 16 buckets; per
/// window position k a pair of 16-entry nibble tables says which buckets accept a byte there.
/// The AVX2 kernel tests 32 positions per step with 2 x 8 shuffles and verifies the rare
/// candidates against their bucket's literals. Buckets are filled greedily so that literals
/// sharing bytes share a bucket, which keeps false candidates rare.
///
/// Find reports at most one hit per line: after a verified occurrence the search resumes at
/// the next line, since the caller only needs to know which lines hold a literal.
///
/// Immutable after construction; Find is thread-safe. Without AVX2 (or off x86) the portable
/// kernel runs the same tables a byte at a time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "diagnose/line_condition.h"

namespace tug::diagnose {

struct PrefilterKernels;

class TeddyMatcher {
 public:
  struct Literal {
    std::string text;         // at least 1 byte, no '\n'
    bool caseless = false;    // ASCII letters match either case
    LineCondition condition;  // an occurrence counts only on a line where this holds
  };
  static constexpr size_t kWindow = 4;
  static constexpr size_t kBuckets = 16;
  static constexpr size_t kNotFound = SIZE_MAX;

  TeddyMatcher() = default;
  explicit TeddyMatcher(std::vector<Literal> literals);

  bool empty() const { return literals_.empty(); }
  const std::vector<Literal>& literals() const { return literals_; }
  /// Sets of 8 buckets in use: 1, or 2 when 8 buckets would give many false candidates.
  int sets() const { return sets_; }
  /// Expected windows passing the fingerprint test per position of log text (byte model).
  double estimated_false_rate() const { return false_rate_; }
  /// Per bucket in use, its literals' fingerprint windows (for reports: `scan_bench anchors`).
  std::vector<std::vector<std::string>> bucket_windows() const;

  /// Appends to `hits` the start offset of one occurrence per line of data[0, n) that holds a
  /// literal (lines end at '\n'); offsets ascend. `candidates`, if given, is increased by the
  /// number of windows that passed the fingerprint test (for tuning).
  void Find(const char* data, size_t n, std::vector<uint32_t>* hits,
            uint64_t* candidates = nullptr) const;
  /// The portable kernel; the same hits as Find. With `from`, only windows at or after that
  /// offset are tested (occurrences starting a little before it are still found).
  void FindPortable(const char* data, size_t n, std::vector<uint32_t>* hits,
                    uint64_t* candidates = nullptr, size_t from = 0) const;

 private:
  struct Entry {
    uint32_t literal;  // index into literals_
    uint32_t window;   // offset of the fingerprint window in the literal
  };
  friend struct TeddyKernels;
  friend struct PrefilterKernels;  // LiteralPrefilter's fused kernel runs these tables

  // Verifies the buckets in `mask` for a window at data + pos; returns the literal's start
  // or SIZE_MAX (kNotFound).
  size_t Verify(const char* data, size_t n, size_t pos, uint32_t mask) const;

  std::vector<Literal> literals_;
  std::vector<Entry> buckets_[kBuckets];
  int sets_ = 1;  // 8 buckets per set
  double false_rate_ = 0;
  // [set][window position][nibble], each 16-byte table repeated for both AVX2 lanes.
  alignas(32) uint8_t lo_[2][kWindow][32] = {};
  alignas(32) uint8_t hi_[2][kWindow][32] = {};
  // [set][window position][byte & 0x7f]: what the nibble tables accept for the byte (and for
  // byte | 0x80), for the AVX-512 kernel's 128-entry vpermi2b lookups.
  alignas(64) uint8_t bytes_[2][kWindow][128] = {};
};

}  // namespace tug::diagnose
