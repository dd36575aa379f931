// strata runtime: the address-space layout every runtime part agrees on.
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
};

/// Size routing: at most SMALL_MAX bytes (and alignment the class can honour)
/// go through the thread cache into slab classes; up to MEDIUM_MAX to TLSF;
/// beyond that whole segments. Thresholds are measured choices (docs/design.md).
inline constexpr usize SMALL_MAX = 32 * 1024;
inline constexpr usize MEDIUM_MAX = 1024 * 1024;
/// Medium blocks take alignments up to this; larger ones go to huge blocks.
inline constexpr usize MEDIUM_MAX_ALIGN = 64 * 1024;

/// The small heap is split into arenas, each its own Heap behind its own
/// lock; a thread takes and returns batches through the arena it was given.
inline constexpr u32 MAX_SMALL_ARENAS = 8;

/// Minimum alignment of every block (glibc guarantees 16 on x86_64).
inline constexpr usize MIN_ALIGN = 16;

}  // namespace strata::rt
