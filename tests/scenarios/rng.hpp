// A small deterministic PRNG (xoshiro256**, seeded by splitmix64) for
// randomized model-based tests: fixed seeds give the same operation sequence on
// every platform, host or firmware.
#pragma once
#include "strata/core/types.hpp"

namespace strata::scenario {

class Rng {
 public:
  explicit constexpr Rng(u64 seed) {
    for (u64& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      u64 z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  constexpr u64 next() {
    const u64 result = rotl(s_[1] * 5, 7) * 9;
    const u64 t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, n). n > 0. (Modulo bias is irrelevant for tests.)
  constexpr u64 below(u64 n) { return next() % n; }
  /// Uniform in [lo, hi].
  constexpr u64 range(u64 lo, u64 hi) { return lo + below(hi - lo + 1); }
  /// True with probability num/den.
  constexpr bool chance(u64 num, u64 den) { return below(den) < num; }
  /// Log-uniform size in [1, max]: small sizes as likely per octave as large.
  constexpr u64 log_uniform(u64 max) {
    u32 bits = 0;
    for (u64 m = max; m > 1; m >>= 1) ++bits;
    const u32 k = static_cast<u32>(below(bits + 1));
    const u64 hi = k >= 63 ? max : ((u64{1} << k) < max ? (u64{1} << k) : max);
    return range(hi / 2 + 1 > hi ? hi : hi / 2 + 1, hi);
  }

 private:
  static constexpr u64 rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }
  u64 s_[4]{};
};

}  // namespace strata::scenario
