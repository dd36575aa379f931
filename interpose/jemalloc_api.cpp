// strata exports: jemalloc's non-standard allocation API (mallocx, rallocx,
// xallocx, sallocx, dallocx, sdallocx, nallocx) over strata's allocator, so a
// program built against jemalloc (Debian's redis-server, for one) runs on
// strata when libstrata is preloaded. With STRATA_OVERRIDE the unprefixed
// names are aliases of the strata_* functions below.
//
// Flags, jemalloc's encoding: bits 0-5 = lg(alignment) (MALLOCX_LG_ALIGN(la),
// MALLOCX_ALIGN(a); 0 = the default 16 bytes), 0x40 = MALLOCX_ZERO. The tcache
// (bits 8-19) and arena (bits 20-31) selectors are accepted and ignored:
// strata has one central heap per engine and one cache per thread.
#include <errno.h>
#include <string.h>

#include "export.hpp"
#include "runtime/alloc.hpp"
#include "strata/align.hpp"

using namespace strata;
using namespace strata::rt;

namespace {
constexpr int FLAG_LG_ALIGN_MASK = 0x3f;
constexpr int FLAG_ZERO = 0x40;

/// Alignment a flags word asks for (MIN_ALIGN when none).
usize align_of(int flags) {
  const int lg = flags & FLAG_LG_ALIGN_MASK;
  const usize a = lg == 0 ? 0 : usize{1} << lg;
  return a > MIN_ALIGN ? a : MIN_ALIGN;
}

bool wants_zero(int flags) { return (flags & FLAG_ZERO) != 0; }

/// Zeroes p's bytes from `from` to its usable size (MALLOCX_ZERO on growth).
void zero_tail(void* p, usize from, const char* fn) {
  const usize usable = usable_size(p, fn);
  if (usable > from) ::memset(static_cast<char*>(p) + from, 0, usable - from);
}

}  // namespace

extern "C" {

/// jemalloc's mallocx: at least n bytes with the flags' alignment, zeroed with
/// MALLOCX_ZERO (the whole usable size). Null (errno ENOMEM) on failure.
STRATA_EXPORT void* strata_mallocx(size_t n, int flags) noexcept {
  void* p = allocate_with(n, align_of(flags));
  if (p == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  if (wants_zero(flags) && !fresh_zeroed(p)) zero_tail(p, 0, "mallocx");
  return p;
}

/// jemalloc's rallocx: resizes p to at least n bytes (moving it when needed),
/// keeping the flags' alignment; with MALLOCX_ZERO the bytes past p's old
/// usable size are zero. Null on failure, p then unchanged. Null p: mallocx.
STRATA_EXPORT void* strata_rallocx(void* p, size_t n, int flags) noexcept {
  if (p == nullptr) return strata_mallocx(n, flags);
  const usize align = align_of(flags);
  const usize old = usable_size(p, "rallocx");  // validates p: misuse aborts
  void* q = nullptr;
  if (align <= MIN_ALIGN) {
    q = reallocate(p, n, "rallocx");
  } else if (is_aligned(reinterpret_cast<uptr>(p), align) && keeps_in_place(p, n, align)) {
    q = p;
  } else if ((q = allocate_aligned(n, align)) != nullptr) {
    ::memcpy(q, p, old < n ? old : n);
    deallocate(p, "rallocx");
  }
  if (q == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  if (wants_zero(flags)) zero_tail(q, old, "rallocx");
  return q;
}

/// jemalloc's xallocx: resizes p in place to at least n + extra bytes, else
/// to at least n bytes, when the engine allows; returns p's usable size after
/// (its old size when nothing could be done). MALLOCX_ZERO zeroes growth.
STRATA_EXPORT size_t strata_xallocx(void* p, size_t n, size_t extra, int flags) noexcept {
  const usize old = usable_size(p, "xallocx");
  usize want = 0;
  if (__builtin_add_overflow(n, extra, &want) || want > MAX_OBJECT_SIZE) want = MAX_OBJECT_SIZE;
  if (want != old && !resize_in_place(p, want) && extra != 0 && n > old) (void)resize_in_place(p, n);
  if (wants_zero(flags)) zero_tail(p, old, "xallocx");
  return usable_size(p, "xallocx");
}

/// jemalloc's sallocx: the usable size of p (malloc_usable_size).
STRATA_EXPORT size_t strata_sallocx(const void* p, int) noexcept { return usable_size(p, "sallocx"); }

/// jemalloc's dallocx: frees p (flags ignored).
STRATA_EXPORT void strata_dallocx(void* p, int) noexcept { deallocate(p, "dallocx"); }

/// jemalloc's sdallocx: frees p, allocated for n bytes with the flags'
/// alignment (or resized to them; any n up to sallocx(p) passes). A size or
/// alignment p cannot have aborts naming the mismatch (sized_dealloc_check);
/// the size never locates metadata.
STRATA_EXPORT void strata_sdallocx(void* p, size_t n, int flags) noexcept {
  deallocate_sized(p, n, align_of(flags), "sdallocx");
}

/// jemalloc's nallocx: the usable size mallocx(n, flags) would give, without
/// allocating; 0 when n is too large. Exact for small (class size) and huge
/// (to the end of the block's last page) blocks; for medium blocks n rounded
/// up to 16, a lower bound: sallocx may report up to a few dozen bytes more
/// (TLSF keeps a tail too small to split off).
STRATA_EXPORT size_t strata_nallocx(size_t n, int flags) noexcept { return usable_size_for(n, align_of(flags)); }

#if STRATA_OVERRIDE
void* mallocx(size_t, int) noexcept STRATA_ALIAS(strata_mallocx);
void* rallocx(void*, size_t, int) noexcept STRATA_ALIAS(strata_rallocx);
size_t xallocx(void*, size_t, size_t, int) noexcept STRATA_ALIAS(strata_xallocx);
size_t sallocx(const void*, int) noexcept STRATA_ALIAS(strata_sallocx);
void dallocx(void*, int) noexcept STRATA_ALIAS(strata_dallocx);
void sdallocx(void*, size_t, int) noexcept STRATA_ALIAS(strata_sdallocx);
size_t nallocx(size_t, int) noexcept STRATA_ALIAS(strata_nallocx);
#endif
}
