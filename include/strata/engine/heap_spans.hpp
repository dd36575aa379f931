// strata engine: Heap<Cfg>'s span and slot machinery, out of line: finding a
// live block (find_live) and freeing it (free_found), getting a span with a
// free slot (span_for_alloc, buddy_alloc), slot arithmetic and slot bits
// (slot_of, slot_words, take_blocks), and an emptied span's way back to its
// class's spare or the buddy (span_emptied, release_span).
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
STRATA_IN_CLASS_INLINE auto Heap<Cfg>::find_live(const HeapRegion* r, uptr a) const -> Found {
  const usize page = page_index(*r, a);
  const u8 cls = detail::load_class(r->start, page);
  if (cls == detail::NO_CLASS_BYTE) {
    SpanRecord* rec = &r->spans[page];
    const bool live = rec->kind == SpanKind::Large && (a & (PAGE_SIZE - 1)) == 0;
    return Found{live ? rec : nullptr, NO_CLASS};
  }
  const uptr span = a & ~uptr{Classes::get(cls).span_bytes - 1};
  if (!Classes::is_block_offset(cls, a - span) || !detail::bit_test(r->live, granule(*r, span) + slot_of(cls, a - span)))
    return Found{nullptr, cls};
  return Found{&r->spans[page_index(*r, span)], cls};
}

template <class Cfg>
STRATA_IN_CLASS_INLINE Result<void> Heap<Cfg>::free_found(Found f, void* p) {
  if (f.rec == nullptr) return AllocError::NotAllocated;
  SpanRecord& s = *f.rec;
  last_ = s.region;
  if (f.cls == NO_CLASS) {
    used_ -= PAGE_SIZE << s.order;
    s.kind = SpanKind::None;
    const Result<void> r = buddy_.dealloc_in(s.region->buddy, p, s.order);
    STRATA_CHECK(r.ok(), "heap: large block unknown to the buddy", p);
    return ok();
  }
  const SizeClass& sc = Classes::get(f.cls);
  const uptr base = span_base(s);
  const usize slot = slot_of(f.cls, reinterpret_cast<uptr>(p) - base);
  detail::bit_clear(s.region->live, granule(*s.region, base) + slot);
  if (slot / 64 < s.hint) s.hint = static_cast<u16>(slot / 64);
  used_ -= sc.size;
  if (s.used-- == sc.blocks && sc.blocks > 1) partial_[f.cls].push_front(&s.link);
  if (s.used == 0) span_emptied(s);
  return ok();
}

template <class Cfg>
STRATA_IN_CLASS_INLINE auto Heap<Cfg>::span_for_alloc(u32 cls) -> SpanRecord* {
  SpanRecord* s = nullptr;
  if (!partial_[cls].empty()) return reinterpret_cast<SpanRecord*>(partial_[cls].first());
  if (spare_[cls] != nullptr) {
    s = spare_[cls];
    spare_[cls] = nullptr;
    spare_bytes_ -= Classes::get(cls).span_bytes;
  } else {
    const u32 order = log2_floor(Classes::get(cls).span_bytes) - PAGE_SHIFT;
    const Result<void*> b = buddy_alloc(order);
    if (!b.ok()) return nullptr;
    const uptr base = reinterpret_cast<uptr>(b.value());
    s = &record_of(region_holding(base), base);
    s->kind = SpanKind::Slab;
    s->cls = static_cast<u8>(cls);
    s->order = static_cast<u8>(order);
    s->used = s->hint = 0;
    detail::store_classes(s->region->start, page_index(*s->region, base), usize{1} << order, static_cast<u8>(cls));
  }
  partial_[cls].push_front(&s->link);
  return s;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE usize Heap<Cfg>::slot_of(u32 cls, uptr off) {
  const u64 m32 = (Classes::get(cls).div_magic >> 32) + 1;
  return static_cast<usize>((static_cast<u64>(off) * m32) >> 32);
}

template <class Cfg>
STRATA_IN_CLASS_INLINE u64* Heap<Cfg>::slot_words(const SpanRecord& s) {
  return s.region->live + granule(*s.region, span_base(s)) / 64;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE usize Heap<Cfg>::take_blocks(SpanRecord& s, const SizeClass& sc, void** out, usize n) {
  u64* w = slot_words(s);
  const uptr base = span_base(s);
  const usize words = (sc.blocks + 63) / 64;
  const u32 tail = sc.blocks % 64;  // valid bits in the last word (0: all)
  usize got = 0, i = s.hint;
  for (; i < words && got < n; ++i) {
    u64 free = ~w[i];
    if (i + 1 == words && tail != 0) free &= (u64{1} << tail) - 1;
    u64 taken = 0;
    for (; free != 0 && got < n; free &= free - 1) {
      const u64 bit = free & (~free + 1);
      taken |= bit;
      out[got++] = reinterpret_cast<void*>(base + (i * 64 + ctz64(bit)) * sc.size);
    }
    w[i] |= taken;
    if (free != 0) break;  // this word still has free slots: the hint stays on it
  }
  s.hint = static_cast<u16>(i);
  s.used = static_cast<u16>(s.used + got);
  return got;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE void Heap<Cfg>::span_emptied(SpanRecord& s) {
  if (s.link.linked()) IntrusiveList::remove(&s.link);
  if (Cfg::KEEP_SPARE_SPAN && spare_[s.cls] == nullptr) {
    s.hint = 0;  // no bit is set any more
    spare_[s.cls] = &s;
    spare_bytes_ += Classes::get(s.cls).span_bytes;
    return;
  }
  release_span(s);
}

template <class Cfg>
STRATA_IN_CLASS_INLINE Result<void*> Heap<Cfg>::buddy_alloc(u32 order) {
  Result<void*> r = buddy_.alloc_order(order);
  if (r.ok() || spare_bytes_ == 0) return r;
  release_spare_spans();
  return buddy_.alloc_order(order);
}

template <class Cfg>
STRATA_IN_CLASS_INLINE void Heap<Cfg>::release_span(SpanRecord& s) {
  const uptr base = span_base(s);
  detail::store_classes(s.region->start, page_index(*s.region, base), usize{1} << s.order, detail::NO_CLASS_BYTE);
  s.kind = SpanKind::None;
  const Result<void> r = buddy_.dealloc_in(s.region->buddy, reinterpret_cast<void*>(base), s.order);
  STRATA_CHECK(r.ok(), "heap: span unknown to the buddy", base);
}

}  // namespace strata
