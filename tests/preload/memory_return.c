/* Memory goes back to the OS: a phase that peaks at 256 MiB of small blocks
 * frees them all, then the program goes idle (no allocator calls at all).
 *   idle  RSS must fall below 10% of the peak once the purge delay has passed
 *         (run with STRATA_CONF=purge_delay_ms:200: the background purger
 *         does it; the check polls for up to 10 delays, so load cannot make
 *         it flaky, while an allocator that never purges idle memory fails).
 *   trim  right after the frees, malloc_trim(0) brings RSS below 10% at once.
 * The pointer array lives in its own mapping so it is not counted as heap. */
#include <sys/mman.h>
#include <time.h>

#include "preload_check.h"

#define PEAK_BYTES ((size_t)256 << 20)
#define BLOCK 128

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char** argv) {
  st_require_strata();
  ST_CHECKF(argc == 2, "usage: %s idle|trim", argv[0]);
  const size_t n = PEAK_BYTES / BLOCK;
  void** v = mmap(NULL, n * sizeof(void*), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ST_CHECK(v != MAP_FAILED);
  const size_t base_kib = st_rss_kib();
  for (size_t i = 0; i < n; ++i) {
    v[i] = malloc(BLOCK);
    ST_CHECK(v[i] != NULL);
    memset(v[i], 0x5a, BLOCK);
  }
  const size_t peak_kib = st_rss_kib() - base_kib;
  for (size_t i = 0; i < n; ++i) free(v[i]);
  ST_CHECK(munmap(v, n * sizeof(void*)) == 0);
  size_t now_kib = 0;
  if (strcmp(argv[1], "trim") == 0) {
    malloc_trim(0);
    now_kib = st_rss_kib() - base_kib;
  } else {
    for (int i = 0; i < 10; ++i) {  /* 10 purge delays of 200 ms at most */
      sleep_ms(200);
      now_kib = st_rss_kib() - base_kib;
      if (now_kib * 10 < peak_kib) break;
    }
  }
  printf("memory_return %s: peak %zu KiB, now %zu KiB (%.1f%%)\n", argv[1], peak_kib, now_kib,
         100.0 * (double)now_kib / (double)peak_kib);
  ST_CHECKF(now_kib * 10 < peak_kib, "RSS %zu KiB is not below 10%% of the peak %zu KiB", now_kib, peak_kib);
  return 0;
}
