// strata runtime: the Runtime's operations — initialisation, fork handlers,
// release and the statistics snapshot, each over the heap components.
#include "runtime/runtime.hpp"

#include "platform/os.hpp"
#include "platform/segment_map.hpp"
#include "runtime/stats_report.hpp"
#include "runtime/thread_cache.hpp"

namespace strata::rt {

// The arenas' heaps (8 x 22 KiB, most of it the transfer caches' tables) are
// zero bytes until used, so they sit in .bss apart from g_runtime:
// g_runtime's non-zero initialisers (pointers between its members, option
// defaults) put it in .data, whose pages are all resident once the loader
// relocates them (as the heaps were while their list sentinels pointed at
// themselves: 68 KiB per process, used or not).
constinit SmallHeap g_small_heaps[MAX_SMALL_ARENAS]{};
constinit Runtime g_runtime{g_small_heaps};
constinit thread_local RuntimeThreadState t_runtime{};

// ---- fork ----------------------------------------------------------------------
namespace {
constexpr u32 MAX_FORK_DEPTH = RuntimeThreadState::MAX_FORK_DEPTH;

// A fork from a signal handler that interrupted strata on this very thread
// must not wait for itself: then nothing is locked (POSIX only allows that
// case in a single-threaded process).
void fork_prepare() {
  RuntimeThreadState& t = t_runtime;
  const u32 level = t.fork_depth < MAX_FORK_DEPTH ? t.fork_depth : MAX_FORK_DEPTH - 1;
  ++t.fork_depth;
  // A nested fork finds the outer prepare's locks held by this very thread.
  t.fork_skipped[level] = locks_held() != 0;
  if (t.fork_skipped[level]) return;
  // glibc's fork() takes the FILE list lock after the prepare handlers. If
  // strata's locks were taken first, a thread in fflush(NULL) (holding the
  // list lock, waiting for a FILE whose owner waits in malloc) would close a
  // cycle (glibc tst-malloc-fork-deadlock). Taking the list lock first makes
  // the order list -> strata everywhere; fork() re-takes it recursively.
  os::stdio_list_lock();
  g_runtime.lock_all();
}

// Ends the innermost fork level; true when that level's prepare locked.
bool end_fork_level() {
  RuntimeThreadState& t = t_runtime;
  if (t.fork_depth == 0) return false;  // prepare did not run (cannot happen with pthread_atfork)
  --t.fork_depth;
  const u32 level = t.fork_depth < MAX_FORK_DEPTH ? t.fork_depth : MAX_FORK_DEPTH - 1;
  return !t.fork_skipped[level];
}

void fork_parent() {
  if (!end_fork_level()) return;
  g_runtime.unlock_all();
  os::stdio_list_unlock();  // glibc's fork() released its own hold already (if it took one)
}

void fork_child() {
  if (!end_fork_level()) return;
  g_runtime.reset_in_child();
  os::stdio_list_reset_in_child();  // the child's only thread; glibc resets it too when it had taken it
}

void at_exit_stats() { print_stats_to_stderr(); }
void at_exit_prof() { g_runtime.prof.at_exit(); }
}  // namespace

void Runtime::lock_all() {
  init_lock_.lock();
  for_each_heap([](auto& h) { h.lock(); });
  pages.lock();
}

void Runtime::unlock_all() {
  pages.unlock();
  for_each_heap([](auto& h) { h.unlock(); });
  init_lock_.unlock();
}

void Runtime::reset_in_child() {
  // The child has one thread; it holds every lock: reset them (and the count).
  pages.reset_lock_in_child();
  for_each_heap([](auto& h) { h.reset_lock_in_child(); });
  init_lock_.reset();
  forget_locks_held();
  purge.reset_in_child();
}

// ---- initialisation ---------------------------------------------------------------

void Runtime::initialise() {
  init_lock_.lock();
  if (init_state_ == 0) {
    init_state_ = 1;
    (void)os::page_size();
    caches.tag_secret = os::random_u64();
    small.configure(os::cpu_count());
    load_options(options);
    limits.configure(options);
    prof.configure(options);
    huge.set_guard(options.huge_guard);
    guarded.configure(options, prof.enabled());
    purge.start();
    __atomic_store_n(&init_state_, 2u, __ATOMIC_RELEASE);
  }
  init_lock_.unlock();
  post_init();
}

// The steps that may allocate. One thread runs them (state 1 -> 2); others
// that arrive meanwhile wait for state 2, so none goes on before the exit key
// exists (its threads would never flush their caches). The running thread's
// own recursive mallocs (atfork, atexit) pass straight through.
void Runtime::post_init() {
  if (__atomic_load_n(&post_init_done_, __ATOMIC_ACQUIRE) == 2 || t_runtime.in_post_init) return;
  u32 expected = 0;
  if (!__atomic_compare_exchange_n(&post_init_done_, &expected, 1u, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&post_init_done_, __ATOMIC_ACQUIRE) != 2) YieldRelax::relax();
    return;
  }
  t_runtime.in_post_init = true;
  limits.read_cgroup(options);  // file reads: with no lock held (another preload may hook them)
  ThreadCache::register_exit_key();
  os::at_fork(fork_prepare, fork_parent, fork_child);
  if (options.stats_print) os::at_exit(at_exit_stats);
  if (prof.enabled() && (options.prof_final || options.prof_leak)) os::at_exit(at_exit_prof);
  t_runtime.in_post_init = false;
  __atomic_store_n(&post_init_done_, 2u, __ATOMIC_RELEASE);
}

