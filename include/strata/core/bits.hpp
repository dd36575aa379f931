// strata core: bit tricks over compiler builtins (no <bit>, freestanding-clean).
#pragma once
#include "strata/core/types.hpp"

namespace strata {

// Where the ISA has no count-leading/trailing-zeros instruction (rv64gc or
// rv32imac without Zbb), the compiler expands each __builtin_clzll/ctzll into a long
// bit-smearing and popcount sequence with 64-bit constants. Keeping one
// out-of-line copy then saves far more code than the call costs; everywhere
// else the builtin is a single instruction and stays inline.
#if defined(__riscv) && !defined(__riscv_zbb)
#define STRATA_BITSCAN_ATTR [[gnu::noinline]]
#else
#define STRATA_BITSCAN_ATTR
#endif

/// True when x is a non-zero power of two: x - 1 lies below the mask of x's
/// lowest set bit and the bits beneath it exactly then (x = 0 wraps x - 1 to
/// the maximum). Written so, not as x != 0 && (x & (x - 1)) == 0, because
/// clang turns that into popcount(x) == 1 once x != 0 is known, which cores
/// without a popcount instruction (Cortex-M, RV32/RV64 without Zbb) expand
/// into a dozen instructions.
constexpr bool is_pow2(usize x) { return x - 1 < (x ^ (x - 1)); }
static_assert(!is_pow2(0) && is_pow2(1) && is_pow2(2) && !is_pow2(3) && is_pow2(usize{1} << (sizeof(usize) * 8 - 1)) &&
              !is_pow2(USIZE_MAX) && !is_pow2(12) && is_pow2(4096));

/// Index of the highest set bit. Precondition: x != 0.
STRATA_BITSCAN_ATTR constexpr u32 log2_floor(u64 x) { return 63u - static_cast<u32>(__builtin_clzll(x)); }

/// Index of the highest set bit of a usize: log2_floor itself on 64-bit
/// targets, a 32-bit scan on 32-bit ones (where log2_floor's 64-bit scan
/// costs two). Precondition: x != 0.
#if __SIZEOF_SIZE_T__ == 8
constexpr u32 log2_floor_size(usize x) { return log2_floor(x); }
#else
STRATA_BITSCAN_ATTR constexpr u32 log2_floor_size(usize x) { return 31u - static_cast<u32>(__builtin_clz(x)); }
#endif

/// Smallest k with 2^k >= x. log2_ceil(0) == log2_ceil(1) == 0.
constexpr u32 log2_ceil(u64 x) { return x <= 1 ? 0u : log2_floor(x - 1) + 1u; }

/// Index of the lowest set bit. Precondition: x != 0.
STRATA_BITSCAN_ATTR constexpr u32 ctz64(u64 x) { return static_cast<u32>(__builtin_ctzll(x)); }

/// Index of the lowest set bit of a u32. Precondition: x != 0.
STRATA_BITSCAN_ATTR constexpr u32 ctz32(u32 x) { return static_cast<u32>(__builtin_ctz(x)); }

/// Number of set bits.
constexpr u32 popcount64(u64 x) { return static_cast<u32>(__builtin_popcountll(x)); }

/// Smallest power of two >= x; 1 for x == 0. Precondition: x <= 2^63.
constexpr u64 next_pow2(u64 x) { return u64{1} << log2_ceil(x); }

/// a + b, or false when it overflows usize (result untouched then).
constexpr bool checked_add(usize a, usize b, usize& out) { return !__builtin_add_overflow(a, b, &out); }

/// a * b, or false when it overflows usize (result untouched then).
constexpr bool checked_mul(usize a, usize b, usize& out) { return !__builtin_mul_overflow(a, b, &out); }

}  // namespace strata
