// strata engine: Heap, slabs of size classes over a page Buddy.
//
// Requests that fit a size class of Cfg::Classes (with the alignment the class
// naturally has) are cut from *spans*: power-of-two runs of pages taken from an
// internal Buddy, aligned to their size, each holding blocks of one class.
// Everything else (bigger than the largest class, or aligned beyond what any
// class honours) is a *large* block: a buddy block of whole pages.
//
// Span life cycle, per class:
//   partial list  spans with a free block and a live one (alloc takes the first)
//   full          in no list; the first free puts it back on the partial list
//   empty         the class's one *spare* span when Cfg::KEEP_SPARE_SPAN and the
//                 class has none, else given back to the buddy at once. The
//                 spare absorbs the alloc/free thrash at a span boundary (one
//                 block allocated and freed in a loop would otherwise split and
//                 merge buddy blocks every time); release_spare_spans() hands
//                 the spares back (e.g. before purging memory to the OS), and
//                 so does any span or large alloc the buddy cannot serve
//                 before it answers NoMemory: spares never cost an allocation.
// A span's free slots are the clear bits of its slot bitmap (below): taking
// and returning blocks reads and writes metadata only, never block memory, so
// a new span touches no memory and a batch of frees touches no block.
//
// Pointer-only free. Region metadata (detail::HeapRegion, below) gives every page
// a class byte and a span record; a slab block's span is the pointer masked by
// the class's span size; a division-free multiply tells block starts from
// interior pointers; a slot bitmap, out of band, tells live blocks from free
// ones: slot i of a span has bit i of the span's share of the region's bit map
// (one bit per granule of the span, of which the first `blocks` are used), so
// a span's free slots are found a word (64 slots) at a time. So dealloc(p), usable_size(p) and lookup_in_region(base, p)
// are O(1) once p's region is known (regions are found by a scan with a
// last-hit hint), and a double free, a pointer into a block or one never
// handed out is refused with NotAllocated before anything changes.
//
// Free small blocks: the Heap never reads or writes them (a write after free
// cannot corrupt its state; the hosted runtime keeps its own link and a
// double-free tag in them). A span given back to the buddy is buddy memory
// again (its first PageBuddy::FREE_LINK_BYTES hold the buddy's link).
//
// Not thread-safe: callers lock. constexpr-constructible (constinit globals).
//
// The file reads top to bottom: the region metadata (detail::HeapRegion,
// detail::SpanRecord and the layout around them), then the engine. Its
// verify() is in heap_verify.hpp.
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/check.hpp"
#include "strata/core/list.hpp"
#include "strata/core/mem.hpp"
#include "strata/core/types.hpp"
#include "strata/engine/buddy.hpp"
#include "strata/engine/size_classes.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"

