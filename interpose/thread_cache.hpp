// strata runtime: the per-thread front cache.
//
// Each thread keeps, per size class, a singly linked list of free blocks
// (linked through the block's first word). malloc pops, free pushes: no lock
// and no atomic read-modify-write on that path. A list that runs dry is
// refilled with a batch from the central SmallHeap; one that grows past its
// limit gives half back in a batch. Blocks freed by another thread simply join
// the freeing thread's cache and reach the central heap by the same batches.
//
// Double free: free() stores tag(p) = p ^ secret in the freed block's second
// word and malloc() clears it when it hands the block out again, so a block
// whose second word already holds its tag is a block that is free right now,
// in whatever cache or central list it sits: free() aborts on it. (A program
// would have to store that exact 64-bit value itself for a false alarm.)
//
// Warm-up: a new thread serves its first WARMUP_ALLOCS allocations straight
// from its arena and caches nothing, so a thread that exits soon (or that
// starts allocating inside its last TLS destructor round) leaves nothing behind.
//
// Thread exit: a pthread key destructor gives every cached block back; after
// that the thread's cache is marked Dead and the thread's later calls (from
// other destructors) go straight to the central heap.
#pragma once
#include "engine_config.hpp"
#include "layout.hpp"
#include "lock.hpp"

namespace strata::rt {

struct Bin {
  void* head = nullptr;  ///< first free block; its word 0 links the next
  i32 room = 0;          ///< limit - blocks in the list; free() overflows when it goes below 0
  u32 limit = 0;         ///< most blocks the list may hold (0 until the thread is set up)
  u32 count() const { return static_cast<u32>(static_cast<i32>(limit) - room); }
};

/// Fresh: never allocated. Warming: served straight from its arena (no cached
/// blocks) for its first WARMUP_ALLOCS allocations. Live: caching. Dead:
/// past its exit destructor, served straight from its arena again.
enum class CacheState : u8 { Fresh = 0, Warming = 1, Live = 2, Dead = 3 };

/// Allocations a new thread makes before its cache turns on. A cache set up
/// in glibc's last round of TLS destructors is never flushed (no round is
/// left to run ours), and short-lived threads gain little from one anyway:
/// so a thread holds no cached blocks until it has made this many calls,
/// and until then it uses arena 0, as all warming threads do. 256 rather
/// than 64: thread_churn (threads of 200 allocations) peaks at 5.6-6.0 MiB
/// instead of 7.3 (jemalloc 5.5-6.0) in the same time; a long-lived thread
/// pays ~256 uncached calls once.
inline constexpr u32 WARMUP_ALLOCS = 256;

/// Blocks a bin's first refill takes. Each refill after it takes twice as
/// many, up to half the bin: a thread that uses a class a few times pulls a
/// few blocks of it, not half a bin (thread-churn: 200 allocations a thread,
/// over 24 classes, pulled ~600 KiB a thread into caches that never used it).
inline constexpr u32 FIRST_REFILL = 4;

struct ThreadCache {
  Bin bins[NUM_SMALL_CLASSES];
  CacheState state = CacheState::Fresh;
  u8 arena = 0;  ///< the small-heap arena this thread refills from
  u32 warmup_left = 0;  ///< allocations left in the Warming state
  u8 busy = 0;          ///< 1 while the thread is inside a bin operation (bins_enter)
  /// Per class: the next refill takes FIRST_REFILL << refill_log[cls] blocks
  /// (at most half the bin): a bin's first refills are small and grow with use.
  u8 refill_log[NUM_SMALL_CLASSES] = {};
};

/// This thread's cache (static TLS, initial-exec: no allocation to reach it).
extern constinit thread_local ThreadCache t_cache;

/// Brackets every change to this thread's bins. A signal handler that calls
/// malloc or free while the code it interrupted is halfway through one (a
/// block popped but the head not yet moved) would hand one block out twice;
/// instead it finds the mark and aborts with a message (RELIABILITY #20; the
/// central heaps' locks catch the same on the slow paths). Compiler fences
/// only: a signal runs on the same thread. A compare, a branch and two byte
/// stores per bracket (with the other misuse checks, 30 instructions per
/// malloc+free pair: docs/benchmarks.md).
inline void bins_enter() {
  if (__builtin_expect(t_cache.busy != 0, 0)) reentered();
  t_cache.busy = 1;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the mark is set before the bin is touched
}
inline void bins_leave() {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the bin is done before the mark clears
  t_cache.busy = 0;
}

/// Process secret for double-free tags (random, set once at init; never 0 after).
extern u64 g_tag_secret;

/// Tag a freed block carries in its second word.
inline u64 free_tag(const void* p) { return reinterpret_cast<uptr>(p) ^ g_tag_secret; }

/// Slow path of malloc for class cls: sets the thread up if needed, refills
/// the bin from the central heap, returns one block (null: out of memory).
void* cache_refill(u32 cls);

/// Slow path of free: the bin of cls is over its limit (or the thread is not
/// set up, or dead); gives blocks back so the bin is at half its limit.
void cache_overflow(u32 cls);

/// Gives every cached block of this thread back (thread exit, malloc_trim).
void cache_flush_all();

}  // namespace strata::rt
