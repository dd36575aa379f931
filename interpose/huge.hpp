// strata runtime: huge blocks (above MEDIUM_MAX, or aligned beyond what the
// other engines serve). Each is a run of whole segments from the page source,
// with a header in the page just before the block, and goes back to the OS
// the moment it is freed.
//
// Layout: [segment base ... | header page | block (rounded to pages) | unused]
// The block starts at base + max(page, align), so any power-of-two alignment
// up to and beyond the segment size is honoured.
#pragma once
#include "core/types.hpp"

namespace strata::rt {

/// A huge block of at least n bytes aligned to align (power of two >= 16).
/// Fresh memory: all zero. Null when out of memory or n is too large.
void* huge_alloc(usize n, usize align);

/// Frees huge block p; aborts naming fn when p is not the start of one.
void huge_free(void* p, const char* fn);

/// Writable bytes of huge block p (validated as in huge_free).
usize huge_usable_size(const void* p, const char* fn);

/// Grows or shrinks p in place to n bytes when its segments allow; false otherwise.
bool huge_resize(void* p, usize n);

/// Number and bytes of live huge blocks (statistics).
void huge_stats(usize& count, usize& bytes);

}  // namespace strata::rt
