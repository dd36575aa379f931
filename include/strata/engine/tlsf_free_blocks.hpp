// strata engine: Tlsf<Cfg>'s free-block machinery: the segregated lists
// (find_free, the two-bitmap search; link and unlink, which keep list heads,
// back tags and bitmap bits) and the cutting and merging of blocks (release,
// which frees with immediate coalescing; join, which makes two touching pools
// one; split_front, carve and split_tail, the pieces alloc and resize cut off
// a block).
//
// Kept apart from tlsf.hpp, which declares these (with their contracts and
// the note on why alloc's cuts never merge) and holds the public operations
// built on them; tlsf.hpp includes this file at its end, so including either
// gives the whole engine. STRATA_IN_CLASS_INLINE (in_class_inline.hpp)
// keeps the code as it was when they were written in the class.
#pragma once
#include "strata/engine/tlsf.hpp"
#include "strata/engine/in_class_inline.hpp"

namespace strata {

template <class Cfg>
STRATA_IN_CLASS_INLINE auto Tlsf<Cfg>::find_free(usize search) const -> Block* {
  const typename Classes::Index at = Classes::index_for_request(search);
  if (at.fl < FL_COUNT) {
    u32 fl = at.fl;
    u64 sl_map = sl_bitmap_[fl] & (~u64{0} << at.sl);
    if (sl_map == 0) {
      const u64 fl_map = fl_bitmap_ & ((~u64{0} << fl) << 1);  // two shifts: fl + 1 may be 64
      if (fl_map != 0) {
        fl = ctz64(fl_map);
        sl_map = sl_bitmap_[fl];
      }
    }
    if (sl_map != 0) return heads_[fl * SL_COUNT + ctz64(sl_map)];
  }
  // The class just below `at` holds the blocks that may or may not fit (lists
  // are flat, fl-major, so it is the previous slot; at >= (0, 2) as search >=
  // MIN_BLOCK, and at == (FL_COUNT, 0) gives the very last class).
  Block* head = heads_[at.fl * SL_COUNT + at.sl - 1];
  return head != nullptr && head->size() >= search ? head : nullptr;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE void Tlsf<Cfg>::link(Block* b) {
  const typename Classes::Index i = Classes::index_of(b->size());
  Block* head = heads_[i.fl * SL_COUNT + i.sl];
  b->tag = 0;
  b->next_free = head;
  if (head != nullptr) head->tag = b->addr();
  heads_[i.fl * SL_COUNT + i.sl] = b;
  sl_bitmap_[i.fl] |= u64{1} << i.sl;
  fl_bitmap_ |= u64{1} << i.fl;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE void Tlsf<Cfg>::unlink(Block* b) {
  const typename Classes::Index i = Classes::index_of(b->size());
  Block* prev = Block::at(b->tag);
  Block* next = b->next_free;
  if (next != nullptr) next->tag = b->tag;
  if (prev != nullptr) {
    prev->next_free = next;
  } else {
    STRATA_CHECK(heads_[i.fl * SL_COUNT + i.sl] == b, "tlsf: free list corrupt", b->addr());
    heads_[i.fl * SL_COUNT + i.sl] = next;
    if (next == nullptr) {
      sl_bitmap_[i.fl] &= ~(u64{1} << i.sl);
      if (sl_bitmap_[i.fl] == 0) fl_bitmap_ &= ~(u64{1} << i.fl);
    }
  }
}

template <class Cfg>
STRATA_IN_CLASS_INLINE void Tlsf<Cfg>::release(Block* b) {
  usize size = b->size();
  if (b->prev_is_free()) {
    Block* prev = b->prev_phys();
    STRATA_CHECK(prev->is_free() && prev->next_phys() == b, "tlsf: corrupt boundary tag", b->addr());
    unlink(prev);
    size += prev->size();
    b->scrub();
    b = prev;
  }
  Block* next = Block::at(b->addr() + size);
  if (next->is_free()) {
    unlink(next);
    size += next->size();
    next->scrub();
    next = Block::at(b->addr() + size);
  }
  b->set_free(size);
  next->set_prev_free();
  link(b);
}

template <class Cfg>
STRATA_IN_CLASS_INLINE bool Tlsf<Cfg>::join(Pool* lower, Pool* upper) {
  if (upper->end - lower->start() > MAX_POOL_SIZE) return false;
  Pool** link = &pools_;
  while (*link != upper) link = &(*link)->next;
  *link = upper->next;
  Block* seam = lower->sentinel();
  lower->end = upper->end;
  seam->set_used(MIN_BLOCK);  // keeps PREV_FREE: whether lower's last block is free
  total_ += detail::TLSF_POOL_OVERHEAD;
  release(seam);
  return true;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE auto Tlsf<Cfg>::split_front(Block* b, usize align) -> Block* {
  const uptr payload = reinterpret_cast<uptr>(b->payload());
  uptr want = align_up(payload, align);
  if (want != payload && want - payload < MIN_BLOCK) want = align_up(payload + MIN_BLOCK, align);
  const usize gap = want - payload;
  if (gap == 0) return b;
  Block* aligned = Block::at(b->addr() + gap);
  aligned->size_flags = (b->size() - gap) | Block::PREV_FREE;
  b->set_free(gap);
  link(b);
  return aligned;
}

template <class Cfg>
STRATA_IN_CLASS_INLINE void Tlsf<Cfg>::carve(Block* b, usize need) {
  const usize size = b->size();
  if (size - need >= MIN_BLOCK) {
    Block* tail = Block::at(b->addr() + need);
    tail->size_flags = 0;
    tail->set_free(size - need);
    link(tail);
    b->set_used(need);
  } else {
    b->set_used(size);
    b->next_phys()->clear_prev_free();
  }
}

template <class Cfg>
STRATA_IN_CLASS_INLINE void Tlsf<Cfg>::split_tail(Block* b, usize need) {
  const usize size = b->size();
  if (size - need < MIN_BLOCK) return;
  Block* tail = Block::at(b->addr() + need);
  tail->size_flags = 0;
  tail->set_used(size - need);
  b->set_used(need);
  release(tail);
}

}  // namespace strata
