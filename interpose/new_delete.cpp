// strata exports: every replaceable operator new and delete (C++17/20 set).
//
// new loops on std::get_new_handler() and throws std::bad_alloc when there is
// none; the nothrow forms return null instead. Aligned forms honour any
// power-of-two std::align_val_t. Sized and aligned deletes check the size and
// alignment against the block (deallocate_sized): a delete through a pointer
// to the wrong type (a base class without a virtual destructor) aborts naming
// the mismatch instead of corrupting; sized_dealloc_check:false turns that
// off for programs known to pass wrong sizes (RELIABILITY #16). The size is
// never used to find metadata.
#include <new>

#include "export.hpp"
#include "runtime/alloc.hpp"

using namespace strata;
using namespace strata::rt;

namespace {
// The throwing path: out of line so the fast path stays small.
[[gnu::noinline]] void* new_slow(usize n, usize align) {
  for (;;) {
    if (void* p = allocate_with(n, align)) return p;
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) throw std::bad_alloc();
    h();
  }
}

inline void* new_impl(usize n, usize align) {
  void* p = allocate_with(n, align);
  return __builtin_expect(p != nullptr, 1) ? p : new_slow(n, align);
}

inline void* new_nothrow(usize n, usize align) noexcept {
  try {
    return new_impl(n, align);
  } catch (...) {  // a new-handler may throw bad_alloc: nothrow forms answer null
    return nullptr;
  }
}

constexpr usize al(std::align_val_t a) { return static_cast<usize>(a); }
}  // namespace

#if STRATA_OVERRIDE
STRATA_EXPORT void* operator new(std::size_t n) { return new_impl(n, MIN_ALIGN); }
STRATA_EXPORT void* operator new[](std::size_t n) { return new_impl(n, MIN_ALIGN); }
STRATA_EXPORT void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n, MIN_ALIGN); }
STRATA_EXPORT void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n, MIN_ALIGN); }
STRATA_EXPORT void* operator new(std::size_t n, std::align_val_t a) { return new_impl(n, al(a)); }
STRATA_EXPORT void* operator new[](std::size_t n, std::align_val_t a) { return new_impl(n, al(a)); }
STRATA_EXPORT void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(n, al(a));
}
STRATA_EXPORT void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_nothrow(n, al(a));
}

STRATA_EXPORT void operator delete(void* p) noexcept { deallocate(p, "operator delete"); }
STRATA_EXPORT void operator delete[](void* p) noexcept { deallocate(p, "operator delete[]"); }
STRATA_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { deallocate(p, "operator delete"); }
STRATA_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { deallocate(p, "operator delete[]"); }
STRATA_EXPORT void operator delete(void* p, std::size_t n) noexcept {
  deallocate_sized(p, n, MIN_ALIGN, "operator delete");
}
STRATA_EXPORT void operator delete[](void* p, std::size_t n) noexcept {
  deallocate_sized(p, n, MIN_ALIGN, "operator delete[]");
}
STRATA_EXPORT void operator delete(void* p, std::align_val_t a) noexcept {
  deallocate_sized(p, ANY_SIZE, al(a), "operator delete");
}
STRATA_EXPORT void operator delete[](void* p, std::align_val_t a) noexcept {
  deallocate_sized(p, ANY_SIZE, al(a), "operator delete[]");
}
STRATA_EXPORT void operator delete(void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  deallocate_sized(p, ANY_SIZE, al(a), "operator delete");
}
STRATA_EXPORT void operator delete[](void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  deallocate_sized(p, ANY_SIZE, al(a), "operator delete[]");
}
STRATA_EXPORT void operator delete(void* p, std::size_t n, std::align_val_t a) noexcept {
  deallocate_sized(p, n, al(a), "operator delete");
}
STRATA_EXPORT void operator delete[](void* p, std::size_t n, std::align_val_t a) noexcept {
  deallocate_sized(p, n, al(a), "operator delete[]");
}
#endif

// Prefixed C++ entry points for tests and programs that use strata beside the
// system allocator: the same semantics as operator new/delete.
extern "C" {
STRATA_EXPORT void* strata_new(std::size_t n) { return new_impl(n, MIN_ALIGN); }
STRATA_EXPORT void* strata_new_aligned(std::size_t n, std::size_t align) { return new_impl(n, align); }
STRATA_EXPORT void* strata_new_nothrow(std::size_t n) noexcept { return new_nothrow(n, MIN_ALIGN); }
STRATA_EXPORT void strata_delete(void* p) noexcept { deallocate(p, "operator delete"); }
}
