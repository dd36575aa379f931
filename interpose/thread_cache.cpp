// strata runtime: per-thread cache slow paths (refill, overflow, thread exit).
#include "thread_cache.hpp"

#include <pthread.h>

#include "alloc.hpp"
#include "central.hpp"
#include "lifecycle.hpp"
#include "options.hpp"

namespace strata::rt {

constinit thread_local ThreadCache t_cache{};
constinit u64 g_tag_secret = 0;

namespace {
/// Largest batch moved between a bin and the central heap at once.
constexpr usize MAX_BATCH = 128;

constinit pthread_key_t g_exit_key = 0;
constinit bool g_exit_key_ok = false;

/// How many blocks of class cls a thread may cache: about `tcache_bytes`
/// worth per class, at least 4 and at most 2 * MAX_BATCH blocks.
u32 limit_for(u32 cls) {
  const usize size = small_class_size(cls);
  usize lim = g_options.tcache_class_bytes / size;
  if (lim < 4) lim = 4;
  if (lim > 2 * MAX_BATCH) lim = 2 * MAX_BATCH;
  return g_options.tcache_enabled ? static_cast<u32>(lim) : 0;
}

void on_thread_exit(void*) {
  t_cache.state = CacheState::Dead;
  // Limit 0: any later free (from other TLS destructors) overflows at once
  // and goes straight back to the central heap.
  bins_enter();
  for (Bin& b : t_cache.bins) {
    b.room -= static_cast<i32>(b.limit);
    b.limit = 0;
  }
  bins_leave();
  cache_flush_all();
}

// Fresh -> Warming: no cache yet (limits stay 0), the exit key armed. A
// warming thread allocates from arena 0: short-lived threads then share one
// arena's spans instead of touching pages in every arena.
void setup_thread() {
  ensure_initialised();
  t_cache.arena = 0;
  t_cache.warmup_left = WARMUP_ALLOCS;
  t_cache.state = CacheState::Warming;
  // After Warming: if setspecific allocates (keys >= 32), that malloc is served normally.
  if (__atomic_load_n(&g_exit_key_ok, __ATOMIC_ACQUIRE)) ::pthread_setspecific(g_exit_key, &t_cache);
}

// Warming -> Live: the thread gets its own arena (round robin) and the bins their limits.
void enable_cache() {
  t_cache.arena = static_cast<u8>(g_small.next_arena());
  bins_enter();
  for (Bin& b : t_cache.bins) {
    const u32 lim = limit_for(static_cast<u32>(&b - t_cache.bins));
    b.room += static_cast<i32>(lim - b.limit);
    b.limit = lim;
  }
  t_cache.state = CacheState::Live;
  bins_leave();
}

// Gives all but `keep` blocks of `b` back to the central heap. It returns the
// blocks at the head of the list, the most recently freed: their lines are
// still in cache, so walking them and linking them into their spans costs no
// misses, where walking to the cold tail would miss on every block.
void flush_bin(Bin& b, u32 keep) {
  const u32 count = b.count();
  u32 give = count > keep ? count - keep : 0;
  void* batch[MAX_BATCH];
  while (give > 0) {
    const u32 n = give < MAX_BATCH ? give : static_cast<u32>(MAX_BATCH);
    bins_enter();
    void* cur = b.head;
    for (u32 i = 0; i < n; ++i) {
      batch[i] = cur;
      cur = *static_cast<void**>(cur);
    }
    b.head = cur;
    b.room += static_cast<i32>(n);
    bins_leave();
    give -= n;
    g_small.dealloc_batch(batch, n, "free");
  }
}
}  // namespace

void register_thread_exit_key() {
  if (!__atomic_load_n(&g_exit_key_ok, __ATOMIC_ACQUIRE) && ::pthread_key_create(&g_exit_key, on_thread_exit) == 0)
    __atomic_store_n(&g_exit_key_ok, true, __ATOMIC_RELEASE);
}

void* cache_refill(u32 cls) {
  if (t_cache.state != CacheState::Live) {
    if (t_cache.state == CacheState::Fresh) setup_thread();
    if (t_cache.state == CacheState::Warming && --t_cache.warmup_left == 0) enable_cache();
    if (t_cache.state != CacheState::Live || t_cache.bins[cls].limit == 0) {
      void* one = nullptr;
      if (g_small.alloc_batch(t_cache.arena, cls, &one, 1) == 0) return nullptr;
      static_cast<u64*>(one)[1] = 0;
      return one;
    }
  }
  Bin& b = t_cache.bins[cls];
  usize want = b.limit / 2 + 1;
  if (want > MAX_BATCH) want = MAX_BATCH;
  u8& grow = t_cache.refill_log[cls];
  if ((usize{FIRST_REFILL} << grow) < want) want = usize{FIRST_REFILL} << grow++;
  void* batch[MAX_BATCH];
  const usize n = g_small.alloc_batch(t_cache.arena, cls, batch, want);
  if (n == 0) return nullptr;
  // Every block in a bin is free and carries its tag, fresh ones included.
  bins_enter();
  for (usize i = n; i-- > 1;) {
    *static_cast<void**>(batch[i]) = b.head;
    static_cast<u64*>(batch[i])[1] = free_tag(batch[i]);
    b.head = batch[i];
  }
  b.room -= static_cast<i32>(n - 1);
  bins_leave();
  static_cast<u64*>(batch[0])[1] = 0;
  return batch[0];
}

void cache_overflow(u32 cls) {
  if (t_cache.state == CacheState::Fresh) setup_thread();
  Bin& b = t_cache.bins[cls];
  flush_bin(b, t_cache.state == CacheState::Live ? b.limit / 2 : 0);
  maybe_purge();
}

void cache_flush_all() {
  for (u32 c = 0; c < NUM_SMALL_CLASSES; ++c)
    if (t_cache.bins[c].count() != 0) flush_bin(t_cache.bins[c], 0);
}

}  // namespace strata::rt
