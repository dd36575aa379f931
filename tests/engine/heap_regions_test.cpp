// Heap::remove_free_regions, typed over the seed and the malloc configuration:
// with three full regions, emptying one (whose emptied spans become the
// classes' spares) and thinning another removes exactly the empty one, with
// the range add_memory was given; the survivors' blocks keep their contents
// and free normally, frees into the removed range are refused without reading
// it (the last-region hint pointed there), new blocks never land in it, and
// the heap can be emptied and refilled; plus the randomized removal model
// (removal_model.hpp).
#include <gtest/gtest.h>

#include <iterator>

#include "strata/engine/heap.hpp"
#include "gtest_checker.hpp"
#include "removal_model.hpp"

using namespace strata;

namespace {

constexpr usize ARENA_BYTES = usize{4} << 20;
test::Arena<ARENA_BYTES, usize{4} << 20> g_arena;
scenario::LiveBlock g_blocks[1 << 18];
scenario::LiveBlock g_live[2048];

u8* arena() { return g_arena.bytes; }

/// Three disjoint regions, one of an odd size (not whole pages).
const scenario::Region kRegions[3] = {{reinterpret_cast<uptr>(arena()), usize{1} << 20},
                                      {reinterpret_cast<uptr>(arena() + (usize{3} << 19)), (usize{1} << 20) + 4096 + 16},
                                      {reinterpret_cast<uptr>(arena() + (usize{3} << 20)), usize{768} << 10}};

usize region_index(const void* p) {
  for (usize i = 0; i < 3; ++i)
    if (scenario::detail::in_regions(&kRegions[i], 1, static_cast<const u8*>(p), 1)) return i;
  return 3;
}

template <class H>
class HeapRegionsTest : public ::testing::Test {
 protected:
  H heap;
  usize n = 0;  ///< live blocks in g_blocks[0, n)
  usize managed[3] = {};

  void TearDown() override {
    const char* why = "";
    EXPECT_TRUE(heap.verify([&](const char* w, const void*) { why = w; })) << why;
    test::take_again(arena(), ARENA_BYTES);
  }

