// Tlsf scenarios: bad input, exhaustion and recovery, coalescing, several pools,
// in-place resize. Freestanding templates over any Tlsf<Cfg> (no gtest, no std):
// the host suite calls them through gtest_checker(), the firmware images run the
// same code from static buffers. Every scenario starts with init() over the
// memory it is handed, and ends with verify() and used_bytes() == 0.
//
// Memory arguments: `mem` is ALIGN-aligned, `n` bytes, owned by the caller for
// as long as the engine is used; `slots` is scratch for `cap` pointers.
#pragma once
#include "strata/core/types.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"
#include "strata/result.hpp"

namespace strata::scenario {

/// The largest payload a fresh pool of n bytes serves in one block.
template <class T>
constexpr usize tlsf_whole_pool_payload(usize n) {
  return align_down(n, T::ALIGN) - (T::MIN_POOL_SIZE - T::MIN_BLOCK) - T::BLOCK_OVERHEAD;
}

/// True when r failed with exactly error e.
template <class R>
bool failed_with(const R& r, AllocError e) {
  return !r.ok() && r.error() == e;
}

/// Every kind of bad input gets its AllocError and leaves the engine as it was.
/// n >= 4 * T::MIN_POOL_SIZE and a multiple of 4 * T::ALIGN.
template <class T>
void scenario_tlsf_bad_input(T& t, u8* mem, usize n, Checker& chk) {
  const usize half = n / 2;
  for (usize i = 0; i < 256; ++i) mem[i] = 0;  // no header left by an earlier user of mem
  // Pools: null, misaligned, too small, too large, wrapping around the address space.
  SCEN_CHECK(chk, failed_with(t.init(nullptr, n), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.init(mem + 1, n - 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.init(mem + T::ALIGN / 2, n - T::ALIGN), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.init(mem, 0), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.init(mem, T::MIN_POOL_SIZE - 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.init(mem, T::MAX_POOL_SIZE + T::ALIGN), AllocError::InvalidParam));
  SCEN_CHECK(chk, t.total_bytes() == 0 && t.used_bytes() == 0 && t.available_bytes() == 0);
  void* top = reinterpret_cast<void*>(align_down(USIZE_MAX, T::ALIGN) - T::ALIGN);
  SCEN_CHECK(chk, failed_with(t.add_memory(top, T::MIN_POOL_SIZE), AllocError::InvalidParam));

  // Overlap: the same pool, a pool inside, one straddling either end. Adjacent is fine.
  if (!SCEN_CHECK(chk, t.init(mem, half).ok())) return;
  const usize total = t.total_bytes();
  SCEN_CHECK(chk, failed_with(t.add_memory(mem, half), AllocError::MemoryOverlap));
  SCEN_CHECK(chk, failed_with(t.add_memory(mem + half / 2, T::MIN_POOL_SIZE), AllocError::MemoryOverlap));
  SCEN_CHECK(chk, failed_with(t.add_memory(mem + half - T::ALIGN, half), AllocError::MemoryOverlap));
  void* below = reinterpret_cast<void*>(reinterpret_cast<uptr>(mem) - T::ALIGN * 4);
  SCEN_CHECK(chk, failed_with(t.add_memory(below, T::ALIGN * 5), AllocError::MemoryOverlap));
  SCEN_CHECK(chk, t.total_bytes() == total);
  SCEN_CHECK(chk, t.add_memory(mem + half, half).ok());  // adjacent: joined into one pool
  const usize total2 = t.total_bytes();
  SCEN_CHECK(chk, total2 == total + half);

  // Alignment and size: zero/non-power-of-two align, sizes past MAX_OBJECT_SIZE
  // or near USIZE_MAX are InvalidParam; valid but unsatisfiable ones NoMemory.
  SCEN_CHECK(chk, failed_with(t.alloc(16, 0), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.alloc(16, 3), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.alloc(16, 48), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.alloc(USIZE_MAX, 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.alloc(USIZE_MAX - 15, 16), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.alloc(MAX_OBJECT_SIZE + 1, 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.alloc(MAX_OBJECT_SIZE, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, failed_with(t.alloc(MAX_OBJECT_SIZE, MAX_OBJECT_SIZE + 1), AllocError::NoMemory));  // sum overflows
  SCEN_CHECK(chk, failed_with(t.alloc(1, MAX_OBJECT_SIZE + 1), AllocError::NoMemory));
  SCEN_CHECK(chk, failed_with(t.alloc(n, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, t.used_bytes() == 0 && t.total_bytes() == total2);

  // Frees of things never handed out.
  u64 outside = 0;
  SCEN_CHECK(chk, failed_with(t.dealloc(nullptr), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.dealloc(&outside), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.dealloc(mem + n + 64), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.dealloc(mem), AllocError::NotAllocated));  // the pool header
  SCEN_CHECK(chk, failed_with(t.dealloc(mem + 4 * T::ALIGN), AllocError::NotAllocated));  // inside the free block
  SCEN_CHECK(chk, failed_with(t.usable_size(&outside), AllocError::NotAllocated));

  // Double free, mid-block pointers, a forged header that is not quite right.
  Result<void*> a = t.alloc(256, 1);
  if (!SCEN_CHECK(chk, a.ok())) return;
  u8* p = static_cast<u8*>(a.value());
  const usize used = t.used_bytes();
  for (usize i = 0; i < 256; ++i) p[i] = 0;
  SCEN_CHECK(chk, failed_with(t.dealloc(p + 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.dealloc(p + T::ALIGN / 2), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.dealloc(p + 2 * T::ALIGN), AllocError::NotAllocated));  // zeroed "header"
  for (usize i = 0; i < 256; ++i) p[i] = 0xff;
  SCEN_CHECK(chk, failed_with(t.dealloc(p + 2 * T::ALIGN), AllocError::NotAllocated));  // all-ones "header"
  usize fake[2] = {0, 64};  // a used-looking header (size 64, FREE clear) with a wrong check word
  for (usize i = 0; i < sizeof fake; ++i) p[T::ALIGN + i] = reinterpret_cast<const u8*>(fake)[i];
  SCEN_CHECK(chk, failed_with(t.dealloc(p + 2 * T::ALIGN), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.try_resize_in_place(p + 2 * T::ALIGN, 8), AllocError::NotAllocated));
  SCEN_CHECK(chk, t.used_bytes() == used);
  // The sized form checks its arguments against the block.
  SCEN_CHECK(chk, failed_with(t.dealloc(p, 256, 3), AllocError::InvalidParam));
  SCEN_CHECK(chk, failed_with(t.dealloc(p, 100000, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.try_resize_in_place(p, USIZE_MAX), AllocError::InvalidParam));
  SCEN_CHECK(chk, t.dealloc(p, 256, 1).ok());
  SCEN_CHECK(chk, failed_with(t.dealloc(p), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.dealloc(p, 256, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, failed_with(t.usable_size(p), AllocError::NotAllocated));

  // A header swallowed by coalescing is scrubbed: stale pointers to it are refused,
  // also once the space is inside a new live block.
  Result<void*> x = t.alloc(64, 1), y = t.alloc(64, 1), z = t.alloc(64, 1);
  if (!SCEN_CHECK(chk, x.ok() && y.ok() && z.ok())) return;
  SCEN_CHECK(chk, t.dealloc(y.value()).ok());
  SCEN_CHECK(chk, t.dealloc(x.value()).ok());  // x absorbs y
  SCEN_CHECK(chk, failed_with(t.dealloc(y.value()), AllocError::NotAllocated));
  Result<void*> big = t.alloc(120, 1);  // lands on x's space, covering y's old header
  if (!SCEN_CHECK(chk, big.ok())) return;
  SCEN_CHECK(chk, big.value() == x.value());
  SCEN_CHECK(chk, failed_with(t.dealloc(y.value()), AllocError::NotAllocated));
  SCEN_CHECK(chk, t.dealloc(big.value()).ok());
  SCEN_CHECK(chk, t.dealloc(z.value()).ok());
  SCEN_CHECK(chk, t.used_bytes() == 0 && t.total_bytes() == total2);
  SCEN_CHECK(chk, t.verify());
}

/// Fills the engine until NoMemory (state unchanged at each refusal), down to
/// available_bytes() == 0; frees everything and checks that the whole pool fits
/// again as one block. Then once more with aligned blocks. n >= 64 KiB.
template <class T>
void scenario_tlsf_exhaustion(T& t, u8* mem, usize n, void** slots, usize cap, Checker& chk) {
  if (!SCEN_CHECK(chk, t.init(mem, n).ok())) return;
  const usize whole = tlsf_whole_pool_payload<T>(n);
  Result<void*> w = t.alloc(whole, 1);
  if (!SCEN_CHECK(chk, w.ok())) return;
  SCEN_CHECK(chk, t.available_bytes() == 0 && t.used_bytes() == t.total_bytes());
  SCEN_CHECK(chk, failed_with(t.alloc(0, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, t.dealloc(w.value()).ok());
  SCEN_CHECK(chk, failed_with(t.alloc(whole + 1, 1), AllocError::NoMemory));

  const usize sizes[] = {4000, 700, 96, 1};
  const usize aligns[] = {1, 256};
  for (usize align : aligns) {
    usize live = 0;
    for (usize size : sizes) {
      for (;;) {
        const usize used = t.used_bytes();
        Result<void*> r = live < cap ? t.alloc(size, align) : Result<void*>(AllocError::NoMemory);
        if (!r.ok()) {
          SCEN_CHECK(chk, r.error() == AllocError::NoMemory);
          SCEN_CHECK(chk, t.used_bytes() == used);
          break;
        }
        SCEN_CHECK(chk, is_ptr_aligned(r.value(), align));
        slots[live++] = r.value();
      }
    }
    SCEN_CHECK(chk, live < cap);  // else the scenario ran out of slots, not the engine of memory
    if (align == 1) SCEN_CHECK(chk, t.available_bytes() == 0);
    SCEN_CHECK(chk, t.verify());
    // Free every other block, then the rest: coalescing must rebuild one block.
    for (usize i = 0; i < live; i += 2) SCEN_CHECK(chk, t.dealloc(slots[i]).ok());
    SCEN_CHECK(chk, t.verify());
    for (usize i = 1; i < live; i += 2) SCEN_CHECK(chk, t.dealloc(slots[i]).ok());
    SCEN_CHECK(chk, t.used_bytes() == 0 && t.verify());
    w = t.alloc(whole, 1);
    if (SCEN_CHECK(chk, w.ok())) SCEN_CHECK(chk, t.dealloc(w.value()).ok());
  }
}

/// Coalescing in every order (forward, backward, random) ends in one free block
/// per pool, found by for_each_free_run, and the whole pool fits again.
template <class T>
void scenario_tlsf_coalesce(T& t, u8* mem, usize n, void** slots, usize cap, u64 seed, Checker& chk) {
  if (!SCEN_CHECK(chk, t.init(mem, n).ok())) return;
  Rng rng(seed);
  for (int order = 0; order < 3; ++order) {
    usize live = 0;
    while (live < cap) {
      Result<void*> r = t.alloc(static_cast<usize>(rng.range(1, 600)), 1);
      if (!r.ok()) break;
      slots[live++] = r.value();
    }
    for (usize i = live; i > 1 && order == 2; --i) {  // shuffle for the random order
      const usize j = static_cast<usize>(rng.below(i));
      void* tmp = slots[i - 1];
      slots[i - 1] = slots[j];
      slots[j] = tmp;
    }
    for (usize k = 0; k < live; ++k) SCEN_CHECK(chk, t.dealloc(slots[order == 1 ? live - 1 - k : k]).ok());
    usize runs = 0;
    t.for_each_free_run(0, [&runs](void*, usize) { ++runs; });
    SCEN_CHECK(chk, runs == 1);
    SCEN_CHECK(chk, t.used_bytes() == 0 && t.verify());
    Result<void*> w = t.alloc(tlsf_whole_pool_payload<T>(n), 1);
    if (SCEN_CHECK(chk, w.ok())) SCEN_CHECK(chk, t.dealloc(w.value()).ok());
  }
}

/// Three pools of different sizes with gaps between them: each one's whole block
/// fits at once (no block spans pools), pointers into the gaps are refused, and
/// freeing restores one free block per pool. n >= 64 KiB, multiple of 4 * ALIGN.
template <class T>
void scenario_tlsf_multi_pool(T& t, u8* mem, usize n, Checker& chk) {
  const usize q = align_down(n / 4, T::ALIGN);
  u8* pools[3] = {mem + 2 * q, mem, mem + 3 * q + q / 2};
  const usize sizes[3] = {q, q - q / 4, q / 2};
  if (!SCEN_CHECK(chk, t.init(pools[0], sizes[0]).ok())) return;
  SCEN_CHECK(chk, t.add_memory(pools[1], sizes[1]).ok());
  SCEN_CHECK(chk, t.add_memory(pools[2], sizes[2]).ok());
  const usize overhead = T::MIN_POOL_SIZE - T::MIN_BLOCK;
  SCEN_CHECK(chk, t.total_bytes() == sizes[0] + sizes[1] + sizes[2] - 3 * overhead);
  void* whole[3] = {};
  for (usize i = 0; i < 3; ++i) {
    Result<void*> r = t.alloc(tlsf_whole_pool_payload<T>(sizes[i]), 1);
    if (!SCEN_CHECK(chk, r.ok())) return;
    whole[i] = r.value();
    const u8* p = static_cast<const u8*>(whole[i]);
    bool inside = false;
    for (usize k = 0; k < 3; ++k) inside |= p >= pools[k] && p + tlsf_whole_pool_payload<T>(sizes[k]) <= pools[k] + sizes[k];
    SCEN_CHECK(chk, inside);
  }
  SCEN_CHECK(chk, t.available_bytes() == 0 && failed_with(t.alloc(0, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, failed_with(t.dealloc(mem + q + T::ALIGN * 8), AllocError::NotAllocated));  // gap after pool 1
  SCEN_CHECK(chk, failed_with(t.dealloc(mem + 3 * q + T::ALIGN * 8), AllocError::NotAllocated));  // gap before pool 2
  for (void* p : whole) SCEN_CHECK(chk, t.dealloc(p).ok());
  usize runs = 0;
  t.for_each_free_run(1, [&runs](void*, usize) { ++runs; });
  SCEN_CHECK(chk, runs == 3 && t.used_bytes() == 0 && t.verify());
}

/// Pools that touch are joined: added above, below, and into the hole between
/// two pools, with a live block at a seam, the pieces end as one pool whose
/// whole block fits. n >= 64 KiB, multiple of 8 * ALIGN, 4n/8 <= MAX_POOL_SIZE.
template <class T>
void scenario_tlsf_join_pools(T& t, u8* mem, usize n, Checker& chk) {
  const usize q = align_down(n / 4, T::ALIGN);
  if (!SCEN_CHECK(chk, t.init(mem + q, q).ok())) return;
  Result<void*> edge = t.alloc(tlsf_whole_pool_payload<T>(q) - 256, 1);  // leaves a small free tail
  if (!SCEN_CHECK(chk, edge.ok())) return;
  SCEN_CHECK(chk, t.add_memory(mem + 2 * q, q).ok());  // above: the tail, the seam and the new block merge
  SCEN_CHECK(chk, t.total_bytes() == 2 * q - (T::MIN_POOL_SIZE - T::MIN_BLOCK) && t.verify());
  Result<void*> rest = t.alloc(q + 128, 1);  // only fits across the seam
  SCEN_CHECK(chk, rest.ok() && t.available_bytes() < T::MIN_BLOCK + 256);
  if (rest.ok()) SCEN_CHECK(chk, t.dealloc(rest.value()).ok());
  SCEN_CHECK(chk, t.add_memory(mem, q).ok());  // below, next to the live block's pool start
  SCEN_CHECK(chk, t.add_memory(mem + 3 * q + q / 2, q / 2).ok());  // apart
  SCEN_CHECK(chk, t.add_memory(mem + 3 * q, q / 2).ok());  // the hole: joins both sides
  SCEN_CHECK(chk, t.total_bytes() == 4 * q - (T::MIN_POOL_SIZE - T::MIN_BLOCK) && t.verify());
  SCEN_CHECK(chk, t.dealloc(edge.value()).ok());
  usize runs = 0;
  t.for_each_free_run(0, [&runs](void*, usize) { ++runs; });
  SCEN_CHECK(chk, runs == 1);
  Result<void*> w = t.alloc(tlsf_whole_pool_payload<T>(4 * q), 1);
  if (SCEN_CHECK(chk, w.ok())) SCEN_CHECK(chk, t.dealloc(w.value()).ok());
  SCEN_CHECK(chk, t.used_bytes() == 0 && t.verify());
}

/// try_resize_in_place: shrink frees the tail, grow takes a free next block,
/// grow into a used neighbour is NoMemory with nothing changed; contents kept.
template <class T>
void scenario_tlsf_resize(T& t, u8* mem, usize n, Checker& chk) {
  if (!SCEN_CHECK(chk, t.init(mem, n).ok())) return;
  Result<void*> a = t.alloc(1000, 1), b = t.alloc(100, 1);
  if (!SCEN_CHECK(chk, a.ok() && b.ok())) return;
  u8* p = static_cast<u8*>(a.value());
  for (usize i = 0; i < 1000; ++i) p[i] = static_cast<u8>(i * 7);
  // b's next block is the free rest of the pool: b grows into it and shrinks back.
  SCEN_CHECK(chk, t.try_resize_in_place(b.value(), 5000).value_or(nullptr) == b.value());
  SCEN_CHECK(chk, t.usable_size(b.value()).value_or(0) >= 5000 && t.verify());
  SCEN_CHECK(chk, t.try_resize_in_place(b.value(), 10).value_or(nullptr) == b.value());
  SCEN_CHECK(chk, t.usable_size(b.value()).value_or(0) < 64 && t.verify());
  // a cannot grow while b (used) follows it.
  const usize used = t.used_bytes();
  SCEN_CHECK(chk, failed_with(t.try_resize_in_place(p, 1100), AllocError::NoMemory));
  SCEN_CHECK(chk, t.used_bytes() == used);
  // Shrink a: its tail becomes free; growing again takes exactly that back.
  SCEN_CHECK(chk, t.try_resize_in_place(p, 400).ok());
  SCEN_CHECK(chk, t.used_bytes() < used && t.verify());
  SCEN_CHECK(chk, t.try_resize_in_place(p, 1000).ok());
  SCEN_CHECK(chk, t.used_bytes() == used && t.verify());
  bool kept = true;
  for (usize i = 0; i < 400; ++i) kept &= p[i] == static_cast<u8>(i * 7);
  SCEN_CHECK(chk, kept);
  // A tiny change inside the slack changes nothing.
  SCEN_CHECK(chk, t.try_resize_in_place(p, 999).ok() && t.used_bytes() == used);
  // Growing past the free neighbour is refused.
  SCEN_CHECK(chk, t.dealloc(b.value()).ok());
  SCEN_CHECK(chk, failed_with(t.try_resize_in_place(p, n), AllocError::NoMemory));
  SCEN_CHECK(chk, t.try_resize_in_place(p, tlsf_whole_pool_payload<T>(n)).ok());
  SCEN_CHECK(chk, t.available_bytes() == 0 && t.verify());
  SCEN_CHECK(chk, t.dealloc(p).ok() && t.used_bytes() == 0 && t.verify());
}

/// largest_alloc() is exact: after every step of a random run, a request of
/// largest_alloc() bytes succeeds and one granule more fails (0: nothing fits).
/// slots: scratch for cap pointers.
template <class T>
void scenario_tlsf_largest_alloc(T& t, u8* mem, usize n, void** slots, usize cap, u64 seed, Checker& chk) {
  if (!SCEN_CHECK(chk, t.init(mem, n).ok())) return;
  SCEN_CHECK(chk, t.largest_alloc() == tlsf_whole_pool_payload<T>(n));
  Rng rng(seed);
  usize live = 0;
  for (int step = 0; step < 2000; ++step) {
    if (live < cap && (live == 0 || rng.chance(3, 5))) {
      Result<void*> r = t.alloc(static_cast<usize>(rng.log_uniform(n / 16)), 1);
      if (r.ok()) slots[live++] = r.value();
    } else {
      const usize i = static_cast<usize>(rng.below(live));
      if (!SCEN_CHECK(chk, t.dealloc(slots[i]).ok())) return;
      slots[i] = slots[--live];
    }
    const usize largest = t.largest_alloc();
    if (largest != 0) {
      Result<void*> fits = t.alloc(largest, 1);
      if (!SCEN_CHECK(chk, fits.ok())) return;
      SCEN_CHECK(chk, t.dealloc(fits.value()).ok());
    }
    SCEN_CHECK(chk, failed_with(t.alloc(largest + T::ALIGN, 1), AllocError::NoMemory));
  }
  while (live > 0) SCEN_CHECK(chk, t.dealloc(slots[--live]).ok());
  SCEN_CHECK(chk, t.used_bytes() == 0 && t.largest_alloc() == tlsf_whole_pool_payload<T>(n) && t.verify());
}

/// Checks the bytes detail::fill_block(b) wrote below offset n (a resized block
/// keeps only its first min(old, new) bytes; large blocks are filled sparsely).
inline bool verify_prefix(const LiveBlock& b, usize n) {
  auto ok_at = [&b](usize i) { return b.ptr[i] == detail::pattern(b.fill, i); };
  if (b.size <= 512) {
    for (usize i = 0; i < n; ++i)
      if (!ok_at(i)) return false;
    return true;
  }
  for (usize i = 0; i < 64 && i < n; ++i)
    if (!ok_at(i)) return false;
  for (usize i = 64; i < b.size - 64 && i < n; i += 61)
    if (!ok_at(i)) return false;
  for (usize i = b.size - 64; i < n; ++i)
    if (!ok_at(i)) return false;
  return true;
}

/// The pointer-only random workload (what malloc/free/realloc do to the engine).
struct TlsfMixParams {
  u64 seed = 1;
  u64 ops = 1'000'000;         ///< alloc + dealloc(p) + resize operations in all
  usize max_size = 16384;      ///< sizes log-uniform in [1, max_size] (0 now and then)
  u32 max_align_log2 = 8;      ///< alignment 2^k, k uniform in [0, max_align_log2]
  u64 verify_every = 4096;     ///< full verify() walk every N operations
};

/// What a mix run did.
struct TlsfMixStats {
  u64 allocs = 0;
  u64 frees = 0;
  u64 resized = 0;
  u64 resize_refused = 0;
  u64 no_memory = 0;
};

/// Random alloc / dealloc(p) / try_resize_in_place against a shadow model:
/// contents survive (and survive a resize up to the smaller size), usable_size()
/// covers the request, a refused resize changes nothing, used + available ==
/// total after every operation, verify() holds every verify_every operations
/// and at the end, when everything is freed. `t` is initialised by the caller.
template <class T>
TlsfMixStats run_tlsf_mix(T& t, LiveBlock* slots, usize cap, const TlsfMixParams& p, Checker& chk) {
  TlsfMixStats st{};
  Rng rng(p.seed);
  usize live = 0;
  const usize used0 = t.used_bytes();
  for (u64 op = 0; op < p.ops; ++op) {
    const u64 dice = rng.below(100);
    if (live == 0 || (live < cap && dice < 50)) {
      const usize size = rng.chance(1, 64) ? 0 : static_cast<usize>(rng.log_uniform(p.max_size));
      const usize align = usize{1} << rng.below(p.max_align_log2 + 1);
      const usize used = t.used_bytes();
      Result<void*> r = t.alloc(size, align);
      if (!r.ok()) {
        if (!SCEN_CHECK(chk, r.error() == AllocError::NoMemory && t.used_bytes() == used)) return st;
        ++st.no_memory;
        for (int k = 0; k < 8 && live > 1; ++k) {  // make room, keep both paths busy
          const usize i = static_cast<usize>(rng.below(live));
          if (!SCEN_CHECK(chk, detail::verify_block(slots[i]) && t.dealloc(slots[i].ptr).ok())) return st;
          slots[i] = slots[--live];
          ++st.frees;
        }
        continue;
      }
      LiveBlock b{static_cast<u8*>(r.value()), size, align, static_cast<u8>(rng.next())};
      if (!SCEN_CHECK(chk, is_ptr_aligned(b.ptr, align) && t.usable_size(b.ptr).value_or(0) >= size)) return st;
      detail::fill_block(b);
      slots[live++] = b;
      ++st.allocs;
    } else if (dice < 85) {
      const usize i = static_cast<usize>(rng.below(live));
      if (!SCEN_CHECK(chk, detail::verify_block(slots[i]) && t.dealloc(slots[i].ptr).ok())) return st;
      slots[i] = slots[--live];
      ++st.frees;
    } else {
      LiveBlock& b = slots[static_cast<usize>(rng.below(live))];
      const usize size = static_cast<usize>(rng.log_uniform(p.max_size));
      const usize used = t.used_bytes();
      Result<void*> r = t.try_resize_in_place(b.ptr, size);
      if (r.ok()) {
        if (!SCEN_CHECK(chk, r.value() == b.ptr && t.usable_size(b.ptr).value_or(0) >= size)) return st;
        if (!SCEN_CHECK(chk, verify_prefix(b, size < b.size ? size : b.size))) return st;
        b.size = size;
        detail::fill_block(b);
        ++st.resized;
      } else {
        if (!SCEN_CHECK(chk, r.error() == AllocError::NoMemory && t.used_bytes() == used)) return st;
        if (!SCEN_CHECK(chk, detail::verify_block(b))) return st;
        ++st.resize_refused;
      }
    }
    if (!SCEN_CHECK(chk, t.used_bytes() + t.available_bytes() == t.total_bytes())) return st;
    if (p.verify_every != 0 && (op + 1) % p.verify_every == 0 && !SCEN_CHECK(chk, t.verify())) return st;
  }
  while (live > 0) {
    --live;
    if (!SCEN_CHECK(chk, detail::verify_block(slots[live]) && t.dealloc(slots[live].ptr).ok())) return st;
    ++st.frees;
  }
  SCEN_CHECK(chk, t.used_bytes() == used0 && t.verify());
  return st;
}

}  // namespace strata::scenario
