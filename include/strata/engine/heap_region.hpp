// strata engine: the per-region metadata of Heap (layout, records, bit maps).
//
// Every Heap region [start, start + size) begins with its metadata, so that a
// pointer's page finds its descriptor with a subtraction and a shift:
//
//   start + 0                  HeapRegion header (below)
//   start + CLASS_TABLE_OFFSET page class table: one byte per page of the region,
//                              the size class of the span covering the page, or
//                              NO_CLASS_BYTE (free page, large block, metadata).
//                              Fixed offset: lookup_in_region reads it knowing
//                              nothing but the region's start.
//   then                       SpanRecord per page (32 bytes on 64-bit); only the
//                              record of the first page of a span or large block
//                              is in use.
//   then                       slot bits: one bit per GRANULE bytes; a slab span's
//                              share (its granules' bits) holds one bit per slot,
//                              slot i at bit i, set exactly for live blocks (out
//                              of band: free blocks carry nothing of the heap's).
//   then                       the Buddy's own region (header, 2 bits per page),
//                              whose blocks (whole pages) are the spans and large
//                              blocks.
//
// Page numbers are absolute (address >> PAGE_SHIFT) minus the region's first
// page, so a start that is not page-aligned still lines up with the buddy's
// page-aligned blocks. Overhead per 4 KiB page: 1 + 32 + PAGE/GRANULE/8 bytes,
// i.e. 65 bytes (1.6%) with 16-byte granules, 41 bytes (1.0%) with 64-byte ones,
// plus the buddy's 2 bits and up to one page of rounding.
#pragma once
#include "strata/core/list.hpp"
#include "strata/core/types.hpp"
#include "strata/engine/buddy.hpp"

namespace strata::detail {

/// Page class table entry for "no slab class here".
inline constexpr u8 NO_CLASS_BYTE = 0xff;

/// What the record of a page describes.
enum class SpanKind : u8 {
  None = 0,   ///< not the first page of a span or large block
  Slab = 1,   ///< first page of a slab span
  Large = 2,  ///< first page of a block handed out whole by the buddy
};

struct HeapRegion;

/// State of one span (or large block), kept at its first page's index (32 bytes on 64-bit).
struct SpanRecord {
  ListNode link;           ///< in the class's partial list (unlinked when full, spare or large)
  HeapRegion* region;      ///< the region holding the span
  u16 used;                ///< live blocks
  u16 hint;                ///< Slab: slot-bit words below this one are full (the search starts here)
  SpanKind kind;
  u8 cls;                  ///< Slab: the size class
  u8 order;                ///< Slab and Large: buddy order (pages = 1 << order)
};

/// Header at the start of every Heap region.
struct HeapRegion {
  HeapRegion* next;
  uptr start;              ///< the range handed to add_memory (overlap checks)
  usize size;
  uptr first_page;         ///< start >> PAGE_SHIFT
  uptr begin;              ///< blocks handed out lie in [begin, end) (the buddy's range)
  uptr end;
  SpanRecord* spans;       ///< one per page
  u64* live;               ///< one bit per granule, from address first_page << PAGE_SHIFT
  BuddyRegion* buddy;      ///< the buddy's handle for this region
};

/// The class table sits right after the header, 16-byte aligned.
inline constexpr usize CLASS_TABLE_OFFSET = (sizeof(HeapRegion) + 15) & ~usize{15};

/// Where each part of a region's metadata goes (addresses), computed before
/// anything is written so a region that is too small is refused untouched.
struct RegionLayout {
  usize pages;
  uptr spans;
  uptr live;
  usize live_words;
  uptr meta_end;  ///< first byte after the metadata (16-byte aligned)
};

/// Layout of a region [s, e) (s 16-aligned, e > s) with pages of 2^page_shift
/// bytes and live bits per 2^granule_shift bytes. meta_end > e when the
/// metadata alone does not fit.
constexpr RegionLayout region_layout(uptr s, uptr e, u32 page_shift, u32 granule_shift) {
  RegionLayout l{};
  l.pages = ((e - 1) >> page_shift) - (s >> page_shift) + 1;
  const uptr classes_end = s + CLASS_TABLE_OFFSET + l.pages;
  l.spans = (classes_end + alignof(SpanRecord) - 1) & ~uptr{alignof(SpanRecord) - 1};
  l.live = (l.spans + l.pages * sizeof(SpanRecord) + 7) & ~uptr{7};
  l.live_words = (l.pages << (page_shift - granule_shift)) / 64;
  l.meta_end = (l.live + l.live_words * 8 + 15) & ~uptr{15};
  return l;
}

/// The page class table of the region starting at `start`.
inline u8* class_table(uptr start) { return reinterpret_cast<u8*>(start + CLASS_TABLE_OFFSET); }

/// Class bytes may be read without the heap's lock (lookup_in_region, for a
/// block the caller owns, whose pages cannot change class meanwhile), so
/// they are read and written with relaxed atomics: plain byte moves on every
/// target, and no formal data race with a span being converted elsewhere.
inline u8 load_class(uptr start, usize page) {
  return __atomic_load_n(class_table(start) + page, __ATOMIC_RELAXED);
}
inline void store_classes(uptr start, usize first_page, usize pages, u8 cls) {
  u8* t = class_table(start) + first_page;
  for (usize i = 0; i < pages; ++i) __atomic_store_n(t + i, cls, __ATOMIC_RELAXED);
}

}  // namespace strata::detail
