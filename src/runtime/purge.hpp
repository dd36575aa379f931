// strata runtime: the purge policy — when free memory goes back to the OS.
//
// The heaps know how to give memory back (Runtime::release); this is the one
// place that decides when, from the option purge_delay_ms:
//   > 0  a purge pass (every free page of the small and medium heaps, and the
//        huge cache's runs freed at least that long ago) runs once the delay
//        has passed since the last pass: checked on every 64th slow-path call
//        of a thread, and by a background thread (option background_purge)
//        once the process maps more than PURGER_THRESHOLD, so pages freed
//        just before a program goes idle do not stay resident;
//   = 0  the same check passes every time, and freed huge runs are not kept;
//   < 0  never on a clock: only malloc_trim and out-of-memory reclaim give
//        memory back.
// Thread-safety: every method may be called from any thread.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

class PurgePolicy {
 public:
  constexpr PurgePolicy() = default;

  /// At initialisation, with the options loaded: starts the clock and tells
  /// the huge heap whether freed runs may be kept.
  void start();

  /// The trigger, from slow paths only with no strata lock held: cheap when
  /// it is not time (a per-thread counter, then a clock read every 64 calls).
  void tick();

  /// Fork child: the background thread, if any, did not survive the fork.
  void reset_in_child();

 private:
  void run_if_due();
  void maybe_start_thread();
  static void thread_main();

  u64 last_ms_ = 0;
  u32 thread_state_ = 0;  ///< 0 no purger thread, 1 running, 2 could not start
};

}  // namespace strata::rt
