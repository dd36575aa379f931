// strata runtime: the lock type of the hosted runtime.
//
// A spin lock that pauses a while, then yields the core (sched_yield) so an
// oversubscribed machine lets the holder run; and that counts, per thread,
// how many strata locks the thread holds. The fork prepare handler reads that
// count: a fork() from a signal handler that interrupted strata must not wait
// for a lock its own thread holds (glibc tst-mallocfork2).
#pragma once
#include "core/spin_lock.hpp"

namespace strata::rt {

struct YieldRelax {
  /// Called in the wait loop; yields to the OS on every 64th call.
  static void relax();
};

/// Number of strata locks the calling thread holds right now.
extern constinit thread_local u32 t_locks_held;

class Lock {
 public:
  constexpr Lock() = default;
  void lock() {
    ++t_locks_held;
    l_.lock();
  }
  void unlock() {
    l_.unlock();
    --t_locks_held;
  }
  /// Fork child: forces the unlocked state (the holder does not exist there).
  void reset() { l_.reset(); }

 private:
  SpinLockT<YieldRelax> l_{};
};

}  // namespace strata::rt
