// strata runtime: central heaps (locked engines that grow by segments).
#include "central.hpp"

#include "lifecycle.hpp"
#include "os.hpp"
#include "page_source.hpp"
#include "report.hpp"
#include "segment_map.hpp"
#include "strata/align.hpp"

namespace strata::rt {

constinit SmallHeap g_small{};
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

// Adds a fresh segment run to an engine: init() the first time, add_memory() after.
template <class Engine>
bool add_segments(Engine& e, bool& initialised, usize nsegs, SegmentKind kind) {
  void* seg = g_page_source.alloc_segments(nsegs, 1, 0, kind);
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

bool SmallHeap::grow() { return add_segments(engine_, initialised_, 1, SegmentKind::Small); }

usize SmallHeap::alloc_batch(u32 cls, void** out, usize n) {
  LockGuard g(lock_);
  usize got = initialised_ ? engine_.alloc_batch(cls, out, n) : 0;
  if (got == 0 && grow()) got = engine_.alloc_batch(cls, out, n);
  return got;
}

void SmallHeap::dealloc_batch(void* const* blocks, usize n, const char* fn) {
  void* bad = nullptr;
  {
    LockGuard g(lock_);
    // Every block is in a Small segment (the free fast path checked), and a
    // Small segment is one region of this heap: its base is the region's.
    for (usize i = 0; i < n && bad == nullptr; ++i)
      if (!engine_.dealloc_in_region(segment_base(blocks[i]), blocks[i]).ok()) bad = blocks[i];
  }
  if (bad != nullptr) misuse(fn, "double free or invalid pointer", bad);  // outside the lock
}

void* SmallHeap::alloc(usize size, usize align) {
  LockGuard g(lock_);
  Result<void*> r = initialised_ ? engine_.alloc(size, align) : Result<void*>(AllocError::NoMemory);
  if (!r.ok() && grow()) r = engine_.alloc(size, align);
  return r.ok() ? r.value() : nullptr;
}

usize SmallHeap::purge() {
  LockGuard g(lock_);
  usize released = 0;
  // A free buddy run keeps its list link in its first bytes: purge after them.
  constexpr usize KEEP = SmallEngine::PageBuddy::FREE_LINK_BYTES;
  if (initialised_)
    engine_.for_each_free_run(os::page_size() + KEEP, [&](void* p, usize bytes) {
      released += purge_range(static_cast<char*>(p) + KEEP, bytes - KEEP);
    });
  return released;
}

void SmallHeap::stats(usize& used, usize& total) {
  LockGuard g(lock_);
  used = engine_.used_bytes();
  total = engine_.total_bytes();
}

// ---- MediumHeap -----------------------------------------------------------

bool MediumHeap::grow(usize min_bytes) {
  const usize nsegs = (min_bytes + SEGMENT_SIZE - 1) / SEGMENT_SIZE;
  return add_segments(engine_, initialised_, nsegs == 0 ? 1 : nsegs, SegmentKind::Medium);
}

void* MediumHeap::alloc(usize size, usize align) {
  LockGuard g(lock_);
  Result<void*> r = initialised_ ? engine_.alloc(size, align) : Result<void*>(AllocError::NoMemory);
  if (!r.ok() && r.error() == AllocError::NoMemory && grow(size + align + SEGMENT_SIZE / 4))
    r = engine_.alloc(size, align);
  return r.ok() ? r.value() : nullptr;
}

void MediumHeap::dealloc(void* p, const char* fn) {
  Result<void> r = AllocError::NotAllocated;
  {
    LockGuard g(lock_);
    r = engine_.dealloc(p);
  }
  if (!r.ok()) misuse(fn, "double free or invalid pointer", p);
}

usize MediumHeap::usable_size(const void* p, const char* fn) {
  Result<usize> r = AllocError::NotAllocated;
  {
    LockGuard g(lock_);
    r = engine_.usable_size(p);
  }
  if (!r.ok()) misuse(fn, "invalid pointer (not a live block)", p);
  return r.value();
}

bool MediumHeap::resize_in_place(void* p, usize new_size) {
  LockGuard g(lock_);
  return engine_.try_resize_in_place(p, new_size).ok();
}

usize MediumHeap::purge() {
  LockGuard g(lock_);
  usize released = 0;
  if (initialised_)
    engine_.for_each_free_run(os::page_size(), [&](void* p, usize bytes) { released += purge_range(p, bytes); });
  return released;
}

void MediumHeap::stats(usize& used, usize& total) {
  LockGuard g(lock_);
  used = engine_.used_bytes();
  total = engine_.total_bytes();
}

}  // namespace strata::rt
