// Heap scenarios: bad input, exhaustion and span return, batches and the
// runtime lookups, alignment, disjoint regions, and a randomized pointer-only
// run with misuse probes. Freestanding templates over any Heap<Cfg>, reporting
// through a scenario::Checker, shared by the host gtest suite and the firmware
// images. Each scenario (re)initialises the heap over caller-owned memory
// (4096-aligned, outliving the heap) and leaves it empty.
#pragma once
#include "strata/core/types.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"

namespace strata::scenario {

/// The smallest request the heap serves as a large (buddy) block.
template <class H>
usize large_size() {
  return H::class_size(H::num_classes() - 1) + 1;
}

/// Region of `regions` holding p (its start is what lookup_in_region needs); null if none.
inline const Region* region_holding(const Region* regions, usize n, const void* p) {
  for (usize i = 0; i < n; ++i)
    if (detail::in_regions(&regions[i], 1, static_cast<const u8*>(p), 1)) return &regions[i];
  return nullptr;
}

/// Every invalid input gets its AllocError and changes nothing. mem: >= 256 KiB.
template <class H>
void heap_bad_input(H& h, u8* mem, usize size, Checker& chk) {
  SCEN_CHECK(chk, h.init(nullptr, size).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.init(mem + 8, size - 8).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.init(mem, 100).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.init(mem, H::PAGE_SIZE).error() == AllocError::InvalidParam);  // no page after metadata
  SCEN_CHECK(chk, h.init(mem, USIZE_MAX).error() == AllocError::InvalidParam);
  if (!SCEN_CHECK(chk, h.init(mem, size / 2).ok())) return;
  SCEN_CHECK(chk, h.add_memory(mem, size / 2).error() == AllocError::MemoryOverlap);
  SCEN_CHECK(chk, h.add_memory(mem + size / 2 - 4096, size / 4).error() == AllocError::MemoryOverlap);
  const usize total = h.total_bytes();

  SCEN_CHECK(chk, h.alloc(16, 0).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.alloc(16, 24).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.alloc(USIZE_MAX, 16).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.alloc(MAX_OBJECT_SIZE + 1, 1).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.alloc(MAX_OBJECT_SIZE, 1).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, h.alloc(size, 1).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, h.alloc(1, BEYOND_ANY_POOL).error() == AllocError::NoMemory);
  void* out[4];
  SCEN_CHECK(chk, h.alloc_batch(H::num_classes(), out, 4) == 0);
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.verify());

  Result<void*> rs = h.alloc(40, 8);                   // a slab block
  const usize lsize = large_size<H>(), lblock = static_cast<usize>(next_pow2(lsize));
  Result<void*> rl = h.alloc(lsize, 1);                // a large block
  if (!SCEN_CHECK(chk, rs.ok() && rl.ok())) return;
  u8* s = static_cast<u8*>(rs.value());
  u8* l = static_cast<u8*>(rl.value());
  const usize ssize = h.usable_size(s).value_or(0);
  SCEN_CHECK(chk, ssize >= 40 && h.usable_size(l).value_or(0) == lblock);
  const usize used = h.used_bytes();
  u8* free_page = nullptr;  // the start of a free buddy run: a page never handed out
  h.for_each_free_run(H::PAGE_SIZE, [&](void* run, usize) { free_page = static_cast<u8*>(run); });
  u8* const bad[] = {s + 1, s + 8, s + ssize, l + 16, l + H::PAGE_SIZE, mem, mem + size / 2 + 64, nullptr,
                     free_page, free_page + H::PAGE_SIZE / 2};
  for (u8* p : bad) {  // interior, never-handed-out slot, metadata, foreign, null, free pages
    SCEN_CHECK(chk, h.dealloc(p).error() == AllocError::NotAllocated);
    SCEN_CHECK(chk, h.usable_size(p).error() == AllocError::NotAllocated);
  }
  // Sized dealloc must match what alloc would have chosen.
  SCEN_CHECK(chk, h.dealloc(s, 40, 0).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.dealloc(s, USIZE_MAX, 8).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, h.dealloc(s, ssize + 1, 8).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, h.dealloc(l, 40, 8).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, h.dealloc(l, 2 * lblock, 1).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, h.dealloc(l, lsize, 2 * lblock).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, h.dealloc(s, lsize, 1).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, h.used_bytes() == used && h.verify());
  SCEN_CHECK(chk, h.dealloc(s, 40, 8).ok());
  SCEN_CHECK(chk, h.dealloc(s).error() == AllocError::NotAllocated);  // double free
  SCEN_CHECK(chk, h.dealloc(l).ok());
  SCEN_CHECK(chk, h.dealloc(l, lsize, 1).error() == AllocError::NotAllocated);

