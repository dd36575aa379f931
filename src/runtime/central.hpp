// strata runtime: the central heaps, shared by all threads, each behind a lock.
//
//  - SmallHeap: the slab+buddy Heap engine over Small segments. Thread caches
//    take and return blocks in batches, so its lock is taken once per batch.
//    There are several (SmallArenas): each thread is given one to
//    refill from, so threads on different cores rarely meet on a lock; a
//    block always goes back to the arena whose segment holds it.
//  - MediumHeap: the TLSF engine over Medium segments, for blocks too big for
//    the slab classes and too small to deserve their own segments. TLSF
//    keeps its block headers in band, right after each block, so every
//    medium block ends in a 16-byte canary (a value tied to its address,
//    outside the usable bytes): a write of 1 to 16 bytes past the usable end
//    lands on it, not on the next header, and the block's free or resize
//    finds it overwritten and aborts with a heap-buffer-overflow message
//    naming the block, before the engine reads anything it could corrupt.
//
// Both grow by asking the page source for another segment when the engine
// answers NoMemory, give a segment back once nothing in it is in use (at a
// purge pass, malloc_trim, or when an allocation would fail), and report any
// block the engine refuses to take back (double free, pointer into a block,
// pointer never handed out) as misuse.
//
// SmallArenas, MediumHeap and HugeHeap (huge.hpp) are the Runtime's heap
// components and offer the same few operations, which Runtime::for_each_heap
// iterates: lock / unlock / reset_lock_in_child (fork), release (purge,
// malloc_trim, out-of-memory reclaim) and collect (statistics).
#pragma once
#include "platform/lock.hpp"
#include "platform/page_source.hpp"
#include "platform/segment_map.hpp"
#include "runtime/config.hpp"
#include "runtime/stats.hpp"

namespace strata::rt {

/// What a heap gives back to the OS when asked (Runtime::release).
enum class Release : u8 {
  FreeSegments,    ///< wholly free segments and cached huge runs (out-of-memory reclaim)
  FreeHugePages,   ///< that, and the free pages inside the segments in use where they
                   ///< fill whole transparent huge pages (timed purge under thp:always)
  FreePages,       ///< that, and every free page inside the segments in use (purge, trim, limits)
};

class SmallHeap {
 public:
  constexpr SmallHeap() = default;

  /// Up to n blocks of class cls into out; returns how many (0 = out of memory).
  /// `arena` is this heap's index (its segments are tagged with it).
  usize alloc_batch(PageSource& pages, u32 arena, u32 cls, void** out, usize n);

  /// Takes n blocks of this heap back (any classes). Returns the first block
  /// the heap did not hand out or already has (the rest untouched), or null.
  void* dealloc_batch(void* const* blocks, usize n);

  /// A chain of free blocks of one class, linked through word 0 (the last
  /// link null) and tagged free, as a thread cache's bin holds them.
  struct Chain {
    void* head = nullptr;
    u32 n = 0;
  };

  /// True when p is a live block of class cls of this heap, as
  /// dealloc_batch would accept it. Lock-free: for blocks the caller owns
  /// (free in its cache), whose liveness cannot change meanwhile. A block
  /// that passed the thread cache's checks but is not live here (a stale
  /// pointer freed twice after its memory was written to) must not be kept
  /// in the transfer cache: it would be handed out while the engine may hand
  /// it out too.
  bool live(u32 cls, const void* p) const { return engine_.live_in_region(segment_base(p), p, cls); }

  /// The transfer cache (blocks flushed by one thread, refilled by another:
  /// producer/consumer): keeps chain c of class cls, whose last block is
  /// tail (its link null), whole for a later take_chain of the class, so
  /// neither side does per-block engine work. Every block must be of this
  /// heap and checked live() by the caller. Returns false, keeping nothing,
  /// when the class already holds TRANSFER_CHAINS chains or c would take the
  /// arena's kept bytes past TRANSFER_MAX_BYTES (the caller then gives the
  /// blocks back with dealloc_batch). Otherwise, when the most recent kept
  /// chain and c hold merge_max blocks or fewer together, c is linked in
  /// front of it (one chain for the taker); else c is kept as a chain of its own.
  bool put_chain(u32 cls, Chain c, void* tail, u32 merge_max);

