// BitmapPageAllocator and the hierarchical bitmap under it: bitmap searches
// against brute force, the page scenarios (randomized model, exhaustion, bad
// input) typed over capacities of 64, 4096 and 2^20 pages, and unit cases.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "strata/engine/bitmap.hpp"
#include "strata/engine/bitmap_page.hpp"
#include "gtest_checker.hpp"
#include "scenarios/page_model.hpp"

using namespace strata;
using scenario::Region;

namespace {

// ---- Bitmap against brute force --------------------------------------------

/// Reference answers by plain scans over one byte per bit: after each change,
/// refresh() recomputes, from the top down, the next one / next zero at or
/// after every index and the length of the run of each value starting there.
struct NaiveBits {
  std::vector<u8> b;
  std::vector<usize> next_of[2];
  std::vector<usize> run_of[2];

  explicit NaiveBits(usize n) : b(n, 0) {
    for (int v = 0; v < 2; ++v) next_of[v].resize(n + 1), run_of[v].resize(n + 1);
  }
  void refresh() {
    const usize n = b.size();
    for (int v = 0; v < 2; ++v) next_of[v][n] = n, run_of[v][n] = 0;
    for (usize i = n; i-- > 0;)
      for (int v = 0; v < 2; ++v) {
        next_of[v][i] = b[i] == v ? i : next_of[v][i + 1];
        run_of[v][i] = b[i] == v ? run_of[v][i + 1] + 1 : 0;
      }
  }
  usize next(usize from, bool v) const { return from >= b.size() ? b.size() : next_of[v][from]; }
  usize run(usize n, usize align, usize offset, bool v) const {
    for (usize s = (align - offset % align) % align; s + n <= b.size(); s += align)
      if (run_of[v][s] >= n) return s;
    return b.size();
  }
};

template <usize BITS, bool RUN_BIT>
void check_bitmap_against_naive(u64 seed, int rounds) {
  auto bm = std::make_unique<detail::Bitmap<BITS, RUN_BIT>>();
  NaiveBits ref(BITS);
  scenario::Rng rng(seed);
  for (int round = 0; round < rounds; ++round) {
    // Mostly short ranges (fragmentation), sometimes long ones (whole words and blocks).
    const usize lo = static_cast<usize>(rng.below(BITS));
    const usize n = static_cast<usize>(rng.range(0, rng.chance(1, 8) ? BITS - lo : (BITS - lo < 9 ? BITS - lo : 9)));
    const bool v = rng.chance(1, 2);
    bm->assign_range(lo, n, v);
    for (usize i = lo; i < lo + n; ++i) ref.b[i] = v;
    ref.refresh();
    for (int q = 0; q < 8; ++q) {
      const usize from = static_cast<usize>(rng.below(BITS + 2));
      ASSERT_EQ(bm->find_next(from, true), ref.next(from, true)) << "from " << from;
      ASSERT_EQ(bm->find_next(from, false), ref.next(from, false)) << "from " << from;
      const usize i = static_cast<usize>(rng.below(BITS));
      ASSERT_EQ(bm->test(i), ref.b[i] != 0);
    }
    for (int q = 0; q < 4; ++q) {
      const usize len = static_cast<usize>(rng.log_uniform(BITS));
      const usize align = usize{1} << rng.below(9);
      const usize offset = static_cast<usize>(rng.below(align));
      ASSERT_EQ(bm->find_run(len, align, offset), ref.run(len, align, offset, RUN_BIT))
          << "len " << len << " align " << align << " offset " << offset << " round " << round;
    }
  }
}

TEST(Bitmap, SearchesMatchBruteForce) {
  check_bitmap_against_naive<1, true>(1, 200);
  check_bitmap_against_naive<63, true>(2, 2000);
  check_bitmap_against_naive<64, false>(3, 2000);
  check_bitmap_against_naive<65, true>(4, 2000);
  check_bitmap_against_naive<700, false>(5, 2000);
  check_bitmap_against_naive<5000, true>(6, 1000);
  check_bitmap_against_naive<5000, false>(7, 1000);
  check_bitmap_against_naive<300000, true>(8, 30);
}

TEST(Bitmap, LongRunsSkipFragmentation) {
  // Every other bit set across most of the map, one long run at the very end:
  // the long-run path must find it (and quickly: this is 2^20 bits).
  constexpr usize BITS = usize{1} << 20;
  auto bm = std::make_unique<detail::Bitmap<BITS, true>>();
  for (usize i = 0; i < BITS - 4096; i += 2) bm->assign_range(i, 1, true);
  bm->assign_range(BITS - 1000, 1000, true);
  EXPECT_EQ(bm->find_run(1000, 1, 0), BITS - 1000);
  EXPECT_EQ(bm->find_run(1001, 1, 0), bm->NONE);
  EXPECT_EQ(bm->find_run(512, 256, 0), BITS - 768);
  EXPECT_EQ(bm->find_run(1, 1, 0), 0u);
  EXPECT_EQ(bm->find_run(2, 1, 0), BITS - 1000);
  bm->reset();
  EXPECT_EQ(bm->find_next(0, true), bm->NONE);
  EXPECT_EQ(bm->find_next(17, false), 17u);
}

// ---- Page scenarios, typed over capacities ----------------------------------

template <usize Pages, usize MaxRun, u64 FirstFitEvery>
struct PageCase {
  using Engine = BitmapPageAllocator<4096, Pages>;
  static constexpr usize PAGES = Pages;
  static constexpr usize MAX_RUN = MaxRun;
  static constexpr u64 FIRST_FIT_EVERY = FirstFitEvery;
};

using PageCases = ::testing::Types<PageCase<64, 8, 1>, PageCase<4096, 64, 16>, PageCase<(usize{1} << 20), 1024, 8192>>;

template <class C>
class PageScenario : public ::testing::Test {
 protected:
  static constexpr usize PS = 4096;
  // Made-up addresses (page allocators never touch the pages); the window
  // start is 3 pages past a 1 GiB boundary so address alignment needs the phase.
  static constexpr uptr WINDOW = (uptr{0x7f} << 32) + 3 * PS;
  std::unique_ptr<typename C::Engine> engine = std::make_unique<typename C::Engine>();
  std::vector<u8> state = std::vector<u8>(C::PAGES);
  scenario::Checker chk = test::gtest_checker();

