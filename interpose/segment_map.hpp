// strata runtime: the segment table (address >> 22 -> SegmentKind).
//
// A zero-initialised global byte array in .bss (32 MiB of address space on
// x86_64, touched only where strata has memory, so it costs a few KiB of RSS).
// Reads are plain loads on the free() fast path; writes happen only when a
// segment is handed to or taken back from an engine, under that engine's
// lock, and use relaxed atomic stores so concurrent readers see a whole byte.
#pragma once
#include "layout.hpp"

namespace strata::rt {

extern u8 g_segment_kind[SEGMENT_TABLE_SIZE];

/// Kind of the segment holding p; None for any pointer strata never mapped.
inline SegmentKind segment_kind(const void* p) {
  const uptr idx = reinterpret_cast<uptr>(p) >> SEGMENT_SHIFT;
  if (__builtin_expect(idx >= SEGMENT_TABLE_SIZE, 0)) return SegmentKind::None;
  return static_cast<SegmentKind>(__atomic_load_n(&g_segment_kind[idx], __ATOMIC_RELAXED));
}

/// Marks the `count` segments starting at base (segment-aligned) as `kind`.
inline void set_segment_kind(void* base, usize count, SegmentKind kind) {
  const uptr idx = reinterpret_cast<uptr>(base) >> SEGMENT_SHIFT;
  for (usize i = 0; i < count; ++i)
    __atomic_store_n(&g_segment_kind[idx + i], static_cast<u8>(kind), __ATOMIC_RELEASE);
}

/// Base of the segment holding p.
inline void* segment_base(const void* p) {
  return reinterpret_cast<void*>(reinterpret_cast<uptr>(p) & ~SEGMENT_MASK);
}

}  // namespace strata::rt
