// strata core: a test-and-test-and-set spin lock over compiler atomics.
//
// constexpr-constructible (usable in constinit globals), freestanding, no OS
// calls: firmware uses it as is; the hosted runtime yields to the OS through
// the Relax policy when the lock stays contended.
#pragma once
#include "strata/core/types.hpp"

namespace strata {

/// Default relax step: a CPU pause hint.
struct CpuRelax {
  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
  }
};

/// Mutual exclusion for engines. Not recursive. Relax::relax() is called while
/// waiting (hosted code passes a policy that eventually calls sched_yield).
template <class Relax = CpuRelax>
class SpinLockT {
 public:
  constexpr SpinLockT() = default;
  SpinLockT(const SpinLockT&) = delete;
  SpinLockT& operator=(const SpinLockT&) = delete;

  void lock() {
    while (__atomic_exchange_n(&held_, u32{1}, __ATOMIC_ACQUIRE) != 0) {
      while (__atomic_load_n(&held_, __ATOMIC_RELAXED) != 0) Relax::relax();
    }
  }
  bool try_lock() { return __atomic_exchange_n(&held_, u32{1}, __ATOMIC_ACQUIRE) == 0; }
  void unlock() { __atomic_store_n(&held_, u32{0}, __ATOMIC_RELEASE); }
  /// Forces the unlocked state (a fork child's re-initialisation only).
  void reset() { __atomic_store_n(&held_, u32{0}, __ATOMIC_RELAXED); }
  bool is_locked() const { return __atomic_load_n(&held_, __ATOMIC_RELAXED) != 0; }

 private:
  u32 held_ = 0;
};

using SpinLock = SpinLockT<>;

/// RAII guard for any lock with lock()/unlock().
template <class L>
class LockGuard {
 public:
  explicit LockGuard(L& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  L& l_;
};

}  // namespace strata
