// strata runtime: huge blocks (above MEDIUM_MAX, or aligned beyond what the
// other engines serve). Each is a run of whole segments from the page source,
// with a header just before the block, and goes back to the OS the moment it
// is freed, unless the cache of freed runs keeps it.
//
// Layout, alignment <= 64 (every malloc): [header | block ... to a page end | unused]
// with the block at base + 64, as glibc places an mmapped chunk. Larger
// alignments: [... | header page | block (to a page end) | unused], the block
// at base + max(page, align), so any power-of-two alignment up to and beyond
// the segment size is honoured.
//
// Reuse: a program that cycles large buffers (5-25 MiB, say) would pay page
// faults for every cycle if each free went straight back to the OS. So a
// freed run of at most CACHE_MAX_RUN bytes is kept, still mapped, in a small
// cache (at most the live huge bytes, within 8..64 MiB) and handed to the
// next huge request it fits, the smallest such run, whatever its size (a
// miss releases the runs too small for it before mapping fresh memory). A
// run reused for a smaller block gives back the pages its last block used
// past the new block's end: they would stay resident, unused. Before, a run
// served only blocks of half its size or more, and big runs waited, resident,
// while smaller requests mapped fresh memory. Peak RSS against jemalloc's,
// with the moves below (one run of scripts/bench.sh): realloc-grow 1.05 ->
// 0.79, big-cycle-mixed 0.92 -> 0.78, for +15% of big-cycle-mixed's time
// (0.80 -> 0.92: the pages given back fault in again). A run the
// program split (a refused move, below) is not kept: it may carry the
// program's mprotect. Whether runs are kept at all, and how old they may
// grow, is the purge policy's (purge.hpp): release() takes the age.
//
// Growth: realloc of a huge block that its run cannot hold moves the block's
// pages into a new run instead of copying them (mremap: page tables move,
// data stays), as glibc does for its mmapped chunks; a copy writes every
// byte again and keeps the old and the new block resident at once, then the
// old run's pages in the cache (realloc-grow's time against jemalloc's: 0.88
// copying, 0.50 moving). Two hazards shape the move. A failed MREMAP_FIXED
// may already have unmapped its destination (kernels before 6.17), where
// another mapping of the process could land and strata would later unmap
// it. And kernels from 6.17 move a range of several mappings at one size,
// and can stop halfway (a userfaultfd page, the mapping count), which would
// lose the block. So the block goes in two moves, each aimed where a hole is
// harmless and each one that grows (a grow takes a single mapping or
// nothing): first out to a scratch range of the kernel's choosing, one page
// longer than the block, the hole left in the old run mapped again at once;
// then from there into the new run, grown to its end, whose single mapping
// stays one (its guard page aside: lifting a guard lets the kernel merge the
// pieces back). So every run is one mapping, and a move is refused only when
// the program split a block with mprotect or mmap: the block stays where it
// was and is copied, and any range the kernel may have unmapped is released
// only when mapping it anew shows it free. After 16 refusals, realloc copies.
//
// Guard: with huge_guard (the default) the page right after a block's usable
// end is made inaccessible, so a linear overflow faults at its first byte
// past the end. The run is mapped with room for it (the address space of a
// page; no memory). A cached run keeps its guard, so a program cycling
// buffers of one size pays no mprotect; a reuse at another size moves it.
// A fault on a guard is reported by strata's SIGSEGV handler (guarded.hpp)
// as a heap-buffer-overflow naming the block, which guard_owner finds
// through the list of live blocks (their headers are linked).
//
// HugeHeap is one of the Runtime's heap components (central.hpp).
// Thread-safety: every method may be called from any thread.
#pragma once
#include "platform/lock.hpp"
#include "platform/page_source.hpp"
#include "runtime/central.hpp"

namespace strata::rt {

struct HugeHeader;  // huge.cpp: the header before each block

class HugeHeap {
 public:
  /// A heap mapping its blocks from `pages` (the Runtime's page source).
  explicit constexpr HugeHeap(PageSource* pages) : pages_(pages) {}

  /// A huge block of at least n bytes aligned to align (power of two >= 16).
  /// Fresh memory: all zero. Null when out of memory or n is too large.
  void* alloc(usize n, usize align);

  /// Usable bytes alloc(n, align) would give (0 when n is too large).
  static usize usable_for(usize n, usize align);

  /// Frees huge block p; aborts naming fn when p is not the start of one.
  /// Returns the profiler record p carried (set_sample), 0 for most blocks;
  /// *usable (when non-null) gets p's usable bytes.
  u32 free(void* p, const char* fn, usize* usable = nullptr);

