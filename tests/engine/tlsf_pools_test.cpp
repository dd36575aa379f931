// Tlsf::remove_free_pools and the pool-known forms dealloc_in_pool,
// usable_size_in_pool and try_resize_in_pool. With pools capped at 64 KiB
// (touching pools stay apart, as the runtime's MediumTlsfConfig segments):
// only pools that are one free block go, with their range, stats and verify()
// consistent, and nothing is handed out from them again; the pool-known forms
// agree with the pool-walk forms on live blocks (also in a randomized
// differential run) and refuse a wrong pool, a freed block, an interior or
// misaligned pointer and the pool's edges. With the default config, joined
// pools go whole and an unaligned pool size is reported as given. Plus the
// randomized removal model (removal_model.hpp) for both configs.
#include <gtest/gtest.h>

#include <cstring>
#include <iterator>

#include "strata/engine/tlsf.hpp"
#include "gtest_checker.hpp"
#include "removal_model.hpp"
#include "scenarios/tlsf_scenarios.hpp"

using namespace strata;

namespace {

/// Pools of at most 64 KiB: every pool below is its own, touching or not.
struct TlsfPoolsConfig {
  static constexpr u32 SL_LOG2 = 5;
  static constexpr u32 MAX_POOL_LOG2 = 16;
};
using Small = Tlsf<TlsfPoolsConfig>;
using Big = Tlsf<TlsfDefaultConfig>;
constexpr usize POOL = Small::MAX_POOL_SIZE;
constexpr usize OVERHEAD = Small::MIN_POOL_SIZE - Small::MIN_BLOCK;  // header + sentinel

constexpr usize ARENA_BYTES = usize{1} << 20;
test::Arena<ARENA_BYTES> g_arena;
scenario::LiveBlock g_blocks[1 << 15];
scenario::LiveBlock g_live[2048];
Small g_small, g_small2;
Big g_big;

u8* arena() { return g_arena.bytes; }
u8* pool(usize i) { return arena() + i * POOL; }
usize pool_index(const void* p) { return static_cast<usize>(static_cast<const u8*>(p) - arena()) / POOL; }

class TlsfPools : public ::testing::Test {
 protected:
  usize n = 0;                    ///< live blocks in g_blocks[0, n)
  bool (*verify)() = nullptr;     ///< the engine the test used, verified at the end
  // No block headers left over from earlier tests (those would pass for live,
  // as tlsf.hpp's block layout says, and differ between the two halves).
  void SetUp() override { std::memset(arena(), 0, ARENA_BYTES); }
  void TearDown() override {
    EXPECT_TRUE(verify == nullptr || verify());
    test::take_again(arena(), ARENA_BYTES);
  }
  /// `count` touching pools of POOL bytes from the arena's start.
  static void add_pools(Small& t, usize count) {
    ASSERT_TRUE(t.init(pool(0), POOL).ok());
    for (usize i = 1; i < count; ++i) ASSERT_TRUE(t.add_memory(pool(i), POOL).ok()) << i;
    ASSERT_EQ(t.total_bytes(), count * (POOL - OVERHEAD));
  }
  void fill(Small& t, u64 seed) {
    test::fill_until_full(t, {1, 40, 300, 2000, 9000}, seed, g_blocks, n, std::size(g_blocks));
  }
  /// Frees g_blocks[i] through its pool (contents checked first).
  void free_block(Small& t, usize i) {
    ASSERT_TRUE(scenario::detail::verify_block(g_blocks[i]));
    ASSERT_TRUE(t.dealloc_in_pool(pool(pool_index(g_blocks[i].ptr)), g_blocks[i].ptr).ok());
    g_blocks[i] = g_blocks[--n];
  }
};

template <class R>
bool refused(const R& r) {
  return scenario::failed_with(r, AllocError::NotAllocated);
}

TEST_F(TlsfPools, OnlyWhollyFreePoolsGo) {
  Small& t = g_small;
  verify = [] { return g_small.verify(); };
  ASSERT_NO_FATAL_FAILURE(add_pools(t, 8));
  ASSERT_NO_FATAL_FAILURE(fill(t, 0x7150u));
  usize per_pool[8] = {};
  for (usize i = 0; i < n; ++i) ++per_pool[pool_index(g_blocks[i].ptr)];
  for (usize c : per_pool) ASSERT_GT(c, 1u);
  EXPECT_EQ(t.remove_free_pools([](void*, usize) { ADD_FAILURE() << "no pool is free"; }), 0u);
  // Empty pools 2, 5 and 7 (7 is the head of the pool list), thin pool 3.
  u8* old_block[8] = {};
  for (usize i = n, k = 0; i-- > 0;) {
    const usize at = pool_index(g_blocks[i].ptr);
    if (at == 2 || at == 5 || at == 7 || (at == 3 && (k++ & 1) != 0)) {
      old_block[at] = g_blocks[i].ptr;
      ASSERT_NO_FATAL_FAILURE(free_block(t, i));
    }
  }
  const usize total = t.total_bytes(), used = t.used_bytes();
  unsigned gone = 0;
  EXPECT_EQ(t.remove_free_pools([&](void* s, usize size) {
    EXPECT_EQ(s, pool(pool_index(s)));
    EXPECT_EQ(size, POOL);
    gone |= 1u << pool_index(s);
  }), 3u);
  EXPECT_EQ(gone, (1u << 2) | (1u << 5) | (1u << 7));
  for (usize i : {2, 5, 7}) test::hand_back(pool(i), POOL);
  EXPECT_EQ(t.total_bytes(), total - 3 * (POOL - OVERHEAD));
  EXPECT_EQ(t.used_bytes(), used);
  EXPECT_EQ(t.available_bytes(), t.total_bytes() - used);
  ASSERT_TRUE(t.verify());
  for (usize i : {2, 5, 7}) {
    EXPECT_TRUE(refused(t.dealloc(old_block[i]))) << i;
    EXPECT_TRUE(refused(t.usable_size(old_block[i]))) << i;
    EXPECT_TRUE(refused(t.try_resize_in_place(old_block[i], 1))) << i;
  }
  // The survivors: both forms agree; a refill stays out of the removed pools.
  for (usize i = 0; i < n; ++i)
    ASSERT_EQ(t.usable_size_in_pool(pool(pool_index(g_blocks[i].ptr)), g_blocks[i].ptr).value(),
              t.usable_size(g_blocks[i].ptr).value());
  const usize before = n;
  ASSERT_NO_FATAL_FAILURE(fill(t, 0x7151u));
  EXPECT_GT(n, before);
  for (usize i = 0; i < n; ++i) ASSERT_FALSE(gone >> pool_index(g_blocks[i].ptr) & 1) << i;
  while (n > 0) ASSERT_NO_FATAL_FAILURE(free_block(t, n - 1));
  EXPECT_EQ(t.remove_free_pools([](void*, usize) {}), 5u);
  EXPECT_EQ(t.total_bytes(), 0u);
  EXPECT_EQ(t.available_bytes(), 0u);
  EXPECT_TRUE(scenario::failed_with(t.alloc(1, 1), AllocError::NoMemory));
  ASSERT_TRUE(t.verify());
  test::take_again(arena(), ARENA_BYTES);
  for (usize i = 0; i < 8; ++i) ASSERT_TRUE(t.add_memory(pool(i), POOL).ok()) << i;
  EXPECT_EQ(t.total_bytes(), 8 * (POOL - OVERHEAD));
  Result<void*> whole = t.alloc(scenario::tlsf_whole_pool_payload<Small>(POOL), 1);
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(t.dealloc_in_pool(pool(pool_index(whole.value())), whole.value()).ok());
}

TEST_F(TlsfPools, InPoolFormsAgreeAndRefuseStrangers) {
  Small& t = g_small;
  verify = [] { return g_small.verify(); };
  ASSERT_NO_FATAL_FAILURE(add_pools(t, 2));
  u8* p0 = pool(0);
  u8* p1 = pool(1);
  // d: all of one pool (pool 1, the newer); a, b, c back to back at the start of the other.
  u8* d = static_cast<u8*>(t.alloc(scenario::tlsf_whole_pool_payload<Small>(POOL), 1).value());
  u8* a = static_cast<u8*>(t.alloc(100, 1).value());
  u8* b = static_cast<u8*>(t.alloc(200, 1).value());
  u8* c = static_cast<u8*>(t.alloc(300, 1).value());
  ASSERT_EQ(pool_index(a), 0u);
  ASSERT_EQ(pool_index(d), 1u);
  EXPECT_EQ(a, p0 + 2 * Small::ALIGN);  // pool header, block header
  for (u8* p : {a, b, c}) EXPECT_EQ(t.usable_size_in_pool(p0, p).value(), t.usable_size(p).value());
  EXPECT_EQ(t.usable_size_in_pool(p1, d).value(), t.usable_size(d).value());
  const usize used = t.used_bytes();
  for (u8* bad : {p0, p0 + Small::ALIGN, a + Small::ALIGN, a + 1, b - 1, p0 + POOL, p0 + POOL - Small::ALIGN}) {
    EXPECT_TRUE(refused(t.usable_size_in_pool(p0, bad))) << static_cast<void*>(bad);
    EXPECT_TRUE(refused(t.dealloc_in_pool(p0, bad))) << static_cast<void*>(bad);
    EXPECT_TRUE(refused(t.try_resize_in_pool(p0, bad, 8))) << static_cast<void*>(bad);
  }
  EXPECT_TRUE(refused(t.usable_size_in_pool(p1, a)));  // the wrong pool, either way
  EXPECT_TRUE(refused(t.dealloc_in_pool(p1, a)));
  EXPECT_TRUE(refused(t.try_resize_in_pool(p1, a, 8)));
  EXPECT_TRUE(refused(t.dealloc_in_pool(p0, d)));
  EXPECT_TRUE(refused(t.usable_size_in_pool(p0, d)));
  EXPECT_EQ(t.used_bytes(), used);
  ASSERT_TRUE(t.verify());
  EXPECT_TRUE(scenario::failed_with(t.try_resize_in_pool(p0, a, MAX_OBJECT_SIZE + 1), AllocError::InvalidParam));

  // Grow a into the freed b, exactly; one more granule meets c: NoMemory.
  const usize ua = t.usable_size(a).value(), ub = t.usable_size(b).value();
  ASSERT_TRUE(t.dealloc_in_pool(p0, b).ok());
  EXPECT_TRUE(refused(t.dealloc_in_pool(p0, b)));  // freed
  EXPECT_TRUE(refused(t.usable_size_in_pool(p0, b)));
  const usize grown = ua + ub + Small::BLOCK_OVERHEAD;
  const usize used_a = t.used_bytes();
  EXPECT_TRUE(scenario::failed_with(t.try_resize_in_pool(p0, a, grown + 1), AllocError::NoMemory));
  EXPECT_EQ(t.used_bytes(), used_a);
  EXPECT_EQ(t.try_resize_in_pool(p0, a, grown).value(), a);
  EXPECT_EQ(t.usable_size_in_pool(p0, a).value(), grown);
  EXPECT_EQ(t.used_bytes(), used_a + ub + Small::BLOCK_OVERHEAD);
  ASSERT_TRUE(t.verify());
  EXPECT_EQ(t.try_resize_in_pool(p0, a, 1).value(), a);  // shrink: the tail is free again
  EXPECT_EQ(t.usable_size_in_pool(p0, a).value(), Small::MIN_BLOCK - Small::BLOCK_OVERHEAD);
  EXPECT_EQ(t.try_resize_in_place(a, ua).value(), a);  // the walk form takes it back to where it was
  EXPECT_EQ(t.usable_size(a).value(), ua);
  ASSERT_TRUE(t.verify());
  for (u8* p : {a, c}) ASSERT_TRUE(t.dealloc_in_pool(p0, p).ok());
  ASSERT_TRUE(t.dealloc_in_pool(p1, d).ok());
  EXPECT_TRUE(refused(t.try_resize_in_pool(p0, a, 8)));
  EXPECT_EQ(t.used_bytes(), 0u);
}

// Two engines over equal layouts take the same random steps, one through the
// pool-known forms, the other through the pool walk: every answer matches.
TEST_F(TlsfPools, InPoolMatchesPoolWalkRandomly) {
  constexpr usize HALF = ARENA_BYTES / 2, NPOOLS = 4;
  Small& x = g_small;   // *_in_pool
  Small& y = g_small2;  // pool walk, at +HALF
  verify = [] { return g_small.verify() && g_small2.verify(); };
  ASSERT_TRUE(x.init(pool(0), POOL).ok() && y.init(pool(0) + HALF, POOL).ok());
  for (usize i = 1; i < NPOOLS; ++i) ASSERT_TRUE(x.add_memory(pool(i), POOL).ok() && y.add_memory(pool(i) + HALF, POOL).ok());
  scenario::Rng rng(0xd1ffu);
  u8* live[512];
  usize nlive = 0;
  for (int op = 0; op < 100'000; ++op) {
    const u64 what = rng.below(100);
    if (nlive == 0 || (what < 45 && nlive < std::size(live))) {
      const usize size = static_cast<usize>(rng.log_uniform(6000)), align = usize{1} << rng.below(9);
      Result<void*> rx = x.alloc(size, align), ry = y.alloc(size, align);
      ASSERT_EQ(rx.ok(), ry.ok()) << op;
      if (!rx.ok()) continue;
      ASSERT_EQ(static_cast<u8*>(rx.value()) + HALF, ry.value()) << op;
      live[nlive++] = static_cast<u8*>(rx.value());
      continue;
    }
    const usize k = static_cast<usize>(rng.below(nlive));
    u8* p = live[k];
    u8* home = pool(pool_index(p));
    u8* stranger = pool((pool_index(p) + 1 + rng.below(NPOOLS - 1)) % NPOOLS);
    ASSERT_TRUE(refused(x.usable_size_in_pool(stranger, p))) << op;
    ASSERT_TRUE(refused(x.try_resize_in_pool(stranger, p, 1))) << op;
    ASSERT_TRUE(refused(x.dealloc_in_pool(stranger, p))) << op;
    u8* inside = p + Small::ALIGN * (1 + rng.below(4));
    if (inside < home + POOL) {  // else y's walk may find the next pool's first block there
      ASSERT_EQ(refused(x.usable_size_in_pool(home, inside)), refused(y.usable_size(inside + HALF))) << op;
    } else {
      ASSERT_TRUE(refused(x.usable_size_in_pool(home, inside))) << op;
    }
    ASSERT_EQ(x.usable_size_in_pool(home, p).value(), y.usable_size(p + HALF).value()) << op;
    if (what < 75) {  // resize
      const usize to = static_cast<usize>(rng.log_uniform(8000));
      Result<void*> rx = x.try_resize_in_pool(home, p, to), ry = y.try_resize_in_place(p + HALF, to);
      ASSERT_EQ(rx.ok(), ry.ok()) << op;
      ASSERT_EQ(rx.ok() ? rx.value() : nullptr, ry.ok() ? static_cast<u8*>(ry.value()) - HALF : nullptr) << op;
      ASSERT_TRUE(rx.ok() || rx.error() == ry.error()) << op;
    } else {
      ASSERT_TRUE(x.dealloc_in_pool(home, p).ok()) << op;
      ASSERT_TRUE(y.dealloc(p + HALF).ok()) << op;
      ASSERT_TRUE(refused(x.dealloc_in_pool(home, p))) << op;  // now a freed block
      ASSERT_TRUE(refused(x.usable_size_in_pool(home, p))) << op;
      live[k] = live[--nlive];
    }
    ASSERT_EQ(x.used_bytes(), y.used_bytes()) << op;
    if (op % 5000 == 0) {
      ASSERT_TRUE(x.verify() && y.verify()) << op;
    }
  }
  for (usize i = 0; i < nlive; ++i) ASSERT_TRUE(x.dealloc_in_pool(pool(pool_index(live[i])), live[i]).ok());
  EXPECT_EQ(x.used_bytes(), 0u);
  EXPECT_TRUE(x.verify());
  (void)y.init(pool(0) + HALF, POOL);  // forget y's live blocks
}

// Default config: touching pools join, and the joined pool goes as one range
// (never while a block lives past the seam); the pool start names it for the
// pool-known forms.
TEST_F(TlsfPools, JoinedPoolsGoWhole) {
  Big& t = g_big;
  verify = [] { return g_big.verify(); };
  constexpr usize Q = usize{64} << 10;
  ASSERT_TRUE(t.init(arena(), Q).ok());
  ASSERT_TRUE(t.add_memory(arena() + Q, Q).ok());          // joins
  ASSERT_TRUE(t.add_memory(arena() + 4 * Q, Q / 2).ok());  // apart
  ASSERT_EQ(t.total_bytes(), 2 * Q + Q / 2 - 2 * OVERHEAD);
  u8* low = static_cast<u8*>(t.alloc(Q, 1).value());       // only the joined pool has room for these two
  u8* high = static_cast<u8*>(t.alloc(Q / 2, 1).value());  // past the seam
  u8* other = static_cast<u8*>(t.alloc(100, 1).value());   // either pool
  ASSERT_TRUE(low != nullptr && high != nullptr && other != nullptr);
  ASSERT_EQ(low, arena() + 2 * Big::ALIGN);
  ASSERT_GE(high, arena() + Q);
  ASSERT_LT(high, arena() + 2 * Q);
  u8* other_pool = other < arena() + 2 * Q ? arena() : arena() + 4 * Q;
  EXPECT_EQ(t.usable_size_in_pool(arena(), high).value(), t.usable_size(high).value());
  ASSERT_TRUE(t.dealloc_in_pool(arena(), low).ok());
  ASSERT_TRUE(t.dealloc_in_pool(other_pool, other).ok());
  usize calls = 0;
  EXPECT_EQ(t.remove_free_pools([&](void* s, usize size) {
    ++calls;
    EXPECT_EQ(s, arena() + 4 * Q);
    EXPECT_EQ(size, Q / 2);
  }), 1u);
  EXPECT_EQ(t.total_bytes(), 2 * Q - OVERHEAD);
  ASSERT_TRUE(t.verify());
  ASSERT_TRUE(t.dealloc_in_pool(arena(), high).ok());
  EXPECT_EQ(t.remove_free_pools([&](void* s, usize size) {
    ++calls;
    EXPECT_EQ(s, arena());
    EXPECT_EQ(size, 2 * Q);
  }), 1u);
  EXPECT_EQ(calls, 2u);
  EXPECT_EQ(t.total_bytes(), 0u);
  EXPECT_TRUE(t.verify());
}

// remove_free_pools reports the pool's range: the start add_memory was given
// and its size rounded down to ALIGN, as add_memory keeps it (the few bytes
// past that were never the engine's).
TEST_F(TlsfPools, UnalignedPoolSizeIsReportedRoundedDown) {
  Big& t = g_big;
  verify = [] { return g_big.verify(); };
  const usize given = (usize{64} << 10) + Big::ALIGN / 2;
  ASSERT_TRUE(t.init(arena(), given).ok());
  EXPECT_EQ(t.total_bytes(), align_down(given, Big::ALIGN) - OVERHEAD);
  EXPECT_EQ(t.remove_free_pools([&](void* s, usize size) {
    EXPECT_EQ(s, arena());
    EXPECT_EQ(size, align_down(given, Big::ALIGN)) << "add_memory was given " << given;
  }), 1u);
  EXPECT_EQ(t.total_bytes(), 0u);
}

/// The removal model's view of a Tlsf whose ranges are each their own pool:
/// free_in is dealloc_in_pool.
template <class T>
struct TlsfAdapter : test::AdapterBase<T> {
  Result<void> free_in(const scenario::LiveBlock& l, const scenario::Region& r) {
    return this->eng.dealloc_in_pool(reinterpret_cast<void*>(r.start), l.ptr);
  }
  void check(const scenario::LiveBlock& l, const scenario::Region& r) {
    const usize u = this->eng.usable_size(l.ptr).value();
    EXPECT_GE(u, l.size);
    EXPECT_EQ(this->eng.usable_size_in_pool(reinterpret_cast<void*>(r.start), l.ptr).value(), u);
  }
  template <class F>
  usize remove(F f) {
    return this->eng.remove_free_pools(f);
  }
};

template <class T>
void run_model(T& t, const scenario::Region* ranges, usize nranges, u64 seed) {
  ASSERT_TRUE(t.init(arena(), 4096).ok());  // start empty: one pool, taken back at once
  ASSERT_EQ(t.remove_free_pools([](void*, usize) {}), 1u);
  TlsfAdapter<T> adapter{{t}};
  const test::RemovalParams p{.seed = seed, .max_size = 6000, .max_align_log2 = 8};
  test::run_removal_model(adapter, ranges, nranges, g_live, std::size(g_live), p, "tlsf");
}

TEST_F(TlsfPools, RandomRemovalModelTouchingPools) {
  scenario::Region ranges[6];
  for (usize i = 0; i < 6; ++i) ranges[i] = {reinterpret_cast<uptr>(pool(i)), POOL};
  ranges[5].size = POOL / 2 + Small::ALIGN;
  verify = [] { return g_small.verify(); };
  run_model(g_small, ranges, 6, 0x7153u);
}

TEST_F(TlsfPools, RandomRemovalModelDefaultConfig) {
  const scenario::Region ranges[4] = {{reinterpret_cast<uptr>(arena()), usize{192} << 10},
                                      {reinterpret_cast<uptr>(arena() + (usize{256} << 10)), usize{64} << 10},
                                      {reinterpret_cast<uptr>(arena() + (usize{384} << 10)), usize{256} << 10},
                                      {reinterpret_cast<uptr>(arena() + (usize{768} << 10)), (usize{96} << 10) + 48}};
  verify = [] { return g_big.verify(); };
  run_model(g_big, ranges, 4, 0x7154u);
}

}  // namespace
