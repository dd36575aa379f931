// strata public: STL allocator adaptors over any ByteAllocator engine.
// strata: hosted-only (uses <atomic>, <new>, exceptions; skipped by the freestanding check)
//
// AllocatorRc<Engine, Lock> is a shared, reference-counted handle to one engine
// and the lock that guards it (the seed design's AllocatorRc). Copies share the
// engine; the last copy destroys it. It models ByteAllocator itself, so generic
// code can take either an engine or a handle.
//
// StlAllocator<T, Engine, Lock> wraps a handle into a standard Allocator:
// allocate(n) asks the engine for n * sizeof(T) bytes aligned to alignof(T)
// (over-aligned types included) and throws std::bad_alloc when the engine
// refuses; deallocate passes the same size and alignment back. Two
// StlAllocators compare equal exactly when they share an engine, so memory
// from one may be freed through the other, and containers propagate the
// allocator on copy, move and swap.
//
// Threads. With the default Lock = NoLock, a handle and all its copies must be
// used by one thread at a time (the engines are single-threaded objects). Pass
// a real lock (strata::SpinLock, std::mutex) to share one engine across
// threads: every engine call then runs under it. The reference count is atomic
// either way, so copies may be made and dropped on any thread.
//
// A refused deallocate (the engine can tell the block was never handed out)
// means heap corruption: it goes to strata_fatal, which the program supplies
// (the hosted runtime does; tests link tests/support/fatal_hook.cpp).
#pragma once
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <type_traits>

#include "strata/core/check.hpp"
#include "strata/core/types.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"

namespace strata {

/// A lock that does nothing: the default, for single-threaded use.
struct NoLock {
  void lock() {}
  void unlock() {}
};

/// Shared, reference-counted handle to one Engine and its Lock.
template <ByteAllocator Engine, class Lock = NoLock>
class AllocatorRc {
 public:
  /// A handle to a new, empty engine (default-constructed: no memory until
  /// init). Throws std::bad_alloc when the control block cannot be allocated.
  AllocatorRc() : shared_(new Shared()) {}
  /// Another handle to the same engine.
  AllocatorRc(const AllocatorRc& o) noexcept : shared_(o.shared_) { retain(); }
  AllocatorRc& operator=(const AllocatorRc& o) noexcept {
    o.retain();  // first, so self-assignment is safe
    release();
    shared_ = o.shared_;
    return *this;
  }
  ~AllocatorRc() { release(); }
  // No move operations: a moved-from allocator must stay usable and equal to
  // its copy, so moving is copying.

  /// Engine forwarders, each under the lock; contracts as in concepts.hpp.
  Result<void> init(void* start, usize size) { return locked([&](Engine& e) { return e.init(start, size); }); }
  Result<void> add_memory(void* start, usize size) {
    return locked([&](Engine& e) { return e.add_memory(start, size); });
  }
  Result<void*> alloc(usize size, usize align) { return locked([&](Engine& e) { return e.alloc(size, align); }); }
  Result<void> dealloc(void* p, usize size, usize align) {
    return locked([&](Engine& e) { return e.dealloc(p, size, align); });
  }
  usize total_bytes() const { return locked([](Engine& e) { return e.total_bytes(); }); }
  usize used_bytes() const { return locked([](Engine& e) { return e.used_bytes(); }); }
  usize available_bytes() const { return locked([](Engine& e) { return e.available_bytes(); }); }

  /// Runs f(engine) under the lock and returns its result (for engine-specific
  /// calls such as verify()). f must not call back into this handle.
  template <class F>
  decltype(auto) locked(F&& f) const {
    std::lock_guard<Lock> guard(shared_->lock);
    return f(shared_->engine);
  }

  /// Number of handles sharing the engine (a snapshot when shared across threads).
  usize use_count() const noexcept { return shared_->refs.load(std::memory_order_relaxed); }

  /// Equal when both handles share one engine.
  friend bool operator==(const AllocatorRc& a, const AllocatorRc& b) noexcept { return a.shared_ == b.shared_; }

 private:
  struct Shared {
    Engine engine{};
    Lock lock{};
    std::atomic<usize> refs{1};
  };

  void retain() const noexcept { shared_->refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last owner must see every other owner's writes before deleting.
    if (shared_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete shared_;
  }

  Shared* shared_;
};

/// A standard Allocator of T over a shared engine handle.
template <class T, ByteAllocator Engine, class Lock = NoLock>
class StlAllocator {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;
  template <class U>
  struct rebind {
    using other = StlAllocator<U, Engine, Lock>;
  };

  /// An allocator drawing from rc's engine.
  explicit StlAllocator(const AllocatorRc<Engine, Lock>& rc) noexcept : rc_(rc) {}
  /// The same engine, for another value type (rebinding).
  template <class U>
  StlAllocator(const StlAllocator<U, Engine, Lock>& o) noexcept : rc_(o.handle()) {}  // NOLINT: implicit by the Allocator requirements

  /// Storage for n objects of T, aligned to alignof(T). n == 0 still returns a
  /// distinct block. Throws std::bad_array_new_length when n > max_size(),
  /// std::bad_alloc when the engine refuses (NoMemory, or a size or alignment
  /// it cannot serve).
  T* allocate(std::size_t n) {
    if (n > max_size()) throw std::bad_array_new_length();
    Result<void*> r = rc_.alloc(bytes(n), alignof(T));
    if (!r.ok()) throw std::bad_alloc();
    return static_cast<T*>(r.value());
  }

  /// Returns storage from allocate(n) on an equal allocator, with the same n.
  void deallocate(T* p, std::size_t n) noexcept {
    const Result<void> r = rc_.dealloc(p, bytes(n), alignof(T));
    STRATA_CHECK(r.ok(), "StlAllocator::deallocate: the engine refused the block", p);
  }

  /// Largest n allocate accepts.
  static constexpr std::size_t max_size() noexcept { return MAX_OBJECT_SIZE / sizeof(T); }

  /// The shared engine handle.
  const AllocatorRc<Engine, Lock>& handle() const noexcept { return rc_; }

  /// Equal when both draw from one engine (whatever their value types).
  template <class U>
  bool operator==(const StlAllocator<U, Engine, Lock>& o) const noexcept {
    return rc_ == o.handle();
  }

 private:
  /// Bytes asked for n objects: one object's worth for n == 0, so every
  /// allocation is a real block that deallocate can give back.
  static std::size_t bytes(std::size_t n) noexcept { return (n == 0 ? 1 : n) * sizeof(T); }

  AllocatorRc<Engine, Lock> rc_;
};

}  // namespace strata