namespace strata::detail {

// ---- Region metadata: layout, span records, slot bits -----------------------
//
// Every Heap region [start, start + size) begins with its metadata, so that a
// pointer's page finds its descriptor with a subtraction and a shift:
//
//   start + 0                  HeapRegion header (below)
//   start + CLASS_TABLE_OFFSET page class table: one byte per page of the region,
//                              the size class + 1 of the span covering the page,
//                              or NO_CLASS_BYTE, 0 (free page, large block,
//                              metadata). Fixed offset: lookup_in_region reads it
//                              knowing nothing but the region's start. A Cfg may
//                              keep the table elsewhere (Cfg::class_table, see
//                              Heap::class_bytes); zero-filled memory then reads
//                              as "no class" without being initialised.
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

/// Page class table entry for "no slab class here"; class c is stored as c + 1.
inline constexpr u8 NO_CLASS_BYTE = 0;
/// The page class table's byte for slab class cls (< 255).
constexpr u8 class_code(u32 cls) { return static_cast<u8>(cls + 1); }

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

/// The page class table inside the metadata of the region starting at `start`.
inline u8* class_table(uptr start) { return reinterpret_cast<u8*>(start + CLASS_TABLE_OFFSET); }

/// Class bytes may be read without the heap's lock (lookup_in_region, for a
/// block the caller owns, whose pages cannot change class meanwhile), so
/// they are read and written with relaxed atomics: plain byte moves on every
/// target, and no formal data race with a span being converted elsewhere.
inline u8 load_class(const u8* table, usize page) { return __atomic_load_n(table + page, __ATOMIC_RELAXED); }
inline void store_classes(u8* table, usize first_page, usize pages, u8 code) {
  u8* t = table + first_page;
  for (usize i = 0; i < pages; ++i) __atomic_store_n(t + i, code, __ATOMIC_RELAXED);
}

/// Live (slot) bits likewise: written under the heap's lock, read by
/// live_in_region without it (for blocks the caller owns, whose bits cannot
/// change meanwhile). Relaxed loads and stores: plain moves, no locked RMW.
/// Where 8-byte atomics are not lock-free (32-bit targets, which have no
/// lock-free reader), plain accesses.
inline constexpr bool LIVE_WORDS_ATOMIC = __atomic_always_lock_free(sizeof(u64), 0);
inline u64 live_load(const u64* w) {
  if constexpr (LIVE_WORDS_ATOMIC) return __atomic_load_n(w, __ATOMIC_RELAXED);
  else return *w;
}
inline void live_store(u64* w, u64 v) {
  if constexpr (LIVE_WORDS_ATOMIC) __atomic_store_n(w, v, __ATOMIC_RELAXED);
  else *w = v;
}
inline bool live_test(const u64* w, usize i) { return (live_load(w + (i >> 6)) >> (i & 63)) & 1; }
inline void live_or(u64* w, u64 bits) { live_store(w, live_load(w) | bits); }
inline void live_clear(u64* w, usize i) { live_store(w + (i >> 6), live_load(w + (i >> 6)) & ~(u64{1} << (i & 63))); }

}  // namespace strata::detail

namespace strata {
/// The seed design's heap: classes 64..4096 (powers of two), spans of 64 blocks.
/// A Heap Cfg provides Classes (a SizeClassMap), BUDDY_MAX_ORDER (largest
/// buddy block = page << BUDDY_MAX_ORDER) and KEEP_SPARE_SPAN.
struct SeedHeapConfig {
  using Classes = SeedClasses;
  static constexpr u32 BUDDY_MAX_ORDER = sizeof(void*) == 8 ? 20 : 16;
  static constexpr bool KEEP_SPARE_SPAN = true;
};

/// The malloc heap: 40 classes 16..32 KiB (<= 25% apart), spans 4..64 KiB.
struct MallocHeapConfig {
  using Classes = MallocClasses;
  static constexpr u32 BUDDY_MAX_ORDER = sizeof(void*) == 8 ? 20 : 16;
  static constexpr bool KEEP_SPARE_SPAN = true;
};

template <class Cfg>
class Heap {
  using Classes = typename Cfg::Classes;
  using HeapRegion = detail::HeapRegion;
  using SpanRecord = detail::SpanRecord;
  using SpanKind = detail::SpanKind;

 public:
  /// "No slab class": class_for's answer for large requests, Lookup::cls of
  /// non-slab memory.
  static constexpr u32 NO_CLASS = ~u32{0};
  /// Page size of the region metadata and of the buddy (the smallest span).
  static constexpr u32 PAGE_SHIFT = Classes::MIN_SPAN_LOG2;
  static constexpr usize PAGE_SIZE = usize{1} << PAGE_SHIFT;

  /// The page class table of the region starting at `start`: inside its
  /// metadata, or where Cfg::class_table(start) says when the Cfg has one (a
  /// table that must read as NO_CLASS_BYTE where never written, one byte per
  /// page of the region from its first page; the hosted runtime keeps one map
  /// over all its address space, so free() finds a page's class with one load).
  static u8* class_bytes(uptr start) {
    if constexpr (requires { Cfg::class_table(start); }) {
      return Cfg::class_table(start);
    } else {
      return detail::class_table(start);
    }
  }
  /// Region starts must be multiples of this.
  static constexpr usize REGION_ALIGN = 16;
  struct BuddyCfg {
    static constexpr usize MIN_BLOCK = PAGE_SIZE;
    static constexpr u32 MAX_ORDER = Cfg::BUDDY_MAX_ORDER;
  };
  using PageBuddy = Buddy<BuddyCfg>;

