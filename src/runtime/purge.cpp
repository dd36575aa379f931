// strata runtime: the purge policy (purge.hpp).
#include "runtime/purge.hpp"

#include "platform/os.hpp"
#include "runtime/runtime.hpp"

namespace strata::rt {

namespace {
/// The background thread starts only once the process maps more than this:
/// small programs never get one.
constexpr usize PURGER_THRESHOLD = usize{64} << 20;

/// What a timed pass gives back: under thp:always only whole huge pages.
Release timed_release() {
  return g_runtime.pages.thp() == ThpMode::Always ? Release::FreeHugePages : Release::FreePages;
}
}  // namespace

void PurgePolicy::start() {
  last_ms_ = os::now_ms();
  g_runtime.huge.set_keep_freed_runs(g_runtime.options.purge_delay_ms != 0);
}

void PurgePolicy::tick() {
  const u32 t = ++t_runtime.purge_tick;
  if (__builtin_expect(g_runtime.limits.over_soft(), 0)) {
    if ((t & __atomic_load_n(&soft_mask_, __ATOMIC_RELAXED)) == 0 ||
        g_runtime.pages.mapped_bytes() > __atomic_load_n(&soft_mapped_, __ATOMIC_RELAXED))
      soft_pass();
    if ((t & 63) == 0) maybe_start_thread();
    return;
  }
  if (__builtin_expect(__atomic_load_n(&soft_mode_, __ATOMIC_RELAXED) != 0, 0)) leave_soft_mode();
  if ((t & 63) != 0) return;
  maybe_start_thread();
  run_if_due();
}

void PurgePolicy::reset_in_child() {
  if (thread_state_ == 1) thread_state_ = 0;  // a child starts its own again when it needs one
  soft_busy_ = 0;                             // a pass the fork interrupted does not go on in the child
}

bool PurgePolicy::soft_limited() { return g_runtime.limits.soft() != 0; }

void PurgePolicy::soft_check_growth() {
  if (g_runtime.limits.over_soft() &&
      g_runtime.pages.mapped_bytes() > __atomic_load_n(&soft_mapped_, __ATOMIC_RELAXED))
    soft_pass();
}

// Wholly free segments and the huge cache's runs back first (cheap: whole
// unmaps); when that does not bring strata under the limit, every free page
// too. No freed huge runs are kept until strata is under the limit again.
void PurgePolicy::soft_pass() {
  if (__atomic_exchange_n(&soft_busy_, 1u, __ATOMIC_ACQUIRE) != 0) return;  // another thread is at it
  if (__atomic_exchange_n(&soft_mode_, 1u, __ATOMIC_RELAXED) == 0) g_runtime.huge.set_keep_freed_runs(false);
  usize got = g_runtime.release(Release::FreeSegments, 0);
  if (g_runtime.limits.over_soft()) got += g_runtime.release(Release::FreePages, 0);
  __atomic_store_n(&soft_mapped_, g_runtime.pages.mapped_bytes(), __ATOMIC_RELAXED);
  // A pass that found nothing to give back makes the next one wait twice as
  // long (every 8th tick up to every 64th); one that gave back, every 8th again.
  const u32 mask = __atomic_load_n(&soft_mask_, __ATOMIC_RELAXED);
  __atomic_store_n(&soft_mask_, got != 0 ? SOFT_MASK_MIN : (mask * 2 + 1 < SOFT_MASK_MAX ? mask * 2 + 1 : SOFT_MASK_MAX),
                   __ATOMIC_RELAXED);
  g_runtime.limits.count_soft_pass(got);
  __atomic_store_n(&soft_busy_, 0u, __ATOMIC_RELEASE);
}

void PurgePolicy::leave_soft_mode() {
  if (__atomic_exchange_n(&soft_mode_, 0u, __ATOMIC_RELAXED) == 0) return;
  g_runtime.huge.set_keep_freed_runs(g_runtime.options.purge_delay_ms != 0);
  __atomic_store_n(&soft_mapped_, usize{0}, __ATOMIC_RELAXED);
}

// One caller wins the pass when the delay has passed; the others go on.
void PurgePolicy::run_if_due() {
  const i64 delay = g_runtime.options.purge_delay_ms;
  if (delay < 0) return;
  const u64 now = os::now_ms();
  u64 last = __atomic_load_n(&last_ms_, __ATOMIC_RELAXED);
  if (now - last < static_cast<u64>(delay)) return;
  if (!__atomic_compare_exchange_n(&last_ms_, &last, now, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
  g_runtime.release(timed_release(), static_cast<u64>(delay));
}

// Sleeps a quarter of the delay between checks; never allocates. Over the
// soft limit, each wake-up is a soft pass (an idle program above it still
// gives its free pages back).
void PurgePolicy::thread_main() {
  for (;;) {
    const i64 delay = g_runtime.options.purge_delay_ms;
    os::sleep_ms(static_cast<u64>(delay / 4 < 10 ? 10 : delay / 4));
    PurgePolicy& p = g_runtime.purge;
    if (g_runtime.limits.over_soft()) {
      p.soft_pass();
      continue;
    }
    if (__atomic_load_n(&p.soft_mode_, __ATOMIC_RELAXED) != 0) p.leave_soft_mode();
    p.run_if_due();
  }
}

void PurgePolicy::maybe_start_thread() {
  const Options& o = g_runtime.options;
  if (!o.background_purge || o.purge_delay_ms <= 0) return;
  if (__atomic_load_n(&thread_state_, __ATOMIC_RELAXED) != 0) return;
  if (g_runtime.pages.mapped_bytes() < PURGER_THRESHOLD) return;
  if (__atomic_exchange_n(&thread_state_, 1u, __ATOMIC_ACQ_REL) != 0) return;
  // Starting a thread allocates (its TLS): fine, no strata lock is held here.
  if (!os::start_daemon_thread(thread_main)) __atomic_store_n(&thread_state_, 2u, __ATOMIC_RELAXED);
}

}  // namespace strata::rt
