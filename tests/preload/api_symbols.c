/* api_symbols: every C entry point of libstrata.so is the one the process
 * uses, and each one works.
 *
 * For malloc free cfree calloc realloc reallocarray posix_memalign
 * aligned_alloc memalign valloc pvalloc malloc_usable_size malloc_trim
 * mallinfo mallinfo2 malloc_stats mallopt malloc_info free_sized
 * free_aligned_sized and glibc's internal names __libc_malloc __libc_free
 * __libc_calloc __libc_realloc __libc_memalign __libc_valloc __libc_pvalloc
 * __posix_memalign: the name resolves (dlsym(RTLD_DEFAULT)) into libstrata.so,
 * a call through it returns a usable block of the right size and alignment,
 * and blocks cross freely between the families (a __libc_malloc block freed
 * by free, a malloc block freed by cfree/__libc_free/free_sized ...).
 * Introspection: mallinfo/mallinfo2 report non-zero arena and uordblks that
 * grow with live memory, mallopt returns 1 for glibc's parameters,
 * malloc_stats prints strata's report on stderr, malloc_info writes XML,
 * malloc_trim returns 1 after a large free.
 */
#include "preload_check.h"

typedef void* (*malloc_fn)(size_t);
typedef void (*free_fn)(void*);
typedef void* (*calloc_fn)(size_t, size_t);
typedef void* (*realloc_fn)(void*, size_t);
typedef void* (*reallocarray_fn)(void*, size_t, size_t);
typedef int (*posix_memalign_fn)(void**, size_t, size_t);
typedef void* (*memalign_fn)(size_t, size_t);
typedef size_t (*usable_fn)(void*);
typedef void (*free_sized_fn)(void*, size_t);
typedef void (*free_aligned_sized_fn)(void*, size_t, size_t);

static const char* const ENTRY_POINTS[] = {
    "malloc", "free", "cfree", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
    "memalign", "valloc", "pvalloc", "malloc_usable_size", "malloc_trim", "mallinfo", "mallinfo2",
    "malloc_stats", "mallopt", "malloc_info", "free_sized", "free_aligned_sized", "__libc_malloc",
    "__libc_free", "__libc_calloc", "__libc_realloc", "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
    "__posix_memalign",
};

/* A fresh block of n bytes: aligned, usable >= n, fully writable, pattern kept. */
static void check_block(const char* who, void* p, size_t n, size_t align) {
  ST_CHECKF(p != NULL, "%s(%zu) returned NULL", who, n);
  if (align < 16) align = 16;
  ST_CHECKF(st_is_aligned(p, align), "%s(%zu) = %p not aligned to %zu", who, n, p, align);
  const size_t us = malloc_usable_size(p);
  ST_CHECKF(us >= n, "%s(%zu): usable size %zu", who, n, us);
  memset(p, 0x5a, us);
  st_fill(p, n, n);
  ST_CHECKF(st_verify(p, n, n) == (size_t)-1, "%s(%zu): pattern lost", who, n);
}

