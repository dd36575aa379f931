// strata platform: the segment table (address >> 22 -> what owns the segment).
//
// One byte per segment: 0 none, 2 medium, 3 huge, 4 sampled, and SMALL_TAG + a for a
// region of small-heap arena a. So "is this a small block" is one compare on
// the free() fast path, and the arena that takes a block back is in the same byte.
//
// A zero-initialised global byte array in .bss (32 MiB of address space on
// x86_64, touched only where strata has memory, so it costs a few KiB of RSS).
// Reads are plain loads on the free() fast path; writes happen only when a
// segment is handed to or taken back from an engine, under that engine's
// lock, and use relaxed atomic stores so concurrent readers see a whole byte.
#pragma once
#include "platform/layout.hpp"

namespace strata::rt {

/// The table itself (segment_map.cpp): one of the three pieces of mutable
/// process state outside the Runtime object, because the free() fast path
/// reads it with one load at a link-time address.
extern u8 g_segment_kind[SEGMENT_TABLE_SIZE] __attribute__((visibility("hidden")));

/// Tag of small-heap arena 0; arena a is SMALL_TAG + a.
inline constexpr u8 SMALL_TAG = 8;
static_assert(SMALL_TAG > static_cast<u8>(SegmentKind::Guarded) && SMALL_TAG + MAX_SMALL_ARENAS <= 256);

/// The raw tag of the segment holding p (0 for any pointer strata never mapped).
inline u8 segment_tag(const void* p) {
  const uptr idx = reinterpret_cast<uptr>(p) >> SEGMENT_SHIFT;
  if (__builtin_expect(idx >= SEGMENT_TABLE_SIZE, 0)) return 0;
  return __atomic_load_n(&g_segment_kind[idx], __ATOMIC_RELAXED);
}

/// True when p lies in a small-heap segment (the free() fast path's test).
inline bool in_small_segment(const void* p) { return segment_tag(p) >= SMALL_TAG; }

/// Arena of p, which lies in a small-heap segment (precondition).
inline u32 small_arena_of(const void* p) { return static_cast<u32>(segment_tag(p) - SMALL_TAG); }

/// Kind of the segment holding p; None for any pointer strata never mapped.
inline SegmentKind segment_kind(const void* p) {
  const u8 t = segment_tag(p);
  return t >= SMALL_TAG ? SegmentKind::Small : static_cast<SegmentKind>(t);
}

/// The tag for segments of `kind` (arena: the small-heap arena, for Small).
constexpr u8 segment_tag_for(SegmentKind kind, u32 arena) {
  return kind == SegmentKind::Small ? static_cast<u8>(SMALL_TAG + arena) : static_cast<u8>(kind);
}

/// Tags the `count` segments starting at base (segment-aligned).
inline void set_segment_tag(void* base, usize count, u8 tag) {
  const uptr idx = reinterpret_cast<uptr>(base) >> SEGMENT_SHIFT;
  for (usize i = 0; i < count; ++i) __atomic_store_n(&g_segment_kind[idx + i], tag, __ATOMIC_RELEASE);
}

/// The page map: one byte per 4 KiB page of the page source's window, where
/// the small heap keeps its page class table (Heap's Cfg::class_table: class
/// + 1 of the span on the page, 0 for none), so that free() finds a page's
/// class with one bounded load instead of the segment table plus the region
/// header. Pages outside the window, and every page until the window exists
/// (base 0, bytes 0), read as 0 or fall outside it: their heaps keep the
/// table in their own metadata. Zero-initialised .bss: 16 MiB of addresses,
/// touched only where small segments are (1 KiB per segment).
inline constexpr u32 PAGE_MAP_SHIFT = 12;
inline constexpr usize PAGE_MAP_ENTRIES = (WINDOW_SEGMENTS * SEGMENT_SIZE) >> PAGE_MAP_SHIFT;
struct PageMap {
  uptr base;   ///< the window's first byte (set once by the page source, before any segment of it exists)
  usize bytes; ///< the window's size
  u8 code[PAGE_MAP_ENTRIES];
};
/// The map itself (segment_map.cpp): mutable process state outside the
/// Runtime object for the same reason as g_segment_kind.
/// Hidden on the declaration, so free() reads it at a link-time address
/// (one RIP-relative operand, no GOT).
extern PageMap g_page_map __attribute__((visibility("hidden")));

/// The page map's entry for the page of the region starting at `start`
/// (segment-aligned) when the region lies in the window; null otherwise.
inline u8* page_map_entry(uptr start) {
  const uptr off = start - __atomic_load_n(&g_page_map.base, __ATOMIC_RELAXED);
  return off < __atomic_load_n(&g_page_map.bytes, __ATOMIC_RELAXED) ? &g_page_map.code[off >> PAGE_MAP_SHIFT] : nullptr;
}

/// Base of the segment holding p.
inline void* segment_base(const void* p) {
  return reinterpret_cast<void*>(reinterpret_cast<uptr>(p) & ~SEGMENT_MASK);
}

}  // namespace strata::rt
