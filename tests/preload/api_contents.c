/* api_contents: what a program stores in a block stays there, and what the
 * API promises about a block's size and first contents holds.
 *
 *  - malloc(0) returns a unique non-NULL pointer (two calls differ; both free).
 *  - malloc_usable_size is >= the request, all of it writable (memset over
 *    the whole usable size of neighbouring live blocks corrupts nothing),
 *    stable for the block's life, and 0 for NULL.
 *  - sizes across every range, 1 B .. 64 MiB (each power of two and its
 *    neighbours): contents kept while many blocks are live at once.
 *  - realloc keeps the contents through growth and shrink chains (1 B up to
 *    64 MiB and back), in-place resizes of medium and huge blocks included,
 *    and through a random walk of sizes; realloc(NULL, n) is malloc(n);
 *    realloc(p, 0) frees p and returns NULL (seen in mallinfo2's hblks).
 *  - calloc returns zeroed memory also for recycled blocks: malloc a size,
 *    dirty it, free it, calloc the same size (small, medium and huge, also a
 *    huge block that was shrunk in place before its free).
 */
#include "preload_check.h"

static void check_malloc_zero(void) {
  enum { N = 64 };
  void* p[N];
  for (int i = 0; i < N; ++i) {
    p[i] = malloc(0);
    ST_CHECKF(p[i] != NULL, "malloc(0) returned NULL");
    for (int j = 0; j < i; ++j) ST_CHECKF(p[i] != p[j], "malloc(0) returned %p twice", p[i]);
  }
  for (int i = 0; i < N; ++i) free(p[i]);
  ST_CHECK(malloc_usable_size(NULL) == 0);
}

/* The sizes of the range test: 1, around every power of two, and 64 MiB. */
static size_t range_sizes(size_t* out, size_t cap) {
  size_t k = 0;
  out[k++] = 1;
  for (size_t p = 2; p <= ((size_t)64 << 20) && k + 4 <= cap; p <<= 1) {
    out[k++] = p - 1;
    if (p > ((size_t)1 << 20)) continue; /* above 1 MiB one size per power keeps it quick */
    out[k++] = p;
    out[k++] = p + 1;
    if (p >= 4) out[k++] = p + p / 2;
  }
  out[k++] = (size_t)64 << 20;
  return k;
}

static void check_ranges_and_usable(void) {
  size_t sizes[128];
  const size_t count = range_sizes(sizes, 128);
  void* blocks[128];
  size_t usable[128];
  for (size_t i = 0; i < count; ++i) {
    blocks[i] = malloc(sizes[i]);
    ST_CHECKF(blocks[i] != NULL, "malloc(%zu)", sizes[i]);
    usable[i] = malloc_usable_size(blocks[i]);
    ST_CHECKF(usable[i] >= sizes[i], "malloc(%zu): usable %zu", sizes[i], usable[i]);
    memset(blocks[i], 0xc3, usable[i]); /* the slack is the program's too */
    st_fill(blocks[i], sizes[i], i + 1);
  }
  for (size_t i = 0; i < count; ++i) {
    ST_CHECKF(st_verify(blocks[i], sizes[i], i + 1) == (size_t)-1, "block of %zu bytes corrupted", sizes[i]);
    ST_CHECKF(malloc_usable_size(blocks[i]) == usable[i], "usable size of a %zu-byte block changed", sizes[i]);
    const unsigned char* tail = (const unsigned char*)blocks[i] + sizes[i];
    for (size_t j = 0; j < usable[i] - sizes[i]; ++j) ST_CHECK(tail[j] == 0xc3);
  }
  for (size_t i = 0; i < count; ++i) free(blocks[i]);
}

/* p: a block whose first `have` bytes hold pattern `seed`; resized to n. */
static void* resize_checked(void* p, size_t have, size_t n, uint64_t seed) {
  void* q = realloc(p, n);
  ST_CHECKF(q != NULL, "realloc(%zu -> %zu) failed", have, n);
  ST_CHECKF(st_is_aligned(q, 16), "realloc(%zu -> %zu) = %p", have, n, q);
  ST_CHECKF(malloc_usable_size(q) >= n, "realloc(%zu -> %zu): usable %zu", have, n, malloc_usable_size(q));
  const size_t keep = have < n ? have : n;
  const size_t bad = st_verify(q, keep, seed);
  ST_CHECKF(bad == (size_t)-1, "realloc(%zu -> %zu) lost byte %zu", have, n, bad);
  if (n > have) st_fill_from(q, have, n, seed); /* the whole block carries the pattern */
  return q;
}