  // A batch with a bad pointer in the middle: the ones before are freed, the rest untouched.
  void* blocks[4];
  if (!SCEN_CHECK(chk, h.alloc_batch(0, blocks, 4) == 4)) return;
  void* batch[4] = {blocks[0], blocks[1], static_cast<u8*>(blocks[1]) + 1, blocks[2]};
  SCEN_CHECK(chk, h.dealloc_batch(batch, 4).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, !h.usable_size(blocks[0]).ok() && !h.usable_size(blocks[1]).ok());
  SCEN_CHECK(chk, h.usable_size(blocks[2]).ok() && h.usable_size(blocks[3]).ok());
  SCEN_CHECK(chk, h.dealloc_batch(blocks + 2, 2).ok());
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.total_bytes() == total && h.verify());
}

/// Exhausts the heap with one small class, then with large blocks; NoMemory
/// changes nothing; freeing everything gives every span back (but the class's
/// spare), and a large alloc that needs it takes the spare back too. slots: room for size / 16 pointers.
template <class H>
void heap_exhaustion(H& h, u8* mem, usize size, void** slots, usize cap, Checker& chk) {
  if (!SCEN_CHECK(chk, h.init(mem, size).ok())) return;
  const usize free0 = h.free_run_bytes(), largest0 = h.largest_free_run();
  SCEN_CHECK(chk, free0 == h.total_bytes() && h.available_bytes() == h.total_bytes());
  const u32 cls = H::class_for(24, 8);
  usize n = 0;
  for (usize got = 1; got != 0;) {
    got = h.alloc_batch(cls, slots + n, cap - n < 64 ? cap - n : 64);
    n += got;
  }
  SCEN_CHECK(chk, n > 0 && n < cap && h.used_bytes() == n * H::class_size(cls));
  SCEN_CHECK(chk, h.alloc(24, 8).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, h.alloc(large_size<H>(), 1).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, h.used_bytes() == n * H::class_size(cls) && h.verify());
  SCEN_CHECK(chk, h.free_run_bytes() == 0);  // the class's spans are one page: all pages taken
  SCEN_CHECK(chk, h.dealloc_batch(slots, n).ok());
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.verify());
  // One empty span per class is kept as the spare; every other one went back.
  SCEN_CHECK(chk, h.spare_bytes() == (H::KEEP_SPARE_SPAN ? H::class_span_bytes(cls) : 0));
  SCEN_CHECK(chk, h.free_run_bytes() + h.spare_bytes() == free0);

  // Large blocks until NoMemory (which must first reclaim the spare), then
  // everything back and the largest fits again.
  n = 0;
  const usize lsize = large_size<H>();
  for (Result<void*> r = h.alloc(lsize, 1); r.ok(); r = h.alloc(lsize, 1)) {
    if (!SCEN_CHECK(chk, n < cap)) return;
    slots[n++] = r.value();
  }
  SCEN_CHECK(chk, n > 0 && h.used_bytes() == n * next_pow2(lsize) && h.verify());
  for (usize i = 0; i < n; ++i) SCEN_CHECK(chk, h.dealloc(slots[i]).ok());
  SCEN_CHECK(chk, h.spare_bytes() == 0 && h.free_run_bytes() == free0 && h.largest_free_run() == largest0);
  Result<void*> big = h.alloc(largest0, 1);
  if (SCEN_CHECK(chk, big.ok())) SCEN_CHECK(chk, h.dealloc(big.value()).ok());
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.verify());
}

