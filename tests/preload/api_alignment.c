/* api_alignment: every alignment a program can ask for is honoured.
 *
 *  - malloc, calloc and realloc results are 16-byte aligned for every size
 *    1..4096 (glibc's guarantee; compilers emit movaps on them), with all
 *    blocks live at once so each comes from a different slot.
 *  - posix_memalign, aligned_alloc and memalign honour every power-of-two
 *    alignment from 1 byte to 4 MiB, for sizes below, at and above the
 *    alignment; the whole usable size is writable; the blocks free cleanly
 *    and the memory is reused.
 *  - a few larger alignments: 16 MiB, 64 MiB and 256 MiB.
 *  - valloc and pvalloc return page-aligned blocks; pvalloc rounds the size
 *    up to whole pages.
 */
#include "preload_check.h"

static void check_malloc_min_alignment(void) {
  enum { MAXN = 4096 };
  static void* blocks[MAXN + 1];
  for (size_t n = 1; n <= MAXN; ++n) {
    blocks[n] = malloc(n);
    ST_CHECKF(blocks[n] != NULL, "malloc(%zu)", n);
    ST_CHECKF(st_is_aligned(blocks[n], 16), "malloc(%zu) = %p is not 16-byte aligned", n, blocks[n]);
    ST_CHECKF(malloc_usable_size(blocks[n]) >= n, "malloc(%zu): usable %zu", n, malloc_usable_size(blocks[n]));
    memset(blocks[n], (int)n, n);
  }
  for (size_t n = 1; n <= MAXN; ++n) {
    /* realloc to the mirrored size: the result keeps the 16-byte guarantee */
    const size_t m = MAXN + 1 - n;
    void* q = realloc(blocks[n], m);
    ST_CHECKF(q != NULL && st_is_aligned(q, 16), "realloc(%zu -> %zu) = %p", n, m, q);
    blocks[n] = q;
  }
  for (size_t n = 1; n <= MAXN; ++n) free(blocks[n]);
  for (size_t n = 1; n <= MAXN; ++n) {
    blocks[n] = calloc(1, n);
    ST_CHECKF(blocks[n] != NULL && st_is_aligned(blocks[n], 16), "calloc(1, %zu) = %p", n, blocks[n]);
  }
  for (size_t n = 1; n <= MAXN; ++n) free(blocks[n]);
}

/* One aligned block: aligned, usable >= n, whole usable size writable. */
static void use_aligned(const char* who, void* p, size_t align, size_t n) {
  ST_CHECKF(p != NULL, "%s(align %zu, size %zu) failed (errno %d)", who, align, n, errno);
  ST_CHECKF(st_is_aligned(p, align < 16 ? 16 : align), "%s(align %zu, size %zu) = %p is misaligned", who, align, n,
            p);
  const size_t us = malloc_usable_size(p);
  ST_CHECKF(us >= n, "%s(align %zu, size %zu): usable %zu", who, align, n, us);
  /* Touch everything for ordinary sizes; first and last pages for big ones. */
  if (us <= (1u << 20)) {
    memset(p, 0xa7, us);
  } else {
    memset(p, 0xa7, 4096);
    memset((char*)p + us - 4096, 0xa7, 4096);
  }
  st_fill(p, n < 256 ? n : 256, align ^ n);
}

static void check_aligned_family(size_t align, size_t n) {
  void* pm = NULL;
  int r = posix_memalign(&pm, align, n);
  if (align < sizeof(void*)) {
    ST_CHECKF(r == EINVAL, "posix_memalign(%zu) returned %d", align, r);
    pm = NULL;
  } else {
    ST_CHECKF(r == 0, "posix_memalign(align %zu, size %zu) returned %d", align, n, r);
    use_aligned("posix_memalign", pm, align, n);
  }
  void* aa = aligned_alloc(align, n);
  use_aligned("aligned_alloc", aa, align, n);
  void* ma = memalign(align, n);
  use_aligned("memalign", ma, align, n);
  const size_t k = n < 256 ? n : 256;
  if (pm != NULL) ST_CHECK(st_verify(pm, k, align ^ n) == (size_t)-1);
  ST_CHECK(st_verify(aa, k, align ^ n) == (size_t)-1);
  ST_CHECK(st_verify(ma, k, align ^ n) == (size_t)-1);
  free(pm);
  free(aa);
  free(ma);
}

static void check_all_alignments(void) {
  for (size_t align = 1; align <= ((size_t)4 << 20); align <<= 1) {
    const size_t sizes[] = {1, 16, align / 2 + 1, align, align + 1, 3 * align + 7, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) check_aligned_family(align, sizes[s]);
    /* Many live blocks of the same alignment: distinct, all aligned. */
    enum { LIVE = 24 };
    void* live[LIVE];
    for (int i = 0; i < LIVE; ++i) {
      live[i] = aligned_alloc(align, 48);
      use_aligned("aligned_alloc(live)", live[i], align, 48);
      for (int j = 0; j < i; ++j) ST_CHECK(live[j] != live[i]);
    }
    for (int i = 0; i < LIVE; ++i) free(live[i]);
  }
}

/* Alignments far beyond a segment: freeable, and reusable after the free. */
static void check_big_alignments(void) {
  const size_t aligns[] = {(size_t)16 << 20, (size_t)64 << 20, (size_t)256 << 20};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; ++i) {
    for (int round = 0; round < 3; ++round) {
      check_aligned_family(aligns[i], 100);
      check_aligned_family(aligns[i], (size_t)5 << 20);
    }
  }
}

static void check_valloc_pvalloc(void) {
  const size_t page = st_page_size();
  const size_t sizes[] = {0, 1, 100, page - 1, page, page + 1, 3 * page, 100000, (size_t)5 << 20};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    const size_t n = sizes[s];
    void* v = valloc(n);
    use_aligned("valloc", v, page, n);
    void* pv = pvalloc(n);
    const size_t rounded = (n + page - 1) / page * page;
    use_aligned("pvalloc", pv, page, rounded);
    ST_CHECKF(malloc_usable_size(pv) >= rounded, "pvalloc(%zu): usable %zu < %zu", n, malloc_usable_size(pv), rounded);
    free(v);
    free(pv);
  }
}

int main(void) {
  st_require_strata();
  check_malloc_min_alignment();
  check_all_alignments();
  check_big_alignments();
  check_valloc_pvalloc();
  printf("api_alignment: OK\n");
  return 0;
}