static void check_allocators(void) {
  const size_t page = st_page_size();
  const size_t sizes[] = {1, 24, 1000, 40000, 300000, 3u << 20};
  free_fn frees[] = {(free_fn)st_sym("free"), (free_fn)st_sym_or("cfree", "free"),
                     (free_fn)st_sym("__libc_free")};
  malloc_fn mallocs[] = {(malloc_fn)st_sym("malloc"), (malloc_fn)st_sym("__libc_malloc")};
  calloc_fn callocs[] = {(calloc_fn)st_sym("calloc"), (calloc_fn)st_sym("__libc_calloc")};
  realloc_fn reallocs[] = {(realloc_fn)st_sym("realloc"), (realloc_fn)st_sym("__libc_realloc")};
  memalign_fn memaligns[] = {(memalign_fn)st_sym("memalign"), (memalign_fn)st_sym("__libc_memalign"),
                             (memalign_fn)st_sym("aligned_alloc")};
  malloc_fn vallocs[] = {(malloc_fn)st_sym("valloc"), (malloc_fn)st_sym("__libc_valloc")};
  malloc_fn pvallocs[] = {(malloc_fn)st_sym("pvalloc"), (malloc_fn)st_sym("__libc_pvalloc")};
  posix_memalign_fn pms[] = {(posix_memalign_fn)st_sym("posix_memalign"),
                             (posix_memalign_fn)st_sym_or("__posix_memalign", "posix_memalign")};
  reallocarray_fn reallocarray_p = (reallocarray_fn)st_sym("reallocarray");
  unsigned k = 0; /* rotates the free function over every block */
#define NEXT_FREE(p) frees[(k++) % 3](p)

  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    const size_t n = sizes[s];
    for (int i = 0; i < 2; ++i) {
      void* p = mallocs[i](n);
      check_block(i ? "__libc_malloc" : "malloc", p, n, 16);
      NEXT_FREE(p);

      unsigned char* c = (unsigned char*)callocs[i](n, 1);
      ST_CHECK(c != NULL);
      ST_CHECKF(st_all_zero(c, n), "calloc(%zu) not zeroed", n);
      check_block(i ? "__libc_calloc" : "calloc", c, n, 16);
      NEXT_FREE(c);

      void* r = reallocs[i](NULL, n); /* realloc(NULL, n) is malloc */
      check_block("realloc(NULL)", r, n, 16);
      r = reallocs[i](r, 2 * n + 5);
      ST_CHECK(r != NULL && st_verify(r, n, n) == (size_t)-1);
      check_block(i ? "__libc_realloc" : "realloc", r, 2 * n + 5, 16);
      NEXT_FREE(r);

      void* v = vallocs[i](n);
      check_block(i ? "__libc_valloc" : "valloc", v, n, page);
      NEXT_FREE(v);

      void* pv = pvallocs[i](n);
      check_block(i ? "__libc_pvalloc" : "pvalloc", pv, (n + page - 1) / page * page, page);
      NEXT_FREE(pv);

      void* pm = (void*)&pm;
      ST_CHECK(pms[i](&pm, 256, n) == 0);
      check_block(i ? "__posix_memalign" : "posix_memalign", pm, n, 256);
      NEXT_FREE(pm);
    }
    for (int i = 0; i < 3; ++i) {
      void* m = memaligns[i](4096, n);
      check_block(i == 0 ? "memalign" : i == 1 ? "__libc_memalign" : "aligned_alloc", m, n, 4096);
      NEXT_FREE(m);
    }
    void* ra = reallocarray_p(NULL, n, 3);
    check_block("reallocarray", ra, 3 * n, 16);
    ra = reallocarray_p(ra, n, 5);
    ST_CHECK(ra != NULL && st_verify(ra, 3 * n, 3 * n) == (size_t)-1);
    NEXT_FREE(ra);
  }
#undef NEXT_FREE
}

/* free_sized / free_aligned_sized (C23; glibc 2.36 has neither, strata does). */
static void check_sized_frees(void) {
  if (!st_on_strata()) return;
  free_sized_fn fs = (free_sized_fn)st_sym("free_sized");
  free_aligned_sized_fn fas = (free_aligned_sized_fn)st_sym("free_aligned_sized");
  usable_fn us = (usable_fn)st_sym("malloc_usable_size");
  const size_t sizes[] = {0, 16, 777, 50000, 2u << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    void* p = malloc(sizes[i]);
    ST_CHECK(p != NULL && us(p) >= sizes[i]);
    fs(p, sizes[i]);
    void* q = aligned_alloc(1024, sizes[i] + 1024);
    ST_CHECK(q != NULL && st_is_aligned(q, 1024));
    fas(q, 1024, sizes[i] + 1024);
  }
  fs(NULL, 10);
  fas(NULL, 64, 10);
}

/* malloc_stats prints on stderr: capture it through a temporary file. */
static void check_malloc_stats(void) {
  void (*stats)(void) = (void (*)(void))st_sym("malloc_stats");
  FILE* tmp = tmpfile();
  ST_CHECK(tmp != NULL);
  fflush(stderr);
  const int saved = dup(2);
  ST_CHECK(saved >= 0 && dup2(fileno(tmp), 2) == 2);
  stats();
  fflush(stderr);
  ST_CHECK(dup2(saved, 2) == 2);
  close(saved);
  char text[4096] = {0};
  rewind(tmp);
  const size_t got = fread(text, 1, sizeof text - 1, tmp);
  fclose(tmp);
  ST_CHECKF(got > 0, "malloc_stats printed nothing");
  if (st_on_strata()) ST_CHECKF(strstr(text, "strata") != NULL, "malloc_stats printed: %s", text);
}

