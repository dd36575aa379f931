/* threads_churn: 10,000 short-lived threads, and memory stays bounded.
 *
 * Threads are started in waves of 8. Each one allocates a little (a few
 * dozen small blocks of mixed classes, sometimes a medium block), frees most
 * of them itself, leaks one small block on purpose, and hands one block to
 * the main thread through pthread_join, which the main thread checks and
 * frees. Each thread's cache must go back when the thread exits: after a
 * warm-up of 1,000 threads, the remaining 9,000 may grow RSS and in-use bytes
 * (mallinfo2) by little more than the deliberate leak (9,000 x 48 bytes),
 * never by a cache per thread.
 */
#include <pthread.h>

#include "preload_check.h"

enum { THREADS = 10000, WAVE = 8, WARMUP = 1000, LEAK_SIZE = 48 };

typedef struct {
  uint32_t index;
  uint32_t size;
  uint64_t seed;
} Gift;

static void* leaked_sink; /* keeps the compiler honest about the leaked blocks */

static void* worker(void* arg) {
  const uint32_t index = (uint32_t)(uintptr_t)arg;
  uint64_t rng = 0x2545f4914f6cdd1dull ^ index;
  enum { LOCAL = 40 };
  void* local[LOCAL];
  for (int i = 0; i < LOCAL; ++i) {
    const size_t n = 8 + st_rng(&rng) % (i < 30 ? 256 : 4096);
    local[i] = malloc(n);
    ST_CHECK(local[i] != NULL);
    memset(local[i], i, n);
  }
  void* medium = NULL;
  if (index % 16 == 0) {
    medium = malloc(64 * 1024 + index % 1000);
    ST_CHECK(medium != NULL);
    memset(medium, 7, 4096);
  }
  /* The deliberate leak: one small block per thread, never freed. */
  void* leak = malloc(LEAK_SIZE);
  ST_CHECK(leak != NULL);
  memset(leak, 0x6c, LEAK_SIZE);
  __atomic_store_n(&leaked_sink, leak, __ATOMIC_RELAXED);

  const size_t gift_size = sizeof(Gift) + 16 + index % 3000;
  Gift* g = (Gift*)malloc(gift_size);
  ST_CHECK(g != NULL);
  g->index = index;
  g->size = (uint32_t)gift_size;
  g->seed = st_rng(&rng);
  st_fill(g + 1, gift_size - sizeof(Gift), g->seed);

  for (int i = 0; i < LOCAL; ++i) free(local[i]);
  free(medium);
  return g;
}

static void run_threads(uint32_t first, uint32_t count) {
  for (uint32_t base = first; base < first + count; base += WAVE) {
    pthread_t t[WAVE];
    for (uint32_t i = 0; i < WAVE; ++i) {
      const int r = pthread_create(&t[i], NULL, worker, (void*)(uintptr_t)(base + i));
      ST_CHECKF(r == 0, "pthread_create #%u: %s", base + i, strerror(r));
    }
    for (uint32_t i = 0; i < WAVE; ++i) {
      void* ret = NULL;
      ST_CHECK(pthread_join(t[i], &ret) == 0);
      Gift* g = (Gift*)ret;
      ST_CHECK(g != NULL && g->index == base + i);
      ST_CHECKF(st_verify(g + 1, g->size - sizeof(Gift), g->seed) == (size_t)-1, "gift of thread %u corrupted",
                g->index);
      free(g); /* freed by a thread that did not allocate it, after its owner died */
    }
  }
}

int main(void) {
  st_require_strata();
  run_threads(0, WARMUP);
  malloc_trim(0);
  const size_t rss0 = st_rss_kib();
  const size_t used0 = mallinfo2().uordblks;
  const uint64_t t0 = st_now_ms();

  run_threads(WARMUP, THREADS - WARMUP);

  malloc_trim(0);
  const size_t rss1 = st_rss_kib();
  const size_t used1 = mallinfo2().uordblks;
  const size_t leak_kib = (size_t)(THREADS - WARMUP) * LEAK_SIZE / 1024;
  printf("threads_churn: %d threads in %llu ms; RSS %zu -> %zu KiB, in use %zu -> %zu KiB (leak %zu KiB)\n",
         THREADS - WARMUP, (unsigned long long)(st_now_ms() - t0), rss0, rss1, used0 >> 10, used1 >> 10, leak_kib);
  /* A cache left behind per thread would cost 9,000 x several KiB: tens of MiB. */
  ST_CHECKF(rss1 <= rss0 + 2 * leak_kib + 4096, "RSS grew from %zu to %zu KiB over %d threads", rss0, rss1,
            THREADS - WARMUP);
  if (st_on_strata())
    ST_CHECKF(used1 <= used0 + 2 * leak_kib * 1024 + ((size_t)1 << 20), "in-use bytes grew from %zu to %zu KiB",
              used0 >> 10, used1 >> 10);
  return 0;
}
