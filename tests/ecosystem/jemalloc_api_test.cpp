// jemalloc's *allocx API over strata (strata_mallocx ... strata_nallocx, the
// functions mallocx ... nallocx alias under override). Linked against
// libstrata_prefixed.a, so it runs beside the system allocator, sanitizers included.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "strata/strata.h"

namespace {
constexpr int ZERO = STRATA_MALLOCX_ZERO;
constexpr size_t KiB = 1024, MiB = 1024 * 1024;

bool aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }

bool all_zero(const void* p, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i)
    if (static_cast<const unsigned char*>(p)[i] != 0) return false;
  return true;
}

TEST(Mallocx, FlagsEncodeJemallocAlignment) {
  EXPECT_EQ(STRATA_MALLOCX_ALIGN(64), STRATA_MALLOCX_LG_ALIGN(6));
  EXPECT_EQ(STRATA_MALLOCX_ALIGN(4096), 12);
  EXPECT_EQ(ZERO, 0x40);
}

TEST(Mallocx, AlignsEverySizeRange) {
  for (size_t size : {size_t{1}, size_t{100}, 5 * KiB, 40 * KiB, 300 * KiB, 3 * MiB}) {
    for (int lg : {0, 4, 6, 12, 16, 22}) {
      void* p = strata_mallocx(size, STRATA_MALLOCX_LG_ALIGN(lg));
      ASSERT_NE(p, nullptr) << size << " lg " << lg;
      EXPECT_TRUE(aligned(p, size_t{1} << (lg < 4 ? 4 : lg))) << size << " lg " << lg;
      EXPECT_GE(strata_sallocx(p, 0), size);
      std::memset(p, 0xab, size);
      strata_dallocx(p, 0);
    }
  }
}

TEST(Mallocx, ZeroFlagZeroesTheUsableSize) {
  // Dirty some blocks first so that a recycled one would show garbage.
  for (size_t size : {size_t{48}, 2 * KiB, 100 * KiB}) {
    void* d = strata_mallocx(size, 0);
    std::memset(d, 0xff, strata_sallocx(d, 0));
    strata_dallocx(d, 0);
    void* p = strata_mallocx(size, ZERO | STRATA_MALLOCX_ALIGN(32));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(all_zero(p, 0, strata_sallocx(p, 0))) << size;
    strata_sdallocx(p, size, STRATA_MALLOCX_ALIGN(32));  // the flags it was allocated with
  }
}

TEST(Mallocx, TooLargeFailsWithEnomem) {
  errno = 0;
  EXPECT_EQ(strata_mallocx(SIZE_MAX / 2 + 2, 0), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(strata_nallocx(SIZE_MAX / 2 + 2, 0), 0u);
}

TEST(Rallocx, KeepsContentsAlignmentAndZeroesGrowth) {
  auto* p = static_cast<unsigned char*>(strata_mallocx(100, 0));
  for (int i = 0; i < 100; ++i) p[i] = static_cast<unsigned char>(i);
  const size_t old = strata_sallocx(p, 0);
  auto* q = static_cast<unsigned char*>(strata_rallocx(p, 200 * KiB, ZERO | STRATA_MALLOCX_ALIGN(256)));
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(aligned(q, 256));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(q[i], i);
  EXPECT_TRUE(all_zero(q, old, strata_sallocx(q, 0)));
  // Shrinking keeps the prefix; a null pointer is mallocx.
  q = static_cast<unsigned char*>(strata_rallocx(q, 50, 0));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(q[i], i);
  strata_dallocx(q, 0);
  void* n = strata_rallocx(nullptr, 64, STRATA_MALLOCX_ALIGN(64));
  ASSERT_NE(n, nullptr);
  EXPECT_TRUE(aligned(n, 64));
  strata_dallocx(n, 0);
}

TEST(Rallocx, FailureLeavesTheBlock) {
  void* p = strata_mallocx(1000, 0);
  std::memset(p, 7, 1000);
  EXPECT_EQ(strata_rallocx(p, SIZE_MAX / 2 + 2, 0), nullptr);
  EXPECT_EQ(static_cast<unsigned char*>(p)[999], 7);
  strata_dallocx(p, 0);
}

TEST(Xallocx, SmallBlocksStayPut) {
  void* p = strata_mallocx(100, 0);
  const size_t usable = strata_sallocx(p, 0);
  EXPECT_EQ(strata_xallocx(p, 5000, 0, 0), usable);
  EXPECT_EQ(strata_xallocx(p, 10, 0, 0), usable);
  strata_dallocx(p, 0);
}

TEST(Xallocx, HugeBlocksGrowAndShrinkInPlace) {
  auto* p = static_cast<unsigned char*>(strata_mallocx(5 * MiB, 0));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 5 * MiB);
  // The block sits in a run of whole 4 MiB segments: 6 MiB fits that run.
  const size_t grown = strata_xallocx(p, 6 * MiB, 0, ZERO);
  EXPECT_GE(grown, 6 * MiB);
  EXPECT_EQ(p[5 * MiB - 1], 1);
  EXPECT_TRUE(all_zero(p, 5 * MiB, grown));
  // extra is best effort: far too much extra still gives at least size.
  EXPECT_GE(strata_xallocx(p, 6 * MiB, 1024 * MiB, 0), 6 * MiB);
  EXPECT_LT(strata_xallocx(p, 2 * MiB, 0, 0), 3 * MiB);
  EXPECT_EQ(p[0], 1);
  strata_dallocx(p, 0);
}

TEST(Xallocx, MediumBlocksGrowWhenTheNeighbourIsFree) {
  void* p = strata_mallocx(100 * KiB, 0);
  const size_t old = strata_sallocx(p, 0);
  const size_t r = strata_xallocx(p, 200 * KiB, 0, 0);
  EXPECT_TRUE(r == old || r >= 200 * KiB) << r;
  EXPECT_EQ(r, strata_sallocx(p, 0));
  strata_dallocx(p, 0);
}

TEST(Nallocx, MatchesSallocxForSmallAndHugeAndBoundsMedium) {
  for (size_t size = 0; size <= 40 * KiB; size += size < 512 ? 1 : 97) {
    void* p = strata_mallocx(size, 0);
    const size_t n = strata_nallocx(size, 0), s = strata_sallocx(p, 0);
    if (size <= 32 * KiB) {
      ASSERT_EQ(n, s) << size;
    } else {
      ASSERT_GE(n, size);
      ASSERT_LE(n, s) << size;
    }
    strata_dallocx(p, 0);
  }
  for (size_t size : {2 * MiB, 2 * MiB + 1, 9 * MiB + 12345}) {
    void* p = strata_mallocx(size, 0);
    EXPECT_EQ(strata_nallocx(size, 0), strata_sallocx(p, 0)) << size;
    strata_dallocx(p, 0);
  }
  void* a = strata_mallocx(100, STRATA_MALLOCX_ALIGN(128));
  EXPECT_EQ(strata_nallocx(100, STRATA_MALLOCX_ALIGN(128)), strata_sallocx(a, 0));
  strata_dallocx(a, 0);
}
}  // namespace
