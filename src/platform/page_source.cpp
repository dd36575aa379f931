// strata platform: page source implementation.
#include "platform/page_source.hpp"

#include "platform/os.hpp"
#include "platform/segment_map.hpp"
#include "platform/text_file.hpp"

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

// The bytes are charged before the run is mapped, so concurrent callers can
// never take mapped_ past the cap together.
bool PageSource::charge(usize bytes) {
  usize cur = __atomic_load_n(&mapped_, __ATOMIC_RELAXED);
  do {
    if (bytes > map_limit() || cur > map_limit() - bytes) {
      __atomic_fetch_add(&refusals_, 1, __ATOMIC_RELAXED);
      return false;
    }
  } while (!__atomic_compare_exchange_n(&mapped_, &cur, cur + bytes, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return true;
}

void PageSource::advise(void* p, usize bytes, SegmentKind kind) const {
  if (thp_ == ThpMode::Never) os::advise_huge_pages(p, bytes, os::HugePageAdvice::Avoid);
  else if (thp_ == ThpMode::Always && kind != SegmentKind::Huge) os::advise_huge_pages(p, bytes, os::HugePageAdvice::Want);
}

void* PageSource::alloc_segments(usize n, usize align_segments, SegmentKind kind, u32 arena) {
  if (n == 0 || n > SEGMENT_TABLE_SIZE) return nullptr;
  const usize bytes = n * SEGMENT_SIZE;
  if (!charge(bytes)) return nullptr;
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
        __atomic_fetch_sub(&mapped_, bytes, __ATOMIC_RELAXED);
        return nullptr;
      }
    }
  }
  if (p == nullptr) {
    // Window full, taken or unavailable: map directly, segment-aligned.
    p = os::map_aligned(bytes, align_segments * SEGMENT_SIZE);
    if (p == nullptr) {
      __atomic_fetch_sub(&mapped_, bytes, __ATOMIC_RELAXED);
      return nullptr;
    }
  }
  if (thp_ != ThpMode::Default) advise(p, bytes, kind);
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

void PageSource::abandon_segments(void* base, usize n) {
  set_segment_tag(base, n, 0);
  __atomic_fetch_sub(&mapped_, n * SEGMENT_SIZE, __ATOMIC_RELAXED);
}

// /proc/self/smaps: a header line per mapping ("start-end perms ..."; hex
// in lower case), then "Key:   value kB" lines, AnonHugePages among them.
usize PageSource::anon_huge_bytes() const {
  LineReader r("/proc/self/smaps");
  usize total = 0, n = 0;
  bool ours = false;
  for (const char* line = r.next(n); line != nullptr; line = r.next(n)) {
    const char c = line[0];
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
      uptr start = 0;
      for (usize i = 0; i < n && line[i] != '-'; ++i) {
        const char h = line[i];
        start = start * 16 + static_cast<uptr>(h <= '9' ? h - '0' : h - 'a' + 10);
      }
      ours = segment_tag(reinterpret_cast<const void*>(start)) != 0;
      continue;
    }
    constexpr usize KEY = sizeof("AnonHugePages:") - 1;
    if (!ours || n <= KEY || __builtin_memcmp(line, "AnonHugePages:", KEY) != 0) continue;
    usize i = KEY;
    while (i < n && line[i] == ' ') ++i;
    usize kib = 0;
    for (; i < n && line[i] >= '0' && line[i] <= '9'; ++i) kib = kib * 10 + static_cast<usize>(line[i] - '0');
    total += kib * 1024;
  }
  return total;
}

}  // namespace strata::rt