  void add(usize i) {
    const usize before = heap.total_bytes();
    ASSERT_TRUE(heap.add_memory(reinterpret_cast<void*>(kRegions[i].start), kRegions[i].size).ok()) << i;
    managed[i] = heap.total_bytes() - before;
  }
  void add_all() {
    for (usize i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(add(i));
  }

  /// Slab classes and large blocks until none fits any more.
  void fill(u64 seed) {
    test::fill_until_full(heap, {24, 100, 700, 3000, 20000, 100000}, seed, g_blocks, n, std::size(g_blocks));
  }

  /// Frees g_blocks[i] (contents checked first) and forgets it.
  void free_block(usize i) {
    ASSERT_TRUE(scenario::detail::verify_block(g_blocks[i])) << static_cast<void*>(g_blocks[i].ptr);
    ASSERT_TRUE(heap.dealloc(g_blocks[i].ptr).ok());
    g_blocks[i] = g_blocks[--n];
  }

  /// remove_free_regions, checking each reported range is exactly one of kRegions; bit i of the result: region i went.
  unsigned remove(usize expect_count) {
    unsigned gone = 0;
    const usize count = heap.remove_free_regions([&](void* s, usize size) {
      const usize i = region_index(s);
      EXPECT_LT(i, 3u);
      if (i == 3) return;
      EXPECT_EQ(reinterpret_cast<uptr>(s), kRegions[i].start);
      EXPECT_EQ(size, kRegions[i].size);
      EXPECT_FALSE(gone >> i & 1) << "reported twice";
      gone |= 1u << i;
    });
    EXPECT_EQ(count, expect_count);
    EXPECT_EQ(static_cast<usize>(__builtin_popcount(gone)), count);
    for (usize i = 0; i < 3; ++i)
      if (gone >> i & 1) test::hand_back(reinterpret_cast<void*>(kRegions[i].start), kRegions[i].size);
    return gone;
  }
};
using Configs = ::testing::Types<Heap<SeedHeapConfig>, Heap<MallocHeapConfig>>;
TYPED_TEST_SUITE(HeapRegionsTest, Configs);

TYPED_TEST(HeapRegionsTest, EmptyRegionWithSparesGoesOthersStay) {
  auto& h = this->heap;
  for (usize i = 0; i < 3; ++i) {  // each region filled before the next comes
    ASSERT_NO_FATAL_FAILURE(this->add(i));
    ASSERT_NO_FATAL_FAILURE(this->fill(0x4e91u + i));
  }
  // Every region got slab blocks of several classes; region 1 a large block too.
  u64 classes[3] = {};  // bit c: class c (up to 40 classes)
  bool large_in_1 = false;
  for (usize i = 0; i < this->n; ++i) {
    const usize r = region_index(g_blocks[i].ptr);
    ASSERT_LT(r, 3u);
    const u32 c = TypeParam::class_for(g_blocks[i].size, 16);
    if (c != TypeParam::NO_CLASS) classes[r] |= u64{1} << c;
    large_in_1 |= r == 1 && c == TypeParam::NO_CLASS;
  }
  for (u64 m : classes) EXPECT_GE(__builtin_popcountll(m), 3);
  EXPECT_TRUE(large_in_1);
  EXPECT_EQ(this->remove(0), 0u) << "every region is in use";
  // Thin region 2 (every other block), then empty region 1: the first span of
  // each class emptied there becomes the class's spare, and the last free
  // leaves region 1 as the lookups' last-region hint.
  for (usize i = this->n, odd = 0; i-- > 0;)
    if (region_index(g_blocks[i].ptr) == 2 && (odd++ & 1) != 0) {
      ASSERT_NO_FATAL_FAILURE(this->free_block(i));
    }
  const usize spare_outside_1 = h.spare_bytes();
  u8* freed_in_1[2] = {};
  for (usize i = this->n; i-- > 0;) {
    if (region_index(g_blocks[i].ptr) != 1) continue;
    freed_in_1[TypeParam::class_for(g_blocks[i].size, 16) == TypeParam::NO_CLASS] = g_blocks[i].ptr;
    ASSERT_NO_FATAL_FAILURE(this->free_block(i));
  }
  EXPECT_GT(h.spare_bytes(), spare_outside_1) << "a spare span in region 1";
  const usize total = h.total_bytes(), used = h.used_bytes();
  ASSERT_TRUE(h.verify());

  EXPECT_EQ(this->remove(1), 2u);
  EXPECT_EQ(h.spare_bytes(), 0u);
  EXPECT_EQ(h.total_bytes(), total - this->managed[1]);
  EXPECT_EQ(h.used_bytes(), used);
  EXPECT_EQ(h.used_bytes() + h.available_bytes(), h.total_bytes());
  ASSERT_TRUE(h.verify());
  for (u8* p : freed_in_1) {  // a slab and a large block of the removed region
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(h.dealloc(p).error(), AllocError::NotAllocated);
    EXPECT_EQ(h.usable_size(p).error(), AllocError::NotAllocated);
  }
  // The survivors free normally (contents checked); refill: nothing in region 1.
  for (usize i = this->n; i-- > 0;)
    if (i % 3 == 0) {
      ASSERT_NO_FATAL_FAILURE(this->free_block(i));
    }
  const usize before_refill = this->n;
  ASSERT_NO_FATAL_FAILURE(this->fill(0x4e92u));
  EXPECT_GT(this->n, before_refill);
  for (usize i = 0; i < this->n; ++i) ASSERT_NE(region_index(g_blocks[i].ptr), 1u) << static_cast<void*>(g_blocks[i].ptr);
  ASSERT_TRUE(h.verify());

  // Everything freed: both remaining regions go, and the heap is empty.
  while (this->n > 0) ASSERT_NO_FATAL_FAILURE(this->free_block(this->n - 1));
  EXPECT_EQ(this->remove(2), 5u);
  EXPECT_EQ(h.total_bytes(), 0u);
  EXPECT_EQ(h.used_bytes(), 0u);
  EXPECT_EQ(h.alloc(1, 1).error(), AllocError::NoMemory);
  EXPECT_EQ(h.alloc(100000, 1).error(), AllocError::NoMemory);
  EXPECT_EQ(this->remove(0), 0u);
  ASSERT_TRUE(h.verify());

  // All three again: the heap fills as at the start.
  test::take_again(arena(), ARENA_BYTES);
  ASSERT_NO_FATAL_FAILURE(this->add_all());
  EXPECT_EQ(h.total_bytes(), total);
  ASSERT_NO_FATAL_FAILURE(this->fill(0x4e93u));
  bool seen[3] = {};
  for (usize i = 0; i < this->n; ++i) seen[region_index(g_blocks[i].ptr)] = true;
  EXPECT_TRUE(seen[0] && seen[1] && seen[2]);
  while (this->n > 0) ASSERT_NO_FATAL_FAILURE(this->free_block(this->n - 1));
}

// A region whose only use is one large block, or one slab block, stays; it
// goes once that block is freed. A fresh heap's regions all go at once.
TYPED_TEST(HeapRegionsTest, OneLiveBlockKeepsItsRegion) {
  auto& h = this->heap;
  for (usize size : {usize{100000}, usize{40}}) {
    ASSERT_NO_FATAL_FAILURE(this->add_all());
    Result<void*> r = h.alloc(size, 16);
    ASSERT_TRUE(r.ok());
    const usize at = region_index(r.value());
    ASSERT_LT(at, 3u);
    EXPECT_EQ(this->remove(2), 7u & ~(1u << at)) << size;
    EXPECT_EQ(h.total_bytes(), this->managed[at]);
    ASSERT_TRUE(h.verify());
    EXPECT_EQ(h.usable_size(r.value()).ok(), true);
    ASSERT_TRUE(h.dealloc(r.value()).ok());
    EXPECT_EQ(this->remove(1), 1u << at);
    EXPECT_EQ(h.total_bytes(), 0u);
    test::take_again(arena(), ARENA_BYTES);
  }
}

/// The removal model's view of a Heap: free_in is dealloc_in_region.
template <class H>
struct HeapAdapter : test::AdapterBase<H> {
  Result<void> free_in(const scenario::LiveBlock& l, const scenario::Region& r) {
    return this->eng.dealloc_in_region(reinterpret_cast<void*>(r.start), l.ptr);
  }
  void check(const scenario::LiveBlock& l, const scenario::Region& r) {
    EXPECT_GE(this->eng.usable_size(l.ptr).value(), l.size);
    const typename H::Lookup at = H::lookup_in_region(reinterpret_cast<void*>(r.start), l.ptr);
    const u32 cls = H::class_for(l.size, l.align);
    EXPECT_EQ(at.cls, cls);
    EXPECT_TRUE(cls == H::NO_CLASS || at.block_start);
  }
  template <class F>
  usize remove(F f) {
    return this->eng.remove_free_regions(f);
  }
};

TYPED_TEST(HeapRegionsTest, RandomRemovalModel) {
  // kRegions plus a fourth that touches the first.
  const scenario::Region ranges[4] = {kRegions[0], kRegions[1], kRegions[2],
                                      {reinterpret_cast<uptr>(arena() + (usize{1} << 20)), usize{256} << 10}};
  HeapAdapter<TypeParam> adapter{{this->heap}};
  const test::RemovalParams p{.seed = 0x4ea9'2e60u, .max_size = 1 << 16, .max_align_log2 = 8};
  test::run_removal_model(adapter, ranges, 4, g_live, std::size(g_live), p, "heap");
}

}  // namespace
