// strata engine: Heap<Cfg>'s list of regions, out of line: how memory comes
// in (init, add_memory: a region's metadata is laid out and its pages handed
// to the buddy) and goes back (remove_free_regions), and how an address finds
// its region (find_region, locate_region, region_holding). The metadata
// layout itself is engine/heap_region.hpp.
//
// Kept apart from heap.hpp, which declares these (with their contracts) and
// holds the public operations built on them; heap.hpp includes this file at
// its end, so including either gives the whole engine. STRATA_IN_CLASS_INLINE
// (in_class_inline.hpp) keeps the code as it was when they were written in
// the class.
#pragma once
#include "strata/engine/heap.hpp"
#include "strata/engine/in_class_inline.hpp"

namespace strata {

template <class Cfg>
STRATA_IN_CLASS_INLINE Result<void> Heap<Cfg>::init(void* start, usize size) {
  for (IntrusiveList& l : partial_) l.init();
  for (SpanRecord*& s : spare_) s = nullptr;
  spare_bytes_ = 0;
  regions_ = last_ = nullptr;
  used_ = 0;
  buddy_.reset();
  return add_memory(start, size);
}

template <class Cfg>
STRATA_IN_CLASS_INLINE Result<void> Heap<Cfg>::add_memory(void* start, usize size) {
  const uptr s = reinterpret_cast<uptr>(start);
  uptr e = 0;
  if (s == 0 || !is_aligned(s, REGION_ALIGN) || !checked_add(s, size, e) || size < PAGE_SIZE)
    return AllocError::InvalidParam;
  for (const HeapRegion* r = regions_; r != nullptr; r = r->next)
    if (s < r->start + r->size && r->start < e) return AllocError::MemoryOverlap;
  const detail::RegionLayout l = detail::region_layout(s, e, PAGE_SHIFT, GRANULE_SHIFT);
  if (l.meta_end >= e) return AllocError::InvalidParam;
  Result<detail::BuddyRegion*> b = buddy_.add_region(reinterpret_cast<void*>(l.meta_end), e - l.meta_end);
  if (!b.ok()) return b.error();
  HeapRegion* r = reinterpret_cast<HeapRegion*>(s);
  *r = HeapRegion{regions_, s, size, s >> PAGE_SHIFT, b.value()->base, b.value()->end,
                  reinterpret_cast<SpanRecord*>(l.spans), reinterpret_cast<u64*>(l.live), b.value()};
  mem_set(detail::class_table(s), detail::NO_CLASS_BYTE, l.pages);
  mem_set(r->spans, 0, l.pages * sizeof(SpanRecord));
  mem_set(r->live, 0, l.live_words * sizeof(u64));
  regions_ = r;
  return ok();
}

template <class Cfg>
template <class F>
STRATA_IN_CLASS_INLINE usize Heap<Cfg>::remove_free_regions(F f) {
  release_spare_spans();
  usize removed = 0;
  for (HeapRegion** link = &regions_; *link != nullptr;) {
    HeapRegion* r = *link;
    if (!buddy_.remove_region_if_free(r->buddy)) {
      link = &r->next;
      continue;
    }
    *link = r->next;
    if (last_ == r) last_ = nullptr;
    ++removed;
    f(reinterpret_cast<void*>(r->start), r->size);
  }
  return removed;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE auto Heap<Cfg>::find_region(uptr a) const -> HeapRegion* {
  if (last_ != nullptr && a >= last_->begin && a < last_->end) return last_;
  for (HeapRegion* r = regions_; r != nullptr; r = r->next)
    if (a >= r->begin && a < r->end) return r;
  return nullptr;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE auto Heap<Cfg>::locate_region(uptr a) -> HeapRegion* {
  if (last_ != nullptr && a >= last_->begin && a < last_->end) return last_;
  for (HeapRegion** link = &regions_; *link != nullptr; link = &(*link)->next) {
    HeapRegion* r = *link;
    if (a < r->begin || a >= r->end) continue;
    *link = r->next;
    r->next = regions_;
    regions_ = r;
    return last_ = r;
  }
  return nullptr;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE auto Heap<Cfg>::region_holding(uptr a) -> HeapRegion* {
  HeapRegion* r = find_region(a);
  STRATA_CHECK(r != nullptr, "heap: buddy block outside every region", a);
  return last_ = r;
}

}  // namespace strata
