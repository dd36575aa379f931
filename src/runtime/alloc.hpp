// strata runtime: routing — the allocation calls every exported entry point
// uses, and the one place that maps a request to a heap by size (small:
// the thread cache over the slab classes; medium: TLSF; huge: whole segments;
// thresholds in config.hpp) and a pointer to its heap by the segment map.
//
// These functions carry strata's own semantics and no libc conventions: they
// return null on failure and never touch errno; the export layer
// (interpose/) adds errno, EINVAL, new-handlers and bad_alloc.
// `fn` names the public entry point for misuse messages
// ("strata: free(): invalid pointer 0x...").
//
// Thread-safety: all are safe to call from any thread at any time after (and
// during) process start; none may be called from a signal handler that
// interrupted strata itself (detected where cheap, never supported).
#pragma once
#include "platform/report.hpp"
#include "platform/segment_map.hpp"
#include "runtime/config.hpp"
#include "runtime/prof.hpp"
#include "runtime/thread_cache.hpp"

namespace strata::rt {

/// At least n bytes aligned to MIN_ALIGN, after the fast path declined
/// (bin empty, or not small). Null when n > PTRDIFF_MAX or memory is exhausted.
void* allocate_after_fast(usize n);

/// At least n bytes aligned to align (a power of two). Null on failure.
void* allocate_aligned(usize n, usize align);

/// Frees a pointer the page map did not find as a small block start (null,
/// medium, huge, a small block outside the window, or misuse); null is a
/// no-op. Misuse aborts.
void deallocate_slow(void* p, const char* fn);

/// A sized free's claim that gives no size (operator delete(p, align_val_t)).
inline constexpr usize ANY_SIZE = ~usize{0};

/// The sized frees' slow path (deallocate_sized declined): checks the claim
/// that p was allocated for n bytes (ANY_SIZE: not claimed) aligned to align,
/// unless the sized_dealloc_check option is off, then frees p. A claim the
/// block contradicts aborts naming the mismatch (check_dealloc_claim); null
/// is a no-op, whatever the claim.
void deallocate_checked(void* p, usize n, usize align, const char* fn);

/// Aborts naming the mismatch when live block p cannot have been allocated
/// for n bytes (ANY_SIZE: any) aligned to align, or resized to them (realloc,
/// rallocx, xallocx): a small block must be in n's size class for align; a
/// medium, sampled or guarded block must hold n and not more than a split's
/// worth beyond; a huge one must end in the page holding its n-th byte; and
/// p must be aligned to align (a small block's class must guarantee it). Any
/// n between the request and the usable size passes (jemalloc's sdallocx
/// contract). Misuse of p itself is left to the free that follows.
void check_dealloc_claim(const void* p, usize n, usize align, const char* fn);

/// Whether live block p (which usable_size validated) serves n bytes aligned
/// to align where it is, as if allocated for them, after resizing it in place
/// where its heap allows: a small block only in n's own class (so a later
/// sized free of n matches); medium and huge blocks by resize_in_place. False
/// leaves p as it was.
bool keeps_in_place(void* p, usize n, usize align);

/// Bytes usable at p (>= what was requested); 0 for null. Misuse aborts.
usize usable_size(const void* p, const char* fn);

/// Usable bytes an allocation of n bytes aligned to align would give,
/// without allocating (jemalloc's nallocx); 0 when n is too large. Exact for
/// small and huge blocks; for medium blocks n rounded up to MIN_ALIGN, a
/// lower bound (TLSF keeps a tail too small to split off).
usize usable_size_for(usize n, usize align);

/// realloc semantics without errno: null p allocates; on failure returns null
/// and leaves p valid; n == 0 is the caller's business (export layer).
void* reallocate(void* p, usize n, const char* fn);

/// Resizes live block p to at least n bytes without moving it, when its heap
/// allows (medium blocks staying medium, huge blocks staying huge; small
/// blocks have a fixed class size: never). False leaves p as it was.
bool resize_in_place(void* p, usize n);

/// Gives cached and free pages back to the OS; true when anything was released.
bool trim();

/// True when p is known to be freshly mapped, all-zero memory (calloc skips memset).
bool fresh_zeroed(const void* p);

/// Reports a pointer into a small segment that is not a block start: inside
/// a live span's block, or in pages that hold no span (any more). Never
/// returns (not declared [[noreturn]] so the fast path can tail-call it).
void small_misuse(const char* fn, const void* p);

/// The fast path's sampling test: subtracts n from this thread's countdown
/// and answers whether it went below zero (then the allocation must take the
/// slow path, which calls prof_countdown; runtime/prof.hpp). One subtraction and one branch.
/// Unsigned arithmetic: any n, however large, only moves the count.
inline bool sample_countdown(usize n) {
#if defined(__x86_64__)
  // Compilers load, subtract, store and test the TLS word when the test is
  // left to them (five instructions); the subtraction to memory sets the
  // sign flag itself.
  bool negative;
  asm("subq %2, %0" : "+m"(t_cache.bytes_until_sample), "=@ccs"(negative) : "r"(n));
  return negative;
#else
  const u64 left = static_cast<u64>(t_cache.bytes_until_sample) - n;
  t_cache.bytes_until_sample = static_cast<i64>(left);
  return static_cast<i64>(left) < 0;
#endif
}

/// The fast path of malloc alone: a pop from this thread's bin, or null when
/// the request needs a slow path (the heap profiler's countdown ran out, bin
/// empty, not small). Never fails otherwise.
inline void* allocate_fast(usize n) {
  if (__builtin_expect(n <= SMALL_FAST_MAX, 1)) {
    if (__builtin_expect(sample_countdown(n), 0)) return nullptr;  // prof.hpp: one sub, one branch
    return ThreadCache::pop(ThreadCache::code_of(n));
  }
  return nullptr;  // the slow path counts larger requests down (allocate_after_fast)
}

/// malloc without errno: the fast path inline, the rest out of line.
inline void* allocate(usize n) {
  void* p = allocate_fast(n);
  return __builtin_expect(p != nullptr, 1) ? p : allocate_after_fast(n);
}

/// At least n bytes aligned to align (any power of two): allocate() when
/// malloc's alignment will do.
inline void* allocate_with(usize n, usize align) {
  return align <= MIN_ALIGN ? allocate(n) : allocate_aligned(n, align);
}

/// free without errno: a small block start found in the page map goes to
/// this thread's cache inline (where its free tag is checked); everything
/// else, misuse included, to deallocate_slow.
inline void deallocate(void* p, const char* fn) {
  const uptr idx = page_map_index(p);  // page_lookup, each test its own branch
  if (__builtin_expect(idx < PAGE_MAP_ENTRIES, 1)) {
    const usize code = page_code(idx);
    if (__builtin_expect(is_block_start(p, code), 1)) return ThreadCache::push(p, code, fn);
  }
  return deallocate_slow(p, fn);
}

/// A sized free (free_sized, free_aligned_sized, sdallocx, sized and aligned
/// operator delete): p claimed to be allocated for n bytes (ANY_SIZE: not
/// claimed) aligned to align (MIN_ALIGN or less: malloc's). The fast path
/// takes a small block start whose class is n's, for malloc's alignment: the
/// claim is then true, seven instructions more than free (size_in_class
/// and the alignment test: 63 per free_sized(malloc(32), 32) pair, 56 for free).
/// Every other case goes to deallocate_checked.
inline void deallocate_sized(void* p, usize n, usize align, const char* fn) {
  const uptr idx = page_map_index(p);
  if (__builtin_expect(idx < PAGE_MAP_ENTRIES && align <= MIN_ALIGN, 1)) {
    const usize code = page_code(idx);
    if (__builtin_expect(size_in_class(n, code) && is_block_start(p, code), 1)) return ThreadCache::push(p, code, fn);
  }
  return deallocate_checked(p, n, align, fn);
}

}  // namespace strata::rt
