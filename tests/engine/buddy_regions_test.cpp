// Buddy::remove_region_if_free: a region is taken back only while none of its
// memory is allocated (a single live block anywhere, first/middle/last unit,
// keeps it), the engine then forgets it (stats, free lists, lookups, the
// last-region hint) and never hands out its memory again, regions can be
// removed in any list position and added back; plus the randomized removal
// model (removal_model.hpp). Typed over 16-byte blocks (the free link holds no
// region) and 32-byte blocks (it does).
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>

#include "strata/engine/buddy.hpp"
#include "gtest_checker.hpp"
#include "removal_model.hpp"

using namespace strata;

namespace {

constexpr usize ARENA_BYTES = usize{4} << 20;
test::Arena<ARENA_BYTES> g_arena;

/// 32-byte blocks: the free link has room for the region (16: it has not).
struct Buddy32RegionsConfig {
  static constexpr usize MIN_BLOCK = 32;
  static constexpr u32 MAX_ORDER = 20;
};
void* g_slots[1 << 14];
scenario::LiveBlock g_live[2048];

u8* arena() { return g_arena.bytes; }

template <class B>
class BuddyRegionsTest : public ::testing::Test {
 protected:
  using Region = typename B::Region;
  B buddy;

  void SetUp() override { buddy.reset(); }
  void TearDown() override {
    EXPECT_TRUE(buddy.verify());
    test::take_again(arena(), ARENA_BYTES);
  }

  Region* add(usize offset, usize size) {
    Result<Region*> r = buddy.add_region(arena() + offset, size);
    EXPECT_TRUE(r.ok()) << offset;
    return r.ok() ? r.value() : nullptr;
  }

