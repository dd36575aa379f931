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
/// The malloc heap's configuration, with its page class tables in the page
/// map for regions in the page source's window (segment_map.hpp), and in the
/// region metadata for the others.
struct SmallHeapConfig : MallocHeapConfig {
  static u8* class_table(uptr start) {
    u8* entry = page_map_entry(start);
    return entry != nullptr ? entry : detail::class_table(start);
  }
};
using SmallEngine = Heap<SmallHeapConfig>;
static_assert(SmallEngine::PAGE_SHIFT == PAGE_MAP_SHIFT, "one page map byte per Heap page");
/// TLSF with pools of at most one segment (see the file comment).
struct MediumTlsfConfig {
  static constexpr u32 SL_LOG2 = TlsfDefaultConfig::SL_LOG2;
  static constexpr u32 MAX_POOL_LOG2 = SEGMENT_SHIFT;
};
using MediumEngine = Tlsf<MediumTlsfConfig>;
/// Every medium request fits one fresh segment (MediumHeap grows by one).
static_assert(MEDIUM_MAX + 2 * MIN_ALIGN + MEDIUM_MAX_ALIGN + MediumEngine::MIN_BLOCK + MediumEngine::MIN_POOL_SIZE <= SEGMENT_SIZE);

inline constexpr u32 NUM_SMALL_CLASSES = SmallClasses::NUM_CLASSES;
inline constexpr u32 NO_SMALL_CLASS = SmallClasses::NO_CLASS;
/// Every size up to this has a class (one constexpr lookup, no branch on range).
inline constexpr usize SMALL_FAST_MAX = SmallClasses::MAX_SIZE;
static_assert(SMALL_FAST_MAX == SMALL_MAX, "routing threshold = largest slab class");
static_assert(SmallClasses::MIN_ALIGN >= MIN_ALIGN, "every class keeps malloc's 16-byte alignment");

/// Class codes: class c is code c + 1, the Heap's page class byte (0: no
/// class). The thread cache's bins and the block-start rules are indexed by
/// code, so free() uses the byte it loads as it is.
inline constexpr u32 NUM_SMALL_CODES = NUM_SMALL_CLASSES + 1;
constexpr u32 code_of_class(u32 cls) { return cls + 1; }
constexpr u32 class_of_code(usize code) { return static_cast<u32>(code - 1); }
static_assert(NUM_SMALL_CODES < 256);

/// Size -> class code for every small size in one byte load: entry i
/// answers sizes (16 (i-1), 16 i] (every class size is a multiple of 16).
struct SmallCodeTable {
  u8 code[SMALL_FAST_MAX / 16 + 1];
};
inline constexpr SmallCodeTable SMALL_CODE_TABLE = [] {
  SmallCodeTable t{};
  for (usize i = 0; i <= SMALL_FAST_MAX / 16; ++i)
    t.code[i] = static_cast<u8>(code_of_class(SmallClasses::class_for_size(i * 16)));
  return t;
}();

/// Class code of an n-byte request, n <= SMALL_FAST_MAX.
inline usize small_code_of(usize n) { return SMALL_CODE_TABLE.code[(n + 15) >> 4]; }
/// Class for n bytes aligned to align, or NO_SMALL_CLASS.
inline u32 small_class_for(usize n, usize align) { return SmallClasses::class_for(n, align); }
/// Block bytes of class cls.
inline usize small_class_size(u32 cls) { return SmallClasses::size(cls); }

struct SmallLookup {
  usize code;        ///< class code of p's page (0: no class there)
  bool block_start;  ///< p starts a block slot of that class (never for code 0)
};

