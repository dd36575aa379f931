// strata runtime: per-thread cache slow paths (refill, overflow, thread exit).
#include "runtime/thread_cache.hpp"

#include "platform/os.hpp"
#include "platform/report.hpp"

namespace strata::rt {

constinit thread_local ThreadCache t_cache{};

namespace {
/// Largest batch moved between a bin and the central heap at once.
constexpr usize MAX_BATCH = 128;

/// How many blocks of class code a thread may cache: about `tcache_bytes`
/// worth per class, at least 4 and at most 2 * MAX_BATCH blocks.
u32 limit_for(u32 code) {
  const Options& o = g_runtime.options;
  const usize size = small_class_size(class_of_code(code));
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

void* ThreadCache::open(u32 code) {
  const uptr head = claim(code);  // claim() names t_cache: a cache is only used by its own thread
  if (busy(head)) reentered();
  return reinterpret_cast<void*>(head);
}

void ThreadCache::on_thread_exit(void* cache) {
  ThreadCache& c = *static_cast<ThreadCache*>(cache);
  if (c.state_ == State::Live) g_runtime.small.leave_arena(c.arena_);
  c.state_ = State::Dead;
  // Limit 0: any later free (from other TLS destructors) overflows at once
  // and goes straight back to the central heap.
  for (u32 code = 1; code < NUM_SMALL_CODES; ++code) {
    void* head = c.open(code);
    c.room_[code] -= static_cast<i32>(c.limits_[code]);
    c.limits_[code] = 0;
    c.close(code, head);
  }
  c.flush_all();
}

// Fresh -> Warming: no cache yet (limits stay 0), the exit key armed. A
// warming thread allocates from arena 0: short-lived threads then share one
// arena's spans instead of touching pages in every arena.
void ThreadCache::setup() {
  ensure_initialised();
  arena_ = 0;
  warmup_left_ = WARMUP_ALLOCS;
  warmup_frees_left_ = WARMUP_FREES;
  state_ = State::Warming;
  // After Warming: if the key's setter allocates (keys >= 32), that malloc is served normally.
  const CacheShared& s = g_runtime.caches;
  if (__atomic_load_n(&s.exit_key_ok, __ATOMIC_ACQUIRE)) os::set_thread_key(s.exit_key, this);
}

// Warming -> Live: the thread joins an arena and the bins get their limits.
void ThreadCache::enable() {
  arena_ = static_cast<u8>(g_runtime.small.join_arena());
  for (u32 code = 1; code < NUM_SMALL_CODES; ++code) {
    const u32 lim = limit_for(code);
    void* head = open(code);
    room_[code] += static_cast<i32>(lim - limits_[code]);
    limits_[code] = lim;
    close(code, head);
  }
  state_ = State::Live;
}

// Gives all but `keep` blocks of bin code back to the central heap. It returns
// the blocks at the head of the list, the most recently freed: their lines
// are still in cache, so walking them and linking them into their spans costs
// no misses, where walking to the cold tail would miss on every block.
//
// A batch that is all one other arena's (remote frees: the consumer of a
// producer/consumer pair) leaves as a chain, its blocks still linked and
// tagged, for that arena's transfer cache, where another thread's refill
// takes it whole. Each of its blocks is checked live (SmallHeap::live) as
// the walk passes it, so the check's loads overlap the walk's chain of
// dependent ones (done in a loop of their own after the walk, the check and
// the walk took a fifth more of prodcons' consumer's time in strata). A
// block that fails the check leaves the batch to dealloc_batch, whose engine
// reports it.
void ThreadCache::flush_bin(u32 code, u32 keep) {
  const u32 cls = class_of_code(code);
  SmallArenas& small = g_runtime.small;
  void* batch[MAX_BATCH];
  for (;;) {
    // The count is read inside the bracket: a signal handler that popped
    // before it would otherwise leave a walk longer than the list.
    void* cur = open(code);
    const u32 n_cached = count(code);
    const u32 give = n_cached > keep ? n_cached - keep : 0;
    if (give == 0) {
      close(code, cur);
      return;
    }
    const u32 n = give < MAX_BATCH ? give : static_cast<u32>(MAX_BATCH);
    const u32 a = small_arena_of(cur);
    bool whole = a != arena_;
    for (u32 i = 0; i < n; ++i) {
      batch[i] = cur;
      whole = whole && small_arena_of(cur) == a && small.live(a, cls, cur);
      cur = *static_cast<void**>(cur);
    }
    room_[code] += static_cast<i32>(n);
    close(code, cur);
    *static_cast<void**>(batch[n - 1]) = nullptr;
    if (!whole || !small.put_chain(a, cls, SmallHeap::Chain{batch[0], n}, batch[n - 1], limits_[code]))
      small.dealloc_batch(batch, n, "free");
    t_prof.deallocated += n * small_class_size(cls);  // thread.deallocated (prof.hpp)
  }
}

void* ThreadCache::refill(u32 code) {
  if (state_ != State::Live) {
    if (state_ == State::Fresh) setup();
    if (state_ == State::Warming && --warmup_left_ == 0) enable();
    if (state_ != State::Live || limits_[code] == 0) {
      void* one = nullptr;
      if (g_runtime.small.alloc_batch(arena_, class_of_code(code), &one, 1) == 0) return nullptr;
      t_prof.allocated += small_class_size(class_of_code(code));  // thread.allocated (prof.hpp)
      static_cast<u64*>(one)[1] = 0;
      return one;
    }
  }
  // A chain another thread flushed (producer/consumer): installed as it is,
  // its first block returned.
  if (const SmallHeap::Chain c = g_runtime.small.take_chain(arena_, class_of_code(code)); c.n != 0) {
    void* old = open(code);  // null (the bin ran dry), unless a signal handler freed into it meanwhile
    void* first = c.head;
    void* rest = *static_cast<void**>(first);
    if (old != nullptr) {  // keep those blocks too: after the chain's last
      void* last = first;
      while (*static_cast<void**>(last) != nullptr) last = *static_cast<void**>(last);
      *static_cast<void**>(last) = old;
      if (rest == nullptr) rest = old;
    }
    room_[code] -= static_cast<i32>(c.n - 1);
    close(code, rest);
    t_prof.allocated += c.n * small_class_size(class_of_code(code));  // thread.allocated (prof.hpp)
    static_cast<u64*>(first)[1] = 0;
    return first;
  }
  usize want = limits_[code] / 2 + 1;
  if (want > MAX_BATCH) want = MAX_BATCH;
  u8& grow = refill_log_[code];
  if ((usize{FIRST_REFILL} << grow) < want) want = usize{FIRST_REFILL} << grow++;
  void* batch[MAX_BATCH];
  const usize n = g_runtime.small.alloc_batch(arena_, class_of_code(code), batch, want);
  if (n == 0) return nullptr;
  t_prof.allocated += n * small_class_size(class_of_code(code));  // thread.allocated (prof.hpp)
  // Every block in a bin is free and carries its tag, fresh ones included.
  void* head = open(code);
  for (usize i = n; i-- > 1;) {
    *static_cast<void**>(batch[i]) = head;
    static_cast<u64*>(batch[i])[1] = free_tag(batch[i]);
    head = batch[i];
  }
  room_[code] -= static_cast<i32>(n - 1);
  close(code, head);
  static_cast<u64*>(batch[0])[1] = 0;
  return batch[0];
}

void ThreadCache::overflow(usize code) {
  ThreadCache& c = t_cache;
  if (c.state_ == State::Fresh) c.setup();
  if (c.state_ == State::Warming && --c.warmup_frees_left_ == 0) c.enable();
  // Keeps all but half the limit (a flush at limit + 1 gives limit / 2), so
  // that two flushed chains fill one bin (SmallHeap::put_chain merges them).
  c.flush_bin(static_cast<u32>(code), c.state_ == State::Live ? c.limits_[code] - c.limits_[code] / 2 + 1 : 0);
  g_runtime.purge.tick();
}

void ThreadCache::flush_all() {
  for (u32 code = 1; code < NUM_SMALL_CODES; ++code)
    if (count(code) != 0) flush_bin(code, 0);
}

}  // namespace strata::rt
