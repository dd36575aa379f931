// strata platform: the lock's per-thread state and its out-of-line parts.
#include "platform/lock.hpp"

#include "platform/os.hpp"
#include "platform/report.hpp"

namespace strata::rt {

constinit thread_local LockThreadState t_lock_state{};

void reentered() {
  fatal_line("malloc(): re-entered on a thread already inside strata (malloc from a signal handler?)", "", 0);
}

void YieldRelax::relax() {
  if ((++t_lock_state.spins & 63) == 0) {
    os::yield();
  } else {
    CpuRelax::relax();
  }
}

}  // namespace strata::rt
