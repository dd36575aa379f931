// strata runtime: huge blocks (above MEDIUM_MAX, or aligned beyond what the
// other engines serve). Each is a run of whole segments from the page source,
// with a header in the page just before the block, and goes back to the OS
// the moment it is freed.
//
// Layout, alignment <= 64 (every malloc): [header | block ... to a page end | unused]
// with the block at base + 64, as glibc places an mmapped chunk. Larger
// alignments: [... | header page | block (to a page end) | unused], the block
// at base + max(page, align), so any power-of-two alignment up to and beyond
// the segment size is honoured.
//
// Reuse: a program that cycles large buffers (5-25 MiB, say) would pay page
// faults for every cycle if each free went straight back to the OS. So a
// freed run of at most CACHE_MAX_RUN bytes is kept, still committed, in a
// small cache (at most the live huge bytes, within 8..64 MiB) and handed to the next huge
// request it fits (a miss releases the runs too small for it before mapping fresh memory); entries older than purge_delay_ms, and all entries on
// malloc_trim, go back to the OS. Bigger runs are released at once.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// A huge block of at least n bytes aligned to align (power of two >= 16).
/// Fresh memory: all zero. Null when out of memory or n is too large.
void* huge_alloc(usize n, usize align);

/// Usable bytes huge_alloc(n, align) would give (0 when n is too large).
usize huge_usable_for(usize n, usize align);

/// Frees huge block p; aborts naming fn when p is not the start of one.
void huge_free(void* p, const char* fn);

/// Writable bytes of huge block p (validated as in huge_free).
usize huge_usable_size(const void* p, const char* fn);

/// Grows or shrinks p in place to n bytes when its segments allow; false otherwise.
bool huge_resize(void* p, usize n);

/// Number and bytes of live huge blocks (statistics).
void huge_stats(usize& count, usize& bytes);

/// True when huge block p was freshly mapped (all zero), not reused from the cache.
bool huge_is_fresh(const void* p);

/// Releases cached runs older than max_age_ms (0: all); returns bytes released.
usize huge_cache_release(u64 max_age_ms);

/// Bytes held in the cache of freed runs (statistics).
usize huge_cache_bytes();

/// True when p is one of the last huge blocks given back to the OS: a pointer
/// strata no longer maps but did hand out, i.e. a double free (for messages).
bool huge_recently_released(const void* p);

/// Fork support for the cache's lock.
void huge_lock();
void huge_unlock();
void huge_reset_lock_in_child();

}  // namespace strata::rt
