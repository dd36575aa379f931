// strata engine: Tlsf<Cfg>, a two-level segregated-fit allocator (O(1) alloc and
// free, immediate coalescing, any number of pools).
//
// Free blocks sit in FL_COUNT x SL_COUNT segregated lists (tlsf_classes.hpp). Two
// bitmap levels say which lists are non-empty: bit fl of fl_bitmap_ is set iff
// sl_bitmap_[fl] != 0, and bit sl of sl_bitmap_[fl] iff list (fl, sl) is non-empty.
// alloc rounds the request up to a class boundary and finds the first non-empty
// list at or above it with two count-trailing-zeros; no list is ever walked.
// dealloc merges the block with its free physical neighbours through boundary
// tags (tlsf_block.hpp) and links the result. Both are constant time: a handful
// of loads, stores and bit operations, whatever the heap's size or history.
//
// Accounting: used_bytes() counts whole blocks handed out, headers included;
// available_bytes() whole free blocks, headers included; total_bytes() every
// block byte of every pool (pool size less TLSF_POOL_OVERHEAD). So
// used + available == total at all times, and a request of n bytes raises
// used_bytes() by at least n + 16 (64-bit). The largest single allocation that
// can succeed is the largest free block less its header.
//
// Not thread-safe: one engine is a single-threaded object; callers lock around
// it. It holds no global state and has a constexpr constructor, so it can be a
// constinit global whose init() runs later.
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/check.hpp"
#include "strata/core/types.hpp"
#include "strata/engine/tlsf_block.hpp"
#include "strata/engine/tlsf_classes.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"

namespace strata {

/// Host configuration: 32 second-level lists (worst-case internal fragmentation
/// 1/32 ~ 3%) and pools up to 2^48 bytes on 64-bit (2^31 on 32-bit).
/// Control block: about 10.5 KiB on 64-bit.
struct TlsfDefaultConfig {
  /// log2 of the second-level list count per octave (1..6).
  static constexpr u32 SL_LOG2 = 5;
  /// log2 of the largest pool add_memory() accepts; sets the first-level count.
  static constexpr u32 MAX_POOL_LOG2 = sizeof(usize) == 8 ? 48 : 31;
};

/// Firmware configuration: 16 second-level lists (fragmentation bound 1/16) and
/// pools up to 16 MiB; control block about 2.3 KiB on 64-bit.
struct TlsfSmallConfig {
  static constexpr u32 SL_LOG2 = 4;
  static constexpr u32 MAX_POOL_LOG2 = 24;
};

/// Two-level segregated-fit byte allocator over caller-provided pools.
///
/// Every pointer it returns is aligned to at least ALIGN (2 * sizeof(usize)) and
/// is followed by usable_size(p) writable bytes. Errors are AllocError values,
/// never crashes; a corrupted heap found by an always-on check calls strata_fatal.
template <class Cfg = TlsfDefaultConfig>
class Tlsf {
  using Block = detail::TlsfBlock;
  using Pool = detail::TlsfPool;
  using Classes = detail::TlsfClasses<Cfg::SL_LOG2, Cfg::MAX_POOL_LOG2, detail::TLSF_GRANULE>;

 public:
  /// Alignment of every block; smaller alignment requests cost nothing extra.
  static constexpr usize ALIGN = detail::TLSF_GRANULE;
  /// Header bytes in front of each payload (counted in used_bytes()).
  static constexpr usize BLOCK_OVERHEAD = detail::TLSF_HEADER;
  /// Smallest block (and the smallest front gap split off by aligned allocation).
  static constexpr usize MIN_BLOCK = detail::TLSF_MIN_BLOCK;
  /// Smallest pool init()/add_memory() accepts: frame plus one minimal block.
  static constexpr usize MIN_POOL_SIZE = detail::TLSF_POOL_OVERHEAD + MIN_BLOCK;
  /// Largest pool init()/add_memory() accepts.
  static constexpr usize MAX_POOL_SIZE = usize{1} << Cfg::MAX_POOL_LOG2;
  static constexpr u32 FL_COUNT = Classes::FL_COUNT;
  static constexpr u32 SL_COUNT = Classes::SL_COUNT;

