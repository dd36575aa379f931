// Shared by the engine tests of taking memory back (buddy_regions_test.cpp,
// heap_regions_test.cpp, tlsf_pools_test.cpp): handing a removed range back to
// the "caller" (scribbled over and, under ASan, poisoned, so any later engine
// access to it is caught), and a randomized shadow model that mixes alloc/free
// with periodic "remove every free range" calls and re-adding what was removed.
//
// The model runs any engine through a small adapter E (see each test file):
//   Result<void> add(void* start, usize size)     add_memory / add_region
//   Result<void*> alloc(usize size, usize align)
//   Result<void> free(const LiveBlock&)             the engine finds the block
//   Result<void> free_in(const LiveBlock&, const Region& its_range)   the caller names its range
//   Result<void> free_foreign(void* p)             a free of memory not the engine's
//   usize remove(F f)                              remove every free range, f(start, size) each
//   void check(const LiveBlock&, const Region&)   engine-specific checks on a new block
//   bool verify(); usize total(), used(), available()   (from AdapterBase)
// and checks: every block lies in a range that is present, aligned, no two
// live blocks overlap, contents intact (also right after each removal, which
// scribbles over what was removed), removal reports exactly the ranges added
// (start and size) that hold no live block and leaves none such behind,
// total_bytes() drops by exactly what each removed range added, used_bytes()
// does not move, a free into a removed range is NotAllocated, verify() holds.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "scenarios/byte_model.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"
#include "strata/result.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define STRATA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_TEST_ASAN 1
#endif
#endif
#ifdef STRATA_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace strata::test {

/// The engine gave [p, p + n) back: it is the caller's, who may reuse or unmap
/// it. Scribble over it so stale reads see garbage, and poison it under ASan.
inline void hand_back(void* p, usize n) {
  std::memset(p, 0xa5, n);
#ifdef STRATA_TEST_ASAN
  __asan_poison_memory_region(p, n);
#endif
}

/// The caller hands [p, p + n) to an engine again (undoes hand_back).
inline void take_again(void* p, usize n) {
#ifdef STRATA_TEST_ASAN
  __asan_unpoison_memory_region(p, n);
#endif
  (void)p, (void)n;
}

/// Allocates sizes picked at random from `sizes` (align 16) until none fits
/// any more, appending each block, filled with its pattern, to blocks[n, cap).
/// The engine ends exhausted for every one of those sizes.
template <class Engine, usize N>
void fill_until_full(Engine& eng, usize (&&sizes)[N], u64 seed, scenario::LiveBlock* blocks, usize& n, usize cap) {
  usize candidates = N;
  scenario::Rng rng(seed);
  while (candidates > 0) {
    const usize k = static_cast<usize>(rng.below(candidates));
    const Result<void*> r = eng.alloc(sizes[k], 16);
    if (!r.ok()) {
      ASSERT_EQ(r.error(), AllocError::NoMemory);
      sizes[k] = sizes[--candidates];
      continue;
    }
    ASSERT_LT(n, cap);
    blocks[n] = {static_cast<u8*>(r.value()), sizes[k], 16, static_cast<u8>(rng.next())};
    scenario::detail::fill_block(blocks[n++]);
  }
}

/// The adapter methods most engines answer alike (an adapter hides what differs).
template <class Engine>
struct AdapterBase {
  Engine& eng;
  Result<void> add(void* s, usize n) { return eng.add_memory(s, n); }
  Result<void*> alloc(usize size, usize align) { return eng.alloc(size, align); }
  Result<void> free(const scenario::LiveBlock& l) { return eng.dealloc(l.ptr); }
  Result<void> free_foreign(void* p) { return eng.dealloc(p); }
  bool verify() { return eng.verify(); }
  usize total() { return eng.total_bytes(); }
  usize used() { return eng.used_bytes(); }
  usize available() { return eng.available_bytes(); }
};

struct RemovalParams {
  u64 seed = 1;
  u64 ops = 200'000;
  usize max_size = 4096;      ///< log-uniform sizes in [1, max_size]
  usize max_align_log2 = 6;   ///< alignment 2^k, k uniform in [0, max_align_log2]
  u32 alloc_percent = 55;
  u64 remove_every = 1000;    ///< a removal point every N operations
  u32 drain_percent = 40;     ///< at a removal point: chance to first free all of one range
  u32 readd_percent = 50;     ///< at a removal point: chance per absent range to add it back
  u64 verify_every = 4096;    ///< verify() and the overlap check
};

struct RemovalStats {
  u64 allocs = 0, frees = 0, no_memory = 0, removals = 0, ranges_removed = 0, readded = 0;
};

template <class E>
class RemovalModel {
 public:
  static constexpr usize MAX_RANGES = 8;

  RemovalModel(E& e, const scenario::Region* ranges, usize nranges, scenario::LiveBlock* slots, usize cap)
      : e_(e), ranges_(ranges), nr_(nranges), slots_(slots), cap_(cap) {}