// ---- release and statistics ---------------------------------------------------------

usize Runtime::release(Release what, u64 min_age_ms) {
  usize released = 0;
  for_each_heap([&](auto& h) { released += h.release(what, min_age_ms); });
  return released;
}

namespace {
usize sub_or_zero(usize a, usize b) { return a > b ? a - b : 0; }
}  // namespace

Snapshot Runtime::snapshot() {
  Snapshot s{};
  for_each_heap([&](auto& h) { h.collect(s); });
  // Census of the segments inside the reservation, by kind, with their
  // resident pages (segments mapped outside it, when it was full or refused,
  // count in `mapped`, not in `resident`). Lock-free: the segment map.
  usize kind_bytes[5] = {};
  const uptr base = pages.reserve_base();
  const usize nsegs = pages.reserved_bytes() / SEGMENT_SIZE;
  for (usize i = 0; i < nsegs; ++i) {
    const void* seg = reinterpret_cast<const void*>(base + i * SEGMENT_SIZE);
    const auto kind = static_cast<usize>(segment_kind(seg));
    if (kind == 0 || kind >= 5) continue;
    kind_bytes[kind] += SEGMENT_SIZE;
    s.resident += os::resident_bytes(seg, SEGMENT_SIZE);
  }
  s.small.segments = kind_bytes[static_cast<usize>(SegmentKind::Small)];
  s.medium.segments = kind_bytes[static_cast<usize>(SegmentKind::Medium)];
  s.huge_segments = kind_bytes[static_cast<usize>(SegmentKind::Huge)];
  s.sampled.segments = kind_bytes[static_cast<usize>(SegmentKind::Sampled)];
  // The guarded pool is mapped on its own, outside the page source (and so
  // outside stats.mapped, which the memory limits govern; guarded.mapped
  // has it): each live slot's page counts as active and resident.
  const usize guarded_pages = s.guarded.in_use * os::page_size();
  s.mapped = pages.mapped_bytes();
  s.resident += guarded_pages;
  s.reserved = pages.reserved_bytes();
  s.allocated = s.small.used + s.medium.used + s.huge_bytes + s.sampled.used + s.guarded.live_bytes;
  s.active = sub_or_zero(s.small.managed, s.small_free_runs) + s.medium.used + s.huge_bytes + s.sampled.used +
             guarded_pages;
  s.metadata = sub_or_zero(s.small.segments, s.small.managed) + sub_or_zero(s.medium.segments, s.medium.managed) +
               sub_or_zero(s.sampled.segments, s.sampled.managed) + s.huge_count * os::page_size();
  s.retained = sub_or_zero(s.reserved, s.small.segments + s.medium.segments + s.huge_segments + s.sampled.segments);
  limits.collect(s);
  return s;
}

}  // namespace strata::rt
