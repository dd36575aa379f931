// strata runtime: the per-thread front cache.
//
// Each thread keeps, per size class, a singly linked list of free blocks
// (linked through the block's first word). malloc pops, free pushes: no lock
// and no atomic read-modify-write on that path. A list that runs dry is
// refilled with a batch from the central small heap; one that grows past its
// limit gives half back in a batch. Blocks freed by another thread simply join
// the freeing thread's cache and reach the central heap by the same batches.
//
// ThreadCache is the only code that touches a bin, and the only code that
// knows the free-tag protocol:
//
// Double free: a block in a bin (or given back to the central heap from one)
// carries tag(p) = p ^ secret in its second word, and pop() clears it when it
// hands the block out again, so a block whose second word already holds its
// tag is a block that is free right now, in whatever cache or central list it
// sits: push() aborts on it. (A program would have to store that exact 64-bit
// value itself for a false alarm.)
//
// Re-entry: every change to a bin is bracketed by a per-thread mark. A signal
// handler that calls malloc or free while the code it interrupted is halfway
// through one (a block popped but the head not yet moved) would hand one
// block out twice; instead it finds the mark and aborts with a message
// (RELIABILITY #20; the central heaps' locks catch the same on slow paths).
//
// Warm-up: a new thread serves its first WARMUP_ALLOCS allocations straight
// from its arena and caches nothing, so a thread that exits soon (or that
// starts allocating inside its last TLS destructor round) leaves nothing behind.
//
// Thread exit: a thread-key destructor gives every cached block back; after
// that the thread's cache is marked Dead and the thread's later calls (from
// other destructors) go straight to the central heap.
//
// Thread-safety: a ThreadCache belongs to its thread (t_cache); nothing here
// may be called on another thread's cache.
#pragma once
#include "platform/lock.hpp"
#include "runtime/config.hpp"
#include "runtime/runtime.hpp"

namespace strata::rt {

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

/// Reports a double free of small block p. Never returns (not declared
/// [[noreturn]] so the fast path can tail-call it).
void small_double_free(const char* fn, const void* p);

class ThreadCache {
 public:
  constexpr ThreadCache() = default;

  /// The heap profiler's sampling countdown (runtime/prof.hpp owns its
  /// meaning: bytes this thread may still allocate before the next sample).
  /// Here rather than in the profiler's own thread-local so the malloc fast
  /// path reaches it through the TLS address it already has for the bins:
  /// one subtraction and one branch (sample_countdown), no second GOT load.
  i64 bytes_until_sample = 0;

  /// Pops a block of class cls; null when the bin is empty. The block's free
  /// tag is cleared: it is live from here on.
  void* pop(u32 cls) {
    enter();
    Bin& b = bins_[cls];
    void* p = b.head;
    if (__builtin_expect(p != nullptr, 1)) {
      b.head = *static_cast<void**>(p);
      ++b.room;
      static_cast<u64*>(p)[1] = 0;
    }
    leave();
    return p;
  }

  /// Takes back p, a block start of class cls (the caller validated that):
  /// aborts naming fn when p is free already (double free); gives half the
  /// bin back to the central heap when it is over its limit.
  void push(void* p, u32 cls, const char* fn) {
    u64* w = static_cast<u64*>(p);
    const u64 tag = free_tag(p);  // a local: the fences below need not reload the secret
    if (__builtin_expect(w[1] == tag, 0)) return small_double_free(fn, p);
    enter();
    Bin& b = bins_[cls];
    *static_cast<void**>(p) = b.head;
    w[1] = tag;
    b.head = p;
    if (__builtin_expect(--b.room < 0, 0)) {
      leave();
      return overflow(cls);
    }
    leave();
  }

  /// True when small block p carries its free tag: it is free right now.
  static bool is_free(const void* p) { return static_cast<const u64*>(p)[1] == free_tag(p); }

  /// Slow path of malloc for class cls (the bin is empty): sets the thread up
  /// if needed, refills the bin from the central heap and returns one block;
  /// null when out of memory.
  void* refill(u32 cls);

  /// Gives every cached block back to the central heap (malloc_trim, OOM
  /// reclaim, thread.tcache.flush). The cache stays usable.
  void flush_all();

  /// Creates the thread-exit key (once, at initialisation, no lock held).
  static void register_exit_key();

 private:
  struct Bin {
    void* head = nullptr;  ///< first free block; its word 0 links the next
    i32 room = 0;          ///< limit - blocks in the list; push() overflows when it goes below 0
    u32 limit = 0;         ///< most blocks the list may hold (0 until the thread is set up)
    u32 count() const { return static_cast<u32>(static_cast<i32>(limit) - room); }
  };

  /// Fresh: never allocated. Warming: served straight from its arena (no
  /// cached blocks) for its first WARMUP_ALLOCS allocations. Live: caching.
  /// Dead: past its exit destructor, served straight from its arena again.
  enum class State : u8 { Fresh = 0, Warming = 1, Live = 2, Dead = 3 };

  /// Tag a free block carries in its second word.
  static u64 free_tag(const void* p) { return reinterpret_cast<uptr>(p) ^ g_runtime.caches.tag_secret; }

  /// The re-entry bracket (file comment). Compiler fences only: a signal runs
  /// on the same thread. A compare, a branch and two byte stores per bracket.
  void enter() {
    if (__builtin_expect(busy_ != 0, 0)) reentered();
    busy_ = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the mark is set before the bin is touched
  }
  void leave() {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the bin is done before the mark clears
    busy_ = 0;
  }

  void overflow(u32 cls);       // push() found the bin over its limit
  void setup();                 // Fresh -> Warming
  void enable();                // Warming -> Live
  void flush_bin(Bin& b, u32 keep);
  static void on_thread_exit(void* cache);

  Bin bins_[NUM_SMALL_CLASSES]{};
  State state_ = State::Fresh;
  u8 arena_ = 0;        ///< the small-heap arena this thread refills from
  u8 busy_ = 0;         ///< 1 while the thread is inside a bin operation (enter)
  u32 warmup_left_ = 0; ///< allocations left in the Warming state
  /// Per class: the next refill takes FIRST_REFILL << refill_log_[cls] blocks
  /// (at most half the bin): a bin's first refills are small and grow with use.
  u8 refill_log_[NUM_SMALL_CLASSES] = {};
};

/// This thread's cache (static TLS, initial-exec: no allocation to reach it).
extern constinit thread_local ThreadCache t_cache;

}  // namespace strata::rt