  /// Allocates blocks, largest first, until nothing is free; returns how many.
  usize exhaust(u32 order_cap = B::MAX_ORDER) {
    usize n = 0;
    for (u32 k = order_cap + 1; k-- > 0;)
      for (Result<void*> r = buddy.alloc_order(k); r.ok(); r = buddy.alloc_order(k)) {
        EXPECT_LT(n, std::size(g_slots));
        g_slots[n++] = r.value();
        *static_cast<usize*>(r.value()) = k;  // remember the order in the (live) block
      }
    EXPECT_EQ(buddy.available_bytes(), 0u);
    return n;
  }
  void free_slot(usize i) { EXPECT_TRUE(buddy.dealloc_order(g_slots[i], static_cast<u32>(*static_cast<usize*>(g_slots[i]))).ok()); }
};
using Configs = ::testing::Types<Buddy<BuddyConfig>, Buddy<Buddy32RegionsConfig>>;
TYPED_TEST_SUITE(BuddyRegionsTest, Configs);

constexpr usize A_OFF = 0, A_SIZE = usize{256} << 10;
constexpr usize B_OFF = usize{512} << 10, B_SIZE = (usize{256} << 10) + 4096 + 48;  // not a power of two

TYPED_TEST(BuddyRegionsTest, LiveRegionStaysFreeRegionGoesThenComesBack) {
  auto& b = this->buddy;
  typename TypeParam::Region* a = this->add(A_OFF, A_SIZE);
  ASSERT_NE(a, nullptr);
  const usize managed_a = b.total_bytes();
  Result<void*> in_a = b.alloc(1000, 1);  // A is the only region yet
  ASSERT_TRUE(in_a.ok());
  typename TypeParam::Region* rb = this->add(B_OFF, B_SIZE);
  ASSERT_NE(rb, nullptr);
  const usize managed_b = b.total_bytes() - managed_a;
  EXPECT_EQ(managed_b, rb->end - rb->base);
  // A block allocated and freed in B: B's tree was split and merged again, and
  // B is the last-region hint of the lookups.
  void* in_b = nullptr;
  usize taken = 0;
  while (in_b == nullptr) {
    Result<void*> r = b.alloc(100, 1);
    ASSERT_TRUE(r.ok());
    g_slots[taken++] = r.value();
    if (b.region_of(r.value()) == rb) in_b = r.value();
  }
  ASSERT_NE(in_b, nullptr);
  for (usize i = 0; i < taken; ++i) ASSERT_TRUE(b.dealloc(g_slots[i], 100, 1).ok());

  const usize used = b.used_bytes(), largest = b.largest_free_block();
  EXPECT_FALSE(b.remove_region_if_free(a));
  EXPECT_EQ(b.total_bytes(), managed_a + managed_b);
  EXPECT_EQ(b.used_bytes(), used);
  EXPECT_EQ(b.largest_free_block(), largest);
  EXPECT_TRUE(b.verify());

  ASSERT_TRUE(b.remove_region_if_free(rb));
  test::hand_back(arena() + B_OFF, B_SIZE);
  EXPECT_EQ(b.total_bytes(), managed_a);
  EXPECT_EQ(b.used_bytes(), used);
  EXPECT_TRUE(b.verify());
  EXPECT_EQ(b.region_of(in_b), nullptr);
  EXPECT_FALSE(b.is_allocated(in_b, TypeParam::order_for(100, 1)));
  EXPECT_EQ(b.dealloc(in_b, 100, 1).error(), AllocError::NotAllocated);
  // Exhaust: every block comes from A.
  const uptr a_lo = reinterpret_cast<uptr>(arena() + A_OFF);
  const usize n = this->exhaust();
  for (usize i = 0; i < n; ++i) {
    const uptr p = reinterpret_cast<uptr>(g_slots[i]);
    ASSERT_TRUE(p >= a_lo && p < a_lo + A_SIZE) << g_slots[i];
  }
  EXPECT_EQ(b.used_bytes(), managed_a);
  EXPECT_TRUE(b.verify());
  for (usize i = 0; i < n; ++i) this->free_slot(i);
  EXPECT_FALSE(b.remove_region_if_free(a));  // in_a is still live
  ASSERT_TRUE(b.dealloc(in_a.value(), 1000, 1).ok());
  ASSERT_TRUE(b.remove_region_if_free(a));
  test::hand_back(arena() + A_OFF, A_SIZE);
  EXPECT_EQ(b.total_bytes(), 0u);
  EXPECT_EQ(b.largest_free_block(), 0u);
  EXPECT_EQ(b.alloc(1, 1).error(), AllocError::NoMemory);
  EXPECT_EQ(b.dealloc(in_a.value(), 1000, 1).error(), AllocError::NotAllocated);
  EXPECT_TRUE(b.verify());

  // The same ranges again, in the other order.
  test::take_again(arena(), ARENA_BYTES);
  ASSERT_TRUE(b.add_memory(arena() + B_OFF, B_SIZE).ok());
  ASSERT_TRUE(b.add_memory(arena() + A_OFF, A_SIZE).ok());
  EXPECT_EQ(b.total_bytes(), managed_a + managed_b);
  const usize m = this->exhaust();
  EXPECT_EQ(b.used_bytes(), managed_a + managed_b);
  for (usize i = 0; i < m; ++i) this->free_slot(i);
  EXPECT_EQ(b.used_bytes(), 0u);
}

// One live block of the smallest order keeps its region, wherever it is: the
// first, a middle or the very last unit (the alloc-bit scan's last word).
TYPED_TEST(BuddyRegionsTest, OneLiveUnitAnywhereKeepsTheRegion) {
  auto& b = this->buddy;
  constexpr usize SIZE = (usize{64} << 10) + 4096 + 3 * 16;
  for (int where = 0; where < 3; ++where) {
    typename TypeParam::Region* r = this->add(0, SIZE);
    ASSERT_NE(r, nullptr);
    const usize n = this->exhaust(0);  // every unit its own block
    ASSERT_EQ(n, (r->end - r->base) / TypeParam::MIN_BLOCK);
    std::sort(g_slots, g_slots + n);
    const usize keep = where == 0 ? 0 : where == 1 ? n / 2 + 1 : n - 1;
    for (usize i = 0; i < n; ++i)
      if (i != keep) this->free_slot(i);
    const usize total = b.total_bytes(), largest = b.largest_free_block();
    EXPECT_FALSE(b.remove_region_if_free(r)) << "kept unit " << keep << " of " << n;
    EXPECT_EQ(b.total_bytes(), total);
    EXPECT_EQ(b.used_bytes(), TypeParam::MIN_BLOCK);
    EXPECT_EQ(b.largest_free_block(), largest);
    EXPECT_TRUE(b.verify());
    this->free_slot(keep);
    ASSERT_TRUE(b.remove_region_if_free(r));
    EXPECT_EQ(b.total_bytes(), 0u);
    EXPECT_TRUE(b.verify());
  }
}

// Regions sit newest first in the engine's list: take out the middle one, the
// head, then the tail; adjacent regions never merge, so each goes alone.
TYPED_TEST(BuddyRegionsTest, RemoveInAnyListPosition) {
  auto& b = this->buddy;
  const usize offs[3] = {0, usize{128} << 10, usize{192} << 10};  // each touches the next
  const usize sizes[3] = {usize{128} << 10, usize{64} << 10, (usize{96} << 10) + 16};
  typename TypeParam::Region* r[3];
  usize managed[3];
  for (int i = 0; i < 3; ++i) {
    const usize before = b.total_bytes();
    r[i] = this->add(offs[i], sizes[i]);
    ASSERT_NE(r[i], nullptr);
    managed[i] = b.total_bytes() - before;
  }
  for (int i : {1, 2, 0}) {
    const usize before = b.total_bytes();
    ASSERT_TRUE(b.remove_region_if_free(r[i])) << i;
    test::hand_back(arena() + offs[i], sizes[i]);
    EXPECT_EQ(b.total_bytes(), before - managed[i]);
    ASSERT_TRUE(b.verify()) << i;
    // What is left still serves its whole largest block and takes it back.
    if (b.total_bytes() == 0) continue;
    Result<void*> big = b.alloc(b.largest_free_block(), 1);
    ASSERT_TRUE(big.ok());
    const uptr p = reinterpret_cast<uptr>(big.value()), lo = reinterpret_cast<uptr>(arena() + offs[i]);
    EXPECT_FALSE(p >= lo && p < lo + sizes[i]) << "block from a removed region";
    ASSERT_TRUE(b.dealloc(big.value(), b.used_bytes(), 1).ok());
  }
  EXPECT_EQ(b.total_bytes(), 0u);
}

/// The removal model's view of a Buddy: it keeps the region handles.
template <class B>
struct BuddyAdapter : test::AdapterBase<B> {
  typename B::Region* handles[8] = {};

