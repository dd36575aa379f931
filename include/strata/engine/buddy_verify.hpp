// strata engine: Buddy<Cfg>::verify() and verify_region(), the expensive
// invariant walk for tests (buddy.hpp states what it checks).
//
// Kept apart from buddy.hpp so the engine header stays about the fast paths;
// buddy.hpp includes this file at its end, so including either gives the
// whole engine. Nothing here runs unless a test (or Heap's verify) calls it.
#pragma once
#include "strata/engine/buddy.hpp"

namespace strata {

template <class Cfg>
template <class F>
inline bool Buddy<Cfg>::verify(F on_error) const {
  auto fail = [&on_error](const char* what, const void* where) {
    on_error(what, where);
    return false;
  };
  usize free_leaves = 0, used = 0, total = 0;
  for (const Region* r = regions_; r != nullptr; r = r->next) {
    if (const char* why = verify_region(r, free_leaves, used)) return fail(why, r);
    total += r->end - r->base;
  }
  usize listed = 0;
  for (u32 k = 0; k <= MAX_ORDER; ++k) {
    if (((nonempty_ >> k) & 1) != (free_[k].empty() ? 0u : 1u)) return fail("non-empty mask differs from lists", nullptr);
    for (const ListNode* n = free_[k].first(); n != free_[k].end(); n = n->next) {
      if (++listed > free_leaves) return fail("more listed blocks than free leaves", n);
      if (n->next->prev != n) return fail("broken list link", n);
      const uptr a = reinterpret_cast<uptr>(n);
      const Region* r = find_region(a);
      if (r == nullptr || !is_leaf(r, a, k) || detail::bit_test(r->alloc, unit(r, a)))
        return fail("listed block is not a free leaf of its order", n);
      if constexpr (LINK_HAS_REGION)
        if (stored_region(n) != r) return fail("free block names the wrong region", n);
    }
  }
  if (listed != free_leaves) return fail("free leaf missing from the lists", nullptr);
  if (used != used_ || total != total_) return fail("stats differ from the blocks", nullptr);
  return true;
}

template <class Cfg>
inline const char* Buddy<Cfg>::verify_region(const Region* r, usize& free_leaves, usize& used) const {
  usize splits = 0, allocs = 0;
  for (uptr a = r->base; a < r->end;) {
    // The largest node starting at a; it must exist because a starts a leaf
    // (its parent either starts at a and leaves the region, or straddles the
    // previous leaf and a, and is therefore split).
    u32 k = root_order_at(r, a);
    if (!is_root(r, a, k) && !detail::bit_test(r->split, unit(r, (a & ~((MIN_BLOCK << (k + 1)) - 1)) + (MIN_BLOCK << k))))
      return "leaf boundary inside an unsplit node";
    for (; k > 0 && detail::bit_test(r->split, unit(r, a + (MIN_BLOCK << (k - 1)))); --k) ++splits;
    if (detail::bit_test(r->alloc, unit(r, a))) {
      ++allocs;
      used += MIN_BLOCK << k;
    } else {
      ++free_leaves;
    }
    a += MIN_BLOCK << k;
  }
  usize set_split = 0, set_alloc = 0;
  for (usize i = 0, n = (((r->end - r->base) >> MIN_SHIFT) + 63) / 64; i < n; ++i) {
    set_split += popcount64(r->split[i]);
    set_alloc += popcount64(r->alloc[i]);
  }
  if (set_split != splits) return "split bit on a node that is not split";
  if (set_alloc != allocs) return "alloc bit off an allocated block's start";
  return nullptr;
}

}  // namespace strata
