// strata runtime: initialisation, fork safety, purge clock, exit statistics.
//
// Initialisation is constant (every global is constinit) plus a short lazy
// step on the first slow path: the double-free secret, the options. Neither
// allocates, so the first malloc may come from the dynamic loader, from a
// constructor or from inside dlsym. What may allocate (pthread_atfork,
// pthread_key_create, atexit) runs after the state is ready and the init lock
// is released, so a recursive malloc is served normally.
#include "lifecycle.hpp"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <sys/auxv.h>

#include "alloc.hpp"
#include "central.hpp"
#include "huge.hpp"
#include "lock.hpp"
#include "options.hpp"
#include "os.hpp"
#include "page_source.hpp"
#include "stats.hpp"

// glibc's lock of the list of all FILEs (public since GLIBC_2.2.5, recursive).
extern "C" void _IO_list_lock(void);
extern "C" void _IO_list_unlock(void);
extern "C" void _IO_list_resetlock(void);

namespace strata::rt {
namespace {
constinit Lock g_init_lock{};
constinit u32 g_init_state = 0;  // 0 not started, 1 running, 2 ready
constinit u32 g_post_init_done = 0;  // 0 not started, 1 running, 2 done
constinit u64 g_last_purge_ms = 0;
constinit thread_local u32 t_purge_tick = 0;
// fork() may nest: a signal handler that interrupted a fork (between its
// prepare and parent/child handlers) may fork again. Each level remembers
// whether it locked, on the forking thread (a fork's handlers all run there).
constexpr u32 MAX_FORK_DEPTH = 8;
constinit thread_local u32 t_fork_depth = 0;
constinit thread_local bool t_fork_skipped[MAX_FORK_DEPTH] = {};
constinit u32 g_purger_started = 0;  // 0 no purger thread, 1 running, 2 could not start

u64 random_secret() {
  // 16 random bytes the kernel gives every process (no syscall, no allocation).
  u64 s = 0;
  if (const void* r = reinterpret_cast<const void*>(::getauxval(AT_RANDOM))) {
    u64 w[2];
    __builtin_memcpy(w, r, sizeof w);  // the kernel's bytes need not be 8-aligned
    s = w[0] ^ (w[1] << 1);
  }
  s ^= reinterpret_cast<uptr>(&s) * 0x9e3779b97f4a7c15ull;
  return s == 0 ? 0x5bd1e9955bd1e995ull : s;
}

// fork(): every strata lock is taken before the fork, in one fixed order
// (heaps, then the page source, which heaps call into), and released in both
// processes after it. A fork from a signal handler that interrupted strata on
// this very thread must not wait for itself: then nothing is locked (POSIX
// only allows that case in a single-threaded process).
void fork_prepare() {
  const u32 level = t_fork_depth < MAX_FORK_DEPTH ? t_fork_depth : MAX_FORK_DEPTH - 1;
  ++t_fork_depth;
  // A nested fork finds the outer prepare's locks held by this very thread.
  t_fork_skipped[level] = t_locks_held != 0;
  if (t_fork_skipped[level]) return;
  // glibc's fork() takes the FILE list lock after the prepare handlers. If
  // strata's locks were taken first, a thread in fflush(NULL) (holding the
  // list lock, waiting for a FILE whose owner waits in malloc) would close a
  // cycle (glibc tst-malloc-fork-deadlock). Taking the list lock first makes
  // the order list -> strata everywhere; fork() re-takes it recursively.
  _IO_list_lock();
  g_init_lock.lock();
  g_small.lock();
  g_medium.lock();
  huge_lock();
  g_page_source.lock();
}
// Ends the innermost fork level; true when that level's prepare locked.
bool end_fork_level() {
  if (t_fork_depth == 0) return false;  // prepare did not run (cannot happen with pthread_atfork)
  --t_fork_depth;
  const u32 level = t_fork_depth < MAX_FORK_DEPTH ? t_fork_depth : MAX_FORK_DEPTH - 1;
  return !t_fork_skipped[level];
}

void fork_parent() {
  if (!end_fork_level()) return;
  g_page_source.unlock();
  huge_unlock();
  g_medium.unlock();
  g_small.unlock();
  g_init_lock.unlock();
  _IO_list_unlock();  // glibc's fork() released its own hold already (if it took one)
}
void fork_child() {
  if (!end_fork_level()) return;
  // The child has one thread; it holds every lock: reset them (and the count).
  g_page_source.reset_lock_in_child();
  huge_reset_lock_in_child();
  g_medium.reset_lock_in_child();
  g_small.reset_lock_in_child();
  g_init_lock.reset();
  t_locks_held = 0;
  _IO_list_resetlock();  // the child's only thread; glibc resets it too when it had taken it
  if (g_purger_started == 1) g_purger_started = 0;  // the thread did not survive the fork
}

void at_exit_stats() {
  if (g_options.stats_print) print_stats_to_stderr();
}

// The steps that may allocate. One thread runs them (state 1 -> 2); others
// that arrive meanwhile wait for state 2, so none goes on before the exit key
// exists (its threads would never flush their caches). The running thread's
// own recursive mallocs (pthread_atfork, atexit) pass straight through.
constinit thread_local bool t_in_post_init = false;

void post_init() {
  if (__atomic_load_n(&g_post_init_done, __ATOMIC_ACQUIRE) == 2 || t_in_post_init) return;
  u32 expected = 0;
  if (!__atomic_compare_exchange_n(&g_post_init_done, &expected, 1u, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&g_post_init_done, __ATOMIC_ACQUIRE) != 2) YieldRelax::relax();
    return;
  }
  t_in_post_init = true;
  register_thread_exit_key();
  ::pthread_atfork(fork_prepare, fork_parent, fork_child);
  if (g_options.stats_print) ::atexit(at_exit_stats);
  t_in_post_init = false;
  __atomic_store_n(&g_post_init_done, 2u, __ATOMIC_RELEASE);
}
}  // namespace