/// Batches of every class, checked through usable_size and lookup_in_region;
/// then a batch bigger than memory returns fewer blocks. mem: >= 1 MiB.
template <class H>
void heap_batches(H& h, u8* mem, usize size, void** slots, usize cap, Checker& chk) {
  if (!SCEN_CHECK(chk, h.init(mem, size).ok())) return;
  const usize largest0 = h.largest_free_run();
  for (u32 c = 0; c < H::num_classes(); ++c) {
    const usize fit = size / 4 / H::class_size(c);  // well within memory
    const usize want = fit < 100 ? fit : 100;
    const usize got = h.alloc_batch(c, slots, want);
    if (!SCEN_CHECK(chk, got == want)) return;
    for (usize i = 0; i < got; ++i) {
      u8* p = static_cast<u8*>(slots[i]);
      SCEN_CHECK(chk, h.usable_size(p).value_or(0) == H::class_size(c));
      const typename H::Lookup at = H::lookup_in_region(mem, p);
      const typename H::Lookup mid = H::lookup_in_region(mem, p + 8);  // sizes are multiples of 16
      SCEN_CHECK(chk, at.cls == c && at.block_start && mid.cls == c && !mid.block_start);
      SCEN_CHECK(chk, i == 0 || slots[i] != slots[i - 1]);
    }
    SCEN_CHECK(chk, h.used_bytes() == got * H::class_size(c) && h.verify());
    SCEN_CHECK(chk, h.dealloc_batch(slots, got).ok());
  }
  // Every class may have left a spare span behind: they are reclaimed rather
  // than answering NoMemory (the largest block needs all of them back).
  Result<void*> most = h.alloc(largest0, 1);
  if (SCEN_CHECK(chk, most.ok())) SCEN_CHECK(chk, h.dealloc(most.value()).ok());
  // Non-slab memory: the metadata page, a large block.
  SCEN_CHECK(chk, H::lookup_in_region(mem, mem).cls == H::NO_CLASS);
  Result<void*> l = h.alloc(large_size<H>(), 1);
  if (SCEN_CHECK(chk, l.ok())) {
    SCEN_CHECK(chk, H::lookup_in_region(mem, l.value()).cls == H::NO_CLASS);
    SCEN_CHECK(chk, h.dealloc(l.value()).ok());
  }
  // Running out in the middle of a batch: fewer blocks, then none.
  const usize got = h.alloc_batch(H::num_classes() - 1, slots, cap);
  SCEN_CHECK(chk, got > 0 && got < cap && h.alloc_batch(H::num_classes() - 1, slots + got, 1) == 0);
  SCEN_CHECK(chk, h.dealloc_batch(slots, got).ok());
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.verify());
}

/// Every alignment 1..max_align (slab classes while they can, large beyond).
template <class H>
void heap_alignment(H& h, u8* mem, usize size, usize max_align, Checker& chk) {
  if (!SCEN_CHECK(chk, h.init(mem, size).ok())) return;
  const usize sizes[] = {1, 24, 100, 700, 3000, 20000, 70000};
  for (usize align = 1; align <= max_align; align *= 2)
    for (usize s : sizes) {
      Result<void*> r = h.alloc(s, align);
      if (!SCEN_CHECK(chk, r.ok())) continue;
      SCEN_CHECK(chk, is_ptr_aligned(r.value(), align) && h.usable_size(r.value()).value_or(0) >= s);
      const u32 c = H::class_for(s, align);
      SCEN_CHECK(chk, H::lookup_in_region(mem, r.value()).cls == c);
      SCEN_CHECK(chk, c == H::NO_CLASS || H::class_size(c) >= s);
      SCEN_CHECK(chk, h.dealloc(r.value(), s, align).ok());
    }
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.verify());
}

