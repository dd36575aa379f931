/* api_errors: how every entry point fails, and that failures harm nothing.
 *
 *  - errno = ENOMEM and NULL for every impossible request: malloc(SIZE_MAX),
 *    sizes just above PTRDIFF_MAX, calloc and reallocarray whose n*size
 *    overflows (or exceeds PTRDIFF_MAX), realloc to a huge size, valloc,
 *    pvalloc (whose page round-up itself overflows), memalign, aligned_alloc,
 *    and the __libc_* names.
 *  - realloc / reallocarray that fail leave the old block valid, with its
 *    contents and usable size unchanged, and freeable afterwards.
 *  - posix_memalign: EINVAL for an alignment that is not a power of two or
 *    is smaller than sizeof(void*), ENOMEM for a huge size, and *memptr left
 *    untouched in both cases; errno is not required.
 *  - aligned_alloc with a non-power-of-two alignment: NULL, errno EINVAL
 *    (strata's contract; glibc 2.36 rounds up, so checked on strata only).
 *  - memalign with a non-power-of-two alignment rounds it up (glibc 2.36).
 *  - free() and free_sized() preserve errno for small, medium and huge blocks,
 *    also when a free triggers a purge (the test runs with
 *    STRATA_CONF=purge_delay_ms:0, see CMakeLists.txt) and for free(NULL).
 */
#include <stdint.h>

#include "preload_check.h"

#define HUGE_SIZES \
  { SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 4096 }

#define EXPECT_NOMEM(expr)                                                         \
  do {                                                                             \
    errno = 0;                                                                     \
    void* r_ = (void*)(expr);                                                      \
    const int e_ = errno;                                                          \
    ST_CHECKF(r_ == NULL, "%s succeeded (%p)", #expr, r_);                         \
    ST_CHECKF(e_ == ENOMEM, "%s: errno %d (%s), want ENOMEM", #expr, e_, strerror(e_)); \
  } while (0)

static void check_enomem(void) {
  void* (*libc_malloc)(size_t) = (void* (*)(size_t))st_sym("__libc_malloc");
  void* (*libc_calloc)(size_t, size_t) = (void* (*)(size_t, size_t))st_sym("__libc_calloc");
  void* (*libc_realloc)(void*, size_t) = (void* (*)(void*, size_t))st_sym("__libc_realloc");
  void* (*libc_memalign)(size_t, size_t) = (void* (*)(size_t, size_t))st_sym("__libc_memalign");
  void* (*libc_valloc)(size_t) = (void* (*)(size_t))st_sym("__libc_valloc");
  void* (*libc_pvalloc)(size_t) = (void* (*)(size_t))st_sym("__libc_pvalloc");
  const size_t huge[] = HUGE_SIZES;
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; ++i) {
    const size_t n = huge[i];
    EXPECT_NOMEM(malloc(n));
    EXPECT_NOMEM(libc_malloc(n));
    EXPECT_NOMEM(calloc(n, 1));
    EXPECT_NOMEM(calloc(1, n));
    EXPECT_NOMEM(libc_calloc(1, n));
    EXPECT_NOMEM(realloc(NULL, n));
    EXPECT_NOMEM(libc_realloc(NULL, n));
    EXPECT_NOMEM(reallocarray(NULL, n, 1));
    EXPECT_NOMEM(valloc(n));
    EXPECT_NOMEM(libc_valloc(n));
    EXPECT_NOMEM(pvalloc(n));
    EXPECT_NOMEM(libc_pvalloc(n));
    EXPECT_NOMEM(memalign(64, n));
    EXPECT_NOMEM(memalign(1u << 20, n));
    EXPECT_NOMEM(libc_memalign(4096, n));
    EXPECT_NOMEM(aligned_alloc(64, n));
    EXPECT_NOMEM(aligned_alloc(4096, n));
  }
  /* Products that overflow size_t, or land above PTRDIFF_MAX. */
  const size_t pairs[][2] = {{SIZE_MAX / 2 + 1, 2}, {(size_t)1 << 32, (size_t)1 << 32}, {SIZE_MAX, SIZE_MAX},
                             {(size_t)PTRDIFF_MAX / 2 + 1, 2}, {3, SIZE_MAX / 3 + 1}, {65536, (size_t)1 << 48}};
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; ++i) {
    EXPECT_NOMEM(calloc(pairs[i][0], pairs[i][1]));
    EXPECT_NOMEM(calloc(pairs[i][1], pairs[i][0]));
    EXPECT_NOMEM(libc_calloc(pairs[i][0], pairs[i][1]));
    EXPECT_NOMEM(reallocarray(NULL, pairs[i][0], pairs[i][1]));
  }
}

/* A failed realloc leaves the block exactly as it was. */
static void check_failed_realloc_keeps_block(void) {
  const size_t sizes[] = {10, 200, 5000, 70000, 900000, 6u << 20};
  const size_t huge[] = HUGE_SIZES;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    const size_t n = sizes[s];
    void* p = malloc(n);
    ST_CHECK(p != NULL);
    st_fill(p, n, 7 * n);
    const size_t us = malloc_usable_size(p);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; ++i) {
      EXPECT_NOMEM(realloc(p, huge[i]));
      EXPECT_NOMEM(reallocarray(p, huge[i], 1));
      EXPECT_NOMEM(reallocarray(p, 2, huge[i] / 2 + 1));
      ST_CHECKF(malloc_usable_size(p) == us, "usable size of %zu-byte block changed after a failed realloc", n);
      ST_CHECKF(st_verify(p, n, 7 * n) == (size_t)-1, "%zu-byte block changed after a failed realloc", n);
    }
    /* Still a live block: it grows and frees normally. */
    p = realloc(p, n + 1000);
    ST_CHECK(p != NULL && st_verify(p, n, 7 * n) == (size_t)-1);
    free(p);
  }
}