  /// Adds every range (the engine starts empty), runs p.ops operations, then
  /// frees everything, removes all, adds all back and removes all again.
  void run(const RemovalParams& p, RemovalStats& st) {
    ASSERT_LE(nr_, MAX_RANGES);
    ASSERT_EQ(e_.total(), 0u) << "the engine must start without memory";
    st_ = &st;
    scenario::Rng rng(p.seed);
    for (usize i = 0; i < nr_; ++i) ASSERT_NO_FATAL_FAILURE(add_range(i));
    for (u64 op = 0; op < p.ops; ++op) {
      if (op % p.remove_every == p.remove_every - 1) {
        ASSERT_NO_FATAL_FAILURE(removal_point(rng, p));
      }
      if (live_ == 0 || (live_ < cap_ && rng.below(100) < p.alloc_percent)) {
        ASSERT_NO_FATAL_FAILURE(alloc_one(rng, p));
      } else {
        ASSERT_NO_FATAL_FAILURE(free_slot(static_cast<usize>(rng.below(live_))));
      }
      ASSERT_EQ(e_.used() + e_.available(), e_.total()) << "op " << op;
      if ((op + 1) % p.verify_every == 0) {
        ASSERT_NO_FATAL_FAILURE(check_all(op));
      }
    }
    while (live_ > 0) ASSERT_NO_FATAL_FAILURE(free_slot(live_ - 1));
    ASSERT_NO_FATAL_FAILURE(remove_and_check());
    ASSERT_EQ(e_.total(), 0u) << "with nothing live every range goes";
    ASSERT_EQ(e_.alloc(1, 1).error(), AllocError::NoMemory);
    for (usize i = 0; i < nr_; ++i) ASSERT_NO_FATAL_FAILURE(add_range(i));
    ASSERT_NO_FATAL_FAILURE(alloc_one(rng, p));
    ASSERT_NO_FATAL_FAILURE(free_slot(0));
    ASSERT_NO_FATAL_FAILURE(remove_and_check());
    ASSERT_EQ(e_.total(), 0u);
    for (usize i = 0; i < nr_; ++i) take_again(reinterpret_cast<void*>(ranges_[i].start), ranges_[i].size);
  }

 private:
  usize range_of(const u8* p, usize size) const {
    for (usize i = 0; i < nr_; ++i)
      if (scenario::detail::in_regions(&ranges_[i], 1, p, size)) return i;
    return nr_;
  }

  void add_range(usize i) {
    void* s = reinterpret_cast<void*>(ranges_[i].start);
    take_again(s, ranges_[i].size);
    const usize before = e_.total();
    ASSERT_TRUE(e_.add(s, ranges_[i].size).ok()) << "range " << i;
    ASSERT_GT(e_.total(), before);
    managed_[i] = e_.total() - before;
    present_[i] = true;
    blocks_in_[i] = 0;
  }

  void alloc_one(scenario::Rng& rng, const RemovalParams& p) {
    const usize size = static_cast<usize>(rng.log_uniform(p.max_size));
    const usize align = usize{1} << rng.below(p.max_align_log2 + 1);
    const usize used_before = e_.used();
    const Result<void*> r = e_.alloc(size, align);
    if (!r.ok()) {
      ASSERT_EQ(r.error(), AllocError::NoMemory);
      ASSERT_EQ(e_.used(), used_before);
      ++st_->no_memory;
      for (int k = 0; k < 4 && live_ > 0; ++k) ASSERT_NO_FATAL_FAILURE(free_slot(static_cast<usize>(rng.below(live_))));
      return;
    }
    const scenario::LiveBlock b{static_cast<u8*>(r.value()), size, align, static_cast<u8>(rng.next())};
    const usize i = range_of(b.ptr, size);
    ASSERT_LT(i, nr_) << "block outside every range";
    ASSERT_TRUE(present_[i]) << "block in removed range " << i;
    ASSERT_TRUE(is_ptr_aligned(b.ptr, align));
    ASSERT_GE(e_.used(), used_before + size);
    ASSERT_NO_FATAL_FAILURE(e_.check(b, ranges_[i]));
    scenario::detail::fill_block(b);
    slots_[live_++] = b;
    ++blocks_in_[i];
    ++st_->allocs;
  }

  void free_slot(usize k) {
    const scenario::LiveBlock b = slots_[k];
    ASSERT_TRUE(scenario::detail::verify_block(b)) << "contents changed at " << static_cast<void*>(b.ptr);
    const usize i = range_of(b.ptr, b.size);
    // Half the frees name the block's range (the O(1) forms), by its fill byte.
    const Result<void> r = (b.fill & 1) != 0 ? e_.free_in(b, ranges_[i]) : e_.free(b);
    ASSERT_TRUE(r.ok()) << static_cast<void*>(b.ptr);
    slots_[k] = slots_[--live_];
    --blocks_in_[i];
    last_freed_[i] = b.ptr;
    ++st_->frees;
  }

