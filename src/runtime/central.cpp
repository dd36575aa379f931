// strata runtime: central heaps (locked engines that grow by segments).
#include "runtime/central.hpp"

#include "platform/os.hpp"
#include "platform/report.hpp"
#include "platform/segment_map.hpp"
#include "strata/align.hpp"

namespace strata::rt {

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

// Adds a fresh segment run to an engine: init() the first time, add_memory() after.
template <class Engine>
bool add_segments(PageSource& pages, Engine& e, bool& initialised, usize nsegs, SegmentKind kind, u32 arena = 0) {
  void* seg = pages.alloc_segments(nsegs, 1, kind, arena);
  if (seg == nullptr) return false;
  const Result<void> r = initialised ? e.add_memory(seg, nsegs * SEGMENT_SIZE) : e.init(seg, nsegs * SEGMENT_SIZE);
  if (!r.ok()) {
    pages.free_segments(seg, nsegs);
    return false;
  }
  initialised = true;
  return true;
}

// The callback through which an engine gives whole segments back to the page source.
auto give_back_to(PageSource& pages) {
  return [&pages](void* start, usize bytes) { pages.free_segments(start, bytes / SEGMENT_SIZE); };
}
}  // namespace

// ---- SmallHeap ------------------------------------------------------------

bool SmallHeap::grow(PageSource& pages, u32 arena) {
  return add_segments(pages, engine_, initialised_, 1, SegmentKind::Small, arena);
}

usize SmallHeap::alloc_batch(PageSource& pages, u32 arena, u32 cls, void** out, usize n) {
  LockGuard g(lock_);
  usize got = initialised_ ? engine_.alloc_batch(cls, out, n) : 0;
  if (got == 0 && grow(pages, arena)) got = engine_.alloc_batch(cls, out, n);
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

usize SmallHeap::release(PageSource& pages, Release what) {
  LockGuard g(lock_);
  if (!initialised_) return 0;
  // Wholly free segments go back first (the empty span each class keeps
  // against thrash is given back with them: a release comes after
  // purge_delay_ms, on malloc_trim or out of memory, so it is idle memory).
  usize released = engine_.remove_free_regions(give_back_to(pages)) * SEGMENT_SIZE;
  if (what != Release::FreePages) return released;
  // A free buddy run keeps its list link in its first bytes: purge after them.
  constexpr usize KEEP = SmallEngine::PageBuddy::FREE_LINK_BYTES;
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

usize SmallArenas::release(Release what, u64) {
  usize released = 0;
  for (SmallHeap& h : heaps_) released += h.release(*pages_, what);
  return released;
}

void SmallArenas::collect(Snapshot& s) {
  for (SmallHeap& h : heaps_) {
    h.inspect([&](const SmallEngine& e) {
      s.small.managed += e.total_bytes();
      s.small.used += e.used_bytes();
      s.small_free_runs += e.free_run_bytes();
      s.small_spare += e.spare_bytes();
    });
  }
  s.small_arenas = count_;
}

void SmallArenas::collect_classes(ClassRow* rows) {
  for (u32 c = 0; c < NUM_SMALL_CLASSES; ++c) rows[c] = ClassRow{small_class_size(c), 0, 0, 0};
  for (SmallHeap& h : heaps_) {
    h.inspect([&](const SmallEngine& e) {
      e.for_each_slab_span([&](u32 cls, usize live, usize span_bytes) {
        if (cls >= NUM_SMALL_CLASSES) return;
        rows[cls].blocks += live;
        rows[cls].spans += 1;
        rows[cls].span_bytes += span_bytes;
      });
    });
  }
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

bool MediumHeap::grow() { return add_segments(*pages_, engine_, initialised_, 1, kind_); }

void* MediumHeap::alloc(usize size, usize align, usize* usable) {
  LockGuard g(lock_);
  Result<void*> r = initialised_ ? engine_.alloc(size, align) : Result<void*>(AllocError::NoMemory);
  if (!r.ok() && r.error() == AllocError::NoMemory && grow())
    r = engine_.alloc(size, align);
  if (!r.ok()) return nullptr;
  if (usable != nullptr) *usable = engine_.usable_size_in_pool(segment_base(r.value()), r.value()).value();
  return r.value();
}

usize MediumHeap::dealloc(void* p, const char* fn) {
  Result<void> r = AllocError::NotAllocated;
  usize bytes = 0;
  {
    LockGuard g(lock_);
    const Result<usize> u = engine_.usable_size_in_pool(segment_base(p), p);
    if (u.ok()) {
      bytes = u.value();
      r = engine_.dealloc_in_pool(segment_base(p), p);
    }
  }
  if (!r.ok()) misuse(fn, "double free or invalid pointer", p);
  return bytes;
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

usize MediumHeap::release(Release what, u64) {
  LockGuard g(lock_);
  if (!initialised_) return 0;
  usize released = engine_.remove_free_pools(give_back_to(*pages_)) * SEGMENT_SIZE;
  if (what == Release::FreePages)
    engine_.for_each_free_run(os::page_size(), [&](void* p, usize bytes) { released += purge_range(p, bytes); });
  return released;
}

void MediumHeap::collect(Snapshot& s) {
  LockGuard g(lock_);
  s.medium.managed = engine_.total_bytes();
  s.medium.used = engine_.used_bytes();
}

}  // namespace strata::rt
