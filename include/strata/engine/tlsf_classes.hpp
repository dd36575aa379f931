// strata engine: TLSF size classes — the two-level index of free-block sizes.
//
// A free block of `size` bytes (header included) lives in list (fl, sl):
//
//   size < SMALL_SIZE   fl = 0, sl = size / GRANULE            (exact classes,
//                       one per granule: 16, 32, ... on 64-bit)
//   size >= SMALL_SIZE  f  = floor(log2(size))
//                       fl = f - FL_SHIFT + 1                  (one per octave)
//                       sl = (size >> (f - SL_LOG2)) - SL_COUNT
//                            (the SL_LOG2 bits just below the top bit: the
//                             octave cut into SL_COUNT equal slices)
//
// with FL_SHIFT = SL_LOG2 + log2(GRANULE) and SMALL_SIZE = 2^FL_SHIFT, chosen so
// that the slices of octave 1 are exactly one granule wide and continue the
// linear classes of fl = 0 without a gap (fl 0 ends at sl = SL_COUNT - 1, i.e.
// SMALL_SIZE - GRANULE; fl 1 starts at SMALL_SIZE).
//
// The first-level count follows from the largest pool: a block is always
// smaller than its pool (the pool also holds a pool header and a sentinel), so
// with pools of at most 2^MAX_POOL_LOG2 bytes every block has f <= MAX_POOL_LOG2 - 1
// and FL_COUNT = MAX_POOL_LOG2 - FL_SHIFT + 1. Nothing here is tied to 32 bits:
// a 64-bit configuration with MAX_POOL_LOG2 = 48 has 40 first-level lists.
//
// Allocation must find a block >= the request in O(1), so it searches from
// index_for_request(size): the size rounded up to the next class boundary, so
// that *every* block of that class (and of any class above) fits.
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/types.hpp"

namespace strata::detail {

/// The class arithmetic of a TLSF with 2^SL_LOG2 second-level lists, pools of at
/// most 2^MAX_POOL_LOG2 bytes, and sizes in multiples of GRANULE (a power of two).
/// Pure constexpr functions, no state; the tests check them for sizes far above
/// 2^32 without allocating anything.
template <u32 SL_LOG2_, u32 MAX_POOL_LOG2_, usize GRANULE_>
struct TlsfClasses {
  static constexpr u32 SL_LOG2 = SL_LOG2_;
  static constexpr u32 MAX_POOL_LOG2 = MAX_POOL_LOG2_;
  static constexpr usize GRANULE = GRANULE_;
  static constexpr u32 GRANULE_LOG2 = log2_floor(GRANULE);
  static constexpr u32 SL_COUNT = 1u << SL_LOG2;
  static constexpr u32 FL_SHIFT = SL_LOG2 + GRANULE_LOG2;
  static constexpr usize SMALL_SIZE = usize{1} << FL_SHIFT;
  static constexpr u32 FL_COUNT = MAX_POOL_LOG2 - FL_SHIFT + 1;

  static_assert(is_pow2(GRANULE), "the granule is a power of two");
  static_assert(SL_LOG2 >= 1 && SL_LOG2 <= 6, "second-level bitmaps are one u64: 2..64 lists");
  static_assert(MAX_POOL_LOG2 > FL_SHIFT, "pools must be able to exceed the linear classes");
  static_assert(MAX_POOL_LOG2 < sizeof(usize) * 8, "a pool size must fit in usize");
  static_assert(FL_COUNT <= 64, "the first-level bitmap is one u64");

  /// A list index. fl may equal FL_COUNT for requests above every class
  /// (index_for_request only), meaning "no list can serve this".
  struct Index {
    u32 fl;
    u32 sl;
  };

  /// The list a free block of `size` bytes belongs to. Precondition:
  /// GRANULE <= size < 2^MAX_POOL_LOG2 (every real block satisfies it).
  static constexpr Index index_of(usize size) {
    if (size < SMALL_SIZE) return {0, static_cast<u32>(size >> GRANULE_LOG2)};
    const u32 f = log2_floor(size);
    return {f - FL_SHIFT + 1, static_cast<u32>(size >> (f - SL_LOG2)) - SL_COUNT};
  }

  /// The first list all of whose blocks are >= size: size rounded up to the next
  /// class boundary, then index_of. Precondition: size <= 2^MAX_POOL_LOG2; the
  /// result has fl == FL_COUNT when no class is large enough.
  static constexpr Index index_for_request(usize size) {
    // Round up by one class width less one byte (the result stays below
    // 2^(MAX_POOL_LOG2+1): no overflow) and truncate to the class. One log2
    // only: when the rounding carries into the next octave, sl comes out as
    // exactly SL_COUNT, which is class 0 of octave fl + 1.
    u32 fl = 0;
    u32 sl = 0;
    if (size < SMALL_SIZE) {
      sl = static_cast<u32>((size + GRANULE - 1) >> GRANULE_LOG2);
    } else {
      const u32 f = log2_floor(size);
      const u32 shift = f - SL_LOG2;
      fl = f - FL_SHIFT + 1;
      sl = static_cast<u32>((size + (usize{1} << shift) - 1) >> shift) - SL_COUNT;
    }
    return sl == SL_COUNT ? Index{fl + 1, 0} : Index{fl, sl};
  }

  /// The smallest block size in list (fl, sl): the inverse of index_of.
  static constexpr usize class_min(u32 fl, u32 sl) {
    if (fl == 0) return usize{sl} << GRANULE_LOG2;
    const u32 f = fl + FL_SHIFT - 1;
    return (usize{1} << f) + (usize{sl} << (f - SL_LOG2));
  }
};

// The linear classes meet the logarithmic ones without a gap, for the usual
// 32-bit (granule 8) and 64-bit (granule 16) shapes.
static_assert(TlsfClasses<4, 24, 8>::index_of(127).fl == 0 && TlsfClasses<4, 24, 8>::index_of(127).sl == 15);
static_assert(TlsfClasses<4, 24, 8>::index_of(128).fl == 1 && TlsfClasses<4, 24, 8>::index_of(128).sl == 0);
#if __SIZEOF_SIZE_T__ == 8
static_assert(TlsfClasses<5, 48, 16>::index_of(511).fl == 0 && TlsfClasses<5, 48, 16>::index_of(511).sl == 31);
static_assert(TlsfClasses<5, 48, 16>::index_of(512).fl == 1 && TlsfClasses<5, 48, 16>::index_of(512).sl == 0);
static_assert(TlsfClasses<5, 48, 16>::index_of(528).sl == 1);
// No 4 GiB cap: 64-bit pools of 2^48 bytes index blocks far above 2^32.
static_assert(TlsfClasses<5, 48, 16>::FL_COUNT == 40);
static_assert(TlsfClasses<5, 48, 16>::index_of(usize{1} << 40).fl == 32);
static_assert(TlsfClasses<5, 48, 16>::index_for_request((usize{1} << 40) + 1).sl == 1);
#endif

}  // namespace strata::detail