static void check_realloc_chains(void) {
  /* Growth from 1 byte to 64 MiB by steps of ~1.5x, then back down. */
  const uint64_t seed = 0xabcdef;
  size_t n = 1;
  void* p = malloc(1);
  ST_CHECK(p != NULL);
  st_fill(p, 1, seed);
  while (n < ((size_t)64 << 20)) {
    size_t next = n + n / 2 + 1;
    if (next > ((size_t)64 << 20)) next = (size_t)64 << 20;
    p = resize_checked(p, n, next, seed);
    n = next;
  }
  while (n > 1) {
    const size_t next = n * 2 / 3;
    p = resize_checked(p, n, next ? next : 1, seed);
    n = next ? next : 1;
  }
  free(p);

  /* Small steps inside the medium and huge ranges (in-place resizes). */
  const size_t starts[] = {40000, 300000, (size_t)2 << 20, (size_t)6 << 20};
  for (size_t s = 0; s < 4; ++s) {
    n = starts[s];
    p = malloc(n);
    ST_CHECK(p != NULL);
    st_fill(p, n, s);
    for (int step = 0; step < 24; ++step) {
      const size_t next = step % 3 == 2 ? n - n / 8 : n + n / 16 + 4096 * (size_t)step;
      p = resize_checked(p, n, next, s);
      n = next;
    }
    free(p);
  }

  /* A random walk over all ranges with several chains alive at once. */
  enum { CHAINS = 8, STEPS = 300 };
  void* chain[CHAINS] = {0};
  size_t len[CHAINS] = {0};
  uint64_t rng = 0x1234567;
  for (int step = 0; step < STEPS; ++step) {
    const int c = (int)(st_rng(&rng) % CHAINS);
    const size_t next = st_rng_size(&rng, (size_t)4 << 20);
    if (chain[c] == NULL) {
      chain[c] = realloc(NULL, next); /* realloc(NULL, n) is malloc(n) */
      ST_CHECK(chain[c] != NULL && malloc_usable_size(chain[c]) >= next);
      st_fill(chain[c], next, (uint64_t)c);
    } else {
      chain[c] = resize_checked(chain[c], len[c], next, (uint64_t)c);
    }
    len[c] = next;
    if (step % 97 == 0) {
      free(chain[c]);
      chain[c] = NULL;
    }
  }
  for (int c = 0; c < CHAINS; ++c) free(chain[c]);
}

/* realloc(p, 0): frees p (a huge block, so mallinfo2 shows it) and returns NULL. */
static void check_realloc_zero(void) {
  void* small = malloc(100);
  ST_CHECK(small != NULL);
  ST_CHECK(realloc(small, 0) == NULL);
  if (!st_on_strata()) return; /* glibc's hblks counts only its own mmapped chunks */
  void* big = malloc((size_t)20 << 20);
  ST_CHECK(big != NULL);
  const size_t hblks = mallinfo2().hblks;
  ST_CHECK(realloc(big, 0) == NULL);
  ST_CHECKF(mallinfo2().hblks == hblks - 1, "realloc(p, 0) did not free the block (hblks %zu -> %zu)", hblks,
            mallinfo2().hblks);
}

static void check_calloc_recycled(void) {
  const size_t sizes[] = {16, 24, 100, 1000, 4096, 20000, 32768, 40000, 200000, 1u << 20, (1u << 20) + 16,
                          (size_t)3 << 20, (size_t)8 << 20};
  enum { MAX_BATCH = 16 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    const size_t n = sizes[s];
    const int batch = n > (1u << 20) ? 2 : MAX_BATCH;
    for (int round = 0; round < 3; ++round) {
      void* dirty[MAX_BATCH];
      for (int i = 0; i < batch; ++i) {
        dirty[i] = malloc(n);
        ST_CHECK(dirty[i] != NULL);
        memset(dirty[i], 0xff, malloc_usable_size(dirty[i]));
      }
      for (int i = batch - 1; i >= 0; --i) free(dirty[i]);
      for (int i = 0; i < batch; ++i) {
        void* z = calloc(1, n);
        ST_CHECK(z != NULL);
        ST_CHECKF(st_all_zero(z, n), "calloc(1, %zu) of a recycled block is not zeroed", n);
        dirty[i] = z;
      }
      for (int i = 0; i < batch; ++i) free(dirty[i]);
    }
  }
  /* A huge block shrunk in place, freed, then calloc'ed back at full size. */
  for (int round = 0; round < 4; ++round) {
    const size_t big = (size_t)12 << 20;
    unsigned char* p = (unsigned char*)malloc(big);
    ST_CHECK(p != NULL);
    memset(p, 0xee, big);
    p = (unsigned char*)realloc(p, big / 3);
    ST_CHECK(p != NULL);
    memset(p, 0xdd, big / 3);
    p = (unsigned char*)realloc(p, big);
    ST_CHECK(p != NULL);
    memset(p, 0xcc, big);
    free(p);
    unsigned char* z = (unsigned char*)calloc(big, 1);
    ST_CHECK(z != NULL);
    ST_CHECKF(st_all_zero(z, big), "calloc(%zu) after a recycled huge block is not zero", big);
    free(z);
  }
}

int main(void) {
  st_require_strata();
  check_malloc_zero();
  check_ranges_and_usable();
  check_realloc_chains();
  check_realloc_zero();
  check_calloc_recycled();
  printf("api_contents: OK\n");
  return 0;
}