/// Three regions (two adjacent): all get used, pointer-only frees find them,
/// and dealloc_in_region frees with a caller-named region.
template <class H>
void heap_regions(H& h, u8* mem, usize size, void** slots, usize cap, Checker& chk) {
  const usize q = size / 4;
  const Region regions[3] = {{reinterpret_cast<uptr>(mem), q}, {reinterpret_cast<uptr>(mem + q), q},
                             {reinterpret_cast<uptr>(mem + 3 * q), q}};
  if (!SCEN_CHECK(chk, h.init(mem, q).ok())) return;
  SCEN_CHECK(chk, h.add_memory(mem + q, q).ok() && h.add_memory(mem + 3 * q, q).ok());
  usize n = 0, seen[3] = {0, 0, 0};
  for (Result<void*> r = h.alloc(3000, 16); r.ok() && n < cap; r = h.alloc(3000, 16)) {
    slots[n++] = r.value();
    const Region* reg = region_holding(regions, 3, r.value());
    if (!SCEN_CHECK(chk, reg != nullptr)) return;
    ++seen[reg - regions];
    const typename H::Lookup at = H::lookup_in_region(reinterpret_cast<void*>(reg->start), r.value());
    SCEN_CHECK(chk, at.cls == H::class_for(3000, 16) && at.block_start);
  }
  SCEN_CHECK(chk, n < cap && seen[0] > 0 && seen[1] > 0 && seen[2] > 0 && h.verify());
  // Half the blocks go back through dealloc_in_region (the caller names the
  // region); the wrong region, a mid pointer, a second free are refused.
  for (usize i = n; i-- > 0;) {
    if (i % 2 == 0) {
      SCEN_CHECK(chk, h.dealloc(slots[i]).ok());
      continue;
    }
    const Region* reg = region_holding(regions, 3, slots[i]);
    void* base = reinterpret_cast<void*>(reg->start);
    void* other = reinterpret_cast<void*>(regions[(reg - regions + 1) % 3].start);
    SCEN_CHECK(chk, h.dealloc_in_region(other, slots[i]).error() == AllocError::NotAllocated);
    SCEN_CHECK(chk, h.dealloc_in_region(base, static_cast<u8*>(slots[i]) + 16).error() == AllocError::NotAllocated);
    SCEN_CHECK(chk, h.dealloc_in_region(base, slots[i]).ok());
    SCEN_CHECK(chk, h.dealloc_in_region(base, slots[i]).error() == AllocError::NotAllocated);
  }
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.verify());
}

/// The randomized pointer-only workload.
struct HeapRunParams {
  u64 seed = 1;
  u64 ops = 1'000'000;
  usize max_size = 1 << 16;       ///< log-uniform sizes in [1, max_size]
  usize max_align_log2 = 13;      ///< alignment 2^k, k uniform in [0, max_align_log2] for 1 in 8 allocs
  u32 alloc_percent = 55;
  u32 probe_percent = 5;          ///< misuse probes (interior, double, wrong-size frees) per op
  u64 verify_every = 20000;
};

struct HeapRunStats {
  u64 allocs = 0, frees = 0, batch_frees = 0, no_memory = 0, probes = 0;
};

