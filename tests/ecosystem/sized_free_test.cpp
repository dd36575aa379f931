// Sized and aligned frees over strata's prefixed API (libstrata_prefixed.a):
// every claim a correct program can make passes (the size asked for, any
// size up to the usable one, the size after realloc/rallocx/xallocx, the
// alignment asked for), on small, medium and huge blocks; a claim the block
// contradicts dies with a line naming the mismatch (default options:
// sized_dealloc_check on).
#include <gtest/gtest.h>

#include <cstddef>

#include "strata/strata.h"

namespace {
constexpr size_t KiB = 1024, MiB = 1024 * 1024;
// Small (several classes), medium and huge sizes, and class edges.
constexpr size_t SIZES[] = {0, 1, 15, 16, 17, 48, 100, 128, 129, 1000, 4096, 20000, 32 * KiB,
                            32 * KiB + 1, 100 * KiB, 256 * KiB, MiB, MiB + 1, 5 * MiB};

TEST(SizedFree, TheRequestedSizePasses) {
  for (size_t n : SIZES) {
    strata_free_sized(strata_malloc(n), n);
    strata_sdallocx(strata_mallocx(n, 0), n, 0);
  }
}

TEST(SizedFree, AnySizeUpToTheUsableOnePasses) {
  for (size_t n : SIZES) {
    void* p = strata_malloc(n);
    const size_t usable = strata_malloc_usable_size(p);
    strata_sdallocx(p, usable, 0);
    void* q = strata_malloc(n);
    strata_free_sized(q, n + (usable - n) / 2);
  }
}

TEST(SizedFree, TheSizeAfterReallocPasses) {
  for (size_t from : SIZES) {
    for (size_t to : SIZES) {
      if (to == 0) continue;  // realloc(p, 0) frees
      void* p = strata_malloc(from);
      void* q = strata_realloc(p, to);
      ASSERT_NE(q, nullptr);
      strata_free_sized(q, to);
    }
  }
}

TEST(SizedFree, AlignedClaimsPass) {
  for (size_t align : {size_t{32}, size_t{64}, size_t{256}, size_t{4096}, size_t{64 * KiB}, size_t{4 * MiB}}) {
    for (size_t n : SIZES) {
      void* p = strata_aligned_alloc(align, n);
      ASSERT_NE(p, nullptr);
      strata_free_aligned_sized(p, align, n);
      void* q = strata_mallocx(n, STRATA_MALLOCX_ALIGN(align));
      ASSERT_NE(q, nullptr);
      void* r = strata_rallocx(q, n / 2 + 1, STRATA_MALLOCX_ALIGN(align));
      ASSERT_NE(r, nullptr);
      strata_sdallocx(r, n / 2 + 1, STRATA_MALLOCX_ALIGN(align));
    }
  }
}

TEST(SizedFree, TheSizeAfterXallocxPasses) {
  for (size_t n : {size_t{100 * KiB}, size_t{2 * MiB}}) {
    void* p = strata_malloc(n);
    void* hole = strata_malloc(n);  // freed next: room after p, sometimes
    strata_free(hole);
    const size_t got = strata_xallocx(p, 2 * n, 0, 0);
    strata_sdallocx(p, got, 0);
  }
}

using SizedFreeDeath = ::testing::Test;

TEST(SizedFreeDeath, AWrongSizeDiesNamingIt) {
  EXPECT_DEATH(strata_free_sized(strata_malloc(100), 1000), "free_sized\\(\\): size mismatch \\(freed with size 1000");
  EXPECT_DEATH(strata_free_sized(strata_malloc(100), 40), "size mismatch \\(freed with size 40, block's size 112\\)");
  EXPECT_DEATH(strata_sdallocx(strata_malloc(256 * KiB), 128 * KiB, 0), "sdallocx\\(\\): size mismatch");
  EXPECT_DEATH(strata_free_sized(strata_malloc(8 * MiB), 4 * MiB), "size mismatch");
  EXPECT_DEATH(strata_free_sized(strata_malloc(64), 0), "size mismatch");
}

TEST(SizedFreeDeath, AWrongAlignmentDiesNamingIt) {
  EXPECT_DEATH(strata_free_aligned_sized(strata_malloc(48), 4096, 48), "alignment mismatch");
  EXPECT_DEATH(strata_free_aligned_sized(strata_aligned_alloc(64, 64), 128, 64),
               "alignment mismatch \\(freed with alignment 128, block's alignment 64\\)");
  EXPECT_DEATH(strata_free_aligned_sized(strata_malloc(48), 24, 48), "not a power of two");
}

}  // namespace
