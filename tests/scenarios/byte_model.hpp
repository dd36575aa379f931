// Randomized model-based scenario for any ByteAllocator.
//
// A shadow model keeps every live block (pointer, size, alignment, fill byte)
// and checks, as operations run: alignment honoured, blocks inside the regions
// the engine was given, no two live blocks overlapping, contents preserved
// (every block is filled with its own pattern and verified before it is freed),
// and stats consistent (used + available == total, used grows and shrinks with
// live blocks). At the end everything is freed, used_bytes() must return to its
// start value and a block of `final_block` bytes must fit again (coalescing).
//
// Freestanding: the model's storage is a caller-provided array, so firmware can
// run the same scenario from a static buffer.
#pragma once
#include "strata/core/types.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"

namespace strata::scenario {

/// One live block of the shadow model.
struct LiveBlock {
  u8* ptr;
  usize size;
  usize align;
  u8 fill;
};

/// An address range the engine was given (for the in-bounds check).
struct Region {
  uptr start;
  usize size;
};

/// What the random workload looks like.
struct ByteModelParams {
  u64 seed = 1;
  u64 ops = 1'000'000;          ///< alloc + dealloc operations in all
  usize max_size = 4096;        ///< sizes are log-uniform in [1, max_size]
  usize max_align_log2 = 6;     ///< alignment 2^k with k uniform in [0, max_align_log2]
  u32 alloc_percent = 55;       ///< chance an operation allocates (when slots remain)
  usize final_block = 0;        ///< after freeing everything this must fit (0: skip)
  usize final_align = 1;
  u64 overlap_check_every = 8192;  ///< full sort-and-compare of live blocks every N ops
};

/// What a run did, for reports (the closing notes quote these).
struct ByteModelStats {
  u64 allocs = 0;
  u64 frees = 0;
  u64 no_memory = 0;
  usize peak_live = 0;
};

namespace detail {
inline u8 pattern(u8 fill, usize i) { return static_cast<u8>(fill + static_cast<u8>(i * 131u)); }

inline void fill_block(const LiveBlock& b) {
  // Every byte of small blocks; head, tail and a stride of large ones.
  if (b.size <= 512) {
    for (usize i = 0; i < b.size; ++i) b.ptr[i] = pattern(b.fill, i);
    return;
  }
  for (usize i = 0; i < 64; ++i) b.ptr[i] = pattern(b.fill, i);
  for (usize i = b.size - 64; i < b.size; ++i) b.ptr[i] = pattern(b.fill, i);
  for (usize i = 64; i < b.size - 64; i += 61) b.ptr[i] = pattern(b.fill, i);
}

inline bool verify_block(const LiveBlock& b) {
  if (b.size <= 512) {
    for (usize i = 0; i < b.size; ++i)
      if (b.ptr[i] != pattern(b.fill, i)) return false;
    return true;
  }
  for (usize i = 0; i < 64; ++i)
    if (b.ptr[i] != pattern(b.fill, i)) return false;
  for (usize i = b.size - 64; i < b.size; ++i)
    if (b.ptr[i] != pattern(b.fill, i)) return false;
  for (usize i = 64; i < b.size - 64; i += 61)
    if (b.ptr[i] != pattern(b.fill, i)) return false;
  return true;
}

/// Heap sort of live blocks by address (no <algorithm> freestanding).
inline void sort_by_address(LiveBlock* v, usize n) {
  auto sift = [v](usize root, usize end) {
    while (2 * root + 1 < end) {
      usize child = 2 * root + 1;
      if (child + 1 < end && v[child].ptr < v[child + 1].ptr) ++child;
      if (!(v[root].ptr < v[child].ptr)) return;
      LiveBlock t = v[root];
      v[root] = v[child];
      v[child] = t;
      root = child;
    }
  };
  for (usize i = n / 2; i-- > 0;) sift(i, n);
  for (usize end = n; end-- > 1;) {
    LiveBlock t = v[0];
    v[0] = v[end];
    v[end] = t;
    sift(0, end);
  }
}

inline bool in_regions(const Region* r, usize nr, const u8* p, usize size) {
  const uptr a = reinterpret_cast<uptr>(p);
  for (usize i = 0; i < nr; ++i)
    if (a >= r[i].start && a - r[i].start <= r[i].size && size <= r[i].size - (a - r[i].start)) return true;
  return false;
}
}  // namespace detail

/// Runs the random workload on `a` (already initialised over `regions`).
/// `slots` is scratch storage for up to `capacity` live blocks.
template <ByteAllocator A>
ByteModelStats run_byte_model(A& a, const Region* regions, usize nregions, LiveBlock* slots, usize capacity,
                              const ByteModelParams& p, Checker& chk) {
  ByteModelStats st{};
  Rng rng(p.seed);
  usize live = 0;
  const usize used0 = a.used_bytes();
  SCEN_CHECK(chk, a.used_bytes() + a.available_bytes() == a.total_bytes());

  auto free_slot = [&](usize i) -> bool {
    LiveBlock b = slots[i];
    if (!SCEN_CHECK(chk, detail::verify_block(b))) return false;
    Result<void> r = a.dealloc(b.ptr, b.size, b.align);
    if (!SCEN_CHECK(chk, r.ok())) return false;
    slots[i] = slots[--live];
    ++st.frees;
    return true;
  };

  for (u64 op = 0; op < p.ops; ++op) {
    const bool want_alloc = live == 0 || (live < capacity && rng.below(100) < p.alloc_percent);
    if (want_alloc) {
      const usize size = static_cast<usize>(rng.log_uniform(p.max_size));
      const usize align = usize{1} << rng.below(p.max_align_log2 + 1);
      const usize used_before = a.used_bytes();
      Result<void*> r = a.alloc(size, align);
      if (!r.ok()) {
        if (!SCEN_CHECK(chk, r.error() == AllocError::NoMemory)) return st;
        SCEN_CHECK(chk, a.used_bytes() == used_before);
        ++st.no_memory;
        // Under pressure, free a few blocks so the run keeps exercising both paths.
        for (int k = 0; k < 4 && live > 0; ++k)
          if (!free_slot(static_cast<usize>(rng.below(live)))) return st;
        continue;
      }
      LiveBlock b{static_cast<u8*>(r.value()), size, align, static_cast<u8>(rng.next())};
      if (!SCEN_CHECK(chk, b.ptr != nullptr)) return st;
      if (!SCEN_CHECK(chk, is_ptr_aligned(b.ptr, align))) return st;
      if (!SCEN_CHECK(chk, detail::in_regions(regions, nregions, b.ptr, size))) return st;
      SCEN_CHECK(chk, a.used_bytes() >= used_before + size);
      detail::fill_block(b);
      slots[live++] = b;
      ++st.allocs;
      if (live > st.peak_live) st.peak_live = live;
    } else {
      if (!free_slot(static_cast<usize>(rng.below(live)))) return st;
    }
    if (!SCEN_CHECK(chk, a.used_bytes() + a.available_bytes() == a.total_bytes())) return st;
    if (p.overlap_check_every != 0 && (op + 1) % p.overlap_check_every == 0 && live > 1) {
      detail::sort_by_address(slots, live);
      for (usize i = 0; i + 1 < live; ++i)
        if (!SCEN_CHECK(chk, slots[i].ptr + slots[i].size <= slots[i + 1].ptr)) return st;
    }
  }

  while (live > 0)
    if (!free_slot(live - 1)) return st;
  SCEN_CHECK(chk, a.used_bytes() == used0);
  SCEN_CHECK(chk, a.used_bytes() + a.available_bytes() == a.total_bytes());
  if (p.final_block != 0) {
    Result<void*> r = a.alloc(p.final_block, p.final_align);
    if (SCEN_CHECK(chk, r.ok())) SCEN_CHECK(chk, a.dealloc(r.value(), p.final_block, p.final_align).ok());
  }
  return st;
}

}  // namespace strata::scenario