  Result<void> add(void* s, usize n) {
    Result<typename B::Region*> r = this->eng.add_region(s, n);
    if (!r.ok()) return r.error();
    *std::find(std::begin(handles), std::end(handles), nullptr) = r.value();
    return ok();
  }
  Result<void> free(const scenario::LiveBlock& l) { return this->eng.dealloc(l.ptr, l.size, l.align); }
  Result<void> free_in(const scenario::LiveBlock& l, const scenario::Region&) { return free(l); }
  Result<void> free_foreign(void* p) { return this->eng.dealloc(p, 1, 1); }
  void check(const scenario::LiveBlock& l, const scenario::Region&) {
    EXPECT_TRUE(this->eng.is_allocated(l.ptr, B::order_for(l.size, l.align)));
  }
  template <class F>
  usize remove(F f) {
    usize n = 0;
    for (auto*& h : handles) {
      if (h == nullptr) continue;
      void* start = reinterpret_cast<void*>(h->raw_start);
      const usize size = h->raw_size;
      if (!this->eng.remove_region_if_free(h)) continue;
      h = nullptr;
      ++n;
      f(start, size);
    }
    return n;
  }
};

TYPED_TEST(BuddyRegionsTest, RandomRemovalModel) {
  // Two touching ranges, one of them not a power of two, and two apart.
  const scenario::Region ranges[4] = {{reinterpret_cast<uptr>(arena()), usize{512} << 10},
                                      {reinterpret_cast<uptr>(arena() + (usize{512} << 10)), usize{256} << 10},
                                      {reinterpret_cast<uptr>(arena() + (usize{1} << 20)), (usize{384} << 10) + 4096},
                                      {reinterpret_cast<uptr>(arena() + (usize{2} << 20)), usize{128} << 10}};
  BuddyAdapter<TypeParam> adapter{{this->buddy}};
  const test::RemovalParams p{.seed = 0xb0dd'2e60u, .max_size = 1 << 14, .max_align_log2 = 10};
  test::run_removal_model(adapter, ranges, 4, g_live, std::size(g_live), p, "buddy");
}

}  // namespace
