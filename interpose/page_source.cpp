// strata runtime: page source implementation.
#include "page_source.hpp"

#include <sched.h>

#include "os.hpp"
#include "segment_map.hpp"

namespace strata::rt {

constinit PageSource g_page_source{};
constinit u8 g_segment_kind[SEGMENT_TABLE_SIZE] = {};

constinit thread_local u32 t_locks_held = 0;

namespace {
constinit thread_local u32 t_spins = 0;
}

void YieldRelax::relax() {
  if ((++t_spins & 63) == 0) {
    ::sched_yield();
  } else {
    CpuRelax::relax();
  }
}

void PageSource::ensure_reserved() {
  if (reserve_tried_) return;
  reserve_tried_ = true;
  // Leave most of a limited address space to the program: take a quarter.
  usize want = MAX_RESERVE_SEGMENTS * SEGMENT_SIZE;
  const usize limit = os::address_space_limit();
  if (limit != USIZE_MAX && limit / 4 < want) want = (limit / 4) & ~SEGMENT_MASK;
  for (; want >= 4 * SEGMENT_SIZE; want /= 2) {
    void* p = os::reserve_aligned(want, SEGMENT_SIZE);
    if (p == nullptr) continue;
    if (segments_.init(p, want).ok()) {
      reserve_base_ = reinterpret_cast<uptr>(p);
      reserve_size_ = want;
      return;
    }
    os::release(p, want);
  }
}

void* PageSource::alloc_segments(usize n, usize align_segments, usize commit_bytes, SegmentKind kind, u32 arena) {
  if (n == 0 || n > SEGMENT_TABLE_SIZE) return nullptr;
  const usize bytes = n * SEGMENT_SIZE;
  usize commit = commit_bytes == 0 ? bytes : commit_bytes;
  const usize page = os::page_size();
  commit = (commit + page - 1) & ~(page - 1);
  void* p = nullptr;
  {
    LockGuard g(lock_);
    ensure_reserved();
    if (reserve_size_ != 0) {
      Result<uptr> r = segments_.alloc_pages(n, align_segments * SEGMENT_SIZE);
      if (r.ok()) {
        p = reinterpret_cast<void*>(r.value());
        if (!os::commit(p, commit)) {
          (void)segments_.dealloc_pages(r.value(), n);
          return nullptr;
        }
      }
    }
  }
  if (p == nullptr) {
    // Reservation exhausted or unavailable: map directly, segment-aligned.
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
  // Back to PROT_NONE (drops the pages and the commit charge), then reusable.
  os::decommit(base, bytes);
  LockGuard g(lock_);
  (void)segments_.dealloc_pages(a, n);
}

}  // namespace strata::rt