/// What free() needs per class code to tell a block start, precomputed so the
/// check is a mask, a multiply and one compare: spans are aligned to their
/// size, so the offset in the span is off = p & mask, and off starts a block
/// iff off % size == 0 and off < blocks * size. With magic = ceil(2^64 / size)
/// and e = size * magic mod 2^64 (< size), off * magic mod 2^64 is q * e for
/// off = q * size, and at least magic for every other off (Lemire, Kaser,
/// Kurz 2019; see SizeClass::div_magic). So both conditions are one test,
/// off * magic mod 2^64 < bound, with bound = blocks * e (< span <= magic), or
/// 1 where e == 0 (power-of-two sizes, whose spans have no tail). Every byte
/// value has a rule (code 0 and unused codes: bound 0, nothing starts there),
/// so the lookup needs no branch on "no class".
/// The rules as parallel arrays indexed by the class code, so each field is
/// one scaled operand of the instruction that uses it.
/// The same table answers a sized free's claim (deallocate_sized): sizes n of
/// class code c are those with (n - 1) / 16 in [first, first + count), one
/// subtraction and one unsigned compare (n = 0 wraps to a huge quotient and
/// fails, as every size past the classes does: the slow path decides those).
struct BlockStartTable {
  u64 magic[256];  ///< ceil(2^64 / size)
  u64 bound[256];  ///< off * magic (mod 2^64) below this: a block start
  u64 mask[256];   ///< span_bytes - 1
  u64 first[256];  ///< (n - 1) / 16 of the class's smallest size
  u64 count[256];  ///< how many 16-byte steps the class's sizes span (0: no class)
};
inline constexpr BlockStartTable BLOCK_START_TABLE = [] {
  BlockStartTable t{};  // rules of non-classes stay all zero
  usize below = 0;      // the previous class's size
  for (u32 c = 0; c < NUM_SMALL_CLASSES; ++c) {
    const SizeClass& sc = SmallClasses::get(c);
    const u64 e = static_cast<u64>(sc.size) * sc.div_magic;  // mod 2^64
    t.magic[code_of_class(c)] = sc.div_magic;
    t.bound[code_of_class(c)] = e == 0 ? 1 : u64{sc.blocks} * e;
    t.mask[code_of_class(c)] = sc.span_bytes - 1;
    t.first[code_of_class(c)] = below / 16;
    t.count[code_of_class(c)] = (sc.size - below) / 16;
    below = sc.size;
  }
  return t;
}();
/// The bound stays below the span and magic (so no other offset passes).
constexpr bool block_start_bounds_ok() {
  for (u32 c = 0; c < NUM_SMALL_CLASSES; ++c) {
    const SizeClass& sc = SmallClasses::get(c);
    const u64 e = static_cast<u64>(sc.size) * sc.div_magic;
    if (e >= sc.size || u64{sc.blocks} * e >= sc.span_bytes || sc.span_bytes >= sc.div_magic) return false;
  }
  return true;
}
static_assert(block_start_bounds_ok());

/// Whether a request of n bytes (malloc's alignment) lands in the class with
/// code `code` (0: never): the sized free's claim, in two instructions.
inline bool size_in_class(usize n, usize code) {
  const BlockStartTable& t = BLOCK_START_TABLE;
  return ((n - 1) >> 4) - t.first[code] < t.count[code];
}

/// Every size 1..SMALL_FAST_MAX is claimed by its own class (and, the ranges
/// being consecutive, by no neighbour); sizes past the classes by none.
constexpr bool size_in_class_agrees() {
  const BlockStartTable& t = BLOCK_START_TABLE;
  auto in = [&](usize n, usize c) { return ((n - 1) >> 4) - t.first[c] < t.count[c]; };
  for (usize n = 1; n <= SMALL_FAST_MAX + 64; ++n) {
    const usize code = n <= SMALL_FAST_MAX ? code_of_class(SmallClasses::class_for_size(n)) : NUM_SMALL_CODES - 1;
    if (n <= SMALL_FAST_MAX && !in(n, code)) return false;
    if (in(n, code - 1) || (code + 1 < 256 && in(n, code + 1)) || (n > SMALL_FAST_MAX && in(n, code))) return false;
  }
  return !in(0, code_of_class(0));
}
static_assert(size_in_class_agrees());

/// Whether p starts a block slot of the class with code `code` (0: never).
inline bool is_block_start(const void* p, usize code) {
  const uptr a = reinterpret_cast<uptr>(p);
  const BlockStartTable& t = BLOCK_START_TABLE;
  return (a & t.mask[code]) * t.magic[code] < t.bound[code];
}

/// The page map's index for p, or PAGE_MAP_ENTRIES or more when p lies
/// outside the window (any pointer: no memory is read).
/// The base is read plainly (it folds into the subtraction): it is written
/// once, before any segment of the window exists, and a reader that still
/// sees 0 finds only zero entries (never written) or an index out of range.
inline uptr page_map_index(const void* p) {
  return (reinterpret_cast<uptr>(p) - g_page_map.base) >> PAGE_MAP_SHIFT;
}

/// The class code of the page with map index idx < PAGE_MAP_ENTRIES (0: no small span there).
inline usize page_code(uptr idx) { return __atomic_load_n(&g_page_map.code[idx], __ATOMIC_RELAXED); }

/// The page map's answer for any pointer: the class code of p's page and
/// whether p starts a block slot of that class (code 0, not a start, when p
/// lies outside the window or in no small span). The free() fast path does
/// the same in two branches (alloc.hpp); the slow path asks the segment
/// table (small_lookup).
inline SmallLookup page_lookup(const void* p) {
  const uptr idx = page_map_index(p);
  if (idx >= PAGE_MAP_ENTRIES) return SmallLookup{0, false};
  const usize code = page_code(idx);
  return SmallLookup{code, is_block_start(p, code)};
}

/// The class code of p's page (p inside a Small segment, in the window or
/// not) and whether p starts a block slot: the engine's answer from the
/// region's class table wherever it is. A test checks page_lookup against it
/// for every class and offset.
inline SmallLookup small_lookup(const void* p) {
  const auto lk = SmallEngine::lookup_in_region(segment_base(p), p);
  if (lk.cls == SmallEngine::NO_CLASS) return SmallLookup{0, false};
  return SmallLookup{code_of_class(lk.cls), lk.block_start};
}

}  // namespace strata::rt
