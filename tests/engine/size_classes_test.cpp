// Size-class tables: every size and alignment against a brute-force search
// (like Scudo's validateMap), the division-free block-start test against %,
// and the table properties the Heap relies on.
#include <gtest/gtest.h>

#include "strata/engine/size_classes.hpp"

using namespace strata;

namespace {

template <class M>
class SizeClassesTest : public ::testing::Test {};
using Maps = ::testing::Types<SeedClasses, MallocClasses>;
TYPED_TEST_SUITE(SizeClassesTest, Maps);

/// The smallest class with size >= size and align >= align, by linear search.
template <class M>
u32 brute_force(usize size, usize align) {
  for (u32 c = 0; c < M::NUM_CLASSES; ++c)
    if (M::size(c) >= size && M::get(c).align >= align) return c;
  return M::NO_CLASS;
}

TYPED_TEST(SizeClassesTest, EverySizeMapsToTheSmallestFittingClass) {
  using M = TypeParam;
  for (usize s = 0; s <= M::MAX_SIZE + 64; ++s) {
    const u32 want = brute_force<M>(s == 0 ? 1 : s, 1);
    ASSERT_EQ(M::class_for_size(s), want) << "size " << s;
    ASSERT_EQ(M::class_for(s, 1), want) << "size " << s;
  }
  EXPECT_EQ(M::class_for_size(usize{1} << 40), M::NO_CLASS);
  EXPECT_EQ(M::class_for_size(USIZE_MAX), M::NO_CLASS);
}

TYPED_TEST(SizeClassesTest, EveryAlignmentPicksTheFirstClassThatHonoursIt) {
  using M = TypeParam;
  for (usize align = 1; align <= (usize{1} << 17); align *= 2)
    for (usize s = 1; s <= M::MAX_SIZE + 64; s += (align <= 64 ? 1 : 7)) {
      const u32 c = M::class_for(s, align);
      ASSERT_EQ(c, brute_force<M>(s, align)) << "size " << s << " align " << align;
      if (c != M::NO_CLASS) {
        // Every block of the class is that aligned: span base (aligned to the
        // span size) plus a multiple of the class size.
        ASSERT_EQ(M::get(c).span_bytes % align, 0u);
        ASSERT_EQ(M::size(c) % align, 0u);
      }
    }
}

TYPED_TEST(SizeClassesTest, BlockOffsetTestMatchesDivision) {
  using M = TypeParam;
  for (u32 c = 0; c < M::NUM_CLASSES; ++c) {
    const SizeClass& sc = M::get(c);
    for (usize off = 0; off < sc.span_bytes + 64; ++off) {
      const bool want = off % sc.size == 0 && off / sc.size < sc.blocks;
      ASSERT_EQ(M::is_block_offset(c, off), want) << "class " << c << " offset " << off;
    }
  }
}

TYPED_TEST(SizeClassesTest, SpansAndAlignments) {
  using M = TypeParam;
  for (u32 c = 0; c < M::NUM_CLASSES; ++c) {
    const SizeClass& sc = M::get(c);
    EXPECT_EQ(sc.size % 16, 0u);
    EXPECT_TRUE(is_pow2(sc.span_bytes));
    EXPECT_GE(sc.span_bytes, usize{1} << M::MIN_SPAN_LOG2);
    EXPECT_LE(sc.span_bytes, usize{1} << M::MAX_SPAN_LOG2);
    EXPECT_EQ(sc.blocks, sc.span_bytes / sc.size);
    // Natural alignment: the largest power of two dividing the size.
    EXPECT_EQ(sc.size % sc.align, 0u);
    EXPECT_NE((sc.size / sc.align) % 2, 0u);
    // At least 64 blocks unless the span is at its cap; tail waste <= 1/8 but
    // for the one class no power-of-two span up to the cap improves (24 KiB).
    if (sc.span_bytes < (usize{1} << M::MAX_SPAN_LOG2)) {
      EXPECT_GE(sc.blocks, 64u) << sc.size;
    }
    if (sc.size != 24576) {
      EXPECT_LE((sc.span_bytes % sc.size) * 8, sc.span_bytes) << sc.size;
    }
  }
}

TEST(SizeClasses, SeedTableIsPowersOfTwoWithSixtyFourBlocksPerSpan) {
  ASSERT_EQ(SeedClasses::NUM_CLASSES, 7u);
  for (u32 c = 0; c < 7; ++c) {
    EXPECT_EQ(SeedClasses::size(c), usize{64} << c);
    EXPECT_EQ(SeedClasses::get(c).blocks, 64u);
    EXPECT_EQ(SeedClasses::get(c).align, usize{64} << c);
  }
}

TEST(SizeClasses, MallocTableSpacing) {
  using M = MallocClasses;
  ASSERT_EQ(M::NUM_CLASSES, 40u);
  for (u32 c = 0; c < 8; ++c) EXPECT_EQ(M::size(c), 16u * (c + 1));
  EXPECT_EQ(M::size(M::NUM_CLASSES - 1), 32768u);
  for (u32 c = 8; c < M::NUM_CLASSES; ++c) EXPECT_LE((M::size(c) - M::size(c - 1)) * 4, M::size(c - 1)) << c;
  EXPECT_EQ(M::get(M::class_for_size(24576)).span_bytes, 65536u);
}

}  // namespace
