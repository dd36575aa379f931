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
// Under thp:always the timed pass gives back free pages only where they fill
// whole huge pages (Release::FreeHugePages; the rule is in central.cpp).
//
// The soft memory limit (limits.hpp) overrides the delay: while strata maps
// more than it, a soft pass runs on every 8th slow-path call of a thread
// (every 16th, 32nd, up to 64th after passes that found nothing to give
// back), and at once on a slow-path allocation that finds more mapped than
// after the last soft pass (new memory while over the limit). A soft pass
// gives back wholly free segments and the huge cache, and when that leaves
// strata over the limit, every free page (Release::FreePages); freed huge
// runs are not kept. Back under the limit, the delay rules again.
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
  /// it is not time (a per-thread counter and the soft-limit test, then a
  /// clock read every 64 calls).
  void tick();

  /// After a slow-path allocation succeeded, no strata lock held: over the
  /// soft limit with more mapped than after the last soft pass, a pass now.
  /// Costs a load and a branch when there is no soft limit.
  void after_alloc() {
    if (__builtin_expect(soft_limited(), 0)) soft_check_growth();
  }

  /// Fork child: the background thread, if any, did not survive the fork.
  void reset_in_child();

 private:
  void run_if_due();
  void maybe_start_thread();
  static void thread_main();
  static bool soft_limited();  // a soft limit is set
  void soft_check_growth();
  void soft_pass();            // one pass forced by the soft limit (one thread at a time)
  void leave_soft_mode();

  u64 last_ms_ = 0;
  u32 thread_state_ = 0;  ///< 0 no purger thread, 1 running, 2 could not start
  static constexpr u32 SOFT_MASK_MIN = 7, SOFT_MASK_MAX = 63;
  usize soft_mapped_ = 0; ///< mapped bytes after the last soft pass
  u32 soft_mask_ = SOFT_MASK_MIN;  ///< over the soft limit a pass runs when (tick & mask) == 0
  u32 soft_busy_ = 0;     ///< 1 while a soft pass runs
  u32 soft_mode_ = 0;     ///< 1 from a soft pass until a check finds strata under the limit
};

}  // namespace strata::rt
