// BitmapIdAllocator: the id scenarios (randomized model, exhaustion, bad input)
// typed over capacities of 64, 4096 and 2^20 ids, and unit cases.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "strata/engine/bitmap_id.hpp"
#include "gtest_checker.hpp"
#include "scenarios/id_model.hpp"

using namespace strata;

namespace {

template <usize Ids, usize MaxCount, u64 FirstFitEvery>
struct IdCase {
  using Engine = BitmapIdAllocator<Ids>;
  static constexpr usize IDS = Ids;
  static constexpr usize MAX_COUNT = MaxCount;
  static constexpr u64 FIRST_FIT_EVERY = FirstFitEvery;
};

using IdCases = ::testing::Types<IdCase<64, 8, 1>, IdCase<4096, 64, 16>, IdCase<(usize{1} << 20), 1024, 8192>>;

template <class C>
class IdScenario : public ::testing::Test {
 protected:
  std::unique_ptr<typename C::Engine> engine = std::make_unique<typename C::Engine>();
  scenario::Checker chk = test::gtest_checker();
};
TYPED_TEST_SUITE(IdScenario, IdCases);

TYPED_TEST(IdScenario, RandomizedModel) {
  std::vector<u8> taken(TypeParam::IDS);
  std::vector<scenario::IdRun> live(4096);
  scenario::IdModelParams p;
  p.seed = 0x1d5eed + TypeParam::IDS;
  p.max_count = TypeParam::MAX_COUNT;
  p.first_fit_every = TypeParam::FIRST_FIT_EVERY;
  const scenario::IdModelStats st =
      scenario::run_id_model(*this->engine, taken.data(), live.data(), live.size(), p, this->chk);
  EXPECT_TRUE(this->chk.ok());
  EXPECT_GE(st.ops, 1'000'000u);
  EXPECT_GT(st.allocs, 300'000u);
  EXPECT_GT(st.refused, 10'000u);
  EXPECT_GT(st.first_fit_checks, 50u);
  std::printf("ids=%zu: %llu calls, %llu allocs, %llu frees, %llu refused, %llu first-fit checks, peak %zu ids\n",
              TypeParam::IDS, static_cast<unsigned long long>(st.ops), static_cast<unsigned long long>(st.allocs),
              static_cast<unsigned long long>(st.frees), static_cast<unsigned long long>(st.refused),
              static_cast<unsigned long long>(st.first_fit_checks), st.peak_used);
}

TYPED_TEST(IdScenario, Exhaustion) {
  scenario::run_id_exhaustion(*this->engine, 8, this->chk);
  EXPECT_TRUE(this->chk.ok());
}

TYPED_TEST(IdScenario, BadInput) {
  scenario::run_id_bad_input(*this->engine, this->chk);
  EXPECT_TRUE(this->chk.ok());
}

constinit BitmapIdAllocator<256> g_constinit_ids;  // all ids free with no init call

TEST(BitmapId, ConstinitGlobalHasEveryIdFree) {
  EXPECT_EQ(g_constinit_ids.size(), 256u);
  EXPECT_EQ(g_constinit_ids.available(), 256u);
  EXPECT_FALSE(g_constinit_ids.is_allocated(0));
  EXPECT_EQ(g_constinit_ids.alloc_id(3, 1).value(), 0u);
  EXPECT_TRUE(g_constinit_ids.dealloc_id(0, 3).ok());
}

TEST(BitmapId, AlignedRunsSkipFixedIds) {
  BitmapIdAllocator<4096> a;
  ASSERT_TRUE(a.alloc_fixed_id(0).ok());
  ASSERT_TRUE(a.alloc_fixed_id(130).ok());
  EXPECT_EQ(a.alloc_id(64, 64).value(), 64u);    // [0, 64) holds id 0
  EXPECT_EQ(a.alloc_id(64, 64).value(), 192u);   // [128, 192) holds id 130
  EXPECT_EQ(a.alloc_id(1, 1).value(), 1u);       // first fit
  EXPECT_EQ(a.alloc_id(200, 1).value(), 256u);   // a run spanning words
  EXPECT_EQ(a.alloc_id(3, 1).value(), 2u);
  EXPECT_EQ(a.used(), 2u + 64 + 64 + 1 + 200 + 3);
  EXPECT_TRUE(a.is_allocated(255) && !a.is_allocated(456) && a.is_allocated(455));
}

TEST(BitmapId, RunLongerThanAnyGapSkipsFragmentation) {
  BitmapIdAllocator<(usize{1} << 16)> a;
  for (usize i = 0; i < (usize{1} << 15); i += 3) ASSERT_TRUE(a.alloc_fixed_id(i).ok());
  EXPECT_EQ(a.alloc_id(1000, 1).value(), 32767u);  // just past the last fixed id, 32766
  EXPECT_EQ(a.alloc_id(2, 1).value(), 1u);
}

TEST(BitmapId, CapacityNotAMultipleOf64) {
  BitmapIdAllocator<100> a;
  EXPECT_EQ(a.alloc_id(100, 1).value(), 0u);
  EXPECT_EQ(a.alloc_id(1, 1).error(), AllocError::NoMemory);
  EXPECT_TRUE(a.dealloc_id(0, 100).ok());
  EXPECT_EQ(a.alloc_id(37, 32).value(), 0u);
  EXPECT_EQ(a.alloc_id(36, 32).value(), 64u);
  EXPECT_EQ(a.alloc_id(1, 32).error(), AllocError::NoMemory);  // 0, 32, 64 and 96 are all taken
}

}  // namespace
