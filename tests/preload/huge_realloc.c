/* huge_realloc: realloc growth of huge blocks, which strata does by moving
 * the block's pages into a new run (mremap) instead of copying them
 * (src/runtime/huge.hpp, Growth). Under LD_PRELOAD=libstrata.so:
 *
 *  grow     four buffers grown in turn from 2 MiB to 96 MiB by factors of
 *           1.25-2 (a small block allocated between steps, so runs rarely
 *           have room to grow in place), each step's new bytes filled and
 *           every byte checked after each realloc; then the statistics must
 *           count moves (huge.moves in malloc_stats_print's JSON). RSS after
 *           the buffers are freed must be back near where it started.
 *  split    a block the program split with mprotect (one page read-only):
 *           growing it keeps every byte and gives a writable block (the
 *           kernel refuses the move, which grows; strata copies). Kernels
 *           from 6.17 would move such a block at one size.
 *  guard    after a move, a write one byte past the block's end faults and
 *           strata reports the overflow (a child process).
 *  stale    free() of the pointer a move left behind is reported as a
 *           double free (a child process).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "preload_check.h"

#define MiB ((size_t)1 << 20)

/* huge.moves from malloc_stats_print's JSON ("J"): the number after "moves":
 * in the "huge" object. */
static char g_json[1 << 16];
static size_t g_json_len;
static void collect(void* opaque, const char* s) {
  (void)opaque;
  const size_t n = strlen(s);
  if (g_json_len + n < sizeof g_json) {
    memcpy(g_json + g_json_len, s, n);
    g_json_len += n;
    g_json[g_json_len] = 0;
  }
}
static long huge_moves(void) {
  void (*print)(void (*)(void*, const char*), void*, const char*) =
      (void (*)(void (*)(void*, const char*), void*, const char*))st_sym("malloc_stats_print");
  g_json_len = 0;
  print(collect, NULL, "J");
  const char* huge = strstr(g_json, "\"huge\"");
  ST_CHECKF(huge != NULL, "no huge section in the statistics");
  const char* moves = strstr(huge, "\"moves\":");
  ST_CHECKF(moves != NULL, "no huge.moves in the statistics");
  return strtol(moves + 8, NULL, 10);
}

static void grow(void) {
  enum { BUFS = 4 };
  unsigned char* buf[BUFS] = {0};
  size_t size[BUFS] = {0};
  void* litter[64] = {0};
  uint64_t rng = 12345;
  const size_t rss_before = st_rss_kib();
  const long moves_before = huge_moves();
  for (int b = 0; b < BUFS; ++b) {
    size[b] = 2 * MiB + (size_t)b * 4096 + 100;
    buf[b] = st_launder(malloc(size[b]));
    ST_CHECK(buf[b] != NULL);
    st_fill(buf[b], size[b], (uint64_t)b);
  }
  for (int step = 0; step < 40; ++step) {
    const int b = step % BUFS;
    if (size[b] >= 96 * MiB) continue;
    size_t next = size[b] + size[b] * (1 + st_rng(&rng) % 4) / 4;
    if (next > 96 * MiB) next = 96 * MiB;
    unsigned char* q = st_launder(realloc(buf[b], next));
    ST_CHECKF(q != NULL, "realloc(%zu) failed", next);
    const size_t bad = st_verify(q, size[b], (uint64_t)b);
    ST_CHECKF(bad == (size_t)-1, "buffer %d: byte %zu of %zu lost growing to %zu", b, bad, size[b], next);
    st_fill_from(q, size[b], next, (uint64_t)b);
    buf[b] = q;
    size[b] = next;
    void** l = &litter[st_rng(&rng) % 64];
    free(*l);
    *l = st_launder(malloc(1 + st_rng(&rng) % 4000));
  }
  for (int b = 0; b < BUFS; ++b) {
    ST_CHECK(st_verify(buf[b], size[b], (uint64_t)b) == (size_t)-1);
  }
  const long moves = huge_moves() - moves_before;
  ST_CHECKF(moves > 0, "no realloc moved pages (%ld moves)", moves);
  for (int b = 0; b < BUFS; ++b) free(buf[b]);
  for (int i = 0; i < 64; ++i) free(litter[i]);
  malloc_trim(0);
  const size_t rss_after = st_rss_kib();
  ST_CHECKF(rss_after < rss_before + 16 * 1024, "RSS %zu KiB after the buffers were freed, %zu before", rss_after,
            rss_before);
  printf("huge_realloc grow: %ld moves, RSS %zu -> %zu KiB\n", moves, rss_before, rss_after);
}

