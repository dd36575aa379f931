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
// Re-entry: every change to a bin is bracketed by a mark in the bin itself:
// its head has BUSY_BIT (the top bit, which no user-space address has) set
// until the change is done. A signal handler that calls malloc or free while
// the code it interrupted is halfway through one (a block popped but the head
// not yet moved) would hand one block out twice; instead it finds the mark and
// aborts with a message (RELIABILITY #20; the central heaps' locks catch the
// same on slow paths). Reading the head and setting the mark must be one
// instruction (claim(): an xadd without the lock prefix on x86-64): with a
// load and then a store, a handler that ran between the two took or gave the
// head block, and the interrupted operation went on with the stale head (a
// block handed out twice, then a bin head made of the program's bytes; seen
// about once in 40 runs of reliability.signal_reentry.small). The mark costs
// nothing in instruction count: the xadd is the head load, and the test of
// the head it returns catches empty and busy bins at once.
//
// Warm-up: a new thread serves its first WARMUP_ALLOCS allocations (or
// WARMUP_FREES frees) straight from and to its arena and caches nothing, so a
// thread that exits soon (or that starts allocating inside its last TLS
// destructor round) leaves nothing behind.
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

/// Frees that turn a thread's cache on as well, if it has not made
/// WARMUP_ALLOCS allocations by then: a thread that only frees (the consumer
/// of a producer/consumer pair) would otherwise give every block back to the
/// central heap alone, a lock round per free. Four times the allocations, so
/// that short-lived threads, which free what they allocated, stay uncached.
inline constexpr u32 WARMUP_FREES = 4 * WARMUP_ALLOCS;

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

  /// small_code_of(n) from this thread's copy of the table (the fast path's lookup).
  static usize code_of(usize n);
  /// Pops a block of the class with code `code` (config.hpp) from this
  /// thread's cache; null when the bin is empty. The block's free tag is
  /// cleared: it is live from here on.
  static void* pop(usize code);

  /// Takes back p, a block start of the class with code `code` (the caller validated that),
  /// into this thread's cache: aborts naming fn when p is free already
  /// (double free); gives half the bin back to the central heap when it is
  /// over its limit.
  static void push(void* p, usize code, const char* fn);

  /// True when small block p carries its free tag: it is free right now.
  static bool is_free(const void* p) { return static_cast<const u64*>(p)[1] == free_tag(p); }

  /// Slow path of malloc for class code `code` (the bin is empty): sets the thread up
  /// if needed, refills the bin from the central heap and returns one block;
  /// null when out of memory.
  void* refill(u32 code);

  /// Gives every cached block back to the central heap (malloc_trim, OOM
  /// reclaim, thread.tcache.flush). The cache stays usable.
  void flush_all();

  /// Creates the thread-exit key (once, at initialisation, no lock held).
  static void register_exit_key();

  /// The small-heap arena this thread refills from (mallctl thread.arena):
  /// the one it joined when its cache turned on; 0 before that, and while
  /// warming, when it allocates from arena 0.
  u32 arena() const { return arena_; }

 private:
  /// Set in a bin's head while an operation changes it (file comment).
  static constexpr uptr BUSY_BIT = uptr{1} << (8 * sizeof(uptr) - 1);
  static bool busy(uptr head) { return static_cast<isize>(head) < 0; }

  /// Sets the BUSY_BIT of this thread's bin `code` and returns its head as
  /// it was, in one instruction, which a signal handler cannot split. An old
  /// value that is busy already means re-entry; the caller aborts. Names
  /// t_cache itself, as the fast paths do (one %fs-relative operand).
  static uptr claim(usize code);

  /// Fresh: never allocated. Warming: served straight from its arena (no
  /// cached blocks) for its first WARMUP_ALLOCS allocations. Live: caching.
  /// Dead: past its exit destructor, served straight from its arena again.
  enum class State : u8 { Fresh = 0, Warming = 1, Live = 2, Dead = 3 };

  /// Tag a free block carries in its second word.
  static u64 free_tag(const void* p) { return reinterpret_cast<uptr>(p) ^ g_runtime.caches.tag_secret; }

  /// Slow-path bracket of one bin: marks it busy and returns its head
  /// (aborting when it is busy already: re-entry); close() stores the new head.
  void* open(u32 code);
  void close(u32 code, void* head) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the bin is done before the mark clears
    heads_[code] = head;
  }
  u32 count(u32 code) const { return static_cast<u32>(static_cast<i32>(limits_[code]) - room_[code]); }

  // push() found this thread's bin over its limit. Static, naming t_cache
  // inside: push's tail call then passes no `this` (no address to form inline).
  static void overflow(usize code);
  void setup();            // Fresh -> Warming
  void enable();           // Warming -> Live
  void flush_bin(u32 code, u32 keep);
  static void on_thread_exit(void* cache);

  // Bins as parallel arrays indexed by class code (entry 0 unused), so the
  // fast paths address a bin's head and room with one %fs-relative operand
  // each (no address arithmetic).
  void* heads_[NUM_SMALL_CODES] = {};  ///< first free block (word 0 links the next) or null; BUSY_BIT while changed
  i32 room_[NUM_SMALL_CODES] = {};     ///< limit - blocks in the bin; push() overflows below 0
  u32 limits_[NUM_SMALL_CODES] = {};   ///< most blocks a bin may hold (0 until the thread is Live)
  State state_ = State::Fresh;
  u8 arena_ = 0;        ///< the small-heap arena this thread refills from
  u32 warmup_left_ = 0;        ///< allocations left in the Warming state
  u32 warmup_frees_left_ = 0;  ///< frees left in the Warming state
  /// Per class code: the next refill takes FIRST_REFILL << refill_log_[code] blocks
  /// (at most half the bin): a bin's first refills are small and grow with use.
  u8 refill_log_[NUM_SMALL_CODES] = {};

 public:
  /// The heap profiler's sampling countdown (runtime/prof.hpp owns its
  /// meaning: bytes this thread may still allocate before the next sample).
  /// Here rather than in the profiler's own thread-local so the malloc fast
  /// path reaches it through the TLS address it already has for the bins:
  /// one subtraction and one branch (sample_countdown), no second GOT load.
  /// After the bins, which keep offset 0.
  i64 bytes_until_sample = 0;
  /// A per-thread copy of SMALL_CODE_TABLE (config.hpp; .tdata, copied by
  /// the loader at thread creation): malloc's size-to-class lookup is then
  /// one %fs-relative load off the TLS address it already has, where the
  /// shared table needs its address formed first (one instruction of 56).
  SmallCodeTable codes = SMALL_CODE_TABLE;
};

