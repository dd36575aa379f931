// strata public: alignment helpers, constexpr and freestanding-clean.
//
// All helpers take the alignment as a power of two; passing anything else is a
// precondition violation (engines validate alignment before calling them and
// answer AllocError::InvalidParam instead).
#pragma once
#include "strata/core/bits.hpp"

namespace strata {

/// Rounds x down to a multiple of align (a power of two).
constexpr usize align_down(usize x, usize align) { return x & ~(align - 1); }

/// Rounds x up to a multiple of align (a power of two). Wraps to 0 on overflow:
/// use align_up_checked where x may be near USIZE_MAX.
constexpr usize align_up(usize x, usize align) { return (x + align - 1) & ~(align - 1); }

/// Rounds x up to a multiple of align; false (out untouched) on overflow.
constexpr bool align_up_checked(usize x, usize align, usize& out) {
  usize sum = 0;
  if (!checked_add(x, align - 1, sum)) return false;
  out = sum & ~(align - 1);
  return true;
}

/// True when x is a multiple of align (a power of two).
constexpr bool is_aligned(usize x, usize align) { return (x & (align - 1)) == 0; }

/// Pointer forms of the above (named apart so a literal 0 is never ambiguous).
inline bool is_ptr_aligned(const void* p, usize align) { return is_aligned(reinterpret_cast<uptr>(p), align); }
inline void* align_ptr_up(void* p, usize align) {
  return reinterpret_cast<void*>(align_up(reinterpret_cast<uptr>(p), align));
}

static_assert(align_up(1, 16) == 16 && align_up(16, 16) == 16 && align_down(31, 16) == 16);
static_assert(is_aligned(usize{64}, 64) && !is_aligned(usize{65}, 64));

}  // namespace strata
