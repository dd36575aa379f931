// Buddy engine: the shared scenarios (bad input, exhaustion, regions,
// alignment), the randomized shadow model (>= 10^6 operations per config),
// and the hosted extras (free-block iteration, constinit).
#include <gtest/gtest.h>

#include <cstdio>

#include "strata/engine/buddy.hpp"
#include "gtest_checker.hpp"
#include "scenarios/buddy_scenarios.hpp"
#include "scenarios/byte_model.hpp"

using namespace strata;

namespace {

/// 32-byte minimum blocks: the free-block link also carries its region.
struct Buddy32Config {
  static constexpr usize MIN_BLOCK = 32;
  static constexpr u32 MAX_ORDER = 20;
};

// The program's arena (as in firmware): tests take slices of it.
constexpr usize ARENA_BYTES = usize{8} << 20;
test::Arena<ARENA_BYTES> g_arena;
void* g_slots[(usize{1} << 20) / 16];
scenario::LiveBlock g_live[4096];

u8* arena() { return g_arena.bytes; }

template <class B>
class BuddyTest : public ::testing::Test {
 protected:
  B buddy;
  scenario::Checker chk = test::gtest_checker();
  void TearDown() override { EXPECT_TRUE(buddy.verify()); }
};
using Configs = ::testing::Types<Buddy<BuddyConfig>, Buddy<Buddy32Config>>;
TYPED_TEST_SUITE(BuddyTest, Configs);

TYPED_TEST(BuddyTest, BadInput) { scenario::buddy_bad_input(this->buddy, arena(), usize{256} << 10, this->chk); }

TYPED_TEST(BuddyTest, ExhaustionFragmentationAndCoalescing) {
  scenario::buddy_exhaustion(this->buddy, arena(), usize{256} << 10, g_slots, sizeof g_slots / sizeof *g_slots,
                             this->chk);
}

TYPED_TEST(BuddyTest, DisjointRegions) {
  scenario::buddy_regions(this->buddy, arena(), usize{1} << 20, g_slots, sizeof g_slots / sizeof *g_slots, this->chk);
}

TYPED_TEST(BuddyTest, AlignmentOneTo4096) {
  scenario::buddy_alignment(this->buddy, arena(), usize{256} << 10, 4096, this->chk);
}

TYPED_TEST(BuddyTest, RandomModelMillionOps) {
  // Three regions of unequal sizes, one deliberately not a power of two.
  const scenario::Region regions[] = {{reinterpret_cast<uptr>(arena()), usize{2} << 20},
                                      {reinterpret_cast<uptr>(arena() + (usize{3} << 20)), usize{1} << 20},
                                      {reinterpret_cast<uptr>(arena() + (usize{5} << 20)), (usize{3} << 19) + 4096}};
  ASSERT_TRUE(this->buddy.init(reinterpret_cast<void*>(regions[0].start), regions[0].size).ok());
  for (int i = 1; i < 3; ++i)
    ASSERT_TRUE(this->buddy.add_memory(reinterpret_cast<void*>(regions[i].start), regions[i].size).ok());
  const usize largest = this->buddy.largest_free_block();
  scenario::ByteModelParams p;
  p.seed = 0xb0ddu;
  p.ops = 1'000'000;
  p.max_size = 1 << 14;
  p.max_align_log2 = 12;
  p.final_block = largest;  // coalesced back: the largest block fits again
  const scenario::ByteModelStats st =
      scenario::run_byte_model(this->buddy, regions, 3, g_live, sizeof g_live / sizeof *g_live, p, this->chk);
  EXPECT_GE(st.allocs + st.frees + st.no_memory, p.ops);
  EXPECT_GT(st.no_memory, 0u) << "the run should also exercise exhaustion";
  EXPECT_EQ(this->buddy.used_bytes(), 0u);
  EXPECT_EQ(this->buddy.largest_free_block(), largest);
  std::printf("buddy model: %llu allocs, %llu frees, %llu NoMemory, peak %zu live\n",
              static_cast<unsigned long long>(st.allocs), static_cast<unsigned long long>(st.frees),
              static_cast<unsigned long long>(st.no_memory), st.peak_live);
}

TYPED_TEST(BuddyTest, VerifyAfterRandomSequences) {
  ASSERT_TRUE(this->buddy.init(arena(), usize{512} << 10).ok());
  scenario::Rng rng(7);
  usize n = 0;
  usize sizes[512];
  for (int op = 0; op < 20000; ++op) {
    if (n < 512 && (n == 0 || rng.below(2) == 0)) {
      const usize s = static_cast<usize>(rng.log_uniform(8192));
      Result<void*> r = this->buddy.alloc(s, 1);
      if (!r.ok()) continue;
      g_slots[n] = r.value();
      sizes[n++] = s;
    } else {
      const usize i = static_cast<usize>(rng.below(n));
      ASSERT_TRUE(this->buddy.dealloc(g_slots[i], sizes[i], 1).ok());
      g_slots[i] = g_slots[--n];
      sizes[i] = sizes[n];
    }
    if (op % 500 == 0) {
      const char* why = nullptr;
      ASSERT_TRUE(this->buddy.verify([&](const char* w, const void*) { why = w; })) << why;
    }
  }
  for (; n > 0; --n) ASSERT_TRUE(this->buddy.dealloc(g_slots[n - 1], sizes[n - 1], 1).ok());
}

TYPED_TEST(BuddyTest, ForEachFreeBlockSeesEveryFreeByte) {
  ASSERT_TRUE(this->buddy.init(arena(), usize{1} << 20).ok());
  Result<void*> a = this->buddy.alloc(5000, 1);
  Result<void*> b = this->buddy.alloc(100, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  usize bytes = 0, big = 0, count = 0;
  this->buddy.for_each_free_block(0, [&](void* p, usize n) {
    EXPECT_TRUE(is_ptr_aligned(p, n));
    bytes += n;
    ++count;
  });
  this->buddy.for_each_free_block(64 << 10, [&](void*, usize n) {
    EXPECT_GE(n, usize{64} << 10);
    big += n;
  });
  EXPECT_EQ(bytes, this->buddy.available_bytes());
  EXPECT_GT(big, 0u);
  EXPECT_LT(big, bytes);
  EXPECT_GT(count, 2u);
  // Scribbling over free memory past the link is allowed (purged pages read as zero).
  this->buddy.for_each_free_block(4096, [&](void* p, usize n) {
    __builtin_memset(static_cast<u8*>(p) + TypeParam::FREE_LINK_BYTES, 0, n - TypeParam::FREE_LINK_BYTES);
  });
  ASSERT_TRUE(this->buddy.dealloc(a.value(), 5000, 1).ok());
  ASSERT_TRUE(this->buddy.dealloc(b.value(), 100, 1).ok());
  EXPECT_EQ(this->buddy.available_bytes(), this->buddy.total_bytes());
}

TYPED_TEST(BuddyTest, VerifyCatchesCorruptedBits) {
  ASSERT_TRUE(this->buddy.init(arena(), usize{64} << 10).ok());
  Result<void*> r = this->buddy.alloc(100, 1);
  ASSERT_TRUE(r.ok());
  detail::BuddyRegion* reg = this->buddy.region_of(r.value());
  ASSERT_NE(reg, nullptr);
  const char* why = nullptr;
  auto catcher = [&](const char* w, const void*) { why = w; };
  for (u64* bits : {reg->split, reg->alloc})
    for (usize word : {usize{0}, usize{3}}) {
      const u64 saved = bits[word];
      bits[word] ^= u64{1} << 5;
      why = nullptr;
      EXPECT_FALSE(this->buddy.verify(catcher));
      EXPECT_NE(why, nullptr);
      bits[word] = saved;
    }
  EXPECT_TRUE(this->buddy.verify());
  ASSERT_TRUE(this->buddy.dealloc(r.value(), 100, 1).ok());
}

// A constinit global engine: no constructor runs, init() later.
constinit Buddy<BuddyConfig> g_buddy;

TEST(BuddyGlobal, ConstinitAndReinit) {
  ASSERT_TRUE(g_buddy.init(arena(), usize{64} << 10).ok());
  Result<void*> r = g_buddy.alloc(1000, 64);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(g_buddy.is_allocated(r.value(), Buddy<BuddyConfig>::order_for(1000, 64)));
  // init again forgets everything, even live blocks.
  ASSERT_TRUE(g_buddy.init(arena(), usize{64} << 10).ok());
  EXPECT_EQ(g_buddy.used_bytes(), 0u);
  EXPECT_EQ(g_buddy.dealloc(r.value(), 1000, 64).error(), AllocError::NotAllocated);
  EXPECT_TRUE(g_buddy.verify());
}

}  // namespace