/// This thread's cache (static TLS, initial-exec: no allocation to reach it).
extern constinit thread_local ThreadCache t_cache;

// The fast paths name t_cache itself (not `this`), so that each access is one
// %fs-relative operand.

/// Class code of an n-byte request, n <= SMALL_FAST_MAX (small_code_of, from this thread's copy).
inline usize ThreadCache::code_of(usize n) { return t_cache.codes.code[(n + 15) >> 4]; }

inline uptr ThreadCache::claim(usize code) {
#if defined(__x86_64__)
  uptr old = BUSY_BIT;
  // No lock prefix: the bin is this thread's, only a signal on this thread
  // can come between, and signals arrive between instructions. The operand
  // is spelt %fs:(offset, code, 8) by hand: given the bin as an "m" operand,
  // GCC forms its address with two instructions more on free's path. The
  // offset folds to the GOT's TLS offset of t_cache, which the other
  // accesses load anyway.
  const uptr tls_offset =
      reinterpret_cast<uptr>(&t_cache.heads_[0]) - reinterpret_cast<uptr>(__builtin_thread_pointer());
  // In %rax: the head is pop's return value (no move before the ret).
  asm volatile("xaddq %0, %%fs:(%1,%2,8)" : "+a"(old) : "r"(tls_offset), "r"(code) : "memory");
#else
  // An atomic read-modify-write is signal-atomic too (dearer, and used only
  // where the runtime is not built for x86-64).
  const uptr old = __atomic_fetch_add(reinterpret_cast<uptr*>(&t_cache.heads_[code]), BUSY_BIT, __ATOMIC_RELAXED);
#endif
  __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the mark is set before the bin changes
  return old;
}

inline void* ThreadCache::pop(usize code) {
  const uptr head = claim(code);
  if (__builtin_expect(static_cast<isize>(head) <= 0, 0)) {
    if (head != 0) reentered();
    t_cache.heads_[code] = nullptr;  // empty: the mark comes off again
    return nullptr;
  }
  void* p = reinterpret_cast<void*>(head);
  void* next = *static_cast<void**>(p);
  // The next pop reads next's first word. When another thread freed that
  // block (producer/consumer), the line is in that thread's core, and the
  // read stalled on it: 88% of malloc's samples in prodcons-2, with malloc
  // 31% of the run. Fetched now, it arrives while the program uses p (17%).
  // A null next (the bin's last block) is fetched harmlessly.
  __builtin_prefetch(next);
  ++t_cache.room_[code];
  static_cast<u64*>(p)[1] = 0;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the bin is done before the mark clears
  t_cache.heads_[code] = next;
  return p;
}

inline void ThreadCache::push(void* p, usize code, const char* fn) {
  u64* w = static_cast<u64*>(p);
  const u64 tag = free_tag(p);  // a local: the fences below need not reload the secret
  if (__builtin_expect(w[1] == tag, 0)) return small_double_free(fn, p);
  const uptr head = claim(code);
  if (__builtin_expect(busy(head), 0)) reentered();
  *static_cast<void**>(p) = reinterpret_cast<void*>(head);
  w[1] = tag;
  const i32 room = --t_cache.room_[code];
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  t_cache.heads_[code] = p;
  if (__builtin_expect(room < 0, 0)) return overflow(code);
}

}  // namespace strata::rt
