// strata runtime: central heaps (locked engines that grow by segments).
#include "central.hpp"

#include "lifecycle.hpp"
#include "os.hpp"
#include "page_source.hpp"
#include "report.hpp"
#include "segment_map.hpp"
#include "strata/align.hpp"

namespace strata::rt {

constinit SmallArenas g_small{};
constinit MediumHeap g_medium{};

namespace {
// Advises away the whole pages inside [start, start + bytes).
usize purge_range(void* start, usize bytes) {
  const usize page = os::page_size();
  const uptr lo = align_up(reinterpret_cast<uptr>(start), page);
  const uptr hi = align_down(reinterpret_cast<uptr>(start) + bytes, page);
  if (hi <= lo) return 0;
  os::purge(reinterpret_cast<void*>(lo), hi - lo);
  return hi - lo;
}

// The page source takes back a range an engine gave up (whole segments).
void give_back(void* start, usize bytes) { g_page_source.free_segments(start, bytes / SEGMENT_SIZE); }

// Adds a fresh segment run to an engine: init() the first time, add_memory() after.
template <class Engine>
bool add_segments(Engine& e, bool& initialised, usize nsegs, SegmentKind kind, u32 arena = 0) {
  void* seg = g_page_source.alloc_segments(nsegs, 1, 0, kind, arena);
  if (seg == nullptr) return false;
  const Result<void> r = initialised ? e.add_memory(seg, nsegs * SEGMENT_SIZE) : e.init(seg, nsegs * SEGMENT_SIZE);
  if (!r.ok()) {
    g_page_source.free_segments(seg, nsegs);
    return false;
  }
  initialised = true;
  return true;
}
}  // namespace

// ---- SmallHeap ------------------------------------------------------------

bool SmallHeap::grow(u32 arena) { return add_segments(engine_, initialised_, 1, SegmentKind::Small, arena); }

usize SmallHeap::alloc_batch(u32 arena, u32 cls, void** out, usize n) {
  LockGuard g(lock_);
  usize got = initialised_ ? engine_.alloc_batch(cls, out, n) : 0;
  if (got == 0 && grow(arena)) got = engine_.alloc_batch(cls, out, n);
  return got;
}

void* SmallHeap::dealloc_batch(void* const* blocks, usize n) {
  LockGuard g(lock_);
  // Every block is in a Small segment of this arena (the caller checked), and
  // such a segment is one region of this heap: its base is the region's.
  for (usize i = 0; i < n; ++i)
    if (!engine_.dealloc_in_region(segment_base(blocks[i]), blocks[i]).ok()) return blocks[i];
  return nullptr;
}

usize SmallHeap::release_free_locked() {
  return initialised_ ? engine_.remove_free_regions(give_back) * SEGMENT_SIZE : 0;
}

usize SmallHeap::release_free_segments() {
  LockGuard g(lock_);
  return release_free_locked();
}

usize SmallHeap::purge() {
  LockGuard g(lock_);
  usize released = release_free_locked();
  // A free buddy run keeps its list link in its first bytes: purge after them.
  constexpr usize KEEP = SmallEngine::PageBuddy::FREE_LINK_BYTES;
  if (!initialised_) return 0;
  // Wholly free segments went back first; in the others, the empty span each
  // class keeps against thrash is given back too (release_free_locked did):
  // a purge pass comes only after purge_delay_ms, so it is idle memory.
  engine_.for_each_free_run(os::page_size() + KEEP, [&](void* p, usize bytes) {
    released += purge_range(static_cast<char*>(p) + KEEP, bytes - KEEP);
  });
  return released;
}

// ---- SmallArenas ----------------------------------------------------------

void SmallArenas::configure(u32 cpus) {
  const u32 want = cpus == 0 ? 1 : 2 * cpus;
  count_ = want < MAX_SMALL_ARENAS ? want : MAX_SMALL_ARENAS;
}

u32 SmallArenas::next_arena() { return __atomic_fetch_add(&next_, 1u, __ATOMIC_RELAXED) % count_; }

void SmallArenas::dealloc_batch(void* const* blocks, usize n, const char* fn) {
  if (n == 0) return;
  // Usually a batch is all one arena's (a thread frees what it allocated).
  const u32 first = small_arena_of(blocks[0]);
  usize same = 1;
  while (same < n && small_arena_of(blocks[same]) == first) ++same;
  if (same == n) {
    if (void* bad = heaps_[first].dealloc_batch(blocks, n)) misuse(fn, "double free or invalid pointer", bad);
    return;
  }
  // Otherwise bucket the blocks by arena (a counting sort of at most one batch), then
  // one lock round per arena that has any.
  constexpr usize MAX = 256;
  void* sorted[MAX];
  u32 counts[MAX_SMALL_ARENAS + 1] = {};
  for (usize done = 0; done < n;) {
    const usize m = n - done < MAX ? n - done : MAX;
    for (u32& c : counts) c = 0;
    for (usize i = 0; i < m; ++i) ++counts[small_arena_of(blocks[done + i]) + 1];
    for (u32 a = 1; a <= MAX_SMALL_ARENAS; ++a) counts[a] += counts[a - 1];
    u32 fill[MAX_SMALL_ARENAS];
    for (u32 a = 0; a < MAX_SMALL_ARENAS; ++a) fill[a] = counts[a];
    for (usize i = 0; i < m; ++i) sorted[fill[small_arena_of(blocks[done + i])]++] = blocks[done + i];
    for (u32 a = 0; a < MAX_SMALL_ARENAS; ++a) {
      const u32 lo = counts[a], hi = counts[a + 1];
      if (lo == hi) continue;
      if (void* bad = heaps_[a].dealloc_batch(sorted + lo, hi - lo))
        misuse(fn, "double free or invalid pointer", bad);  // no lock held here
    }
    done += m;
  }
}

usize SmallArenas::purge() {
  usize released = 0;
  for (SmallHeap& h : heaps_) released += h.purge();
  return released;
}

usize SmallArenas::release_free_segments() {
  usize released = 0;
  for (SmallHeap& h : heaps_) released += h.release_free_segments();
  return released;
}

void SmallArenas::lock() {
  for (SmallHeap& h : heaps_) h.lock();
}
void SmallArenas::unlock() {
  for (u32 a = MAX_SMALL_ARENAS; a-- > 0;) heaps_[a].unlock();
}
void SmallArenas::reset_lock_in_child() {
  for (SmallHeap& h : heaps_) h.reset_lock_in_child();
}

// ---- MediumHeap -----------------------------------------------------------

bool MediumHeap::grow() { return add_segments(engine_, initialised_, 1, SegmentKind::Medium); }

void* MediumHeap::alloc(usize size, usize align) {
  LockGuard g(lock_);
  Result<void*> r = initialised_ ? engine_.alloc(size, align) : Result<void*>(AllocError::NoMemory);
  if (!r.ok() && r.error() == AllocError::NoMemory && grow())
    r = engine_.alloc(size, align);
  return r.ok() ? r.value() : nullptr;
}

void MediumHeap::dealloc(void* p, const char* fn) {
  Result<void> r = AllocError::NotAllocated;
  {
    LockGuard g(lock_);
    r = engine_.dealloc_in_pool(segment_base(p), p);
  }
  if (!r.ok()) misuse(fn, "double free or invalid pointer", p);
}

usize MediumHeap::usable_size(const void* p, const char* fn) {
  Result<usize> r = AllocError::NotAllocated;
  {
    LockGuard g(lock_);
    r = engine_.usable_size_in_pool(segment_base(p), p);
  }
  if (!r.ok()) misuse(fn, "invalid pointer (not a live block)", p);
  return r.value();
}

bool MediumHeap::resize_in_place(void* p, usize new_size) {
  LockGuard g(lock_);
  return engine_.try_resize_in_pool(segment_base(p), p, new_size).ok();
}

usize MediumHeap::release_free_locked() {
  return initialised_ ? engine_.remove_free_pools(give_back) * SEGMENT_SIZE : 0;
}

usize MediumHeap::release_free_segments() {
  LockGuard g(lock_);
  return release_free_locked();
}

usize MediumHeap::purge() {
  LockGuard g(lock_);
  usize released = release_free_locked();
  if (initialised_)
    engine_.for_each_free_run(os::page_size(), [&](void* p, usize bytes) { released += purge_range(p, bytes); });
  return released;
}

}  // namespace strata::rt