static void split(void) {
  const size_t page = st_page_size();
  size_t n = 6 * MiB;
  unsigned char* p = st_launder(malloc(n));
  ST_CHECK(p != NULL);
  st_fill(p, n, 77);
  unsigned char* ro = (unsigned char*)(((uintptr_t)p + MiB) & ~(uintptr_t)(page - 1));
  ST_CHECK(mprotect(ro, page, PROT_READ) == 0);
  for (int i = 0; i < 3; ++i) {  /* the first refused move marks the block: later growths copy at once */
    const size_t next = n * 2;
    unsigned char* q = st_launder(realloc(p, next));
    ST_CHECK(q != NULL);
    ST_CHECKF(st_verify(q, n, 77) == (size_t)-1, "a split block lost bytes growing to %zu", next);
    st_fill_from(q, n, next, 77);
    memset(q, 0x5a, 2 * MiB);  /* writable where the read-only page was (the block was copied) */
    st_fill(q, next, 77);
    p = q;
    n = next;
  }
  free(p);
  printf("huge_realloc split: ok\n");
}

/* A block grown by a move (an allocation between, so it cannot grow in place). */
static unsigned char* moved_block(size_t* n_out) {
  const long before = huge_moves();
  unsigned char* p = st_launder(malloc(5 * MiB));
  void* wall = st_launder(malloc(5 * MiB));
  const size_t n = 20 * MiB + 123;
  unsigned char* q = st_launder(realloc(p, n));
  ST_CHECK(q != NULL && q != p);
  ST_CHECKF(huge_moves() == before + 1, "the growth did not move pages");
  free(wall);
  *n_out = n;
  return q;
}

static void overflow_after_move(void) {
  size_t n = 0;
  unsigned char* q = moved_block(&n);
  const size_t usable = malloc_usable_size(q);
  q[usable] = 1; /* one byte past the usable end: the guard page */
  fprintf(stderr, "huge_realloc: no fault past the end of a moved block\n");
  _exit(3);
}

static void free_stale_pointer(void) {
  unsigned char* p = st_launder(malloc(5 * MiB));
  void* wall = st_launder(malloc(5 * MiB));
  unsigned char* q = st_launder(realloc(p, 20 * MiB));
  ST_CHECK(q != NULL && q != p);
  free(p); /* p went with the move */
  fprintf(stderr, "huge_realloc: free of the stale pointer returned\n");
  (void)wall;
  _exit(3);
}

static void guard_and_stale(void) {
  char err[4096];
  int status = st_run_in_child(overflow_after_move, err, sizeof err, 0, NULL);
  ST_CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV && strstr(err, "heap-buffer-overflow") != NULL &&
                strstr(err, "huge block") != NULL,
            "overflow past a moved block: status 0x%x, stderr: %s", status, err);
  status = st_run_in_child(free_stale_pointer, err, sizeof err, 0, NULL);
  ST_CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(err, "strata: free(): double free") != NULL,
            "free of a moved block's old pointer: status 0x%x, stderr: %s", status, err);
  printf("huge_realloc guard and stale pointer: ok\n");
}

int main(void) {
  st_require_strata();
  grow();
  split();
  guard_and_stale();
  printf("huge_realloc: PASS\n");
  return 0;
}
