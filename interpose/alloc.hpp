// strata runtime: the allocation core that every exported entry point uses.
//
// These functions carry strata's own semantics and no libc conventions: they
// return null on failure and never touch errno; the C and C++ layers
// (libc_api.cpp, new_delete.cpp) add errno, EINVAL, new-handlers and bad_alloc.
// `fn` names the public entry point for misuse messages
// ("strata: free(): invalid pointer 0x...").
//
// Thread-safety: all are safe to call from any thread at any time after (and
// during) process start; none may be called from a signal handler that
// interrupted strata itself (detected where cheap, never supported).
#pragma once
#include "layout.hpp"
#include "segment_map.hpp"
#include "thread_cache.hpp"
#include "report.hpp"

namespace strata::rt {

/// At least n bytes aligned to MIN_ALIGN (malloc(0) gives a unique block).
/// Null when n > PTRDIFF_MAX or memory is exhausted.
void* allocate_slow(usize n);

/// At least n bytes aligned to align (a power of two). Null on failure.
void* allocate_aligned(usize n, usize align);

/// Frees a pointer strata handed out; null is a no-op. Misuse aborts.
void deallocate_slow(void* p, const char* fn);

/// Bytes usable at p (>= what was requested); 0 for null. Misuse aborts.
usize usable_size(const void* p, const char* fn);

/// realloc semantics without errno: null p allocates; on failure returns null
/// and leaves p valid; n == 0 is the caller's business (libc layer).
void* reallocate(void* p, usize n, const char* fn);

/// Gives cached and free pages back to the OS; true when anything was released.
bool trim();

/// True when p is known to be freshly mapped, all-zero memory (calloc skips memset).
bool fresh_zeroed(const void* p);

/// Makes sure process-wide state is set up (idempotent, re-entrancy safe).
void ensure_initialised();

/// Pops a block of class cls from this thread's bin; null when the bin is empty.
inline void* bin_pop(u32 cls) {
  bins_enter();
  Bin& b = t_cache.bins[cls];
  void* p = b.head;
  if (__builtin_expect(p != nullptr, 1)) {
    b.head = *static_cast<void**>(p);
    ++b.room;
    static_cast<u64*>(p)[1] = 0;  // clear the free tag: the block is live again
  }
  bins_leave();
  return p;
}

/// The fast path of malloc alone: a pop from this thread's bin, or null when
/// the request needs a slow path (bin empty, not small). Never fails otherwise.
inline void* allocate_fast(usize n) {
  if (__builtin_expect(n <= SMALL_FAST_MAX, 1)) return bin_pop(small_class_of(n));
  return nullptr;
}

/// Every path of malloc after allocate_fast declined (out of line).
void* allocate_after_fast(usize n);

/// malloc without errno: the fast path inline, the rest out of line.
inline void* allocate(usize n) {
  void* p = allocate_fast(n);
  return __builtin_expect(p != nullptr, 1) ? p : allocate_after_fast(n);
}

/// Reports a pointer into a small segment that is not a block start: inside
/// a live span's block, or in pages that hold no span (any more). Never
/// returns (not declared [[noreturn]] so the fast path can tail-call it).
void small_misuse(const char* fn, const void* p);

/// Reports a double free of small block p. Never returns (as small_misuse).
void small_double_free(const char* fn, const void* p);

/// Fast path of free: validate p as a live small block, push it on this
/// thread's bin; everything else goes to deallocate_slow.
inline void deallocate(void* p, const char* fn) {
  if (__builtin_expect(in_small_segment(p), 1)) {
    const SmallLookup lk = small_lookup(p);
    if (__builtin_expect(!lk.block_start, 0)) return small_misuse(fn, p);
    u64* w = static_cast<u64*>(p);
    const u64 tag = free_tag(p);  // a local: the fences below need not reload the secret
    if (__builtin_expect(w[1] == tag, 0)) return small_double_free(fn, p);
    bins_enter();
    Bin& b = t_cache.bins[lk.cls];
    *static_cast<void**>(p) = b.head;
    w[1] = tag;
    b.head = p;
    if (__builtin_expect(--b.room < 0, 0)) {
      bins_leave();
      return cache_overflow(lk.cls);
    }
    bins_leave();
    return;
  }
  return deallocate_slow(p, fn);
}

}  // namespace strata::rt