  /// An engine with no pool: alloc gives NoMemory, dealloc NotAllocated, stats
  /// are 0 until init(). constexpr, so it can be a constinit global.
  constexpr Tlsf() = default;
  Tlsf(const Tlsf&) = delete;
  Tlsf& operator=(const Tlsf&) = delete;

  /// Forgets every pool (the memory is the caller's again) and starts over with
  /// [start, start + size) as the only pool; see add_memory() for the rules and
  /// errors. After an error the engine is empty (all stats 0).
  Result<void> init(void* start, usize size) {
    mem_set(heads_, 0, sizeof heads_);
    mem_set(sl_bitmap_, 0, sizeof sl_bitmap_);
    fl_bitmap_ = 0;
    pools_ = nullptr;
    total_ = used_ = 0;
    return add_memory(start, size);
  }

  /// Adds the pool [start, start + size). start must be ALIGN-aligned and non-null;
  /// size is rounded down to a multiple of ALIGN and must then lie in
  /// [MIN_POOL_SIZE, MAX_POOL_SIZE]; otherwise InvalidParam. A pool overlapping one
  /// already added gives MemoryOverlap. The caller keeps the memory alive and
  /// untouched for the engine's life. The pool becomes one free block; a pool
  /// that touches another one (ends where it starts or starts where it ends) is
  /// joined with it while the joined pool stays within MAX_POOL_SIZE, so memory
  /// added piece by piece from one reservation behaves as one pool (blocks may
  /// span the seams, and dealloc's pool lookup stays short). O(pools).
  Result<void> add_memory(void* start, usize size) {
    const uptr s = reinterpret_cast<uptr>(start);
    size = align_down(size, ALIGN);
    uptr e = 0;
    if (s == 0 || !is_aligned(s, ALIGN) || size < MIN_POOL_SIZE || size > MAX_POOL_SIZE || !checked_add(s, size, e))
      return AllocError::InvalidParam;
    Pool* below = nullptr;
    Pool* above = nullptr;
    for (Pool* p = pools_; p != nullptr; p = p->next) {
      if (s < p->end && p->start() < e) return AllocError::MemoryOverlap;
      if (p->end == s) below = p;
      if (p->start() == e) above = p;
    }
    Pool* pool = reinterpret_cast<Pool*>(start);
    pool->next = pools_;
    pool->end = e;
    pools_ = pool;
    Block* sentinel = pool->sentinel();
    sentinel->size_flags = 0;
    sentinel->set_used(0);
    Block* first = pool->first();
    first->size_flags = pool->block_bytes();  // used, no PREV_FREE: release() frees it
    total_ += pool->block_bytes();
    release(first);
    if (below != nullptr && join(below, pool)) pool = below;
    if (above != nullptr) join(pool, above);
    return ok();
  }

