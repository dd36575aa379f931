// strata runtime: the purge policy (purge.hpp).
#include "runtime/purge.hpp"

#include "platform/os.hpp"
#include "runtime/runtime.hpp"

namespace strata::rt {

namespace {
/// The background thread starts only once the process maps more than this:
/// small programs never get one.
constexpr usize PURGER_THRESHOLD = usize{64} << 20;
}  // namespace

void PurgePolicy::start() {
  last_ms_ = os::now_ms();
  g_runtime.huge.set_keep_freed_runs(g_runtime.options.purge_delay_ms != 0);
}

void PurgePolicy::tick() {
  if ((++t_runtime.purge_tick & 63) != 0) return;
  maybe_start_thread();
  run_if_due();
}

void PurgePolicy::reset_in_child() {
  if (thread_state_ == 1) thread_state_ = 0;  // a child starts its own again when it needs one
}

// One caller wins the pass when the delay has passed; the others go on.
void PurgePolicy::run_if_due() {
  const i64 delay = g_runtime.options.purge_delay_ms;
  if (delay < 0) return;
  const u64 now = os::now_ms();
  u64 last = __atomic_load_n(&last_ms_, __ATOMIC_RELAXED);
  if (now - last < static_cast<u64>(delay)) return;
  if (!__atomic_compare_exchange_n(&last_ms_, &last, now, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
  g_runtime.release(Release::FreePages, static_cast<u64>(delay));
}

// Sleeps a quarter of the delay between checks; never allocates.
void PurgePolicy::thread_main() {
  for (;;) {
    const i64 delay = g_runtime.options.purge_delay_ms;
    os::sleep_ms(static_cast<u64>(delay / 4 < 10 ? 10 : delay / 4));
    g_runtime.purge.run_if_due();
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