/// Random allocs (slab and large) and frees: pointer-only, sized, by region,
/// or through dealloc_batch; contents, alignment, usable_size, lookup_in_region and
/// used_bytes (== the sum of live usable sizes) checked all along; misuse
/// probes must all answer NotAllocated and change nothing. At the end all is
/// freed and, once spares are released, every free run is back.
template <class H>
HeapRunStats heap_random_run(H& h, const Region* regions, usize nregions, LiveBlock* live, usize cap,
                             const HeapRunParams& p, Checker& chk) {
  HeapRunStats st{};
  Rng rng(p.seed);
  usize n = 0, live_bytes = 0;  // live_bytes: usable bytes of live[] and of batch[]
  void* batch[16];
  usize nbatch = 0, batch_bytes = 0;
  const usize free0 = h.free_run_bytes();
  auto flush = [&]() {
    SCEN_CHECK(chk, h.dealloc_batch(batch, nbatch).ok());
    st.batch_frees += nbatch;
    live_bytes -= batch_bytes;
    nbatch = batch_bytes = 0;
  };
  auto free_one = [&](usize i) -> bool {
    const LiveBlock b = live[i];
    if (!SCEN_CHECK(chk, detail::verify_block(b))) return false;
    const usize usable = h.usable_size(b.ptr).value_or(0);
    live[i] = live[--n];
    ++st.frees;
    if (rng.below(4) == 1) {  // queued: freed with the next dealloc_batch
      batch[nbatch++] = b.ptr;
      batch_bytes += usable;
      if (nbatch == 16) flush();
      return true;
    }
    live_bytes -= usable;
    switch (rng.below(4)) {
      case 0: return SCEN_CHECK(chk, h.dealloc(b.ptr, b.size, b.align).ok());
      case 1: {
        const Region* reg = region_holding(regions, nregions, b.ptr);
        return SCEN_CHECK(chk, h.dealloc_in_region(reinterpret_cast<void*>(reg->start), b.ptr).ok());
      }
      default:
        if (!SCEN_CHECK(chk, h.dealloc(b.ptr).ok())) return false;
        if (rng.below(100) < p.probe_percent) {  // an immediate double free
          ++st.probes;
          return SCEN_CHECK(chk, h.dealloc(b.ptr).error() == AllocError::NotAllocated);
        }
        return true;
    }
  };
  for (u64 op = 0; op < p.ops; ++op) {
    if (n == 0 || (n < cap && rng.below(100) < p.alloc_percent)) {
      const usize size = static_cast<usize>(rng.log_uniform(p.max_size));
      const usize align = rng.below(8) == 0 ? usize{1} << rng.below(p.max_align_log2 + 1) : 16;
      Result<void*> r = h.alloc(size, align);
      if (!r.ok()) {
        if (!SCEN_CHECK(chk, r.error() == AllocError::NoMemory)) return st;
        ++st.no_memory;
        for (int k = 0; k < 8 && n > 0; ++k)
          if (!free_one(static_cast<usize>(rng.below(n)))) return st;
        continue;
      }
      const LiveBlock b{static_cast<u8*>(r.value()), size, align, static_cast<u8>(rng.next())};
      const usize usable = h.usable_size(b.ptr).value_or(0);
      const Region* reg = region_holding(regions, nregions, b.ptr);
      if (!SCEN_CHECK(chk, reg != nullptr && usable >= size && is_ptr_aligned(b.ptr, align))) return st;
      const typename H::Lookup at = H::lookup_in_region(reinterpret_cast<void*>(reg->start), b.ptr);
      const u32 cls = H::class_for(size, align);
      SCEN_CHECK(chk, at.cls == cls && at.block_start == (cls != H::NO_CLASS));
      SCEN_CHECK(chk, cls == H::NO_CLASS ? usable >= H::PAGE_SIZE : usable == H::class_size(cls));
      detail::fill_block(b);
      live[n++] = b;
      live_bytes += usable;
      ++st.allocs;
    } else if (!free_one(static_cast<usize>(rng.below(n)))) {
      return st;
    }
    if (n > 0 && rng.below(100) < p.probe_percent) {  // interior pointer and wrong-size frees
      ++st.probes;
      const LiveBlock& b = live[rng.below(n)];
      u8* inner = b.ptr + 1 + rng.below(h.usable_size(b.ptr).value_or(2) - 1);
      SCEN_CHECK(chk, h.dealloc(inner).error() == AllocError::NotAllocated);
      SCEN_CHECK(chk, h.usable_size(inner).error() == AllocError::NotAllocated);
      const usize other = b.size * 2 + 64 * 1024;  // always another class or order
      SCEN_CHECK(chk, h.dealloc(b.ptr, other, b.align).error() == AllocError::NotAllocated);
    }
    if (!SCEN_CHECK(chk, h.used_bytes() == live_bytes && h.used_bytes() + h.available_bytes() == h.total_bytes()))
      return st;
    if (p.verify_every != 0 && (op + 1) % p.verify_every == 0 && !SCEN_CHECK(chk, h.verify())) return st;
  }
  while (n > 0)
    if (!free_one(n - 1)) return st;
  if (nbatch > 0) flush();
  SCEN_CHECK(chk, h.used_bytes() == 0 && h.verify());
  h.release_spare_spans();
  SCEN_CHECK(chk, h.free_run_bytes() == free0 && h.verify());
  return st;
}

}  // namespace strata::scenario
