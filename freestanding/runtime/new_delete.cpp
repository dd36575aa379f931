// strata firmware runtime: C++ operator new and delete over the firmware C API
// (include/strata/strata_fw.h), for firmware without a C++ runtime library.
//
// No exceptions exist here, so the throwing forms cannot throw bad_alloc:
// they call strata_fatal (the firmware's hook; it never returns) when the heap
// is exhausted. The nothrow forms return null instead. Every sized, aligned,
// nothrow and array variant of C++17/20 is defined; sizes given to delete are
// not needed (the engine finds a block's size from the pointer).
//
// <new> comes from libstdc++'s headers, made freestanding by the two wrappers
// in runtime/include (see docs/firmware.md); it checks that every signature
// below matches the standard declaration.
#include <new>

#include "strata/core/check.hpp"
#include "strata/strata_fw.h"

namespace {

using std::size_t;

void* allocate(size_t size, size_t align) {
  return align <= 2 * sizeof(void*) ? STRATA_FW_NAME(malloc)(size) : STRATA_FW_NAME(aligned_alloc)(align, size);
}

void* allocate_or_die(size_t size, size_t align) {
  void* p = allocate(size, align);
  if (p == nullptr) strata_fatal("operator new: out of memory", size);
  return p;
}

size_t align_of(std::align_val_t a) { return static_cast<size_t>(a); }

}  // namespace

// The standard object, for `new (std::nothrow) T`. Weak: a firmware that also
// links libsupc++ keeps that one.
namespace std {
[[gnu::weak]] extern const nothrow_t nothrow{};
}  // namespace std

void* operator new(size_t size) { return allocate_or_die(size, 1); }
void* operator new[](size_t size) { return allocate_or_die(size, 1); }
void* operator new(size_t size, std::align_val_t a) { return allocate_or_die(size, align_of(a)); }
void* operator new[](size_t size, std::align_val_t a) { return allocate_or_die(size, align_of(a)); }

void* operator new(size_t size, const std::nothrow_t&) noexcept { return allocate(size, 1); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return allocate(size, 1); }
void* operator new(size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, align_of(a));
}
void* operator new[](size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, align_of(a));
}

void operator delete(void* p) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete[](void* p) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete(void* p, size_t) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete[](void* p, size_t) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete(void* p, std::align_val_t) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete[](void* p, std::align_val_t) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { STRATA_FW_NAME(free)(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { STRATA_FW_NAME(free)(p); }
