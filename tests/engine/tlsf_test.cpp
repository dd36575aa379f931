// Tlsf<Cfg>: units, bad input, exhaustion and recovery, coalescing, several
// pools, alignment, usable_size, in-place resize, verify(), the class mapping
// above 4 GiB, and randomized model-based runs with fixed seeds. Typed over three
// configurations. Engines and arenas are static, owned for the program's life,
// as in firmware (a constinit engine proves the constexpr constructor).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <iterator>

#include "strata/engine/tlsf.hpp"
#include "gtest_checker.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/tlsf_scenarios.hpp"

namespace {

using namespace strata;
using strata::test::Arena;
using strata::test::gtest_checker;

/// A third shape: 64 second-level lists (full u64 bitmaps), pools up to 1 TiB.
struct TlsfWideConfig {
  static constexpr u32 SL_LOG2 = 6;
  static constexpr u32 MAX_POOL_LOG2 = 40;
};

constexpr usize ARENA_BYTES = usize{2} << 20;
Arena<ARENA_BYTES> g_arena;
scenario::LiveBlock g_live[8192];
void* g_slots[1 << 16];

template <class Cfg>
constinit Tlsf<Cfg> g_engine;

template <class Cfg>
class TlsfTest : public ::testing::Test {
 protected:
  Tlsf<Cfg>& engine = g_engine<Cfg>;
  u8* mem = g_arena.bytes;
  scenario::Checker chk = gtest_checker();
};

using Configs = ::testing::Types<TlsfDefaultConfig, TlsfSmallConfig, TlsfWideConfig>;
TYPED_TEST_SUITE(TlsfTest, Configs);

TYPED_TEST(TlsfTest, AllocWriteFreeKeepsStatsExact) {
  auto& t = this->engine;
  ASSERT_TRUE(t.init(this->mem, 1 << 16).ok());
  const usize total = t.total_bytes();
  EXPECT_EQ(total, (usize{1} << 16) - (Tlsf<TypeParam>::MIN_POOL_SIZE - Tlsf<TypeParam>::MIN_BLOCK));
  EXPECT_EQ(t.used_bytes(), 0u);
  EXPECT_EQ(t.available_bytes(), total);
  Result<void*> a = t.alloc(100, 1);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(is_ptr_aligned(a.value(), Tlsf<TypeParam>::ALIGN));
  EXPECT_EQ(t.used_bytes(), align_up(100 + Tlsf<TypeParam>::BLOCK_OVERHEAD, Tlsf<TypeParam>::ALIGN));
  EXPECT_EQ(t.used_bytes() + t.available_bytes(), total);
  std::memset(a.value(), 0xab, t.usable_size(a.value()).value());
  Result<void*> z = t.alloc(0, 1);  // size 0: a real, distinct minimal block
  ASSERT_TRUE(z.ok());
  EXPECT_NE(z.value(), a.value());
  EXPECT_EQ(t.usable_size(z.value()).value(), Tlsf<TypeParam>::MIN_BLOCK - Tlsf<TypeParam>::BLOCK_OVERHEAD);
  EXPECT_TRUE(t.verify());
  EXPECT_TRUE(t.dealloc(a.value(), 100, 1).ok());
  EXPECT_TRUE(t.dealloc(z.value()).ok());
  EXPECT_EQ(t.used_bytes(), 0u);
  EXPECT_TRUE(t.verify());
}

TYPED_TEST(TlsfTest, UsableSizeCoversRequestAndIsWritable) {
  auto& t = this->engine;
  ASSERT_TRUE(t.init(this->mem, 1 << 20).ok());
  for (usize size = 0; size < 5000; size += 1 + size / 8) {
    Result<void*> r = t.alloc(size, 1);
    ASSERT_TRUE(r.ok()) << size;
    const usize usable = t.usable_size(r.value()).value();
    EXPECT_GE(usable, size);
    EXPECT_LT(usable, size + Tlsf<TypeParam>::MIN_BLOCK + Tlsf<TypeParam>::ALIGN);
    std::memset(r.value(), 0x5a, usable);  // all of it: ASan and verify() would notice an overrun
    ASSERT_TRUE(t.verify()) << size;
    ASSERT_TRUE(t.dealloc(r.value()).ok());
  }
}

TYPED_TEST(TlsfTest, AlignmentsOneTo4096AreHonoured) {
  auto& t = this->engine;
  ASSERT_TRUE(t.init(this->mem, 1 << 20).ok());
  void* keep[13 * 6] = {};
  usize n = 0;
  for (usize align = 1; align <= 4096; align <<= 1) {
    for (usize size : {usize{0}, usize{1}, usize{17}, usize{100}, usize{1000}, usize{5000}}) {
      Result<void*> r = t.alloc(size, align);
      ASSERT_TRUE(r.ok()) << size << " @" << align;
      EXPECT_TRUE(is_ptr_aligned(r.value(), align)) << size << " @" << align;
      std::memset(r.value(), static_cast<int>(align), size);
      keep[n++] = r.value();
    }
    ASSERT_TRUE(t.verify()) << align;
  }
  for (usize i = 0; i < n; i += 2) EXPECT_TRUE(t.dealloc(keep[i]).ok());
  for (usize i = 1; i < n; i += 2) EXPECT_TRUE(t.dealloc(keep[i]).ok());
  EXPECT_EQ(t.used_bytes(), 0u);
  EXPECT_TRUE(t.verify());
}

TYPED_TEST(TlsfTest, BadInput) {
  scenario_tlsf_bad_input(this->engine, this->mem, usize{1} << 18, this->chk);
}

TYPED_TEST(TlsfTest, ExhaustionThenRecovery) {
  scenario_tlsf_exhaustion(this->engine, this->mem, usize{1} << 20, g_slots, std::size(g_slots), this->chk);
}

TYPED_TEST(TlsfTest, CoalescesBackToOneBlock) {
  for (u64 seed : {1u, 2u, 3u}) scenario_tlsf_coalesce(this->engine, this->mem, 1 << 20, g_slots, 4000, seed, this->chk);
}

TYPED_TEST(TlsfTest, SeveralPools) { scenario_tlsf_multi_pool(this->engine, this->mem, ARENA_BYTES, this->chk); }

TYPED_TEST(TlsfTest, TouchingPoolsAreJoined) { scenario_tlsf_join_pools(this->engine, this->mem, 1 << 20, this->chk); }

/// Pools of at most 64 KiB, 4 second-level lists: the join limit within reach.
struct Tiny {
  static constexpr u32 SL_LOG2 = 2;
  static constexpr u32 MAX_POOL_LOG2 = 16;
};
Tlsf<Tiny> g_tiny;

TEST(TlsfConfig, AnEngineWithoutPoolsRefusesPolitely) {
  static constinit Tlsf<TlsfSmallConfig> empty;
  EXPECT_EQ(empty.alloc(1, 1).error(), AllocError::NoMemory);
  EXPECT_EQ(empty.alloc(0, 4096).error(), AllocError::NoMemory);
  EXPECT_EQ(empty.dealloc(g_arena.bytes + 64).error(), AllocError::NotAllocated);
  EXPECT_EQ(empty.usable_size(g_arena.bytes + 64).error(), AllocError::NotAllocated);
  EXPECT_EQ(empty.try_resize_in_place(g_arena.bytes + 64, 8).error(), AllocError::NotAllocated);
  EXPECT_EQ(empty.total_bytes() + empty.used_bytes() + empty.available_bytes(), 0u);
  usize runs = 0;
  empty.for_each_free_run(0, [&runs](void*, usize) { ++runs; });
  EXPECT_EQ(runs, 0u);
  EXPECT_TRUE(empty.verify());
}

TEST(TlsfConfig, PoolsAreNotJoinedPastTheLargestPool) {
  auto& t = g_tiny;
  u8* mem = g_arena.bytes;
  const usize max = Tlsf<Tiny>::MAX_POOL_SIZE;
  ASSERT_TRUE(t.init(mem, max).ok());
  EXPECT_EQ(t.add_memory(mem + max, max + Tlsf<Tiny>::ALIGN).error(), AllocError::InvalidParam);
  ASSERT_TRUE(t.add_memory(mem + max, max).ok());  // touching, but 2 * max is too large: two pools
  EXPECT_EQ(t.total_bytes(), 2 * (max - (Tlsf<Tiny>::MIN_POOL_SIZE - Tlsf<Tiny>::MIN_BLOCK)));
  const usize whole = scenario::tlsf_whole_pool_payload<Tlsf<Tiny>>(max);
  void* a = t.alloc(whole, 1).value();
  void* b = t.alloc(whole, 1).value();
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(t.available_bytes(), 0u);
  EXPECT_TRUE(t.verify());
  EXPECT_TRUE(t.dealloc(a).ok() && t.dealloc(b).ok());
  EXPECT_TRUE(t.verify());
}

TYPED_TEST(TlsfTest, ResizeInPlace) { scenario_tlsf_resize(this->engine, this->mem, 1 << 16, this->chk); }

TYPED_TEST(TlsfTest, LargestAllocIsExact) {
  void* slots[512];
  scenario_tlsf_largest_alloc(this->engine, this->mem, 1 << 20, slots, 512, 0x1a29e, this->chk);
}

TYPED_TEST(TlsfTest, FreeRunsAreInteriorsTheEngineNeverTouches) {
  auto& t = this->engine;
  ASSERT_TRUE(t.init(this->mem, 1 << 20).ok());
  void* blocks[64];
  for (void*& b : blocks) b = t.alloc(3000, 1).value();
  for (usize i = 0; i < 64; i += 2) ASSERT_TRUE(t.dealloc(blocks[i]).ok());
  usize runs = 0, bytes = 0;
  t.for_each_free_run(2048, [&](void* start, usize n) {
    ++runs;
    bytes += n;
    EXPECT_GE(n, 2048u);
    std::memset(start, 0xee, n);  // what MADV_DONTNEED may do to it, or worse
  });
  EXPECT_EQ(runs, 33u);  // 32 freed blocks and the pool's tail
  EXPECT_LT(bytes, t.available_bytes());
  EXPECT_TRUE(t.verify());
  for (usize i = 1; i < 64; i += 2) ASSERT_TRUE(t.dealloc(blocks[i]).ok());
  EXPECT_TRUE(t.verify());
  usize big = 0;
  t.for_each_free_run(0, [&](void*, usize n) { big = n; });
  EXPECT_EQ(big, t.total_bytes() - 2 * Tlsf<TypeParam>::ALIGN);  // one run: all but header, link, footer
}

TYPED_TEST(TlsfTest, VerifyReportsCorruption) {
  auto& t = this->engine;
  ASSERT_TRUE(t.init(this->mem, 1 << 16).ok());
  void* a = t.alloc(100, 1).value();
  void* b = t.alloc(100, 1).value();
  ASSERT_TRUE(t.dealloc(a).ok());
  usize* b_size_flags = reinterpret_cast<usize*>(static_cast<u8*>(b) - sizeof(usize));
  const usize saved = *b_size_flags;
  *b_size_flags &= ~usize{2};  // clear b's PREV_FREE although a (before it) is free
  const char* what = nullptr;
  EXPECT_FALSE(t.verify([&](const char* w, const void*) { what = w; }));
  EXPECT_STREQ(what, "tlsf: PREV_FREE disagrees with previous block");
  *b_size_flags = saved;
  EXPECT_TRUE(t.verify());
  ASSERT_TRUE(t.dealloc(b).ok());
}

TYPED_TEST(TlsfTest, CorruptBoundaryTagIsFatalNotFollowed) {
  auto& t = this->engine;
  ASSERT_TRUE(t.init(this->mem, 1 << 16).ok());
  void* a = t.alloc(100, 1).value();
  u8* b = static_cast<u8*>(t.alloc(100, 1).value());
  ASSERT_TRUE(t.dealloc(a).ok());
  // a's footer is the word just before b's header: aim it at b itself.
  const uptr forged = reinterpret_cast<uptr>(b) - Tlsf<TypeParam>::BLOCK_OVERHEAD;
  std::memcpy(b - Tlsf<TypeParam>::BLOCK_OVERHEAD - sizeof(uptr), &forged, sizeof forged);
  EXPECT_DEATH((void)t.dealloc(b), "tlsf: corrupt boundary tag");
}

TYPED_TEST(TlsfTest, ClassMappingRoundTripsAboveFourGiB) {
  using C = detail::TlsfClasses<TypeParam::SL_LOG2, TypeParam::MAX_POOL_LOG2, Tlsf<TypeParam>::ALIGN>;
  for (u32 fl = 0; fl < C::FL_COUNT; ++fl) {
    for (u32 sl = fl == 0 ? 2 : 0; sl < C::SL_COUNT; ++sl) {
      const usize lo = C::class_min(fl, sl);
      const auto at = C::index_of(lo);
      ASSERT_TRUE(at.fl == fl && at.sl == sl) << lo;
      const auto below = C::index_of(lo - C::GRANULE);  // the class before ends one granule lower
      ASSERT_TRUE(below.fl < fl || (below.fl == fl && below.sl + 1 == sl)) << lo;
      // A request just above a class start is served from the next class up.
      const auto req = C::index_for_request(lo + C::GRANULE);
      ASSERT_GE(req.fl == C::FL_COUNT ? usize{1} << C::MAX_POOL_LOG2 : C::class_min(req.fl, req.sl), lo + C::GRANULE);
    }
  }
  const usize largest = (usize{1} << C::MAX_POOL_LOG2) - Tlsf<TypeParam>::MIN_POOL_SIZE;
  EXPECT_EQ(C::index_of(largest).fl, C::FL_COUNT - 1);
}

TYPED_TEST(TlsfTest, RequestClassIsTheFirstThatAlwaysFits) {
  using C = detail::TlsfClasses<TypeParam::SL_LOG2, TypeParam::MAX_POOL_LOG2, Tlsf<TypeParam>::ALIGN>;
  auto check = [](usize size) {
    const auto r = C::index_for_request(size);
    ASSERT_LE(r.fl, C::FL_COUNT) << size;
    if (r.fl == C::FL_COUNT) {
      ASSERT_GT(size, C::class_min(C::FL_COUNT - 1, C::SL_COUNT - 1)) << size;
      return;
    }
    ASSERT_LT(r.sl, C::SL_COUNT) << size;
    ASSERT_GE(C::class_min(r.fl, r.sl), size) << size;  // every block of the class fits
    const usize prev = r.sl > 0 ? C::class_min(r.fl, r.sl - 1) : r.fl > 0 ? C::class_min(r.fl - 1, C::SL_COUNT - 1) : 0;
    ASSERT_LT(prev, size) << size;  // and no smaller class would always fit
  };
  for (usize size = 1; size < (usize{1} << 16); ++size) check(size);
  scenario::Rng rng(5);
  for (int i = 0; i < 100000; ++i) check(static_cast<usize>(rng.range(1, usize{1} << TypeParam::MAX_POOL_LOG2)));
}

TEST(TlsfConfig, FirstLevelFollowsTheLargestPoolNotFourGiB) {
  using Host = Tlsf<TlsfDefaultConfig>;
  static_assert(sizeof(usize) != 8 || Host::MAX_POOL_SIZE == usize{1} << 48);
  static_assert(sizeof(usize) != 8 || Host::FL_COUNT == 40);
  using C = detail::TlsfClasses<5, 48, 16>;
  // 6 GiB + 1 MiB: octave 2^32, slice 16 of 32 (each 2^27 bytes wide).
  const usize six_gib = (usize{6} << 30) + (usize{1} << 20);
  EXPECT_EQ(C::index_of(six_gib).fl, 32u - C::FL_SHIFT + 1);
  EXPECT_EQ(C::index_of(six_gib).sl, 16u);
  EXPECT_EQ(C::index_for_request(six_gib).sl, 17u);
  EXPECT_EQ(C::class_min(C::index_of(six_gib).fl, 16), usize{6} << 30);
  EXPECT_EQ(C::index_of((usize{1} << 47) + (usize{1} << 46)).fl, 39u);
}

TYPED_TEST(TlsfTest, ByteModelMillionOps) {
  {
    const u64 seed = 11 + Tlsf<TypeParam>::FL_COUNT;  // one run per configuration, each its own seed
    ASSERT_TRUE(this->engine.init(this->mem, ARENA_BYTES).ok());
    scenario::Region region{reinterpret_cast<uptr>(this->mem), ARENA_BYTES};
    scenario::ByteModelParams p;
    p.seed = seed;
    p.ops = 1'000'000;
    p.max_size = 8192;
    p.max_align_log2 = 9;
    p.final_block = scenario::tlsf_whole_pool_payload<Tlsf<TypeParam>>(ARENA_BYTES);
    const scenario::ByteModelStats st =
        scenario::run_byte_model(this->engine, &region, 1, g_live, std::size(g_live), p, this->chk);
    EXPECT_GE(st.allocs + st.frees + st.no_memory, p.ops);
    std::printf("seed %llu: %llu allocs, %llu frees, %llu NoMemory, peak %zu live\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(st.allocs),
                static_cast<unsigned long long>(st.frees), static_cast<unsigned long long>(st.no_memory), st.peak_live);
    EXPECT_GT(st.no_memory, 0u);  // the arena was tight enough to reach exhaustion
    EXPECT_TRUE(this->engine.verify());
  }
}

TYPED_TEST(TlsfTest, PointerOnlyMixMillionOps) {
  auto& t = this->engine;
  ASSERT_TRUE(t.init(this->mem, ARENA_BYTES / 2).ok());
  ASSERT_TRUE(t.add_memory(this->mem + ARENA_BYTES / 2, ARENA_BYTES / 2).ok());
  scenario::TlsfMixParams p;
  p.seed = 21;
  const scenario::TlsfMixStats st = scenario::run_tlsf_mix(t, g_live, std::size(g_live), p, this->chk);
  EXPECT_GT(st.resized, 0u);
  EXPECT_GT(st.resize_refused, 0u);
  EXPECT_GT(st.no_memory, 0u);
  std::printf("%llu allocs, %llu frees, %llu resized, %llu resizes refused, %llu NoMemory\n",
              static_cast<unsigned long long>(st.allocs), static_cast<unsigned long long>(st.frees),
              static_cast<unsigned long long>(st.resized), static_cast<unsigned long long>(st.resize_refused),
              static_cast<unsigned long long>(st.no_memory));
  EXPECT_TRUE(t.verify());
}

}  // namespace