  /// Answer of lookup_in_region.
  struct Lookup {
    u32 cls;           ///< the slab class of p's page, NO_CLASS for non-slab memory
    bool block_start;  ///< p is the first byte of a block slot of that class
  };

  constexpr Heap() = default;
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  /// Forgets all state and manages [start, start + size) alone (as add_memory).
  Result<void> init(void* start, usize size, Contents contents = Contents::Unknown) {
    for (IntrusiveList& l : partial_) l.init();
    for (SpanRecord*& s : spare_) s = nullptr;
    spare_bytes_ = 0;
    regions_ = last_ = nullptr;
    used_ = 0;
    buddy_.reset();
    return add_memory(start, size, contents);
  }

  /// Adds the disjoint region [start, start + size). Its first bytes become
  /// the region metadata (detail::HeapRegion above, ~1.8% with 4 KiB pages).
  /// With Contents::Zero (the caller's promise that the range reads zero)
  /// the span records and slot bits, all but a page of that metadata, are
  /// not cleared: their pages are touched only as spans are used.
  /// InvalidParam for a null or non-REGION_ALIGN start, a range wrapping the
  /// address space, or a region without room for a page after its metadata;
  /// MemoryOverlap when it overlaps a region already added.
  Result<void> add_memory(void* start, usize size, Contents contents = Contents::Unknown) {
    const uptr s = reinterpret_cast<uptr>(start);
    uptr e = 0;
    if (s == 0 || !is_aligned(s, REGION_ALIGN) || !checked_add(s, size, e) || size < PAGE_SIZE)
      return AllocError::InvalidParam;
    for (const HeapRegion* r = regions_; r != nullptr; r = r->next)
      if (s < r->start + r->size && r->start < e) return AllocError::MemoryOverlap;
    const detail::RegionLayout l = detail::region_layout(s, e, PAGE_SHIFT, GRANULE_SHIFT);
    if (l.meta_end >= e) return AllocError::InvalidParam;
    Result<detail::BuddyRegion*> b = buddy_.add_region(reinterpret_cast<void*>(l.meta_end), e - l.meta_end);
    if (!b.ok()) return b.error();
    HeapRegion* r = reinterpret_cast<HeapRegion*>(s);
    *r = HeapRegion{regions_, s, size, s >> PAGE_SHIFT, b.value()->base, b.value()->end,
                    reinterpret_cast<SpanRecord*>(l.spans), reinterpret_cast<u64*>(l.live), b.value()};
    mem_set(class_bytes(s), detail::NO_CLASS_BYTE, l.pages);
    if (contents != Contents::Zero) {
      mem_set(r->spans, 0, l.pages * sizeof(SpanRecord));
      mem_set(r->live, 0, l.live_words * sizeof(u64));
    }
    regions_ = r;
    return ok();
  }