static void check_malloc_info(void) {
  int (*info)(int, FILE*) = (int (*)(int, FILE*))st_sym("malloc_info");
  FILE* tmp = tmpfile();
  ST_CHECK(tmp != NULL);
  ST_CHECK(info(0, tmp) == 0);
  char text[256] = {0};
  rewind(tmp);
  ST_CHECK(fread(text, 1, sizeof text - 1, tmp) > 0);
  fclose(tmp);
  ST_CHECKF(strncmp(text, "<malloc version=", 16) == 0, "malloc_info wrote: %.60s", text);
}

static void check_mallinfo_and_trim(void) {
  struct mallinfo2 (*mi2)(void) = (struct mallinfo2(*)(void))st_sym("mallinfo2");
  struct mallinfo (*mi)(void) = (struct mallinfo(*)(void))st_sym("mallinfo");
  int (*opt)(int, int) = (int (*)(int, int))st_sym("mallopt");
  int (*trim)(size_t) = (int (*)(size_t))st_sym("malloc_trim");

  /* mallopt: every parameter glibc knows is accepted. */
  const int params[] = {M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX,
                        M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX};
  const int values[] = {64, 128 * 1024, 0, 256 * 1024, 65536, 3, 0, 8, 2};
  for (size_t i = 0; i < sizeof params / sizeof params[0]; ++i)
    ST_CHECKF(opt(params[i], values[i]) == 1, "mallopt(%d, %d) != 1", params[i], values[i]);

  /* 16 MiB of small blocks: the counters must see them. */
  enum { N = 65536, SZ = 256 };
  const struct mallinfo2 before = mi2();
  void** blocks = (void**)malloc(N * sizeof(void*));
  ST_CHECK(blocks != NULL);
  for (size_t i = 0; i < N; ++i) {
    blocks[i] = malloc(SZ);
    ST_CHECK(blocks[i] != NULL);
    memset(blocks[i], (int)i, SZ);
  }
  const struct mallinfo2 during = mi2();
  const struct mallinfo during1 = mi();
  ST_CHECKF(during.arena > 0 && during.uordblks > 0, "mallinfo2: arena %zu uordblks %zu", during.arena,
            during.uordblks);
  ST_CHECKF(during1.arena > 0 && during1.uordblks > 0, "mallinfo: arena %d uordblks %d", during1.arena,
            during1.uordblks);
  ST_CHECKF(during.uordblks >= before.uordblks + (size_t)N * SZ / 2, "uordblks %zu -> %zu after %zu bytes",
            before.uordblks, during.uordblks, (size_t)N * SZ);
  ST_CHECKF(during.arena >= during.uordblks, "arena %zu < uordblks %zu", during.arena, during.uordblks);

  /* A huge block shows in hblks/hblkhd. */
  void* big = malloc(32u << 20);
  ST_CHECK(big != NULL);
  memset(big, 1, 4096);
  const struct mallinfo2 with_big = mi2();
  ST_CHECKF(with_big.hblks >= 1 && with_big.hblkhd >= (32u << 20), "hblks %zu hblkhd %zu", with_big.hblks,
            with_big.hblkhd);
  free(big);

  for (size_t i = 0; i < N; ++i) free(blocks[i]);
  free(blocks);
  const int t = trim(0);
  ST_CHECKF(t == 1, "malloc_trim(0) after freeing 16 MiB returned %d", t);
  const struct mallinfo2 after = mi2();
  ST_CHECKF(after.uordblks < during.uordblks, "uordblks %zu -> %zu after freeing", during.uordblks,
            after.uordblks);
  const int t2 = trim(1u << 20); /* nothing much left to release: 0 or 1 */
  ST_CHECKF(t2 == 0 || t2 == 1, "malloc_trim(1 MiB) returned %d", t2);
}

int main(void) {
  st_require_strata();
  for (size_t i = 0; i < sizeof ENTRY_POINTS / sizeof ENTRY_POINTS[0]; ++i) {
    /* glibc 2.36 lacks a few of them; strata must have every one. */
    if (st_on_strata() || dlsym(RTLD_DEFAULT, ENTRY_POINTS[i]) != NULL) (void)st_sym(ENTRY_POINTS[i]);
  }
  check_allocators();
  check_sized_frees();
  check_malloc_stats();
  check_malloc_info();
  check_mallinfo_and_trim();
  printf("api_symbols: %zu entry points OK\n", sizeof ENTRY_POINTS / sizeof ENTRY_POINTS[0]);
  return 0;
}