  /// Allocates at least `size` bytes aligned to `align` (a power of two; values
  /// up to ALIGN cost nothing extra). size 0 gives a minimal block. Errors:
  /// InvalidParam for a zero or non-power-of-two align or size > MAX_OBJECT_SIZE;
  /// NoMemory when no free block fits (the engine is then unchanged).
  Result<void*> alloc(usize size, usize align = ALIGN) {
    if (!is_pow2(align) || size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    const usize need = block_size_for(size);
    // An aligned block is cut out of a larger one: the front gap (0, or at least
    // MIN_BLOCK so that it can live as a free block) is at most
    // MIN_BLOCK + align - ALIGN bytes, so search for that much more.
    usize search = need;
    if (align > ALIGN && !checked_add(need, MIN_BLOCK + (align - ALIGN), search)) return AllocError::NoMemory;
    if (search > MAX_POOL_SIZE - detail::TLSF_POOL_OVERHEAD) return AllocError::NoMemory;
    Block* b = find_free(search);
    if (b == nullptr) return AllocError::NoMemory;
    unlink(b);
    if (align > ALIGN) b = split_front(b, align);
    carve(b, need);
    used_ += b->size();
    return b->payload();
  }

  /// Frees a block by pointer alone (what free() needs). NotAllocated when p is
  /// not a live block of this engine: outside every pool, misaligned, already
  /// freed (FREE bit set), or not the start of a block (header check failed,
  /// see tlsf_block.hpp for what that catches). The block coalesces at once.
  /// Cost: O(1), plus a walk of the pool chain to prove p is ours (pools that
  /// touch are joined, so the chain is as long as the number of disjoint ranges).
  Result<void> dealloc(void* p) { return free_live(live_block(p)); }

  /// dealloc(p) for a caller that knows p's pool: O(1), no walk of the pool
  /// chain (many disjoint pools free as fast as one). pool_start must be the
  /// start of a pool of this engine (precondition: what add_memory was given,
  /// when that pool was not joined to a lower one). NotAllocated as dealloc(p),
  /// also when p is not in that pool.
  Result<void> dealloc_in_pool(const void* pool_start, void* p) {
    return free_live(live_block_in(static_cast<const Pool*>(pool_start), p));
  }

  /// ByteAllocator form: frees what alloc(size, align) returned. InvalidParam for
  /// a bad align; NotAllocated as dealloc(p), and also when p is not aligned to
  /// align or size exceeds the block's usable size (not what alloc returned).
  Result<void> dealloc(void* p, usize size, usize align) {
    if (!is_pow2(align)) return AllocError::InvalidParam;
    Block* b = live_block(p);
    if (b == nullptr || !is_ptr_aligned(p, align) || size > b->size() - BLOCK_OVERHEAD)
      return AllocError::NotAllocated;
    used_ -= b->size();
    release(b);
    return ok();
  }

  /// Bytes usable at p, a live block (>= the size it was allocated or resized
  /// with, all writable); NotAllocated as for dealloc(p).
  Result<usize> usable_size(const void* p) const { return usable_of(live_block(p)); }
  /// usable_size(p) with p's pool known, as for dealloc_in_pool.
  Result<usize> usable_size_in_pool(const void* pool_start, const void* p) const {
    return usable_of(live_block_in(static_cast<const Pool*>(pool_start), p));
  }

  /// Resizes the live block at p to hold new_size bytes without moving it (for
  /// realloc): shrinking always succeeds (the tail, if big enough, is freed and
  /// coalesced); growing succeeds when the next block is free and large enough.
  /// Returns p. NotAllocated as for dealloc(p); InvalidParam for new_size >
  /// MAX_OBJECT_SIZE; NoMemory when it cannot grow in place (nothing changed).
  Result<void*> try_resize_in_place(void* p, usize new_size) { return resize_live(live_block(p), new_size); }
  /// try_resize_in_place(p, new_size) with p's pool known, as for dealloc_in_pool.
  Result<void*> try_resize_in_pool(const void* pool_start, void* p, usize new_size) {
    return resize_live(live_block_in(static_cast<const Pool*>(pool_start), p), new_size);
  }

  /// Takes back every pool that is one free block (no live block in it) and
  /// calls f(void* start, usize size) with the pool's range: the start
  /// add_memory was given and that size rounded down to ALIGN (or the joined
  /// range, for pools that were joined), the caller's again, to unmap or
  /// reuse. Returns how many. f must not call into this engine. O(pools).
  template <class F>
  usize remove_free_pools(F f) {
    usize removed = 0;
    for (Pool** link = &pools_; *link != nullptr;) {
      Pool* pool = *link;
      Block* first = pool->first();
      if (!first->is_free() || first->size() != pool->block_bytes()) {
        link = &pool->next;
        continue;
      }
      unlink(first);
      *link = pool->next;
      total_ -= pool->block_bytes();
      ++removed;
      f(static_cast<void*>(pool), pool->end - pool->start());
    }
    return removed;
  }

  /// Calls f(void* start, usize bytes) for the interior of every free block with
  /// at least min_bytes (and > 0) of it: memory the engine neither reads nor
  /// writes while the block stays free, so the runtime may madvise/discard it
  /// (start is word-aligned, not page-aligned). f must not call into this
  /// engine. O(free blocks).
  template <class F>
  void for_each_free_run(usize min_bytes, F f) const {
    for (u64 fl_map = fl_bitmap_; fl_map != 0; fl_map &= fl_map - 1) {
      const u32 fl = ctz64(fl_map);
      for (u64 sl_map = sl_bitmap_[fl]; sl_map != 0; sl_map &= sl_map - 1) {
        for (Block* b = heads_[fl * SL_COUNT + ctz64(sl_map)]; b != nullptr; b = b->next_free) {
          const usize run = b->size() - FREE_RUN_SKIP;
          if (run != 0 && run >= min_bytes) f(reinterpret_cast<void*>(b->addr() + sizeof(Block)), run);
        }
      }
    }
  }

  /// Walks every pool block by block and every free list, checking the
  /// invariants of tlsf_block.hpp, the bitmaps against the lists, each free block's
  /// class, and that block sizes add up to each pool and to the stats. Returns
  /// true when all hold; otherwise calls on_error(const char* what, const void*
  /// where) for the first violation and returns false. O(blocks); for tests.
  template <class F>
  bool verify(F on_error) const;
  /// verify() without a report.
  bool verify() const {
    return verify([](const char*, const void*) {});
  }

  /// Bytes of all blocks of all pools (see the accounting note above).
  usize total_bytes() const { return total_; }
  /// Bytes of blocks handed out, headers included.
  usize used_bytes() const { return used_; }
  /// Bytes of free blocks, headers included (total - used).
  usize available_bytes() const { return total_ - used_; }

 private:
  /// Free-block bytes that are metadata: header, next link and footer.
  static constexpr usize FREE_RUN_SKIP = sizeof(Block) + detail::TLSF_WORD;

  /// Block size serving `size` payload bytes. size <= MAX_OBJECT_SIZE, so the
  /// round-up cannot overflow.
  static usize block_size_for(usize size) {
    const usize b = align_up(size + BLOCK_OVERHEAD, ALIGN);
    return b < MIN_BLOCK ? MIN_BLOCK : b;
  }

  /// dealloc of what live_block found (null: NotAllocated).
  Result<void> free_live(Block* b) {
    if (b == nullptr) return AllocError::NotAllocated;
    used_ -= b->size();
    release(b);
    return ok();
  }
  static Result<usize> usable_of(const Block* b) {
    if (b == nullptr) return AllocError::NotAllocated;
    return b->size() - BLOCK_OVERHEAD;
  }
  /// try_resize_in_place of what live_block found.
  Result<void*> resize_live(Block* b, usize new_size) {
    if (b == nullptr) return AllocError::NotAllocated;
    if (new_size > MAX_OBJECT_SIZE) return AllocError::InvalidParam;
    const usize need = block_size_for(new_size);
    const usize old = b->size();
    if (need > old) {
      Block* next = b->next_phys();
      if (!next->is_free() || old + next->size() < need) return AllocError::NoMemory;
      unlink(next);
      b->set_used(old + next->size());
      next->scrub();
      b->next_phys()->clear_prev_free();
    }
    split_tail(b, need);
    used_ = used_ - old + b->size();
    return b->payload();
  }

  /// The live block whose payload is p, or null (see dealloc(p)). Reads nothing
  /// outside the pools, so any pointer value is safe.
  Block* live_block(const void* p) const {
    const uptr a = reinterpret_cast<uptr>(p);
    const Pool* pool = pools_;
    while (pool != nullptr && !pool->holds_payload(a)) pool = pool->next;
    return live_block_in(pool, p);
  }
  /// live_block(p) when p's pool is known (null: not ours).
  static Block* live_block_in(const Pool* pool, const void* p) {
    const uptr a = reinterpret_cast<uptr>(p);
    if (pool == nullptr || !is_aligned(a, ALIGN) || !pool->holds_payload(a)) return nullptr;
    Block* b = Block::from_payload(p);
    if (b->is_free() || !b->check_ok()) return nullptr;
    // A forged or corrupt header must not send us outside the pool.
    if (b->size() < MIN_BLOCK || b->size() > pool->sentinel()->addr() - b->addr()) return nullptr;
    if (b->next_phys()->prev_is_free()) return nullptr;
    return b;
  }

  /// First free block of at least `search` bytes, or null. O(1): two bitmap scans
  /// from the rounded-up class; failing that, the head of the class below it,
  /// the request's own class (so a request for a whole free pool still fits).
  Block* find_free(usize search) const;

  /// Pushes free block b on the front of its class list and sets the bitmap bits.
  void link(Block* b);

  /// Takes free block b out of its class list, clearing bitmap bits that empty.
  void unlink(Block* b);

  /// Frees block b (not in any list; its neighbours consistent): merges it with a
  /// free previous and/or next block, writes the footer, sets the next block's
  /// PREV_FREE and links the result.
  void release(Block* b);

  /// Joins pool `upper`, which starts where `lower` ends, into `lower` unless the
  /// result would exceed MAX_POOL_SIZE. The seam — lower's sentinel and upper's
  /// pool header, exactly MIN_BLOCK bytes — becomes a block that is freed and
  /// coalesces with the free blocks on either side of it.
  bool join(Pool* lower, Pool* upper);

  // alloc works on a block b just taken out of its free list. Since b was free,
  // the invariants say its previous block is used and its next block is used
  // with PREV_FREE set. So pieces cut off b's front or tail never need merging,
  // and the next block's header need not even be read while a free tail
  // follows b (its PREV_FREE stays right): one cache miss fewer on the common
  // path, where the next header is often cold.

  /// Unlinked free block b: moves its start forward so the payload is
  /// `align`-aligned and frees the front gap (0 or >= MIN_BLOCK bytes; alloc
  /// searched for room). Returns the aligned, still unlinked block.
  Block* split_front(Block* b, usize align);

  /// Unlinked free block b of at least `need` bytes becomes a used block: of
  /// `need` bytes with a free tail when the rest can stand as a block, else of
  /// its whole size (then the next block learns its neighbour is used).
  void carve(Block* b, usize need);

  /// Used block b of at least `need` bytes (try_resize_in_place): cuts it to
  /// `need` and frees the tail, which merges with a free next block, when the
  /// tail can stand as a block (else b keeps the slack).
  void split_tail(Block* b, usize need);

  Block* heads_[FL_COUNT * SL_COUNT] = {};  ///< free-list heads, class (fl, sl) at fl * SL_COUNT + sl
  u64 sl_bitmap_[FL_COUNT] = {};          ///< bit sl: list (fl, sl) non-empty
  u64 fl_bitmap_ = 0;                     ///< bit fl: sl_bitmap_[fl] != 0
  Pool* pools_ = nullptr;                 ///< pools, newest first
  usize total_ = 0;
  usize used_ = 0;
};

static_assert(ByteAllocator<Tlsf<TlsfDefaultConfig>>);
static_assert(ByteAllocator<Tlsf<TlsfSmallConfig>>);

}  // namespace strata

#include "strata/engine/tlsf_free_blocks.hpp"
#include "strata/engine/tlsf_verify.hpp"
