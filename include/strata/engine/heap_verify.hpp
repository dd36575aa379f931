// strata engine: Heap<Cfg>::verify(), the expensive invariant walk for tests.
//
// Kept apart from heap.hpp so the engine header stays about the fast paths;
// heap.hpp includes this file at its end, so including either gives the whole
// engine. Nothing here runs unless a test (or a debug hook) calls verify().
//
// What is checked, first violation reported:
//   the buddy's own verify();
//   per region, page by page:
//     - a page that starts no span or large block has no class byte, no live
//       bits, and (inside a span or large block) no record of its own;
//     - a span or large block is a live buddy block of its recorded order, in
//       the managed range, recorded with its region;
//     - a large block's pages carry no class and no live bits;
//   per span:
//     - its order matches its class's span size and it is aligned to it, every
//       page carries its class byte;
//     - slot bits are set only for slots that exist (none past the span's
//       block count), and their count equals the used count;
//     - the search hint is in range and every slot-bit word below it is full;
//     - an empty span is its class's spare (hint 0); a full span is on no
//       list; any other is on its class's partial list;
//   per class: partial-list entries are slab spans of that class with live
//   blocks, as many as the region walk found; the spare is empty and unlinked,
//   and the spares' sizes add up to spare_bytes();
//   overall: live bytes == used_bytes(), bytes held == the buddy's used bytes.
#pragma once
#include "strata/engine/heap.hpp"

namespace strata {

template <class Cfg>
template <class F>
bool Heap<Cfg>::verify(F on_error) const {
  auto fail = [&on_error](const char* what, const void* where) {
    on_error(what, where);
    return false;
  };
  if (!buddy_.verify()) return fail("buddy verify failed", nullptr);
  VerifyTotals t;
  for (const HeapRegion* r = regions_; r != nullptr; r = r->next)
    if (!verify_region(*r, t, fail)) return false;
  usize spare = 0;
  for (u32 c = 0; c < Classes::NUM_CLASSES; ++c) {
    for (const ListNode* n = partial_[c].first(); n != partial_[c].end(); n = n->next) {
      const SpanRecord& s = *reinterpret_cast<const SpanRecord*>(n);
      if (t.partial-- == 0) return fail("more partial-list entries than partial spans", n);
      if (s.kind != SpanKind::Slab || s.cls != c || s.used == 0) return fail("bad partial-list entry", n);
    }
    const SpanRecord* sp = spare_[c];
    if (sp != nullptr && (sp->kind != SpanKind::Slab || sp->used != 0 || sp->cls != c || sp->link.linked()))
      return fail("bad spare span", sp);
    if (sp != nullptr) spare += Classes::get(c).span_bytes;
  }
  if (spare != spare_bytes_) return fail("spare bytes miscounted", nullptr);
  if (t.partial != 0) return fail("partial span missing from its list", nullptr);
  if (t.used != used_) return fail("live bytes differ from used_bytes()", nullptr);
  if (t.held != buddy_.used_bytes()) return fail("bytes held differ from the buddy's used bytes", nullptr);
  return true;
}

template <class Cfg>
template <class F>
bool Heap<Cfg>::verify_region(const HeapRegion& r, VerifyTotals& t, F& fail) const {
  const u8* ct = class_bytes(r.start);
  const usize npages = page_index(r, r.start + r.size - 1) + 1;
  for (usize i = 0; i < npages;) {
    const SpanRecord& s = r.spans[i];
    const uptr a = (r.first_page + i) << PAGE_SHIFT;
    const void* at = reinterpret_cast<const void*>(a);
    if (s.kind == SpanKind::None) {
      if (ct[i] != detail::NO_CLASS_BYTE) return fail("class byte on a page outside any span", at);
      if (a >= r.begin && a < r.end && live_bits(r, a, PAGE_SIZE) != 0) return fail("live bits outside any span", at);
      ++i;
      continue;
    }
    const usize pages = usize{1} << s.order;
    if (a < r.begin || pages > npages - i || s.region != &r) return fail("record outside the managed pages", at);
    if (!buddy_.is_allocated(at, s.order)) return fail("span or large block not allocated in the buddy", at);
    for (usize j = 1; j < pages; ++j)
      if (r.spans[i + j].kind != SpanKind::None) return fail("record inside a span or large block", at);
    t.held += PAGE_SIZE << s.order;
    if (s.kind == SpanKind::Large) {
      for (usize j = 0; j < pages; ++j)
        if (ct[i + j] != detail::NO_CLASS_BYTE) return fail("class byte on a large block", at);
      if (live_bits(r, a, PAGE_SIZE << s.order) != 0) return fail("live bits on a large block", at);
      t.used += PAGE_SIZE << s.order;
    } else {
      if (s.kind != SpanKind::Slab || s.cls >= Classes::NUM_CLASSES) return fail("bad record kind or class", at);
      if (!verify_span(r, s, a, fail)) return false;
      t.used += usize{s.used} * Classes::size(s.cls);
      if (s.used != 0 && s.used != Classes::get(s.cls).blocks) ++t.partial;
    }
    i += pages;
  }
  return true;
}

template <class Cfg>
template <class F>
bool Heap<Cfg>::verify_span(const HeapRegion& r, const SpanRecord& s, uptr base, F& fail) const {
  const void* at = reinterpret_cast<const void*>(base);
  const SizeClass& sc = Classes::get(s.cls);
  if (s.order != log2_floor(sc.span_bytes) - PAGE_SHIFT || !is_aligned(base, sc.span_bytes))
    return fail("span order or alignment does not match its class", at);
  const u8* ct = class_bytes(r.start) + page_index(r, base);
  for (usize j = 0; j < (usize{1} << s.order); ++j)
    if (ct[j] != detail::class_code(s.cls)) return fail("span page with the wrong class byte", at);
  const usize live = live_bits(r, base, sc.span_bytes);  // every bit of the span's granules
  if (live != s.used) return fail("slot bits differ from the used count", at);
  const u64* w = r.live + granule(r, base) / 64;
  usize in_slots = 0;
  for (usize k = 0; k < sc.blocks; ++k) in_slots += detail::bit_test(w, k) ? 1 : 0;
  if (in_slots != live) return fail("slot bit past the span's last block", at);
  const usize words = (sc.blocks + 63) / 64;
  if (s.hint > words) return fail("slot search hint out of range", at);
  for (usize k = 0; k < usize{s.hint} * 64 && k < sc.blocks; ++k)
    if (!detail::bit_test(w, k)) return fail("free slot below the search hint", at);
  if (s.used == 0) {
    if (spare_[s.cls] != &s || s.hint != 0) return fail("empty span that is not a fresh spare", at);
    return true;
  }
  if (s.link.linked() != (s.used != sc.blocks)) return fail("span on the wrong list", at);
  return true;
}

template <class Cfg>
usize Heap<Cfg>::live_bits(const HeapRegion& r, uptr a, usize bytes) {
  usize n = 0;
  const usize w0 = granule(r, a) / 64;
  for (usize w = 0; w < (bytes >> GRANULE_SHIFT) / 64; ++w) n += popcount64(r.live[w0 + w]);
  return n;
}

}  // namespace strata
