// strata runtime: which engines, in which configuration, back malloc, and
// the size thresholds that route a request to one of them.
//
//  - Small blocks (<= 32 KiB): Heap<MallocHeapConfig>, the slab+buddy engine
//    with the fine malloc size-class table (16..128 by 16, then 4 classes per
//    doubling), over Small segments of 4 MiB.
//  - Medium blocks (<= 1 MiB): Tlsf over Medium segments, each segment its own
//    pool (pools are capped at one segment, so neighbours never join): a pool
//    that is one free block is a segment the page source can take back, and
//    a block's pool is its segment's base (free without a pool walk).
//
// The runtime's fast path needs two answers about a small block in O(1):
// its class and whether the pointer is a block start. The Heap engine gives
// both from the region header at the segment's base (lookup_in_region).
#pragma once
#include "platform/layout.hpp"
#include "platform/segment_map.hpp"
#include "strata/engine/heap.hpp"
#include "strata/engine/size_classes.hpp"
#include "strata/engine/tlsf.hpp"

namespace strata::rt {

/// Size routing: at most SMALL_MAX bytes (and alignment the class can honour)
/// go through the thread cache into slab classes; up to MEDIUM_MAX to TLSF;
/// beyond that whole segments. Thresholds are measured choices (docs/design.md).
inline constexpr usize SMALL_MAX = 32 * 1024;
inline constexpr usize MEDIUM_MAX = 1024 * 1024;
/// Medium blocks take alignments up to this; larger ones go to huge blocks.
inline constexpr usize MEDIUM_MAX_ALIGN = 64 * 1024;

/// Minimum alignment of every block (glibc guarantees 16 on x86_64).
inline constexpr usize MIN_ALIGN = 16;

using SmallClasses = MallocClasses;
using SmallEngine = Heap<MallocHeapConfig>;
/// TLSF with pools of at most one segment (see the file comment).
struct MediumTlsfConfig {
  static constexpr u32 SL_LOG2 = TlsfDefaultConfig::SL_LOG2;
  static constexpr u32 MAX_POOL_LOG2 = SEGMENT_SHIFT;
};
using MediumEngine = Tlsf<MediumTlsfConfig>;
/// Every medium request fits one fresh segment (MediumHeap grows by one).
static_assert(MEDIUM_MAX + MEDIUM_MAX_ALIGN + MediumEngine::MIN_BLOCK + MediumEngine::MIN_POOL_SIZE <= SEGMENT_SIZE);

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
  u32 cls;           ///< the class byte of p's page: a class, or detail::NO_CLASS_BYTE
  bool block_start;  ///< p starts a block slot of that class (never for NO_CLASS_BYTE)
};

/// What free() needs per class byte to tell a block start, precomputed so the
/// check is a mask, a compare, a multiply and a compare (see
/// SizeClass::div_magic): spans are aligned to their size, so the offset in
/// the span is p & mask; offsets past the last whole block are never starts.
/// Every byte value has a rule (those of no class: limit 0, nothing starts
/// there), so the lookup needs no branch on "no class".
struct BlockStartRule {
  u64 magic;  ///< ceil(2^64 / size): off % size == 0 iff off * magic < magic
  u32 mask;   ///< span_bytes - 1
  u32 limit;  ///< blocks * size: offsets at or past this hold no block
};
struct BlockStartTable {
  BlockStartRule rule[256];
};
inline constexpr BlockStartTable BLOCK_START_TABLE = [] {
  BlockStartTable t{};  // rules of non-classes stay all zero
  for (u32 c = 0; c < NUM_SMALL_CLASSES; ++c) {
    const SizeClass& sc = SmallClasses::get(c);
    t.rule[c] = BlockStartRule{sc.div_magic, sc.span_bytes - 1, sc.blocks * sc.size};
  }
  return t;
}();

/// Class byte of p's page (p inside a Small segment) and whether p starts a
/// block slot. The same answer as SmallEngine::lookup_in_region(segment_base(p),
/// p) (a test checks every class and offset; NO_CLASS there is NO_CLASS_BYTE
/// here), cheaper because a Small segment is exactly one Heap region: the
/// page index is the offset in the segment. No branch: both tests are
/// evaluated and combined with a bitwise and.
inline SmallLookup small_lookup(const void* p) {
  const uptr a = reinterpret_cast<uptr>(p);
  const u8 c = detail::load_class(a & ~SEGMENT_MASK, (a & SEGMENT_MASK) >> SmallEngine::PAGE_SHIFT);
  const BlockStartRule& r = BLOCK_START_TABLE.rule[c];
  const u64 off = a & r.mask;
  const bool start = (off < r.limit) & (off * r.magic < r.magic);
  return SmallLookup{c, start};
}

}  // namespace strata::rt
