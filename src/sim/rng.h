#pragma once
/// A seeded pseudo-random source whose output is the same on every standard library: the
/// engine is std::mt19937_64 (its sequence is fixed by the standard), and every distribution
/// is written here (inverse CDF or Box-Muller) because std:: distributions differ between
/// libstdc++, libc++ and MSVC. Results depend on libm's log/exp/cos being correctly rounded,
/// which holds for glibc on x86-64 and aarch64.
///
/// Lifecycle: a value; copy it to fork a stream. Threading: not thread-safe (one per
/// simulation). No errors.
#include <cstdint>
#include <random>
#include <vector>

namespace tug::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(Mix(seed)), seed_mix_(Mix(seed)) {}

  /// A stream for a sub-purpose (e.g. "spot" vs "generator"), independent of draw order.
  Rng Fork(uint64_t salt) const { return Rng(seed_mix_ ^ Mix(salt + 0x9e3779b97f4a7c15ULL)); }

  uint64_t Next() { return engine_(); }
  /// Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  /// Uniform integer in [0, n) (n > 0), by rejection so it is unbiased.
  uint64_t Below(uint64_t n);
  bool Bernoulli(double p) { return Uniform() < p; }
  /// Exponential with the given mean (inverse CDF).
  double Exponential(double mean);
  /// Standard normal (Box-Muller, one of the pair).
  double Normal();
  /// exp(N(ln median, sigma)): heavy-tailed sizes and durations.
  double LogNormal(double median, double sigma);
  /// Index drawn with probability proportional to weights (all >= 0, sum > 0).
  size_t Weighted(const std::vector<double>& weights);

 private:
  static uint64_t Mix(uint64_t x);  // splitmix64 finaliser

  std::mt19937_64 engine_;
  uint64_t seed_mix_ = 0;
};

}  // namespace tug::sim
