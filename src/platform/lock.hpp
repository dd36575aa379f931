// strata platform: the lock type of the hosted runtime.
//
// A spin lock that pauses a while, then yields the core (sched_yield) so an
// oversubscribed machine lets the holder run; and that counts, per thread,
// how many strata locks the thread holds. The fork prepare handler reads that
// count: a fork() from a signal handler that interrupted strata must not wait
// for a lock its own thread holds (glibc tst-mallocfork2).
#pragma once
#include "strata/core/spin_lock.hpp"

namespace strata::rt {

struct YieldRelax {
  /// Called in the wait loop; yields to the OS on every 64th call.
  static void relax();
};

/// Per-thread state of the locks (lock.cpp): how many strata locks the
/// thread holds, and its spin counter for YieldRelax.
struct LockThreadState {
  u32 held = 0;
  u32 spins = 0;
};
extern constinit thread_local LockThreadState t_lock_state;

/// Number of strata locks the calling thread holds right now.
inline u32 locks_held() { return t_lock_state.held; }
/// Fork child: the child's only thread holds nothing any more.
inline void forget_locks_held() { t_lock_state.held = 0; }

/// Aborts with one line: strata was entered again on a thread already inside
/// it (malloc from a signal handler that interrupted malloc). Never returns.
[[noreturn]] void reentered();

class Lock {
 public:
  constexpr Lock() = default;
  void lock() {
    ++t_lock_state.held;
    if (!l_.try_lock()) {
      // Waiting for a lock this very thread holds would spin forever: that is
      // a re-entry (RELIABILITY #20), answered with a message, not a hang.
      if (__atomic_load_n(&owner_, __ATOMIC_RELAXED) == &t_lock_state) reentered();
      l_.lock();
    }
    __atomic_store_n(&owner_, &t_lock_state, __ATOMIC_RELAXED);
  }
  void unlock() {
    __atomic_store_n(&owner_, static_cast<LockThreadState*>(nullptr), __ATOMIC_RELAXED);
    l_.unlock();
    --t_lock_state.held;
  }
  /// Fork child: forces the unlocked state (the holder does not exist there).
  void reset() {
    __atomic_store_n(&owner_, static_cast<LockThreadState*>(nullptr), __ATOMIC_RELAXED);
    l_.reset();
  }

 private:
  SpinLockT<YieldRelax> l_{};
  LockThreadState* owner_ = nullptr;  ///< &t_lock_state of the holding thread (unique per thread)
};

}  // namespace strata::rt