static void check_posix_memalign(void) {
  int (*pm2)(void**, size_t, size_t) = (int (*)(void**, size_t, size_t))st_sym_or("__posix_memalign", "posix_memalign");
  int (*pms[2])(void**, size_t, size_t) = {posix_memalign, pm2};
  const size_t bad_align[] = {0, 1, 2, 4, sizeof(void*) / 2, 3, 12, 24, 48, 96, 4095, 4097, 65537,
                              (size_t)1 << 63 | 8, SIZE_MAX};
  for (int f = 0; f < 2; ++f) {
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; ++i) {
      void* sentinel = (void*)&sentinel;
      void* out = sentinel;
      const int r = pms[f](&out, bad_align[i], 64);
      ST_CHECKF(r == EINVAL, "posix_memalign(align %zu) returned %d, want EINVAL", bad_align[i], r);
      ST_CHECKF(out == sentinel, "posix_memalign(align %zu) wrote *memptr on EINVAL", bad_align[i]);
    }
    const size_t huge[] = HUGE_SIZES;
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; ++i) {
      const size_t aligns[] = {sizeof(void*), 64, 4096, 1u << 22};
      for (size_t a = 0; a < 4; ++a) {
        void* sentinel = (void*)&sentinel;
        void* out = sentinel;
        const int r = pms[f](&out, aligns[a], huge[i]);
        ST_CHECKF(r == ENOMEM, "posix_memalign(%zu, %zu) returned %d, want ENOMEM", aligns[a], huge[i], r);
        ST_CHECKF(out == sentinel, "posix_memalign(%zu, %zu) wrote *memptr on ENOMEM", aligns[a], huge[i]);
      }
    }
    /* The smallest valid alignment works. */
    void* out = NULL;
    ST_CHECK(pms[f](&out, sizeof(void*), 1) == 0 && out != NULL);
    free(out);
  }
}

static void check_bad_alignments(void) {
  /* aligned_alloc: a non-power-of-two alignment fails with EINVAL (strata's contract). */
  if (st_on_strata()) {
    const size_t bad[] = {3, 12, 24, 48, 100, 4095, 12288, (size_t)3 << 30};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
      errno = 0;
      void* p = aligned_alloc(bad[i], 256);
      const int e = errno;
      ST_CHECKF(p == NULL, "aligned_alloc(%zu, 256) = %p, want NULL", bad[i], p);
      ST_CHECKF(e == EINVAL, "aligned_alloc(%zu, 256): errno %d, want EINVAL", bad[i], e);
    }
  }
  /* memalign: rounds a non-power-of-two alignment up to the next power of two. */
  void* (*libc_memalign)(size_t, size_t) = (void* (*)(size_t, size_t))st_sym("__libc_memalign");
  for (size_t a = 3; a <= 70000; a = a * 3 / 2 + 1) {
    size_t up = 1;
    while (up < a) up <<= 1;
    if (up == a) continue;
    for (int f = 0; f < 2; ++f) {
      void* p = f ? libc_memalign(a, 100) : memalign(a, 100);
      ST_CHECKF(p != NULL, "memalign(%zu, 100) failed", a);
      ST_CHECKF(st_is_aligned(p, up), "memalign(%zu, 100) = %p, not aligned to %zu", a, p, up);
      memset(p, 1, 100);
      free(p);
    }
  }
  /* An alignment too large for any address space: EINVAL (glibc: > SIZE_MAX/2+1). */
  errno = 0;
  ST_CHECK(memalign(SIZE_MAX / 2 + 2, 1) == NULL && errno == EINVAL);
}

/* free keeps errno, for every kind of block and through purges. */
static void check_free_preserves_errno(void) {
  static const int values[] = {0, ENOMEM, EINVAL, EDOM, 12345};
  const size_t sizes[] = {1, 48, 4000, 32768, 40000, 500000, 1u << 20, (1u << 20) + 1, 5u << 20, 40u << 20};
  enum { BATCH = 512 };
  static void* blocks[BATCH];
  unsigned v = 0;
  for (int round = 0; round < 8; ++round) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
      const size_t n = sizes[s];
      const size_t count = n >= (1u << 20) ? 4 : BATCH; /* many small frees: overflows, flushes, purges */
      for (size_t i = 0; i < count; ++i) {
        blocks[i] = malloc(n);
        ST_CHECK(blocks[i] != NULL);
        memset(blocks[i], 0xee, n < 8192 ? n : 8192);
      }
      for (size_t i = 0; i < count; ++i) {
        const int want = values[v++ % 5];
        errno = want;
        free(blocks[i]);
        ST_CHECKF(errno == want, "free of a %zu-byte block changed errno %d -> %d", n, want, errno);
      }
    }
    errno = EDOM;
    free(NULL);
    ST_CHECK(errno == EDOM);
    errno = EDOM;
    ST_CHECK(malloc_trim(0) >= 0);
    usleep(2000); /* let the purge clock (purge_delay_ms:0) move on */
  }
  if (st_on_strata()) {
    void (*fs)(void*, size_t) = (void (*)(void*, size_t))st_sym("free_sized");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
      void* p = malloc(sizes[s]);
      ST_CHECK(p != NULL);
      errno = EINVAL;
      fs(p, sizes[s]);
      ST_CHECKF(errno == EINVAL, "free_sized of a %zu-byte block changed errno", sizes[s]);
    }
  }
}

int main(void) {
  st_require_strata();
  check_enomem();
  check_failed_realloc_keeps_block();
  check_posix_memalign();
  check_bad_alignments();
  check_free_preserves_errno();
  printf("api_errors: OK\n");
  return 0;
}
