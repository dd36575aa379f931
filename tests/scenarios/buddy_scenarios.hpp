// Buddy scenarios: bad input, exhaustion and coalescing, disjoint regions,
// alignment. Freestanding templates over any Buddy<Cfg>, reporting through a
// scenario::Checker, so the host gtest suite and the firmware images run the
// very same code. Every scenario (re)initialises the engine over the memory it
// is given (a caller-owned arena slice, 4096-aligned, that outlives the engine)
// and leaves it empty.
#pragma once
#include "strata/core/types.hpp"
#include "strata/engine/buddy.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"

namespace strata::scenario {

/// Every invalid input gets its AllocError and changes nothing.
/// mem: at least 64 KiB.
template <class B>
void buddy_bad_input(B& b, u8* mem, usize size, Checker& chk) {
  // Regions: null, misaligned, too small, wrapping the address space.
  SCEN_CHECK(chk, b.init(nullptr, size).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.init(mem + 8, size - 8).error() == AllocError::InvalidParam);
  // Too small: the region header and one block do not fit (64 bytes would
  // on 32-bit targets, whose header is half the size).
  SCEN_CHECK(chk, b.init(mem, sizeof(typename B::Region) + B::MIN_BLOCK - 1).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.init(mem, 0).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.init(mem, USIZE_MAX).error() == AllocError::InvalidParam);
  if (!SCEN_CHECK(chk, b.init(mem, size / 2).ok())) return;
  const usize total = b.total_bytes();
  // Overlap: the same range, a range straddling its end, one inside it.
  SCEN_CHECK(chk, b.add_memory(mem, size / 2).error() == AllocError::MemoryOverlap);
  SCEN_CHECK(chk, b.add_memory(mem + size / 4, size / 2).error() == AllocError::MemoryOverlap);
  SCEN_CHECK(chk, b.add_memory(mem + 4096, 4096).error() == AllocError::MemoryOverlap);
  SCEN_CHECK(chk, b.total_bytes() == total);

  // alloc: zero or non-power-of-two alignment, sizes beyond any object.
  SCEN_CHECK(chk, b.alloc(16, 0).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.alloc(16, 3).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.alloc(16, 48).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.alloc(USIZE_MAX, 1).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.alloc(USIZE_MAX - 15, 16).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.alloc(MAX_OBJECT_SIZE + 1, 1).error() == AllocError::InvalidParam);
  // Valid but too big: NoMemory.
  SCEN_CHECK(chk, b.alloc(MAX_OBJECT_SIZE, 1).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, b.alloc(size, 1).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, b.alloc(1, BEYOND_ANY_POOL).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, b.used_bytes() == 0 && b.verify());

  // dealloc: never allocated, double free, interior pointer, wrong size,
  // foreign pointer, null, bad parameters.
  Result<void*> r = b.alloc(100, 8);
  Result<void*> keep = b.alloc(40, 8);
  if (!SCEN_CHECK(chk, r.ok() && keep.ok())) return;
  u8* p = static_cast<u8*>(r.value());
  const usize used = b.used_bytes();
  SCEN_CHECK(chk, b.dealloc(p + 128, 100, 8).error() == AllocError::NotAllocated);  // the next block
  SCEN_CHECK(chk, b.dealloc(p + 16, 16, 16).error() == AllocError::NotAllocated);   // inside the block
  SCEN_CHECK(chk, b.dealloc(p, 10, 8).error() == AllocError::NotAllocated);         // smaller order
  SCEN_CHECK(chk, b.dealloc(p, 200, 8).error() == AllocError::NotAllocated);        // larger order
  SCEN_CHECK(chk, b.dealloc(p, 100, 256).error() == AllocError::NotAllocated);      // alignment changes order
  SCEN_CHECK(chk, b.dealloc(mem + size - 64, 16, 16).error() == AllocError::NotAllocated);  // not a region
  SCEN_CHECK(chk, b.dealloc(mem, 16, 16).error() == AllocError::NotAllocated);      // region metadata
  SCEN_CHECK(chk, b.dealloc(nullptr, 16, 16).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, b.dealloc(p, 100, 0).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.dealloc(p, USIZE_MAX, 8).error() == AllocError::InvalidParam);
  SCEN_CHECK(chk, b.dealloc(p, BEYOND_ANY_POOL, 8).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, b.used_bytes() == used && b.verify());
  SCEN_CHECK(chk, b.dealloc(p, 100, 8).ok());
  SCEN_CHECK(chk, b.dealloc(p, 100, 8).error() == AllocError::NotAllocated);  // double free
  SCEN_CHECK(chk, b.dealloc(keep.value(), 40, 8).ok());
  SCEN_CHECK(chk, b.dealloc(keep.value(), 40, 8).error() == AllocError::NotAllocated);
  SCEN_CHECK(chk, b.used_bytes() == 0 && b.available_bytes() == total && b.verify());
}

/// Fills the engine with MIN_BLOCK blocks until NoMemory, checks NoMemory
/// changes nothing, fragments it (every other block freed), then frees all
/// and checks everything coalesced back. slots: room for size / MIN_BLOCK pointers.
template <class B>
void buddy_exhaustion(B& b, u8* mem, usize size, void** slots, usize cap, Checker& chk) {
  if (!SCEN_CHECK(chk, b.init(mem, size).ok())) return;
  const usize total = b.total_bytes(), largest = b.largest_free_block();
  SCEN_CHECK(chk, b.used_bytes() + b.available_bytes() == total && largest <= total);
  usize n = 0;
  for (;;) {
    Result<void*> r = b.alloc(1, 1);
    if (!r.ok()) {
      SCEN_CHECK(chk, r.error() == AllocError::NoMemory);
      break;
    }
    if (!SCEN_CHECK(chk, n < cap)) return;
    slots[n++] = r.value();
  }
  SCEN_CHECK(chk, n == total / B::MIN_BLOCK);
  SCEN_CHECK(chk, b.used_bytes() == total && b.available_bytes() == 0 && b.largest_free_block() == 0);
  SCEN_CHECK(chk, b.alloc(1, 1).error() == AllocError::NoMemory && b.used_bytes() == total);
  SCEN_CHECK(chk, b.verify());
  // Free every other block: plenty of bytes free, but no two adjacent ones.
  for (usize i = 0; i < n; i += 2) SCEN_CHECK(chk, b.dealloc(slots[i], 1, 1).ok());
  SCEN_CHECK(chk, b.largest_free_block() == B::MIN_BLOCK);
  SCEN_CHECK(chk, b.alloc(2 * B::MIN_BLOCK, 1).error() == AllocError::NoMemory);
  SCEN_CHECK(chk, b.verify());
  for (usize i = 1; i < n; i += 2) SCEN_CHECK(chk, b.dealloc(slots[i], 1, 1).ok());
  SCEN_CHECK(chk, b.used_bytes() == 0 && b.largest_free_block() == largest && b.verify());
  // Works again: the largest block fits once more.
  Result<void*> big = b.alloc(largest, 1);
  if (SCEN_CHECK(chk, big.ok())) SCEN_CHECK(chk, b.dealloc(big.value(), largest, 1).ok());
}

/// Three disjoint regions, two of them adjacent: blocks stay inside one region
/// (never merged across a region boundary), and all of them are used.
/// mem: at least 256 KiB.
template <class B>
void buddy_regions(B& b, u8* mem, usize size, void** slots, usize cap, Checker& chk) {
  const usize q = size / 4;
  u8* starts[3] = {mem, mem + q, mem + 3 * q};  // [0, q) and [q, 2q) touch; a gap before 3q
  if (!SCEN_CHECK(chk, b.init(starts[0], q).ok())) return;
  SCEN_CHECK(chk, b.add_memory(starts[1], q).ok());
  SCEN_CHECK(chk, b.add_memory(starts[2], q).ok());
  SCEN_CHECK(chk, b.add_memory(mem + 2 * q - 16, 4096).error() == AllocError::MemoryOverlap);
  const usize total = b.total_bytes();
  SCEN_CHECK(chk, total > 2 * q && total < 3 * q && b.largest_free_block() < q);
  usize n = 0, bytes = 0;
  for (usize want = b.largest_free_block(); want >= B::MIN_BLOCK; want /= 2) {
    for (Result<void*> r = b.alloc(want, 1); r.ok(); r = b.alloc(want, 1)) {
      if (!SCEN_CHECK(chk, n < cap)) return;
      const uptr a = reinterpret_cast<uptr>(r.value());
      bool inside = false;
      for (u8* s : starts) inside |= a >= reinterpret_cast<uptr>(s) && a + want <= reinterpret_cast<uptr>(s) + q;
      SCEN_CHECK(chk, inside && is_aligned(a, want));
      slots[n++] = r.value();
      bytes += want;
      // Remember the size in the block itself (it is ours while live).
      *static_cast<usize*>(r.value()) = want;
    }
  }
  SCEN_CHECK(chk, bytes == total && b.available_bytes() == 0 && b.verify());
  for (usize i = 0; i < n; ++i) SCEN_CHECK(chk, b.dealloc(slots[i], *static_cast<usize*>(slots[i]), 1).ok());
  SCEN_CHECK(chk, b.used_bytes() == 0 && b.largest_free_block() < q && b.verify());
}

/// Every alignment 1..max_align on a few sizes: honoured, and freed again.
template <class B>
void buddy_alignment(B& b, u8* mem, usize size, usize max_align, Checker& chk) {
  if (!SCEN_CHECK(chk, b.init(mem, size).ok())) return;
  const usize sizes[] = {1, 7, 16, 100, 1000, 5000};
  for (usize align = 1; align <= max_align; align *= 2)
    for (usize s : sizes) {
      Result<void*> r = b.alloc(s, align);
      if (!SCEN_CHECK(chk, r.ok())) continue;
      SCEN_CHECK(chk, is_ptr_aligned(r.value(), align));
      SCEN_CHECK(chk, b.used_bytes() >= (s > align ? s : align));
      SCEN_CHECK(chk, b.dealloc(r.value(), s, align).ok());
    }
  SCEN_CHECK(chk, b.used_bytes() == 0 && b.verify());
}

}  // namespace strata::scenario
