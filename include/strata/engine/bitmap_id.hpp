// strata engine: BitmapIdAllocator, integer ids in [0, MaxIds) over a
// hierarchical bitmap (engine/bitmap.hpp).
//
// One bit per id, set while the id is allocated. Zero means free, so a
// default-constructed (all-zero, .bss, constinit-able) allocator has every id
// available without any init call.
//
// Ids are owned one by one: alloc_id hands out a run, alloc_fixed_id a single
// id, and dealloc_id(start, count) frees any range whose ids are all allocated
// (a run may be returned in pieces, a span of fixed ids at once). Freeing an id
// that is free is refused with NotAllocated and changes nothing, so double
// frees are caught.
//
// Single-threaded (callers lock); no heap; storage inline (about MaxIds / 8 bytes).
#pragma once
#include "strata/core/bits.hpp"
#include "strata/core/types.hpp"
#include "strata/engine/bitmap.hpp"
#include "strata/concepts.hpp"
#include "strata/result.hpp"

namespace strata {

/// Allocator of integer ids in [0, MaxIds).
template <usize MaxIds>
class BitmapIdAllocator {
  static_assert(MaxIds > 0, "MaxIds must be positive");

 public:
  static constexpr usize MAX_IDS = MaxIds;

  constexpr BitmapIdAllocator() = default;

  /// Allocates count consecutive ids, the first a multiple of align_pow2, and
  /// returns the first. The lowest fitting start wins (first fit).
  /// InvalidParam: count == 0 or align_pow2 not a power of two.
  /// NoMemory: no free run of count ids with that alignment exists.
  Result<usize> alloc_id(usize count, usize align_pow2) {
    if (count == 0 || !is_pow2(align_pow2)) return AllocError::InvalidParam;
    if (count > MAX_IDS) return AllocError::NoMemory;
    const usize first = used_.find_run(count, align_pow2, 0);
    if (first == used_.NONE) return AllocError::NoMemory;
    used_.assign_range(first, count, true);
    used_count_ += count;
    return first;
  }

  /// Frees ids [start, start + count), every one of which must be allocated.
  /// InvalidParam: count == 0 or the range not inside [0, MaxIds).
  /// NotAllocated: some id in the range is free. Nothing changes on error.
  Result<void> dealloc_id(usize start, usize count) {
    if (count == 0 || !in_range(start, count)) return AllocError::InvalidParam;
    if (!used_.all_equal(start, count, true)) return AllocError::NotAllocated;
    used_.assign_range(start, count, false);
    used_count_ -= count;
    return ok();
  }

  /// Allocates the given id. InvalidParam: id >= MaxIds. NoMemory: already allocated.
  Result<void> alloc_fixed_id(usize id) {
    if (id >= MAX_IDS) return AllocError::InvalidParam;
    if (used_.test(id)) return AllocError::NoMemory;
    used_.assign_range(id, 1, true);
    ++used_count_;
    return ok();
  }

  /// True when id is allocated; false for free ids and for id >= MaxIds.
  bool is_allocated(usize id) const { return id < MAX_IDS && used_.test(id); }

  /// Number of ids managed (MaxIds).
  usize size() const { return MAX_IDS; }
  /// Ids currently allocated.
  usize used() const { return used_count_; }
  /// Ids currently free.
  usize available() const { return MAX_IDS - used_count_; }

 private:
  static bool in_range(usize start, usize count) { return start < MAX_IDS && count <= MAX_IDS - start; }

  detail::Bitmap<MaxIds, false> used_{};
  usize used_count_ = 0;
};

static_assert(IdAllocator<BitmapIdAllocator<64>>);

}  // namespace strata
