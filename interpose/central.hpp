// strata runtime: the central heaps, shared by all threads, each behind a lock.
//
//  - SmallHeap: the slab+buddy Heap engine over Small segments. Thread caches
//    take and return blocks in batches, so its lock is taken once per batch.
//    There are several (SmallArenas, g_small): each thread is given one to
//    refill from, so threads on different cores rarely meet on a lock; a
//    block always goes back to the arena whose segment holds it.
//  - MediumHeap: the TLSF engine over Medium segments, for blocks too big for
//    the slab classes and too small to deserve their own segments.
//
// Both grow by asking the page source for another segment when the engine
// answers NoMemory, give a segment back once nothing in it is in use (at a
// purge pass, malloc_trim, or when an allocation would fail), and report any
// block the engine refuses to take back (double free, pointer into a block,
// pointer never handed out) as misuse.
#pragma once
#include "engine_config.hpp"
#include "layout.hpp"
#include "lock.hpp"

namespace strata::rt {

class SmallHeap {
 public:
  constexpr SmallHeap() = default;

  /// Up to n blocks of class cls into out; returns how many (0 = out of memory).
  /// `arena` is this heap's index (its segments are tagged with it).
  usize alloc_batch(u32 arena, u32 cls, void** out, usize n);

  /// Takes n blocks of this heap back (any classes). Returns the first block
  /// the heap did not hand out or already has (the rest untouched), or null.
  void* dealloc_batch(void* const* blocks, usize n);

  /// Gives free runs of whole pages back to the OS; returns the bytes advised
  /// away, wholly free segments (returned to the page source) included.
  usize purge();
  /// Returns every segment with nothing in use to the page source; the bytes.
  usize release_free_segments();

  /// Calls f(const SmallEngine&) under the lock (statistics; f must not call strata).
  template <class F> void inspect(F f) { LockGuard g(lock_); f(static_cast<const SmallEngine&>(engine_)); }

  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  void reset_lock_in_child() { lock_.reset(); }

 private:
  bool grow(u32 arena);  // adds one Small segment; lock held
  usize release_free_locked();
  Lock lock_{};
  bool initialised_ = false;
  SmallEngine engine_{};
};

/// All small-heap arenas, with the calls that span them.
class SmallArenas {
 public:
  constexpr SmallArenas() = default;

  /// Sets how many arenas are used (min(MAX_SMALL_ARENAS, 2 x CPUs)); once, at init.
  void configure(u32 cpus);
  /// The arena for the next new thread (round robin).
  u32 next_arena();
  /// Arenas in use (statistics; mallctl arenas.narenas).
  u32 count() const { return count_; }

  /// Up to n blocks of class cls from arena a.
  usize alloc_batch(u32 a, u32 cls, void** out, usize n) { return heaps_[a].alloc_batch(a, cls, out, n); }

  /// Takes n blocks back, each to the arena that owns it (blocks from many
  /// arenas may be mixed: a thread frees what other threads allocated).
  /// Aborts naming `fn` on a block no arena handed out or already has.
  void dealloc_batch(void* const* blocks, usize n, const char* fn);

  /// Sums over the arenas.
  usize purge();
  usize release_free_segments();
  /// Calls f(const SmallEngine&) for each arena under its lock.
  template <class F>
  void inspect(F f) {
    for (SmallHeap& h : heaps_) h.inspect(f);
  }
  /// Fork support: every arena's lock, in index order.
  void lock();
  void unlock();
  void reset_lock_in_child();

 private:
  SmallHeap heaps_[MAX_SMALL_ARENAS]{};
  u32 count_ = 1;
  u32 next_ = 0;
};

class MediumHeap {
 public:
  constexpr MediumHeap() = default;

  /// A block of at least size bytes aligned to align; null when out of memory.
  void* alloc(usize size, usize align);
  /// Frees p (a Medium-segment pointer); aborts naming fn on misuse.
  void dealloc(void* p, const char* fn);
  /// Usable bytes of live block p; aborts naming fn on misuse.
  usize usable_size(const void* p, const char* fn);
  /// Resizes p in place to new_size when its neighbour allows; false otherwise.
  bool resize_in_place(void* p, usize new_size);
  /// As SmallHeap::purge and SmallHeap::release_free_segments.
  usize purge();
  usize release_free_segments();
  /// Calls f(const MediumEngine&) under the lock (statistics; f must not call strata).
  template <class F> void inspect(F f) { LockGuard g(lock_); f(static_cast<const MediumEngine&>(engine_)); }

  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  void reset_lock_in_child() { lock_.reset(); }

 private:
  bool grow();  // adds one Medium segment; lock held
  usize release_free_locked();
  Lock lock_{};
  bool initialised_ = false;
  MediumEngine engine_{};
};

extern SmallArenas g_small;
extern MediumHeap g_medium;

}  // namespace strata::rt