  void removal_point(scenario::Rng& rng, const RemovalParams& p) {
    if (rng.below(100) < p.drain_percent) {  // empty one range, so that it can go
      const usize d = static_cast<usize>(rng.below(nr_));
      for (usize k = live_; k-- > 0;) {
        if (range_of(slots_[k].ptr, slots_[k].size) == d) {
          ASSERT_NO_FATAL_FAILURE(free_slot(k));
        }
      }
    }
    ASSERT_NO_FATAL_FAILURE(remove_and_check());
    for (usize i = 0; i < nr_; ++i)
      if (!present_[i] && rng.below(100) < p.readd_percent) {
        ASSERT_NO_FATAL_FAILURE(add_range(i));
        ++st_->readded;
      }
  }

  void remove_and_check() {
    const usize total_before = e_.total(), used_before = e_.used();
    usize calls = 0, dropped = 0;
    bool gone[MAX_RANGES] = {};
    const usize n = e_.remove([&](void* s, usize size) {
      ++calls;
      const usize i = range_of(static_cast<const u8*>(s), size);
      if (i == nr_ || ranges_[i].start != reinterpret_cast<uptr>(s) || ranges_[i].size != size || !present_[i] ||
          blocks_in_[i] != 0) {
        ADD_FAILURE() << "removed " << s << " + " << size << ": not a present range without live blocks";
        return;
      }
      gone[i] = true;
      dropped += managed_[i];
    });
    ASSERT_EQ(n, calls);
    ASSERT_FALSE(::testing::Test::HasFailure());
    ++st_->removals;
    st_->ranges_removed += n;
    ASSERT_EQ(e_.total(), total_before - dropped);
    ASSERT_EQ(e_.used(), used_before);
    ASSERT_EQ(e_.used() + e_.available(), e_.total());
    for (usize i = 0; i < nr_; ++i) {
      if (!gone[i]) {
        if (present_[i]) {
          ASSERT_GT(blocks_in_[i], 0u) << "range " << i << " holds nothing live but stayed";
        }
        continue;
      }
      present_[i] = false;
      u8* s = reinterpret_cast<u8*>(ranges_[i].start);
      hand_back(s, ranges_[i].size);
      // A once-live block of the range (or its middle): not the engine's any more.
      u8* probe = last_freed_[i] != nullptr ? last_freed_[i] : s + align_down(ranges_[i].size / 2, 4096);
      ASSERT_EQ(e_.free_foreign(probe).error(), AllocError::NotAllocated);
    }
    ASSERT_NO_FATAL_FAILURE(check_all(0));
  }

  /// verify(), every live block's contents, no two live blocks overlapping.
  void check_all(u64 op) {
    ASSERT_TRUE(e_.verify()) << "op " << op;
    scenario::detail::sort_by_address(slots_, live_);
    for (usize k = 0; k < live_; ++k) {
      ASSERT_TRUE(scenario::detail::verify_block(slots_[k])) << "op " << op;
      if (k + 1 < live_) {
        ASSERT_LE(slots_[k].ptr + slots_[k].size, slots_[k + 1].ptr) << "op " << op;
      }
    }
  }

  E& e_;
  const scenario::Region* ranges_;
  usize nr_;
  scenario::LiveBlock* slots_;
  usize cap_;
  usize live_ = 0;
  RemovalStats* st_ = nullptr;
  bool present_[MAX_RANGES] = {};
  usize managed_[MAX_RANGES] = {};
  usize blocks_in_[MAX_RANGES] = {};
  u8* last_freed_[MAX_RANGES] = {};
};

/// Runs the model with p and checks that it did exercise removal, re-adding
/// and exhaustion; prints what it did under `name`.
template <class E>
void run_removal_model(E& e, const scenario::Region* ranges, usize nranges, scenario::LiveBlock* slots, usize cap,
                       const RemovalParams& p, const char* name) {
  RemovalStats st;
  ASSERT_NO_FATAL_FAILURE(RemovalModel<E>(e, ranges, nranges, slots, cap).run(p, st));
  EXPECT_GT(st.ranges_removed, 20u);
  EXPECT_GT(st.readded, 20u);
  EXPECT_GT(st.no_memory, 0u);
  std::printf("%s removal model: %llu allocs, %llu frees, %llu NoMemory, %llu removals took %llu ranges, %llu re-added\n",
              name, static_cast<unsigned long long>(st.allocs), static_cast<unsigned long long>(st.frees),
              static_cast<unsigned long long>(st.no_memory), static_cast<unsigned long long>(st.removals),
              static_cast<unsigned long long>(st.ranges_removed), static_cast<unsigned long long>(st.readded));
}

}  // namespace strata::test