  /// Marks live huge block p as sampled by the heap profiler (record != 0).
  void set_sample(void* p, u32 record);
  /// The profiler record of live huge block p (0: not sampled).
  u32 sample_of(const void* p) const;

  /// Writable bytes of huge block p (validated as in free).
  usize usable_size(const void* p, const char* fn) const;

  /// Grows or shrinks p in place to n bytes when its segments allow; false otherwise.
  bool resize(void* p, usize n);

  /// Grows huge block p (malloc-aligned, as realloc has it) to at least n
  /// bytes in a new run by moving its pages rather than copying them (file
  /// comment, Growth); returns the new block, p no longer valid. Null when
  /// the kernel or the memory refuses: p is then as it was (the caller
  /// copies). Not for alignments above 64 or shrinking.
  void* grow_by_moving(void* p, usize n);

  /// True when huge block p was freshly mapped (all zero), not reused from the cache.
  bool is_fresh(const void* p) const;

  /// True when p is one of the last huge blocks given back to the OS: a pointer
  /// strata no longer maps but did hand out, i.e. a double free (for messages).
  bool recently_released(const void* p) const;

  /// Whether blocks get a guard page (the huge_guard option; at init).
  void set_guard(bool on) { guard_ = on; }

  /// The SIGSEGV handler's question: when addr lies on the guard page of a
  /// live huge block, that block and its usable bytes, and true; false for
  /// any other address. Takes no lock and never allocates.
  bool guard_owner(const void* addr, const void** block, usize* usable) const;

  /// Whether freed runs are kept for reuse (the purge policy decides: at
  /// init, and while strata is over its soft memory limit). Any thread.
  void set_keep_freed_runs(bool keep) { __atomic_store_n(&keep_freed_, keep, __ATOMIC_RELAXED); }

  /// Component operations (central.hpp): release gives back the cached runs
  /// freed at least min_age_ms ago (0: all), whatever `what`; its bytes.
  usize release(Release what, u64 min_age_ms);
  void collect(Snapshot& s) const;
  void lock() { cache_lock_.lock(); }
  void unlock() { cache_lock_.unlock(); }
  void reset_lock_in_child() { cache_lock_.reset(); }

 private:
  /// A freed run kept for reuse.
  struct CachedRun {
    void* base;
    usize nsegs;
    u64 freed_ms;
    char* guard;  ///< its inaccessible page (null: none)
    char* used_end;  ///< end of the pages its last block could have made resident
  };
  static constexpr usize CACHE_SLOTS = 16;
  /// The last RELEASED_RING blocks whose memory went back to the OS, so a
  /// second free of one can be named a double free (its segments are no
  /// longer strata's, which would otherwise read as a foreign pointer).
  static constexpr usize RELEASED_RING = 64;

  /// For an n-byte block at `offset` in its run: its usable bytes (to a page
  /// end) and the run's bytes (the header's, the block's and the guard's
  /// pages, in whole segments); false on overflow.
  bool run_layout(usize n, usize offset, usize page, usize& body, usize& span) const;
  bool cache_take(usize nsegs, CachedRun& out);
  bool cache_put(const CachedRun& run);
  /// Takes out of the cache every run `pick` selects, then releases them
  /// outside the lock; their bytes.
  template <class Pick> usize release_cached(Pick pick);
  void remember_released(const void* p);
  /// Moves run's guard page to `want` (null: none); the page it ends on, or
  /// null when the kernel refuses (too many mappings: the block goes unguarded).
  static char* move_guard(char* have, char* want);
  void link(HugeHeader* h);
  void unlink(HugeHeader* h);

  PageSource* pages_;
  bool keep_freed_ = true;
  bool guard_ = false;
  bool moves_ = true;  ///< realloc moves pages; cleared after 16 refusals (atomic)
  u32 move_refusals_ = 0;  ///< page moves refused (atomic; at 16, moves stop)
  usize moves_done_ = 0;   ///< page moves made (atomic; statistics)
  HugeHeader* live_ = nullptr;  ///< live blocks' headers, linked (under cache_lock_)
  usize count_ = 0;  ///< live blocks (atomic)
  usize bytes_ = 0;  ///< their usable bytes (atomic)
  Lock cache_lock_{};
  CachedRun cache_[CACHE_SLOTS] = {};
  usize cache_used_ = 0;   ///< slots in use: cache_[0, cache_used_)
  usize cache_bytes_ = 0;  ///< bytes of the cached runs (atomic; written under the lock)
  uptr released_[RELEASED_RING] = {};
  u32 released_next_ = 0;
};

}  // namespace strata::rt