  /// A chain of class cls kept by put_chain (the most recent), or none (n 0).
  Chain take_chain(u32 cls);

  /// Gives the transfer cache's chains back to the engine, returns every
  /// segment with nothing in use to the page source and, for
  /// Release::FreePages, advises away the free runs of whole pages in the
  /// others (FreeHugePages: of whole huge pages); returns the bytes given
  /// back (segments whole, advised runs by their resident pages).
  usize release(PageSource& pages, Release what);

  /// Calls f(const SmallEngine&, usize transfer_bytes) under the lock
  /// (statistics; f must not call strata).
  template <class F>
  void inspect(F f) {
    LockGuard g(lock_);
    LockGuard t(transfer_lock_);
    f(static_cast<const SmallEngine&>(engine_), transfer_bytes_);
  }

  void lock() {
    lock_.lock();
    transfer_lock_.lock();
  }
  void unlock() {
    transfer_lock_.unlock();
    lock_.unlock();
  }
  void reset_lock_in_child() {
    lock_.reset();
    transfer_lock_.reset();
  }

 private:
  bool grow(PageSource& pages, u32 arena);  // adds one Small segment; lock held
  void drain_transfer();                    // every kept chain back to the engine; both locks held

  /// Chains kept per class, and bytes kept per arena: a bound on memory that
  /// sits free between two threads. Blocks kept here are resident as free
  /// slots in their spans would be, and a purge pass gives them back. 32
  /// chains a class, so that the byte cap is what binds: a chain of a 1 KiB
  /// class is 16 blocks (half a bin), and a producer/consumer pair with 16
  /// batches of 256 sizes of 16..1024 B in flight holds ~500 blocks of each
  /// large class. At 8 chains prodcons refused 11.6k of 291k chains at 4
  /// threads (each refused chain goes block by block to the engine, and the
  /// producer refills from it), 1k at 2; at 32, 270 and 72: 10% less CPU at
  /// 4 threads. (At 4 chains, prodcons-2 had refused 73k of 154k.)
  static constexpr u32 TRANSFER_CHAINS = 32;
  static constexpr usize TRANSFER_MAX_BYTES = usize{4} << 20;

  Lock lock_{};           ///< the engine's
  Lock transfer_lock_{};  ///< the transfer cache's (taken after lock_ when both are)
  bool initialised_ = false;
  u8 transfer_count_[NUM_SMALL_CLASSES] = {};  ///< written under transfer_lock_, read without it
  usize transfer_bytes_ = 0;
  Chain transfer_[NUM_SMALL_CLASSES][TRANSFER_CHAINS] = {};
  SmallEngine engine_{};
};

/// All small-heap arenas, with the calls that span them.
class SmallArenas {
 public:
  /// Arenas growing out of `pages` (the Runtime's page source), their heaps
  /// in `heaps`: storage apart from the Runtime, all zero until an arena is
  /// used (runtime.cpp puts it in .bss, so the arenas a process never uses
  /// cost it no resident page).
  constexpr SmallArenas(PageSource* pages, SmallHeap (&heaps)[MAX_SMALL_ARENAS]) : pages_(pages), heaps_(heaps) {}

  /// Sets how many arenas are used (min(MAX_SMALL_ARENAS, 2 x CPUs)); once, at init.
  void configure(u32 cpus);
  /// The arena for a thread whose cache turns on: the one fewest caching
  /// threads use now (the lowest such index), counted as used by it until
  /// leave_arena. Threads that replace exited ones so land on the arenas
  /// those left, whose spans and free pages they reuse; round robin would
  /// spread each generation of short-lived workers over fresh arenas
  /// (docs/benchmarks.md, gen-churn and remote-random at 2 threads).
  u32 join_arena();
  /// A caching thread that had joined arena a exits.
  void leave_arena(u32 a);
  /// Arenas in use (statistics; mallctl arenas.narenas).
  u32 count() const { return count_; }

