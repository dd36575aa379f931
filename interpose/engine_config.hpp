// strata runtime: which engines, in which configuration, back malloc.
//
//  - Small blocks (<= 32 KiB): Heap<MallocHeapConfig>, the slab+buddy engine
//    with the fine malloc size-class table (16..128 by 16, then 4 classes per
//    doubling), over Small segments of 4 MiB.
//  - Medium blocks (<= 1 MiB): Tlsf<TlsfDefaultConfig> over Medium segments.
//
// The runtime's fast path needs two answers about a small block in O(1):
// its class and whether the pointer is a block start. The Heap engine gives
// both from the region header at the segment's base (lookup_in_region).
#pragma once
#include "engine/heap.hpp"
#include "engine/size_classes.hpp"
#include "engine/tlsf.hpp"
#include "layout.hpp"
#include "segment_map.hpp"

namespace strata::rt {

using SmallClasses = MallocClasses;
using SmallEngine = Heap<MallocHeapConfig>;
using MediumEngine = Tlsf<TlsfDefaultConfig>;

inline constexpr u32 NUM_SMALL_CLASSES = SmallClasses::NUM_CLASSES;
inline constexpr u32 NO_SMALL_CLASS = SmallClasses::NO_CLASS;
/// Every size up to this has a class (one constexpr lookup, no branch on range).
inline constexpr usize SMALL_FAST_MAX = SmallClasses::MAX_SIZE;
static_assert(SMALL_FAST_MAX == SMALL_MAX, "routing threshold = largest slab class");
static_assert(SmallClasses::MIN_ALIGN >= MIN_ALIGN, "every class keeps malloc's 16-byte alignment");

/// Size -> class for every small size in one byte load: entry i answers
/// sizes (16 (i-1), 16 i] (every class size is a multiple of 16).
struct SmallClassTable {
  u8 cls[SMALL_FAST_MAX / 16 + 1];
};
inline constexpr SmallClassTable SMALL_CLASS_TABLE = [] {
  SmallClassTable t{};
  for (usize i = 0; i <= SMALL_FAST_MAX / 16; ++i) t.cls[i] = static_cast<u8>(SmallClasses::class_for_size(i * 16));
  return t;
}();
static_assert(NUM_SMALL_CLASSES < 256);

/// Class of an n-byte request, n <= SMALL_FAST_MAX.
inline u32 small_class_of(usize n) { return SMALL_CLASS_TABLE.cls[(n + 15) >> 4]; }
/// Class for n bytes aligned to align, or NO_SMALL_CLASS.
inline u32 small_class_for(usize n, usize align) { return SmallClasses::class_for(n, align); }
/// Block bytes of class cls.
inline usize small_class_size(u32 cls) { return SmallClasses::size(cls); }

struct SmallLookup {
  u32 cls;
  bool block_start;
};

/// Class of p (inside a Small segment) and whether p starts a block.
inline SmallLookup small_lookup(const void* p) {
  const auto lk = SmallEngine::lookup_in_region(segment_base(p), p);
  return SmallLookup{lk.cls, lk.block_start && lk.cls != SmallEngine::NO_CLASS};
}

}  // namespace strata::rt
