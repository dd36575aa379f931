// strata runtime: allocation slow paths and routing by size.
#include "alloc.hpp"

#include "central.hpp"
#include "strata/core/mem.hpp"
#include "huge.hpp"
#include "lifecycle.hpp"
#include "strata/align.hpp"

namespace strata::rt {

namespace {
/// p is in no strata segment: a huge block freed before, or never strata's.
[[noreturn]] void foreign_pointer(const char* fn, const void* p) {
  if (huge_recently_released(p)) misuse(fn, "double free", p);
  misuse(fn, "invalid pointer (not allocated by strata)", p);
}

/// Out of memory. Memory freed at one size may serve another: this thread's
/// cached blocks go back to their heaps, every segment with nothing in use
/// goes back to the page source, and so do the huge cache's runs. True when
/// anything was given back (worth one more try). Holds no lock on entry.
bool reclaim_after_oom() {
  cache_flush_all();
  return g_small.release_free_segments() + g_medium.release_free_segments() + huge_cache_release(0) != 0;
}

/// Requests no address space can hold fail at once, with nothing reclaimed
/// (glibc's tst-malloc-too-large makes a million such calls).
constexpr usize MAX_MAPPABLE = usize{1} << VA_BITS;

/// attempt(), and when it fails and reclaiming freed something, once more.
template <class Attempt>
void* with_reclaim(Attempt attempt) {
  void* p = attempt();
  if (__builtin_expect(p != nullptr, 1) || !reclaim_after_oom()) return p;
  return attempt();
}

/// A block of class cls by a refill of this thread's bin (its bin is empty).
void* refill_class(u32 cls) {
  return with_reclaim([cls] { return cache_refill(cls); });
}

/// A block of class cls from this thread's bin, else by a refill.
void* alloc_class(u32 cls) {
  void* p = bin_pop(cls);
  return p != nullptr ? p : refill_class(cls);
}

/// allocate_slow's medium-or-huge choice, once.
void* alloc_medium_or_huge(usize n, usize align) {
  if (n <= MEDIUM_MAX && align <= MEDIUM_MAX_ALIGN) {
    if (void* p = g_medium.alloc(n, align)) return p;
  }
  return huge_alloc(n, align);
}
}  // namespace

void small_double_free(const char* fn, const void* p) { misuse(fn, "double free", p); }

void small_misuse(const char* fn, const void* p) {
  const auto lk = SmallEngine::lookup_in_region(segment_base(p), p);
  if (lk.cls == SmallEngine::NO_CLASS)  // a span freed back (double free), or never a block
    misuse(fn, "double free or invalid pointer (no live block there)", p);
  misuse(fn, "invalid pointer (not the start of a block)", p);
}

bool fresh_zeroed(const void* p) { return segment_kind(p) == SegmentKind::Huge && huge_is_fresh(p); }

void* allocate_after_fast(usize n) {
  if (n <= SMALL_FAST_MAX) return refill_class(small_class_of(n));
  return allocate_slow(n);
}

void* allocate_slow(usize n) {
  if (n >= MAX_MAPPABLE) return nullptr;
  ensure_initialised();
  return with_reclaim([n] { return alloc_medium_or_huge(n, MIN_ALIGN); });
}

void* allocate_aligned(usize n, usize align) {
  if (!is_pow2(align) || n >= MAX_MAPPABLE || align >= MAX_MAPPABLE) return nullptr;
  if (align <= MIN_ALIGN) return allocate(n);
  if (n <= SMALL_MAX) {
    const u32 cls = small_class_for(n, align);
    if (cls != NO_SMALL_CLASS) return alloc_class(cls);
  }
  ensure_initialised();
  return with_reclaim([n, align] { return alloc_medium_or_huge(n, align); });
}

void deallocate_slow(void* p, const char* fn) {
  if (p == nullptr) return;
  switch (segment_kind(p)) {
    case SegmentKind::Medium:
      g_medium.dealloc(p, fn);
      break;
    case SegmentKind::Huge:
      huge_free(p, fn);
      break;
    case SegmentKind::Small:  // reached only through the fast path's callers
      deallocate(p, fn);
      return;
    case SegmentKind::None:
    default:
      foreign_pointer(fn, p);
  }
  maybe_purge();
}

usize usable_size(const void* p, const char* fn) {
  if (p == nullptr) return 0;
  switch (segment_kind(p)) {
    case SegmentKind::Small: {
      const SmallLookup lk = small_lookup(p);
      if (!lk.block_start) small_misuse(fn, p);
      if (static_cast<const u64*>(p)[1] == free_tag(p)) misuse(fn, "pointer to a freed block", p);
      return small_class_size(lk.cls);
    }
    case SegmentKind::Medium:
      return g_medium.usable_size(p, fn);
    case SegmentKind::Huge:
      return huge_usable_size(p, fn);
    case SegmentKind::None:
    default:
      foreign_pointer(fn, p);
  }
}

void* reallocate(void* p, usize n, const char* fn) {
  if (p == nullptr) return allocate(n);
  const usize old = usable_size(p, fn);  // validates p first: misuse aborts here
  if (n > MAX_OBJECT_SIZE) return nullptr;
  switch (segment_kind(p)) {
    case SegmentKind::Small:
      // Stay in place when the block still fits and is not more than twice too big.
      if (n <= old && (n > old / 2 || old <= 2 * MIN_ALIGN)) return p;
      break;
    case SegmentKind::Medium:
      if (n > SMALL_MAX && n <= MEDIUM_MAX && g_medium.resize_in_place(p, n)) return p;
      break;
    case SegmentKind::Huge:
      if (n > MEDIUM_MAX && huge_resize(p, n)) return p;
      break;
    default:
      break;
  }
  void* q = allocate(n);
  if (q == nullptr) return nullptr;  // p stays valid and untouched
  mem_copy(q, p, old < n ? old : n);
  deallocate(p, fn);
  return q;
}

bool trim() {
  ensure_initialised();
  cache_flush_all();
  const usize released = g_small.purge() + g_medium.purge() + huge_cache_release(0);
  return released != 0;
}

}  // namespace strata::rt
