// strata platform: page source implementation.
#include "platform/page_source.hpp"

#include "platform/os.hpp"
#include "platform/segment_map.hpp"

namespace strata::rt {

void PageSource::ensure_reserved() {
  if (reserve_tried_) return;
  reserve_tried_ = true;
  // Find a free window of address space by mapping it once, then give it
  // back: only the runs in use are ever mapped, so the address space charged
  // to the process (RLIMIT_AS, which a program may lower later) is what
  // strata uses, not the window.
  for (usize want = MAX_RESERVE_SEGMENTS * SEGMENT_SIZE; want >= 4 * SEGMENT_SIZE; want /= 2) {
    void* p = os::reserve_aligned(want, SEGMENT_SIZE);
    if (p == nullptr) continue;
    os::release(p, want);
    if (segments_.init(p, want).ok()) {
      reserve_base_ = reinterpret_cast<uptr>(p);
      reserve_size_ = want;
      // Before any segment of the window exists (the lock is held): the
      // page map covers the window from here on.
      __atomic_store_n(&g_page_map.base, reserve_base_, __ATOMIC_RELAXED);
      __atomic_store_n(&g_page_map.bytes, reserve_size_, __ATOMIC_RELEASE);
    }
    return;
  }
}

void* PageSource::alloc_segments(usize n, usize align_segments, SegmentKind kind, u32 arena) {
  if (n == 0 || n > SEGMENT_TABLE_SIZE) return nullptr;
  const usize bytes = n * SEGMENT_SIZE;
  void* p = nullptr;
  {
    LockGuard g(lock_);
    ensure_reserved();
    // Another mapping of the process may have landed in the window: such a
    // run stays marked used (its addresses are not ours to map) and the next
    // one is tried, a few times at most.
    for (int attempt = 0; reserve_size_ != 0 && attempt < 8 && p == nullptr; ++attempt) {
      const Result<uptr> r = segments_.alloc_pages(n, align_segments * SEGMENT_SIZE);
      if (!r.ok()) break;
      const os::MapResult m = os::map_fixed(reinterpret_cast<void*>(r.value()), bytes);
      if (m == os::MapResult::Mapped) {
        p = reinterpret_cast<void*>(r.value());
      } else if (m == os::MapResult::NoMemory) {
        (void)segments_.dealloc_pages(r.value(), n);
        return nullptr;
      }
    }
  }
  if (p == nullptr) {
    // Window full, taken or unavailable: map directly, segment-aligned.
    p = os::map_aligned(bytes, align_segments * SEGMENT_SIZE);
    if (p == nullptr) return nullptr;
  }
  __atomic_fetch_add(&mapped_, bytes, __ATOMIC_RELAXED);
  set_segment_tag(p, n, segment_tag_for(kind, arena));
  return p;
}

void PageSource::free_segments(void* base, usize n) {
  const usize bytes = n * SEGMENT_SIZE;
  set_segment_tag(base, n, 0);
  __atomic_fetch_sub(&mapped_, bytes, __ATOMIC_RELAXED);
  const uptr a = reinterpret_cast<uptr>(base);
  if (!in_reserve(a)) {
    os::release(base, bytes);
    return;
  }
  // Unmapped (pages, commit charge and address space go back), then reusable.
  os::release(base, bytes);
  LockGuard g(lock_);
  (void)segments_.dealloc_pages(a, n);
}

}  // namespace strata::rt