  /// Up to n blocks of class cls from arena a.
  usize alloc_batch(u32 a, u32 cls, void** out, usize n) { return heaps_[a].alloc_batch(*pages_, a, cls, out, n); }

  /// Takes n blocks back, each to the arena that owns it (blocks from many
  /// arenas may be mixed: a thread frees what other threads allocated).
  /// Aborts naming `fn` on a block no arena handed out or already has.
  void dealloc_batch(void* const* blocks, usize n, const char* fn);

  /// SmallHeap::live and SmallHeap::put_chain of arena a. A thread flushes
  /// a batch that is all one other arena's (remote frees, which that
  /// arena's own threads will refill from) with put_chain, anything else
  /// with dealloc_batch (a thread's own blocks go back to their spans, so
  /// emptied spans serve other classes: kept, they pinned ~7 MB in frag-churn).
  bool live(u32 a, u32 cls, const void* p) const { return heaps_[a].live(cls, p); }
  bool put_chain(u32 a, u32 cls, SmallHeap::Chain c, void* tail, u32 merge_max) {
    return heaps_[a].put_chain(cls, c, tail, merge_max);
  }

  /// A chain of class cls from arena a's transfer cache, or none (n 0).
  SmallHeap::Chain take_chain(u32 a, u32 cls) { return heaps_[a].take_chain(cls); }

  /// Component operations (file comment): every arena, in index order.
  usize release(Release what, u64 min_age_ms);
  void collect(Snapshot& s);
  /// Fills rows[0, NUM_SMALL_CLASSES), one per size class (statistics).
  void collect_classes(ClassRow* rows);
  void lock();
  void unlock();
  void reset_lock_in_child();

 private:
  PageSource* pages_;
  SmallHeap (&heaps_)[MAX_SMALL_ARENAS];
  u32 count_ = 1;
  u32 threads_[MAX_SMALL_ARENAS] = {};  ///< caching threads per arena (atomic; a hint, not a lock)
};

class MediumHeap {
 public:
  /// A heap growing out of `pages` (the Runtime's page source), its segments
  /// tagged `kind` (Medium; the profiler's heap of sampled blocks uses Sampled).
  explicit constexpr MediumHeap(PageSource* pages, SegmentKind kind = SegmentKind::Medium)
      : pages_(pages), kind_(kind) {}

  /// A block of at least size bytes (rounded up to MIN_ALIGN: what
  /// nallocx promises) aligned to align, its canary set; null when out of
  /// memory. *usable (when non-null) gets its usable bytes.
  void* alloc(usize size, usize align, usize* usable = nullptr);
  /// Frees p (a pointer into one of this heap's segments); aborts naming fn
  /// on misuse and on an overwritten canary. Returns the usable bytes p had.
  usize dealloc(void* p, const char* fn);
  /// Usable bytes of live block p (the canary excluded); aborts naming fn on misuse.
  usize usable_size(const void* p, const char* fn);
  /// Resizes p in place to new_size when its neighbour allows (the canary
  /// checked first, then moved to the new end); false otherwise.
  bool resize_in_place(void* p, usize new_size);
  /// Component operations (file comment); release as SmallHeap::release.
  usize release(Release what, u64 min_age_ms);
  void collect(Snapshot& s);
  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  void reset_lock_in_child() { lock_.reset(); }

 private:
  bool grow();  // adds one segment of kind_; lock held
  /// The engine's bytes of block p (usable + canary; 0 when p is not a live
  /// block) and in *bad the first overwritten canary byte (CANARY_BYTES
  /// when intact). Lock held; reports are made after it is released.
  usize inspect(const void* p, usize* bad) const;
  PageSource* pages_;
  SegmentKind kind_;
  Lock lock_{};
  bool initialised_ = false;
  MediumEngine engine_{};
};

}  // namespace strata::rt
