// strata platform: the address-space layout every runtime part agrees on.
//
// Memory comes in SEGMENTs: 4 MiB ranges aligned to 4 MiB. A segment is wholly
// one kind — a region of the small-object Heap, a pool of the medium TLSF, or
// part of one huge block — and a flat byte table indexed by address >> 22
// says which. That table answers "is this pointer ours, and who owns it" with
// one load for any pointer, which is what makes free(p) without a size, and the
// rejection of foreign pointers, O(1).
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

inline constexpr u32 SEGMENT_SHIFT = 22;
inline constexpr usize SEGMENT_SIZE = usize{1} << SEGMENT_SHIFT;
inline constexpr uptr SEGMENT_MASK = SEGMENT_SIZE - 1;

/// User-space virtual address bits covered by the segment table. x86_64 user
/// space is 47 bits; aarch64/riscv64 Linux use at most 48 for user space.
#if defined(__x86_64__)
inline constexpr u32 VA_BITS = 47;
#else
inline constexpr u32 VA_BITS = 48;
#endif
inline constexpr usize SEGMENT_TABLE_SIZE = usize{1} << (VA_BITS - SEGMENT_SHIFT);

/// What a segment holds.
enum class SegmentKind : u8 {
  None = 0,    ///< not strata's memory (or not any more)
  Small = 1,   ///< a region of the slab+buddy Heap (thread-cached size classes)
  Medium = 2,  ///< a pool of the TLSF engine
  Huge = 3,    ///< part of a huge block (header in the page before the block)
  Sampled = 4, ///< a pool of the profiler's TLSF: blocks the heap profiler sampled (runtime/prof.hpp)
  Guarded = 5, ///< the guarded pool: sampled blocks between inaccessible pages (runtime/guarded.hpp)
};

/// The page source's window of address space holds at most this many
/// segments (64 GiB of addresses; none of it mapped until used).
inline constexpr usize WINDOW_SEGMENTS = 16384;

/// The small heap is split into arenas, each its own Heap behind its own
/// lock; each arena's segments carry their own tag in the segment map, so the
/// arena that takes a block back is known from the pointer.
inline constexpr u32 MAX_SMALL_ARENAS = 8;

}  // namespace strata::rt
