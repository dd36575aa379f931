// strata engine: Tlsf<Cfg>::verify(), the expensive invariant walk for tests.
//
// Kept apart from tlsf.hpp so the engine header stays about the fast paths;
// tlsf.hpp includes this file at its end, so including either gives the whole
// engine. Nothing here runs unless a test (or a debug hook) calls verify().
//
// What is checked, first violation reported:
//   per pool, block by block from the first block to the sentinel:
//     - size >= MIN_BLOCK, a multiple of ALIGN, not past the sentinel;
//     - PREV_FREE equals the previous block's FREE (false for the first block);
//     - no two adjacent free blocks (coalescing is immediate);
//     - a free block's footer points at it, and its class list is marked
//       non-empty in both bitmaps;
//     - a used block carries the right check word;
//     - the sentinel is a used zero-size header where the pool says, and the
//       block sizes add up to the pool's block bytes;
//   per free list (fl, sl):
//     - bit sl of sl_bitmap_[fl] set iff the list is non-empty, bit fl of
//       fl_bitmap_ set iff sl_bitmap_[fl] != 0, no bits beyond SL_COUNT/FL_COUNT;
//     - every node is free, lies in a pool, belongs to class (fl, sl), and its
//       back link names the node before it;
//   overall: listed nodes == free blocks met in the walk (so every free block
//   is listed exactly once, and no list cycles), block bytes == total_bytes(),
//   used block bytes == used_bytes().
#pragma once
#include "strata/engine/tlsf.hpp"

namespace strata {

template <class Cfg>
template <class F>
bool Tlsf<Cfg>::verify(F on_error) const {
  auto fail = [&on_error](const char* what, const void* where) {
    on_error(what, where);
    return false;
  };
  usize total = 0;
  usize used = 0;
  usize free_blocks = 0;
  for (const Pool* pool = pools_; pool != nullptr; pool = pool->next) {
    const Block* sentinel = pool->sentinel();
    const Block* b = pool->first();
    bool prev_free = false;
    usize bytes = 0;
    while (b != sentinel) {
      const usize size = b->size();
      if (size < MIN_BLOCK || !is_aligned(size, ALIGN) || size > sentinel->addr() - b->addr())
        return fail("tlsf: bad block size", b);
      if (b->prev_is_free() != prev_free) return fail("tlsf: PREV_FREE disagrees with previous block", b);
      if (b->is_free()) {
        if (prev_free) return fail("tlsf: two adjacent free blocks", b);
        if (b->next_phys()->prev_phys() != b) return fail("tlsf: footer does not point at its block", b);
        const typename Classes::Index i = Classes::index_of(size);
        if ((sl_bitmap_[i.fl] >> i.sl & 1) == 0 || (fl_bitmap_ >> i.fl & 1) == 0)
          return fail("tlsf: free block's class marked empty", b);
        ++free_blocks;
      } else {
        if (!b->check_ok()) return fail("tlsf: used block with a bad check word", b);
        used += size;
      }
      bytes += size;
      prev_free = b->is_free();
      b = b->next_phys();
    }
    if (sentinel->size() != 0 || sentinel->is_free() || sentinel->prev_is_free() != prev_free)
      return fail("tlsf: bad pool sentinel", sentinel);
    if (bytes != pool->block_bytes()) return fail("tlsf: block sizes do not add up to the pool", pool);
    total += bytes;
  }

  usize listed = 0;
  for (u32 fl = 0; fl < Classes::WORD_BITS; ++fl) {
    const Word sl_map = fl < FL_COUNT ? sl_bitmap_[fl] : 0;
    if (((fl_bitmap_ >> fl) & 1) != (sl_map != 0 ? 1u : 0u)) return fail("tlsf: first-level bit wrong", &fl_bitmap_);
    if (fl >= FL_COUNT) continue;
    if (SL_COUNT < Classes::WORD_BITS && (sl_map >> (SL_COUNT % Classes::WORD_BITS)) != 0)
      return fail("tlsf: bit beyond SL_COUNT", &sl_bitmap_[fl]);
    for (u32 sl = 0; sl < SL_COUNT; ++sl) {
      const Block* head = heads_[fl * SL_COUNT + sl];
      if (((sl_map >> sl) & 1) != (head != nullptr ? 1u : 0u)) return fail("tlsf: second-level bit wrong", &heads_[fl * SL_COUNT + sl]);
      uptr back = 0;
      for (const Block* n = head; n != nullptr; n = n->next_free) {
        const Pool* pool = pools_;
        while (pool != nullptr && !pool->holds_payload(n->addr() + BLOCK_OVERHEAD)) pool = pool->next;
        if (pool == nullptr) return fail("tlsf: free-list node outside every pool", n);
        if (!n->is_free()) return fail("tlsf: used block in a free list", n);
        const typename Classes::Index i = Classes::index_of(n->size());
        if (i.fl != fl || i.sl != sl) return fail("tlsf: free block in the wrong class list", n);
        if (n->tag != back) return fail("tlsf: free-list back link wrong", n);
        if (++listed > free_blocks) return fail("tlsf: more listed nodes than free blocks", n);
        back = n->addr();
      }
    }
  }
  if (listed != free_blocks) return fail("tlsf: free block missing from the lists", nullptr);
  if (total != total_) return fail("tlsf: total_bytes() disagrees with the pools", &total_);
  if (used != used_) return fail("tlsf: used_bytes() disagrees with the used blocks", &used_);
  return true;
}

}  // namespace strata
