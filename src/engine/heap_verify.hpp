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
//     - live bits are set only at slot starts below the carve mark, and their
//       count (over all the span's granules) equals the used count;
//     - the free list stays inside the carved slots, on slot starts whose live
//       bit is clear, has no cycle, and free-listed + never-carved slots ==
//       free slots;
//     - an empty span is its class's spare and starts fresh (carve mark 0); a
//       full span is on no list; any other is on its class's partial list;
//   per class: partial-list entries are slab spans of that class with live
//   blocks, as many as the region walk found; the spare is empty and unlinked,
//   and the spares' sizes add up to spare_bytes();
//   overall: live bytes == used_bytes(), bytes held == the buddy's used bytes.
#pragma once
#include "engine/heap.hpp"

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
  const u8* ct = detail::class_table(r.start);
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
  const u8* ct = detail::class_table(r.start) + page_index(r, base);
  for (usize j = 0; j < (usize{1} << s.order); ++j)
    if (ct[j] != s.cls) return fail("span page with the wrong class byte", at);
  if (s.carved > sc.blocks || s.used > s.carved) return fail("carve mark or used count out of range", at);
  usize live = 0;
  for (usize k = 0; k < sc.blocks; ++k)
    if (detail::bit_test(r.live, granule(r, base + k * sc.size))) {
      if (k >= s.carved) return fail("live bit beyond the carve mark", at);
      ++live;
    }
  if (live != s.used) return fail("live bits differ from the used count", at);
  if (live_bits(r, base, sc.span_bytes) != live) return fail("live bit off a slot start", at);
  usize listed = 0;
  for (void* p = s.free_list; p != nullptr; p = *static_cast<void**>(p)) {
    const uptr off = reinterpret_cast<uptr>(p) - base;
    if (++listed > sc.blocks) return fail("free list cycle", at);
    if (off >= usize{s.carved} * sc.size || !Classes::is_block_offset(s.cls, off))
      return fail("free-list entry off the carved slots", p);
    if (detail::bit_test(r.live, granule(r, reinterpret_cast<uptr>(p)))) return fail("free-list entry is live", p);
  }
  if (listed + (sc.blocks - s.carved) != sc.blocks - s.used) return fail("free slots miscounted", at);
  if (s.used == 0) {
    if (spare_[s.cls] != &s || s.carved != 0) return fail("empty span that is not a fresh spare", at);
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