void ensure_initialised() {
  if (__builtin_expect(__atomic_load_n(&g_init_state, __ATOMIC_ACQUIRE) == 2, 1)) return;
  g_init_lock.lock();
  if (g_init_state == 0) {
    g_init_state = 1;
    (void)os::page_size();
    g_tag_secret = random_secret();
    g_small.configure(os::cpu_count());
    load_options();
    g_last_purge_ms = os::now_ms();
    __atomic_store_n(&g_init_state, 2u, __ATOMIC_RELEASE);
  }
  g_init_lock.unlock();
  post_init();
}

namespace {
// Runs a purge pass when purge_delay_ms has passed since the last one; one
// caller wins the pass, the others go on.
void purge_if_due() {
  const i64 delay = g_options.purge_delay_ms;
  if (delay < 0) return;
  const u64 now = os::now_ms();
  u64 last = __atomic_load_n(&g_last_purge_ms, __ATOMIC_RELAXED);
  if (now - last < static_cast<u64>(delay)) return;
  if (!__atomic_compare_exchange_n(&g_last_purge_ms, &last, now, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
  g_small.purge();
  g_medium.purge();
  huge_cache_release(static_cast<u64>(delay));
}

// The background purger: without it, pages freed just before a program goes
// idle would stay resident until its next allocation. It starts only once the
// process maps more than PURGER_THRESHOLD (small programs never get a thread),
// sleeps a quarter of the delay between checks, never allocates, and takes
// no signals. A fork child starts its own again when it needs one.
constexpr usize PURGER_THRESHOLD = usize{64} << 20;

void* purger_main(void*) {
  sigset_t all;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    const i64 delay = g_options.purge_delay_ms;
    const i64 nap = delay / 4 < 10 ? 10 : delay / 4;
    struct timespec ts{static_cast<time_t>(nap / 1000), static_cast<long>((nap % 1000) * 1000000)};
    ::nanosleep(&ts, nullptr);
    purge_if_due();
  }
  return nullptr;
}

void maybe_start_purger() {
  if (!g_options.background_purge || g_options.purge_delay_ms <= 0) return;
  if (__atomic_load_n(&g_purger_started, __ATOMIC_RELAXED) != 0) return;
  if (g_page_source.mapped_bytes() < PURGER_THRESHOLD) return;
  if (__atomic_exchange_n(&g_purger_started, 1u, __ATOMIC_ACQ_REL) != 0) return;
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  ::pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  // pthread_create allocates (its TLS vector): fine, no strata lock is held here.
  if (::pthread_create(&t, &attr, purger_main, nullptr) != 0) {
    __atomic_store_n(&g_purger_started, 2u, __ATOMIC_RELAXED);  // do not retry on every call
  }
  ::pthread_attr_destroy(&attr);
}
}  // namespace

void maybe_purge() {
  if ((++t_purge_tick & 63) != 0) return;
  maybe_start_purger();
  purge_if_due();
}

}  // namespace strata::rt
