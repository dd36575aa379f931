// strata public: a std::pmr::memory_resource over any ByteAllocator engine.
// strata: hosted-only (uses <memory_resource>; skipped by the freestanding check)
//
// PmrResource<Engine, Lock> holds a shared engine handle (AllocatorRc, see
// stl_allocator.hpp), so the engine lives as long as any resource or
// StlAllocator drawing from it. Hand it to std::pmr containers:
//
//   strata::AllocatorRc<strata::Tlsf<>> rc;
//   rc.init(buffer, size);
//   strata::PmrResource<strata::Tlsf<>> res(rc);
//   std::pmr::vector<int> v(&res);
//
// Threads, as for AllocatorRc: one thread at a time with the default NoLock,
// any thread with a real Lock.
#pragma once
#include <cstddef>
#include <memory_resource>
#include <new>

#include "strata/core/check.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"
#include "strata/stl_allocator.hpp"

namespace strata {

/// std::pmr::memory_resource drawing from a shared engine.
template <ByteAllocator Engine, class Lock = NoLock>
class PmrResource : public std::pmr::memory_resource {
 public:
  /// A resource drawing from rc's engine.
  explicit PmrResource(const AllocatorRc<Engine, Lock>& rc) noexcept : rc_(rc) {}

  /// The shared engine handle.
  const AllocatorRc<Engine, Lock>& handle() const noexcept { return rc_; }

 private:
  /// bytes aligned to align (a power of two, as pmr guarantees); bytes == 0
  /// still gives a real block. Throws std::bad_alloc when the engine refuses.
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    Result<void*> r = rc_.alloc(bytes == 0 ? 1 : bytes, align);
    if (!r.ok()) throw std::bad_alloc();
    return r.value();
  }

  /// Returns a block from do_allocate of an equal resource, with the same
  /// bytes and align. A refused block means corruption: strata_fatal.
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    const Result<void> r = rc_.dealloc(p, bytes == 0 ? 1 : bytes, align);
    STRATA_CHECK(r.ok(), "PmrResource::deallocate: the engine refused the block", p);
  }

  /// Equal to itself and to any PmrResource sharing its engine (memory from
  /// one may be freed through the other).
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    if (this == &other) return true;
    const auto* o = dynamic_cast<const PmrResource*>(&other);
    return o != nullptr && o->rc_ == rc_;
  }

  AllocatorRc<Engine, Lock> rc_;
};

}  // namespace strata
