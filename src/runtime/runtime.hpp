// strata runtime: the Runtime, the one owner of process-wide allocator state.
//
// One constinit object (g_runtime) holds every heap and every piece of
// process state the hosted allocator has: the page source, the small-heap
// arenas, the medium heap, the huge heap, the options, the state shared by
// the thread caches, the purge policy, the memory limits, the stats epoch
// and the initialisation state. What spans the components is a Runtime operation
// that iterates them through one function (for_each_heap): locking for
// fork, releasing memory (purge pass, malloc_trim, out-of-memory reclaim)
// and the statistics snapshot. A new whole-process concern (a sampler, a
// limit) is one more member with the same few operations, not an entry in
// several lists.
//
// The only mutable state outside it: the small arenas' heaps (g_small_heaps
// in runtime.cpp, zero until used and so kept in .bss, out of the RSS of
// a process that leaves arenas unused), the thread-local ThreadCache
// (thread_cache.hpp) and RuntimeThreadState (below), the lock's per-thread
// count (platform/lock.hpp), the segment map (platform/segment_map.hpp: one
// load at a link-time address on the free() path) and the cached page size
// (platform/os.cpp).
//
// Initialisation is constant (constinit) plus a short lazy step on the first
// slow path (ensure_initialised): the double-free secret, the options, the
// purge clock. Neither allocates, so the first malloc may come from the
// dynamic loader, from a constructor or from inside dlsym. What may allocate
// (thread-exit key, fork handlers, atexit) runs after the state is ready and
// the init lock is released, so a recursive malloc is served normally.
#pragma once
#include "platform/lock.hpp"
#include "platform/page_source.hpp"
#include "runtime/central.hpp"
#include "runtime/huge.hpp"
#include "runtime/limits.hpp"
#include "runtime/options.hpp"
#include "runtime/guarded.hpp"
#include "runtime/prof.hpp"
#include "runtime/purge.hpp"
#include "runtime/stats.hpp"

namespace strata::rt {

/// Process-wide state of the thread caches (thread_cache.hpp).
struct CacheShared {
  u64 tag_secret = 0;       ///< secret of the double-free tags (random, set at init; never 0 after)
  u32 exit_key = 0;         ///< the thread key whose destructor flushes a cache
  bool exit_key_ok = false; ///< exit_key exists
};

/// The Runtime's per-thread state other than the cache itself.
struct RuntimeThreadState {
  static constexpr u32 MAX_FORK_DEPTH = 8;
  u32 purge_tick = 0;  ///< slow-path calls, for PurgePolicy::tick
  /// fork() may nest: a signal handler that interrupted a fork (between its
  /// prepare and parent/child handlers) may fork again. Each level remembers
  /// whether it locked, on the forking thread (a fork's handlers all run there).
  u32 fork_depth = 0;
  bool fork_skipped[MAX_FORK_DEPTH] = {};
  bool in_post_init = false;  ///< this thread runs the steps that may allocate
};
extern constinit thread_local RuntimeThreadState t_runtime;

class Runtime {
 public:
  /// The small-heap arenas' heaps live in `arenas`, apart (SmallArenas).
  explicit constexpr Runtime(SmallHeap (&arenas)[MAX_SMALL_ARENAS])
      : small(&pages, arenas), medium(&pages), huge(&pages), prof(&pages, &huge), limits(&pages) {}
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  CacheShared caches;  ///< first: free() reads its tag secret at a link-time address
  PageSource pages;
  SmallArenas small;
  MediumHeap medium;
  HugeHeap huge;
  Profiler prof;  ///< the heap profiler: sampled blocks, their stacks, dumps (prof.hpp)
  GuardedPool guarded;  ///< guarded sampling: blocks between inaccessible pages (guarded.hpp)
  Options options;
  PurgePolicy purge;
  MemoryLimits limits;  ///< hard and soft limits, cgroup, THP mode (limits.hpp)
  StatsEpoch stats_epoch;

  /// Makes sure the lazy step has run (idempotent, re-entrancy safe, any thread).
  void ensure_initialised() {
    if (__builtin_expect(__atomic_load_n(&init_state_, __ATOMIC_ACQUIRE) == 2, 1)) return;
    initialise();
  }

  /// Calls f on each heap component, in lock order: the small arenas, the
  /// medium heap and the profiler's sampled heap and tables (each may give
  /// the huge cache back while it holds its lock, before it maps a segment:
  /// central.cpp add_segments), then the huge cache, the guarded pool; the
  /// page source, which they all call into, comes after all of them. (With
  /// the huge cache before the profiler, fork's prepare handler deadlocked
  /// against a sampled allocation growing its heap: preload.prof.fork_under_load
  /// hung about once in 80 runs.)
  template <class F>
  void for_each_heap(F f) {
    f(small);
    f(medium);
    f(prof);
    f(huge);
    f(guarded);
  }

  /// Gives memory back to the OS from every heap (central.hpp's Release;
  /// huge runs freed less than min_age_ms ago stay); the bytes given back.
  /// Holds no lock on entry; the calling thread's cache is the caller's.
  usize release(Release what, u64 min_age_ms);

  /// The statistics snapshot: each heap under its own lock in turn, then the
  /// census of segments (resident pages) and the limits. Never allocates.
  Snapshot snapshot();

  /// Fork: every strata lock in one fixed order (init, heaps, page source),
  /// released in both processes after it; in the child, forced free.
  void lock_all();
  void unlock_all();
  void reset_in_child();

 private:
  void initialise();  // the lazy step (runtime.cpp)
  void post_init();   // the steps that may allocate

  Lock init_lock_{};
  u32 init_state_ = 0;      ///< 0 not started, 1 running, 2 ready
  u32 post_init_done_ = 0;  ///< 0 not started, 1 running, 2 done
};

/// The process's allocator (constant-initialised: usable before constructors).
/// Hidden on the declaration too, so that code in other files reads its
/// fields at a link-time address (one RIP-relative load, no GOT).
extern constinit Runtime g_runtime __attribute__((visibility("hidden")));

/// g_runtime.ensure_initialised().
inline void ensure_initialised() { g_runtime.ensure_initialised(); }

}  // namespace strata::rt