  /// A block of at least size bytes aligned to align (a power of two): a slab
  /// block of class_for(size, align), else a large block of
  /// next_pow2(max(size, align, PAGE_SIZE)) bytes. size 0 is served as 1.
  /// InvalidParam for a bad align or size > MAX_OBJECT_SIZE; NoMemory (state
  /// unchanged) when the buddy cannot supply a span or block.
  Result<void*> alloc(usize size, usize align) {
    if (!is_pow2(align) || size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    const u32 cls = Classes::class_for(size, align);
    if (cls != NO_CLASS) {
      void* p = nullptr;
      return alloc_batch(cls, &p, 1) == 1 ? Result<void*>(p) : Result<void*>(AllocError::NoMemory);
    }
    const u32 order = PageBuddy::order_for(size, align);
    if (order == PageBuddy::NO_ORDER) return AllocError::NoMemory;
    Result<void*> r = buddy_alloc(order);
    if (!r.ok()) return r;
    SpanRecord& rec = record_of(region_holding(reinterpret_cast<uptr>(r.value())), reinterpret_cast<uptr>(r.value()));
    rec.kind = SpanKind::Large;
    rec.order = static_cast<u8>(order);
    used_ += PAGE_SIZE << order;
    return r;
  }

  /// Frees a block given only its pointer. NotAllocated (state unchanged) for
  /// anything that is not the start of a live block of this heap: a double
  /// free, a pointer into a block, a foreign pointer, null.
  Result<void> dealloc(void* p) {
    HeapRegion* r = locate_region(reinterpret_cast<uptr>(p));
    return r == nullptr ? Result<void>(AllocError::NotAllocated) : free_found(find_live(r, reinterpret_cast<uptr>(p)), p);
  }

  /// dealloc(p) for a caller that knows p's region, as for lookup_in_region:
  /// O(1), no search over the regions (a heap of many regions frees as fast
  /// as one of a single region). region_base must be the start handed to
  /// add_memory/init of a region of this heap (precondition; the header there
  /// is checked to name itself, and p to lie in its range). NotAllocated as
  /// dealloc(p) otherwise, state unchanged.
  Result<void> dealloc_in_region(const void* region_base, void* p) {
    auto* r = reinterpret_cast<HeapRegion*>(const_cast<void*>(region_base));
    const uptr a = reinterpret_cast<uptr>(p);
    if (r->start != reinterpret_cast<uptr>(region_base) || a < r->begin || a >= r->end)
      return AllocError::NotAllocated;
    return free_found(find_live(r, a), p);
  }

  /// True when p is a live block of class cls (< num_classes()) in the
  /// region whose metadata starts at region_base, as dealloc_in_region would
  /// accept it; nothing changes. For a caller that keeps freed blocks aside
  /// (a cache) and must know they are really live before it does. May be
  /// called without the heap's lock for blocks the caller owns (their class
  /// byte and live bit cannot change meanwhile; both are read atomically).
  bool live_in_region(const void* region_base, const void* p, u32 cls) const {
    const auto* r = static_cast<const HeapRegion*>(region_base);
    const uptr a = reinterpret_cast<uptr>(p);
    if (r->start != reinterpret_cast<uptr>(region_base) || a < r->begin || a >= r->end) return false;
    if (detail::load_class(class_bytes(r->start), page_index(*r, a)) != detail::class_code(cls)) return false;
    const uptr span = a & ~uptr{Classes::get(cls).span_bytes - 1};
    return Classes::is_block_offset(cls, a - span) && detail::live_test(r->live, granule(*r, span) + slot_of(cls, a - span));
  }

  /// The ByteAllocator dealloc: as dealloc(p), and size/align must be what
  /// p was allocated with, in the sense that alloc(size, align) would choose
  /// the same class (or the same large block size); otherwise NotAllocated and
  /// nothing changes. InvalidParam for a bad align or size.
  Result<void> dealloc(void* p, usize size, usize align) {
    if (!is_pow2(align) || size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    HeapRegion* r = locate_region(reinterpret_cast<uptr>(p));
    if (r == nullptr) return AllocError::NotAllocated;
    const Found f = find_live(r, reinterpret_cast<uptr>(p));
    const u32 want = Classes::class_for(size, align);
    if (f.rec == nullptr || f.cls != want || (want == NO_CLASS && f.rec->order != PageBuddy::order_for(size, align)))
      return AllocError::NotAllocated;
    return free_found(f, p);
  }

  /// Usable bytes of the live block p (its class size, or its large block
  /// size); NotAllocated as for dealloc(p).
  Result<usize> usable_size(const void* p) const {
    const HeapRegion* r = find_region(reinterpret_cast<uptr>(p));
    if (r == nullptr) return AllocError::NotAllocated;
    const Found f = find_live(r, reinterpret_cast<uptr>(p));
    if (f.rec == nullptr) return AllocError::NotAllocated;
    return f.cls != NO_CLASS ? usize{Classes::size(f.cls)} : PAGE_SIZE << f.rec->order;
  }

  /// The class alloc(size, align) uses, or NO_CLASS when it goes to the
  /// buddy. align must be a power of two (precondition).
  static u32 class_for(usize size, usize align) { return Classes::class_for(size, align); }
  /// Block size of class cls < num_classes() (precondition).
  static usize class_size(u32 cls) { return Classes::size(cls); }
  static u32 num_classes() { return Classes::NUM_CLASSES; }
  /// Span size of class cls < num_classes() (precondition): what one trip to
  /// the buddy takes for the class, and what its spare holds.
  static usize class_span_bytes(u32 cls) { return Classes::get(cls).span_bytes; }
  /// Whether each class keeps one empty span (see the file comment).
  static constexpr bool KEEP_SPARE_SPAN = Cfg::KEEP_SPARE_SPAN;

  /// Writes up to n blocks of class cls to out and returns how many: fewer
  /// than n only when memory ran out (0: NoMemory, or cls >= num_classes()).
  /// The blocks' contents are unspecified. One span lookup per span, not per block.
  usize alloc_batch(u32 cls, void** out, usize n) {
    if (cls >= Classes::NUM_CLASSES) return 0;
    const SizeClass& sc = Classes::get(cls);
    usize got = 0;
    while (got < n) {
      SpanRecord* s = span_for_alloc(cls);
      if (s == nullptr) break;
      got += take_blocks(*s, sc, out + got, n - got);
      if (s->used == sc.blocks) IntrusiveList::remove(&s->link);
    }
    used_ += got * sc.size;
    return got;
  }

  /// Frees n blocks (any classes, any regions) by pointer, in order. Stops at
  /// the first that dealloc(p) refuses and returns NotAllocated: the blocks
  /// before it are freed, it and the ones after are untouched.
  Result<void> dealloc_batch(void* const* blocks, usize n) {
    for (usize i = 0; i < n; ++i)
      if (Result<void> r = dealloc(blocks[i]); !r.ok()) return r;
    return ok();
  }

  /// O(1) page lookup for a caller that knows p's region: region_base is the
  /// start handed to add_memory/init of the region holding p, and p lies in
  /// [region_base, region_base + size) (preconditions, not checked). One
  /// relaxed byte load from the region's class table, a mask, a multiply: cls
  /// is the slab class of p's page (NO_CLASS for large blocks, free pages and
  /// metadata), block_start says p starts a block slot of that class (a slot
  /// check, not a liveness check: freed slots answer true too). May be called
  /// without the heap's lock; the answer is stable for a p the caller owns
  /// (its span cannot change class while p is live), and for any other p it
  /// is a hint to confirm under the lock (dealloc does).
  static Lookup lookup_in_region(const void* region_base, const void* p) {
    const uptr b = reinterpret_cast<uptr>(region_base), a = reinterpret_cast<uptr>(p);
    const u8 code = detail::load_class(class_bytes(b), (a >> PAGE_SHIFT) - (b >> PAGE_SHIFT));
    if (code == detail::NO_CLASS_BYTE) return Lookup{NO_CLASS, false};
    const u32 cls = code - 1u;
    return Lookup{cls, Classes::is_block_offset(cls, a & (Classes::get(cls).span_bytes - 1))};
  }

  /// Calls f(void* run, usize bytes) for every free buddy run of at least
  /// min_bytes (memory held by no span or block). f may discard a run's
  /// memory (madvise) except its first PageBuddy::FREE_LINK_BYTES, and must
  /// not call into this heap.
  template <class F>
  void for_each_free_run(usize min_bytes, F f) const {
    buddy_.for_each_free_block(min_bytes, f);
  }

  /// Gives every class's spare empty span back to the buddy.
  void release_spare_spans() {
    for (SpanRecord*& s : spare_)
      if (s != nullptr) release_span(*s), s = nullptr;
    spare_bytes_ = 0;
  }

  /// Takes back every region none of whose memory is in use (no live block,
  /// no span: the classes' spare spans are given back first) and calls
  /// f(void* start, usize size) with the range add_memory/init was given for
  /// each, which is the caller's again (to unmap or reuse). Returns how many.
  /// f must not call into this heap. O(regions x pages / 64).
  template <class F>
  usize remove_free_regions(F f) {
    release_spare_spans();
    usize removed = 0;
    for (HeapRegion** link = &regions_; *link != nullptr;) {
      HeapRegion* r = *link;
      if (!buddy_.remove_region_if_free(r->buddy)) {
        link = &r->next;
        continue;
      }
      *link = r->next;
      if (last_ == r) last_ = nullptr;
      ++removed;
      f(reinterpret_cast<void*>(r->start), r->size);
    }
    return removed;
  }

  /// Stats. total: bytes of all pages the buddy manages (metadata excluded);
  /// used: bytes of live blocks (class sizes, large block sizes);
  /// available = total - used (includes free slots in spans).
  usize total_bytes() const { return buddy_.total_bytes(); }
  usize used_bytes() const { return used_; }
  usize available_bytes() const { return buddy_.total_bytes() - used_; }
  /// Bytes in free buddy runs: held by no span (spare included) or block.
  usize free_run_bytes() const { return buddy_.available_bytes(); }
  /// Bytes held by the classes' spare (empty) spans.
  usize spare_bytes() const { return spare_bytes_; }
  /// Largest block the buddy can hand out right now.
  usize largest_free_run() const { return buddy_.largest_free_block(); }
  /// Statistics walk, O(pages): f(u32 cls, usize live_blocks, usize span_bytes) for every slab span.
  template <class F>
  void for_each_slab_span(F f) const {
    for (const HeapRegion* r = regions_; r != nullptr; r = r->next)
      for (usize i = 0, n = page_index(*r, r->start + r->size - 1) + 1; i < n;) {
        const SpanRecord& s = r->spans[i];
        if (s.kind == SpanKind::Slab) f(u32{s.cls}, usize{s.used}, PAGE_SIZE << s.order);
        i += s.kind == SpanKind::None ? 1 : usize{1} << s.order;
      }
  }

  /// Expensive invariant walk for tests (engine/heap_verify.hpp lists what
  /// it checks). on_error(const char* what, const void* where) hears about
  /// the first violation.
  template <class F>
  bool verify(F on_error) const;
  bool verify() const {
    return verify([](const char*, const void*) {});
  }

 private:
  static constexpr u32 GRANULE_SHIFT = log2_floor(Classes::MIN_ALIGN);
  static_assert(((PAGE_SIZE >> GRANULE_SHIFT) % 64) == 0, "live bits fill whole words per page");
  static_assert(Classes::get(Classes::NUM_CLASSES - 1).span_bytes <= (PAGE_SIZE << Cfg::BUDDY_MAX_ORDER));

  /// A live block found by find_live: rec is null when p is not one.
  struct Found {
    SpanRecord* rec;
    u32 cls;  ///< slab class, or NO_CLASS for a large block
  };

  HeapRegion* find_region(uptr a) const {
    if (last_ != nullptr && a >= last_->begin && a < last_->end) return last_;
    for (HeapRegion* r = regions_; r != nullptr; r = r->next)
      if (a >= r->begin && a < r->end) return r;
    return nullptr;
  }
  /// find_region for frees: a region found by the scan moves to the front of
  /// the list (and becomes the hint), so the regions in use stay near the head.
  HeapRegion* locate_region(uptr a) {
    if (last_ != nullptr && a >= last_->begin && a < last_->end) return last_;
    for (HeapRegion** link = &regions_; *link != nullptr; link = &(*link)->next) {
      HeapRegion* r = *link;
      if (a < r->begin || a >= r->end) continue;
      *link = r->next;
      r->next = regions_;
      regions_ = r;
      return last_ = r;
    }
    return nullptr;
  }
  /// find_region for an address the buddy just handed out (never null).
  HeapRegion* region_holding(uptr a) {
    HeapRegion* r = find_region(a);
    STRATA_CHECK(r != nullptr, "heap: buddy block outside every region", a);
    return last_ = r;
  }

  static usize page_index(const HeapRegion& r, uptr a) { return (a >> PAGE_SHIFT) - r.first_page; }
  static SpanRecord& record_of(HeapRegion* r, uptr a) {
    SpanRecord& rec = r->spans[page_index(*r, a)];
    rec.region = r;
    return rec;
  }
  static uptr span_base(const SpanRecord& s) {
    return (s.region->first_page + static_cast<usize>(&s - s.region->spans)) << PAGE_SHIFT;
  }
  static usize granule(const HeapRegion& r, uptr a) { return (a - (r.first_page << PAGE_SHIFT)) >> GRANULE_SHIFT; }

  /// The live block starting at a in region r, if any. The class byte of a's
  /// page picks slab or large; a slab block must start a slot of its span and
  /// have its live bit; a large block is the first byte of a Large record's page.
  Found find_live(const HeapRegion* r, uptr a) const {
    const usize page = page_index(*r, a);
    const u8 code = detail::load_class(class_bytes(r->start), page);
    if (code == detail::NO_CLASS_BYTE) {
      SpanRecord* rec = &r->spans[page];
      const bool live = rec->kind == SpanKind::Large && (a & (PAGE_SIZE - 1)) == 0;
      return Found{live ? rec : nullptr, NO_CLASS};
    }
    const u32 cls = code - 1u;
    const uptr span = a & ~uptr{Classes::get(cls).span_bytes - 1};
    if (!Classes::is_block_offset(cls, a - span) || !detail::live_test(r->live, granule(*r, span) + slot_of(cls, a - span)))
      return Found{nullptr, cls};
    return Found{&r->spans[page_index(*r, span)], cls};
  }

  /// Frees what find_live found at p (NotAllocated when it found nothing).
  Result<void> free_found(Found f, void* p) {
    if (f.rec == nullptr) return AllocError::NotAllocated;
    SpanRecord& s = *f.rec;
    last_ = s.region;
    if (f.cls == NO_CLASS) {
      used_ -= PAGE_SIZE << s.order;
      s.kind = SpanKind::None;
      const Result<void> r = buddy_.dealloc_in(s.region->buddy, p, s.order);
      STRATA_CHECK(r.ok(), "heap: large block unknown to the buddy", p);
      return ok();
    }
    const SizeClass& sc = Classes::get(f.cls);
    const uptr base = span_base(s);
    const usize slot = slot_of(f.cls, reinterpret_cast<uptr>(p) - base);
    detail::live_clear(s.region->live, granule(*s.region, base) + slot);
    if (slot / 64 < s.hint) s.hint = static_cast<u16>(slot / 64);
    used_ -= sc.size;
    if (s.used-- == sc.blocks && sc.blocks > 1) partial_[f.cls].push_front(&s.link);
    if (s.used == 0) span_emptied(s);
    return ok();
  }

  /// A span with a free slot for class cls: the first partial span, else the
  /// spare, else a new span from the buddy; null when the buddy is out.
  SpanRecord* span_for_alloc(u32 cls) {
    SpanRecord* s = nullptr;
    if (!partial_[cls].empty()) return reinterpret_cast<SpanRecord*>(partial_[cls].first());
    if (spare_[cls] != nullptr) {
      s = spare_[cls];
      spare_[cls] = nullptr;
      spare_bytes_ -= Classes::get(cls).span_bytes;
    } else {
      const u32 order = log2_floor(Classes::get(cls).span_bytes) - PAGE_SHIFT;
      const Result<void*> b = buddy_alloc(order);
      if (!b.ok()) return nullptr;
      const uptr base = reinterpret_cast<uptr>(b.value());
      s = &record_of(region_holding(base), base);
      s->kind = SpanKind::Slab;
      s->cls = static_cast<u8>(cls);
      s->order = static_cast<u8>(order);
      s->used = s->hint = 0;
      detail::store_classes(class_bytes(s->region->start), page_index(*s->region, base), usize{1} << order,
                            detail::class_code(cls));
    }
    partial_[cls].push_front(&s->link);
    return s;
  }

  /// Index of the slot starting at offset off (a slot start, off < 2^16 x
  /// 2^16) of a span of class cls: off / size by a multiply with
  /// ceil(2^32 / size), exact for such offsets, derived from div_magic.
  static usize slot_of(u32 cls, uptr off) {
    const u64 m32 = (Classes::get(cls).div_magic >> 32) + 1;
    return static_cast<usize>((static_cast<u64>(off) * m32) >> 32);
  }

  /// The span's slot bits: bit i of word i / 64 is slot i (live when set).
  static u64* slot_words(const SpanRecord& s) {
    return s.region->live + granule(*s.region, span_base(s)) / 64;
  }

  /// Takes up to n free slots of span s (the lowest first, a word at a time
  /// from the hint) into out; returns how many (0 only when s is full).
  static usize take_blocks(SpanRecord& s, const SizeClass& sc, void** out, usize n) {
    u64* w = slot_words(s);
    const uptr base = span_base(s);
    const usize words = (sc.blocks + 63) / 64;
    const u32 tail = sc.blocks % 64;  // valid bits in the last word (0: all)
    usize got = 0, i = s.hint;
    for (; i < words && got < n; ++i) {
      u64 free = ~detail::live_load(w + i);
      if (i + 1 == words && tail != 0) free &= (u64{1} << tail) - 1;
      u64 taken = 0;
      for (; free != 0 && got < n; free &= free - 1) {
        const u64 bit = free & (~free + 1);
        taken |= bit;
        out[got++] = reinterpret_cast<void*>(base + (i * 64 + ctz64(bit)) * sc.size);
      }
      detail::live_or(w + i, taken);
      if (free != 0) break;  // this word still has free slots: the hint stays on it
    }
    s.hint = static_cast<u16>(i);
    s.used = static_cast<u16>(s.used + got);
    return got;
  }

  /// The last block of s was freed: keep s as its class's spare, or release it.
  void span_emptied(SpanRecord& s) {
    if (s.link.linked()) IntrusiveList::remove(&s.link);
    if (Cfg::KEEP_SPARE_SPAN && spare_[s.cls] == nullptr) {
      s.hint = 0;  // no bit is set any more
      spare_[s.cls] = &s;
      spare_bytes_ += Classes::get(s.cls).span_bytes;
      return;
    }
    release_span(s);
  }

  /// A buddy block of the order; when the buddy is out, the spares go back
  /// first and the buddy is asked again.
  Result<void*> buddy_alloc(u32 order) {
    Result<void*> r = buddy_.alloc_order(order);
    if (r.ok() || spare_bytes_ == 0) return r;
    release_spare_spans();
    return buddy_.alloc_order(order);
  }

  void release_span(SpanRecord& s) {
    const uptr base = span_base(s);
    detail::store_classes(class_bytes(s.region->start), page_index(*s.region, base), usize{1} << s.order,
                          detail::NO_CLASS_BYTE);
    s.kind = SpanKind::None;
    const Result<void> r = buddy_.dealloc_in(s.region->buddy, reinterpret_cast<void*>(base), s.order);
    STRATA_CHECK(r.ok(), "heap: span unknown to the buddy", base);
  }

  struct VerifyTotals {
    usize used = 0;     ///< live block bytes
    usize held = 0;     ///< buddy bytes held by spans and large blocks
    usize partial = 0;  ///< spans that must be on a partial list
  };
  template <class F>
  bool verify_region(const HeapRegion& r, VerifyTotals& t, F& fail) const;
  template <class F>
  bool verify_span(const HeapRegion& r, const SpanRecord& s, uptr base, F& fail) const;
  static usize live_bits(const HeapRegion& r, uptr a, usize bytes);

  IntrusiveList partial_[Classes::NUM_CLASSES]{};
  SpanRecord* spare_[Classes::NUM_CLASSES]{};
  HeapRegion* regions_ = nullptr;
  HeapRegion* last_ = nullptr;  ///< region of the last block freed or of the last new span: a hint for find_region
  usize used_ = 0;
  usize spare_bytes_ = 0;  ///< sum of the spares' span sizes
  PageBuddy buddy_{};
};

}  // namespace strata

#include "strata/engine/heap_verify.hpp"

namespace strata {
static_assert(ByteAllocator<Heap<SeedHeapConfig>>);
static_assert(ByteAllocator<Heap<MallocHeapConfig>>);
}  // namespace strata