  /// Two regions with a gap between them and unmanaged pages at the end.
  static std::vector<Region> regions() {
    constexpr usize P = C::PAGES;
    return {Region{WINDOW, P / 2 * PS}, Region{WINDOW + (P / 2 + P / 16) * PS, (P / 2 - P / 8) * PS}};
  }
};
TYPED_TEST_SUITE(PageScenario, PageCases);

TYPED_TEST(PageScenario, RandomizedModel) {
  const auto regions = this->regions();
  std::vector<scenario::PageRun> live(4096);
  scenario::PageModelParams p;
  p.seed = 0x5eed0001 + TypeParam::PAGES;
  p.max_run = TypeParam::MAX_RUN;
  p.first_fit_every = TypeParam::FIRST_FIT_EVERY;
  const scenario::PageModelStats st = scenario::run_page_model(
      *this->engine, regions.data(), regions.size(), this->state.data(), TypeParam::PAGES, live.data(), live.size(), p, this->chk);
  EXPECT_TRUE(this->chk.ok());
  EXPECT_GE(st.ops, 1'000'000u);
  EXPECT_GT(st.allocs, 300'000u);
  EXPECT_GT(st.refused, 10'000u);
  EXPECT_GT(st.first_fit_checks, 50u);
  std::printf("pages=%zu: %llu calls, %llu allocs, %llu frees, %llu refused, %llu first-fit checks, peak %zu pages\n",
              TypeParam::PAGES, static_cast<unsigned long long>(st.ops), static_cast<unsigned long long>(st.allocs),
              static_cast<unsigned long long>(st.frees), static_cast<unsigned long long>(st.refused),
              static_cast<unsigned long long>(st.first_fit_checks), st.peak_used);
}

TYPED_TEST(PageScenario, Exhaustion) {
  const auto regions = this->regions();
  std::vector<uptr> held(TypeParam::PAGES);
  scenario::run_page_exhaustion(*this->engine, regions.data(), regions.size(), this->state.data(), TypeParam::PAGES,
                                held.data(), held.size(), 8 * this->PS, this->chk);
  EXPECT_TRUE(this->chk.ok());
}

TYPED_TEST(PageScenario, BadInput) {
  scenario::run_page_bad_input(*this->engine, Region{this->WINDOW, TypeParam::PAGES / 2 * this->PS}, TypeParam::PAGES,
                               this->chk);
  EXPECT_TRUE(this->chk.ok());
}

// ---- Unit cases -------------------------------------------------------------

using Small = BitmapPageAllocator<4096, 64>;
constinit Small g_constinit_pages;  // constexpr-constructible: no startup code

TEST(BitmapPage, ConstinitGlobalStartsEmpty) {
  EXPECT_EQ(g_constinit_pages.total_pages(), 0u);
  EXPECT_EQ(g_constinit_pages.alloc_pages(1, 1).error(), AllocError::NoMemory);
  // add_memory on a never-initialised allocator opens the window.
  EXPECT_TRUE(g_constinit_pages.add_memory(reinterpret_cast<void*>(0x10000), 4 * 4096).ok());
  EXPECT_EQ(g_constinit_pages.alloc_pages(4, 1).value(), 0x10000u);
  EXPECT_TRUE(g_constinit_pages.dealloc_pages(0x10000, 4).ok());
}

TEST(BitmapPage, AlignmentFollowsAddressesNotIndices) {
  Small a;
  // Window starts at page 5 of a 64 KiB (16-page) block.
  const uptr base = 0x100000 + 5 * 4096;
  ASSERT_TRUE(a.init(reinterpret_cast<void*>(base), 64 * 4096).ok());
  Result<uptr> r = a.alloc_pages(1, 16 * 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 0x110000u);  // the first 64 KiB boundary above base
  Result<uptr> big = a.alloc_pages(1, uptr{1} << 40);
  EXPECT_EQ(big.error(), AllocError::NoMemory);  // no such boundary in the window
  EXPECT_EQ(a.alloc_pages(1, 1).value(), base);   // first fit
  EXPECT_EQ(a.used_pages(), 2u);
}

TEST(BitmapPage, AddMemoryRegionsJoinIntoOneRun) {
  Small a;
  const uptr base = 0x200000;
  ASSERT_TRUE(a.init(reinterpret_cast<void*>(base + 8 * 4096), 8 * 4096).ok());
  EXPECT_EQ(a.add_memory(reinterpret_cast<void*>(base), 8 * 4096).error(), AllocError::InvalidParam);  // below window
  ASSERT_TRUE(a.add_memory(reinterpret_cast<void*>(base + 16 * 4096), 8 * 4096).ok());                   // adjacent
  EXPECT_EQ(a.total_pages(), 16u);
  Result<uptr> r = a.alloc_pages(16, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), base + 8 * 4096);
  // One allocation across both regions, freed as one.
  EXPECT_EQ(a.dealloc_pages(r.value(), 8).error(), AllocError::NotAllocated);
  EXPECT_TRUE(a.dealloc_pages(r.value(), 16).ok());
  EXPECT_EQ(a.available_pages(), 16u);
}

TEST(BitmapPage, AllocAtThenFirstFitAroundIt) {
  Small a;
  const uptr base = 0x400000;
  ASSERT_TRUE(a.init(reinterpret_cast<void*>(base), 64 * 4096).ok());
  ASSERT_TRUE(a.alloc_pages_at(base + 4 * 4096, 4, 4 * 4096).ok());
  EXPECT_EQ(a.alloc_pages(4, 1).value(), base);              // fits before it
  EXPECT_EQ(a.alloc_pages(1, 1).value(), base + 8 * 4096);   // and after
  EXPECT_EQ(a.alloc_pages_at(base + 7 * 4096, 2, 1).error(), AllocError::NoMemory);
  EXPECT_EQ(a.used_pages(), 9u);
  EXPECT_TRUE(a.dealloc_pages(base + 4 * 4096, 4).ok());
  EXPECT_EQ(a.alloc_pages(5, 1).value(), base + 9 * 4096);   // the 4-page hole is too small
  EXPECT_EQ(a.used_pages(), 10u);
}

TEST(BitmapPage, InitForgetsEverything) {
  Small a;
  ASSERT_TRUE(a.init(reinterpret_cast<void*>(0x800000), 8 * 4096).ok());
  ASSERT_TRUE(a.alloc_pages(3, 1).ok());
  ASSERT_TRUE(a.init(reinterpret_cast<void*>(0x900000), 2 * 4096).ok());
  EXPECT_EQ(a.total_pages(), 2u);
  EXPECT_EQ(a.used_pages(), 0u);
  EXPECT_EQ(a.dealloc_pages(0x800000, 3).error(), AllocError::NotAllocated);
  EXPECT_EQ(a.alloc_pages(2, 1).value(), 0x900000u);
}

TEST(BitmapPage, TinyPagesAndWholeCapacity) {
  // A 64-byte "page" and a capacity that is not a multiple of 64 bits.
  BitmapPageAllocator<64, 100> a;
  alignas(64) static unsigned char arena[100 * 64];
  ASSERT_TRUE(a.init(arena, sizeof arena).ok());
  Result<uptr> all = a.alloc_pages(100, 64);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all.value(), reinterpret_cast<uptr>(arena));
  EXPECT_EQ(a.available_pages(), 0u);
  EXPECT_TRUE(a.dealloc_pages(all.value(), 100).ok());
  EXPECT_EQ(a.add_memory(arena + sizeof arena, 64).error(), AllocError::InvalidParam);  // past capacity
}

}  // namespace
