// strata runtime: per-thread cache slow paths (refill, overflow, thread exit).
#include "runtime/thread_cache.hpp"

#include "platform/os.hpp"
#include "platform/report.hpp"

namespace strata::rt {

constinit thread_local ThreadCache t_cache{};

namespace {
/// Largest batch moved between a bin and the central heap at once.
constexpr usize MAX_BATCH = 128;

/// How many blocks of class cls a thread may cache: about `tcache_bytes`
/// worth per class, at least 4 and at most 2 * MAX_BATCH blocks.
u32 limit_for(u32 cls) {
  const Options& o = g_runtime.options;
  const usize size = small_class_size(cls);
  usize lim = o.tcache_class_bytes / size;
  if (lim < 4) lim = 4;
  if (lim > 2 * MAX_BATCH) lim = 2 * MAX_BATCH;
  return o.tcache_enabled ? static_cast<u32>(lim) : 0;
}
}  // namespace

void small_double_free(const char* fn, const void* p) { misuse(fn, "double free", p); }

void ThreadCache::register_exit_key() {
  CacheShared& s = g_runtime.caches;
  if (!__atomic_load_n(&s.exit_key_ok, __ATOMIC_ACQUIRE) && os::create_thread_key(s.exit_key, on_thread_exit))
    __atomic_store_n(&s.exit_key_ok, true, __ATOMIC_RELEASE);
}

void ThreadCache::on_thread_exit(void* cache) {
  ThreadCache& c = *static_cast<ThreadCache*>(cache);
  c.state_ = State::Dead;
  // Limit 0: any later free (from other TLS destructors) overflows at once
  // and goes straight back to the central heap.
  c.enter();
  for (Bin& b : c.bins_) {
    b.room -= static_cast<i32>(b.limit);
    b.limit = 0;
  }
  c.leave();
  c.flush_all();
}

// Fresh -> Warming: no cache yet (limits stay 0), the exit key armed. A
// warming thread allocates from arena 0: short-lived threads then share one
// arena's spans instead of touching pages in every arena.
void ThreadCache::setup() {
  ensure_initialised();
  arena_ = 0;
  warmup_left_ = WARMUP_ALLOCS;
  state_ = State::Warming;
  // After Warming: if the key's setter allocates (keys >= 32), that malloc is served normally.
  const CacheShared& s = g_runtime.caches;
  if (__atomic_load_n(&s.exit_key_ok, __ATOMIC_ACQUIRE)) os::set_thread_key(s.exit_key, this);
}

// Warming -> Live: the thread gets its own arena (round robin) and the bins their limits.
void ThreadCache::enable() {
  arena_ = static_cast<u8>(g_runtime.small.next_arena());
  enter();
  for (Bin& b : bins_) {
    const u32 lim = limit_for(static_cast<u32>(&b - bins_));
    b.room += static_cast<i32>(lim - b.limit);
    b.limit = lim;
  }
  state_ = State::Live;
  leave();
}

// Gives all but `keep` blocks of `b` back to the central heap. It returns the
// blocks at the head of the list, the most recently freed: their lines are
// still in cache, so walking them and linking them into their spans costs no
// misses, where walking to the cold tail would miss on every block.
void ThreadCache::flush_bin(Bin& b, u32 keep) {
  const u32 count = b.count();
  u32 give = count > keep ? count - keep : 0;
  void* batch[MAX_BATCH];
  while (give > 0) {
    const u32 n = give < MAX_BATCH ? give : static_cast<u32>(MAX_BATCH);
    enter();
    void* cur = b.head;
    for (u32 i = 0; i < n; ++i) {
      batch[i] = cur;
      cur = *static_cast<void**>(cur);
    }
    b.head = cur;
    b.room += static_cast<i32>(n);
    leave();
    give -= n;
    g_runtime.small.dealloc_batch(batch, n, "free");
    t_prof.deallocated += n * small_class_size(static_cast<u32>(&b - bins_));  // thread.deallocated (prof.hpp)
  }
}

void* ThreadCache::refill(u32 cls) {
  if (state_ != State::Live) {
    if (state_ == State::Fresh) setup();
    if (state_ == State::Warming && --warmup_left_ == 0) enable();
    if (state_ != State::Live || bins_[cls].limit == 0) {
      void* one = nullptr;
      if (g_runtime.small.alloc_batch(arena_, cls, &one, 1) == 0) return nullptr;
      t_prof.allocated += small_class_size(cls);  // thread.allocated (prof.hpp)
      static_cast<u64*>(one)[1] = 0;
      return one;
    }
  }
  Bin& b = bins_[cls];
  usize want = b.limit / 2 + 1;
  if (want > MAX_BATCH) want = MAX_BATCH;
  u8& grow = refill_log_[cls];
  if ((usize{FIRST_REFILL} << grow) < want) want = usize{FIRST_REFILL} << grow++;
  void* batch[MAX_BATCH];
  const usize n = g_runtime.small.alloc_batch(arena_, cls, batch, want);
  if (n == 0) return nullptr;
  t_prof.allocated += n * small_class_size(cls);  // thread.allocated (prof.hpp)
  // Every block in a bin is free and carries its tag, fresh ones included.
  enter();
  for (usize i = n; i-- > 1;) {
    *static_cast<void**>(batch[i]) = b.head;
    static_cast<u64*>(batch[i])[1] = free_tag(batch[i]);
    b.head = batch[i];
  }
  b.room -= static_cast<i32>(n - 1);
  leave();
  static_cast<u64*>(batch[0])[1] = 0;
  return batch[0];
}

void ThreadCache::overflow(u32 cls) {
  if (state_ == State::Fresh) setup();
  Bin& b = bins_[cls];
  flush_bin(b, state_ == State::Live ? b.limit / 2 : 0);
  g_runtime.purge.tick();
}

void ThreadCache::flush_all() {
  for (Bin& b : bins_)
    if (b.count() != 0) flush_bin(b, 0);
}

}  // namespace strata::rt
