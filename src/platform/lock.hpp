// strata platform: the lock type of the hosted runtime.
//
// A spin lock that pauses a while, then yields the core (sched_yield) so an
// oversubscribed machine lets the holder run; and that lists, per thread,
// the strata locks the thread holds. The fork prepare handler reads how
// many: a fork() from a signal handler that interrupted strata must not wait
// for a lock its own thread holds (glibc tst-mallocfork2).
#pragma once
#include "strata/core/spin_lock.hpp"

namespace strata::rt {

struct YieldRelax {
  /// Called in the wait loop; yields to the OS on every 64th call.
  static void relax();
};

/// Per-thread state of the locks (lock.cpp): the strata locks this thread
/// holds or is about to take, and its spin counter for YieldRelax.
struct LockThreadState {
  /// Locks a thread can hold at once and still be told apart (the fork
  /// handler takes every strata lock: about twenty).
  static constexpr u32 MAX_HELD = 32;
  u32 held = 0;                         ///< entries in mine[] (locks held or being taken)
  u32 spins = 0;
  const void* mine[MAX_HELD] = {};      ///< their addresses (the first MAX_HELD of them)
};
extern constinit thread_local LockThreadState t_lock_state;

/// Number of strata locks the calling thread holds (or is taking) right now.
inline u32 locks_held() { return t_lock_state.held; }
/// Fork child: the child's only thread holds nothing any more.
inline void forget_locks_held() { t_lock_state.held = 0; }

/// Aborts with one line: strata was entered again on a thread already inside
/// it (malloc from a signal handler that interrupted malloc). Never returns.
[[noreturn]] void reentered();

/// Re-entry: a signal handler that interrupted its own thread inside a
/// strata lock (or while it was taking or releasing one) and asks for the
/// same lock would spin forever. Each thread lists the locks it holds in its
/// own state, entered before the lock is tried and removed after it is
/// released, so there is no moment at which the lock is held but not listed:
/// a lock() that finds itself in its thread's list aborts with a message
/// instead (RELIABILITY #20). A handler that runs to its end between the
/// listing and the taking finds the lock free and is served normally.
class Lock {
 public:
  constexpr Lock() = default;
  void lock() {
    // t_lock_state is named at each use, not bound to a reference: GCC 12's
    // UBSan rebuilt such a reference after the signal fences as a null
    // pointer (a false "member access within null pointer").
    const u32 depth = t_lock_state.held;
    for (u32 i = 0; i < depth && i < LockThreadState::MAX_HELD; ++i)
      if (t_lock_state.mine[i] == this) reentered();
    if (depth < LockThreadState::MAX_HELD) t_lock_state.mine[depth] = this;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);  // listed before it is tried
    t_lock_state.held = depth + 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    l_.lock();
  }
  void unlock() {
    l_.unlock();
    __atomic_signal_fence(__ATOMIC_SEQ_CST);  // released before it is unlisted
    const u32 depth = t_lock_state.held;
    const u32 n = depth < LockThreadState::MAX_HELD ? depth : LockThreadState::MAX_HELD;
    for (u32 i = n; i-- > 0;) {
      if (t_lock_state.mine[i] == this) {
        t_lock_state.mine[i] = t_lock_state.mine[n - 1];  // a set: unlock order need not be the reverse
        break;
      }
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t_lock_state.held = depth - 1;
  }
  /// Fork child: forces the unlocked state (the holder does not exist there).
  void reset() { l_.reset(); }

 private:
  SpinLockT<YieldRelax> l_{};
};

}  // namespace strata::rt
