// strata exports: the C allocation API with glibc's semantics.
//
// Each strata_* function below is the whole contract of its libc namesake:
// errno = ENOMEM on every failed allocation (sizes above PTRDIFF_MAX
// included), EINVAL for bad alignments as glibc 2.36 answers them, free()
// preserving errno, realloc(p, 0) freeing and returning NULL, malloc(0)
// returning a unique pointer. With STRATA_OVERRIDE the standard names are
// aliases of these functions (no extra jump).
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "export.hpp"
#include "platform/os.hpp"
#include "runtime/alloc.hpp"

using namespace strata;
using namespace strata::rt;

namespace {
void* fail_nomem() {
  errno = ENOMEM;
  return nullptr;
}

// malloc after its fast path declined: refill, medium, huge, errno.
[[gnu::noinline]] void* malloc_slow(usize n) {
  void* p = allocate_after_fast(n);
  return p != nullptr ? p : fail_nomem();
}

// glibc's memalign: alignments up to MIN_ALIGN are plain malloc; a
// non-power-of-two alignment is rounded up; one above SIZE_MAX/2+1 is EINVAL.
void* memalign_impl(usize align, usize n) {
  void* p = nullptr;
  if (align <= MIN_ALIGN) {
    p = allocate(n);
    return p != nullptr ? p : fail_nomem();
  }
  if (align > USIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (!is_pow2(align)) align = static_cast<usize>(next_pow2(align));
  p = allocate_aligned(n, align);
  return p != nullptr ? p : fail_nomem();
}
}  // namespace

extern "C" {

STRATA_EXPORT void* strata_malloc(size_t n) noexcept {
  void* p = allocate_fast(n);
  return __builtin_expect(p != nullptr, 1) ? p : malloc_slow(n);
}

STRATA_EXPORT void strata_free(void* p) noexcept { deallocate(p, "free"); }

STRATA_EXPORT void* strata_calloc(size_t n, size_t size) noexcept {
  usize total = 0;
  if (!checked_mul(n, size, total)) return fail_nomem();
  void* p = allocate(total);
  if (p == nullptr) return fail_nomem();
  if (!fresh_zeroed(p)) ::memset(p, 0, total);
  return p;
}

STRATA_EXPORT void* strata_realloc(void* p, size_t n) noexcept {
  if (p != nullptr && n == 0) {  // glibc: frees and returns NULL
    deallocate(p, "realloc");
    return nullptr;
  }
  void* q = reallocate(p, n, "realloc");
  return q != nullptr ? q : fail_nomem();
}

STRATA_EXPORT void* strata_reallocarray(void* p, size_t n, size_t size) noexcept {
  usize total = 0;
  if (!checked_mul(n, size, total)) return fail_nomem();
  return strata_realloc(p, total);
}

STRATA_EXPORT int strata_posix_memalign(void** out, size_t align, size_t n) noexcept {
  if (align < sizeof(void*) || !is_pow2(align)) return EINVAL;  // *out untouched
  void* p = allocate_with(n, align);
  if (p == nullptr) {
    errno = ENOMEM;
    return ENOMEM;
  }
  *out = p;
  return 0;
}

STRATA_EXPORT void* strata_aligned_alloc(size_t align, size_t n) noexcept {
  if (!is_pow2(align)) {  // C17/DR460 and glibc >= 2.38: an invalid alignment fails
    errno = EINVAL;
    return nullptr;
  }
  return memalign_impl(align, n);
}

STRATA_EXPORT void* strata_memalign(size_t align, size_t n) noexcept { return memalign_impl(align, n); }

STRATA_EXPORT void* strata_valloc(size_t n) noexcept { return memalign_impl(os::page_size(), n); }

STRATA_EXPORT void* strata_pvalloc(size_t n) noexcept {
  const usize page = os::page_size();
  usize rounded = 0;
  if (!align_up_checked(n == 0 ? 1 : n, page, rounded)) return fail_nomem();
  return memalign_impl(page, rounded);
}

STRATA_EXPORT size_t strata_malloc_usable_size(void* p) noexcept { return usable_size(p, "malloc_usable_size"); }

// C23: the block's size (and alignment) as allocated. Checked, never used to
// find metadata: a size or alignment the block cannot have aborts naming the
// mismatch (sized_dealloc_check; RELIABILITY #16).
STRATA_EXPORT void strata_free_sized(void* p, size_t n) noexcept { deallocate_sized(p, n, MIN_ALIGN, "free_sized"); }
STRATA_EXPORT void strata_free_aligned_sized(void* p, size_t align, size_t n) noexcept {
  deallocate_sized(p, n, align, "free_aligned_sized");
}

STRATA_EXPORT int strata_malloc_trim(size_t) noexcept { return trim() ? 1 : 0; }

// glibc tuning knobs have no strata meaning: accept them (returning 1, as
// glibc does on success) so programs that set M_ARENA_MAX etc. keep running.
STRATA_EXPORT int strata_mallopt(int, int) noexcept { return 1; }

#if STRATA_OVERRIDE
void* malloc(size_t) noexcept STRATA_ALIAS(strata_malloc);
void free(void*) noexcept STRATA_ALIAS(strata_free);
void cfree(void*) noexcept STRATA_ALIAS(strata_free);
void* calloc(size_t, size_t) noexcept STRATA_ALIAS(strata_calloc);
void* realloc(void*, size_t) noexcept STRATA_ALIAS(strata_realloc);
void* reallocarray(void*, size_t, size_t) noexcept STRATA_ALIAS(strata_reallocarray);
int posix_memalign(void**, size_t, size_t) noexcept STRATA_ALIAS(strata_posix_memalign);
void* aligned_alloc(size_t, size_t) noexcept STRATA_ALIAS(strata_aligned_alloc);
void* memalign(size_t, size_t) noexcept STRATA_ALIAS(strata_memalign);
void* valloc(size_t) noexcept STRATA_ALIAS(strata_valloc);
void* pvalloc(size_t) noexcept STRATA_ALIAS(strata_pvalloc);
size_t malloc_usable_size(void*) noexcept STRATA_ALIAS(strata_malloc_usable_size);
void free_sized(void*, size_t) noexcept STRATA_ALIAS(strata_free_sized);
void free_aligned_sized(void*, size_t, size_t) noexcept STRATA_ALIAS(strata_free_aligned_sized);
int malloc_trim(size_t) noexcept STRATA_ALIAS(strata_malloc_trim);
int mallopt(int, int) noexcept STRATA_ALIAS(strata_mallopt);
// glibc's internal names: some programs and libraries call these directly.
void* __libc_malloc(size_t) noexcept STRATA_ALIAS(strata_malloc);
void __libc_free(void*) noexcept STRATA_ALIAS(strata_free);
void* __libc_calloc(size_t, size_t) noexcept STRATA_ALIAS(strata_calloc);
void* __libc_realloc(void*, size_t) noexcept STRATA_ALIAS(strata_realloc);
void* __libc_memalign(size_t, size_t) noexcept STRATA_ALIAS(strata_memalign);
void* __libc_valloc(size_t) noexcept STRATA_ALIAS(strata_valloc);
void* __libc_pvalloc(size_t) noexcept STRATA_ALIAS(strata_pvalloc);
int __posix_memalign(void**, size_t, size_t) noexcept STRATA_ALIAS(strata_posix_memalign);
#endif

}  // extern "C"
