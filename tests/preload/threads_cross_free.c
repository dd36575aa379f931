/* threads_cross_free: blocks allocated by one thread and freed by another.
 *
 * 8 threads: 4 producers allocate blocks of mixed sizes (mostly small, some
 * medium, a few huge), stamp them with a header and a pattern, and push them
 * into one shared queue; 4 consumers pop, verify every byte, sometimes
 * realloc the block (a realloc of another thread's block) and re-verify, and
 * free it. Producers also free part of their own blocks, so each thread's
 * cache sees both local and remote frees. Afterwards: every block arrived
 * exactly once, nothing was corrupted, and once the threads are gone (their
 * caches flushed at exit) mallinfo2's in-use bytes are back near where they
 * started, so cross-thread frees do not leak.
 */
#include <pthread.h>

#include "preload_check.h"

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 30000, QCAP = 4096 };

typedef struct {
  uint32_t producer;
  uint32_t seq;
  size_t size;
  uint64_t seed;
} Header;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  Header* items[QCAP];
  size_t head, count;
  int producers_left;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, PRODUCERS};

static unsigned char seen[PRODUCERS][PER_PRODUCER];

static void push(Header* h) {
  pthread_mutex_lock(&q.lock);
  while (q.count == QCAP) pthread_cond_wait(&q.not_full, &q.lock);
  q.items[(q.head + q.count++) % QCAP] = h;
  pthread_cond_signal(&q.not_empty);
  pthread_mutex_unlock(&q.lock);
}

/* NULL once every producer is done and the queue is empty. */
static Header* pop(void) {
  pthread_mutex_lock(&q.lock);
  while (q.count == 0 && q.producers_left > 0) pthread_cond_wait(&q.not_empty, &q.lock);
  Header* h = NULL;
  if (q.count > 0) {
    h = q.items[q.head];
    q.head = (q.head + 1) % QCAP;
    --q.count;
    pthread_cond_signal(&q.not_full);
  }
  pthread_mutex_unlock(&q.lock);
  return h;
}

static size_t pick_size(uint64_t* rng) {
  const uint64_t r = st_rng(rng) % 1000;
  if (r < 970) return sizeof(Header) + st_rng(rng) % 2048;          /* small */
  if (r < 998) return sizeof(Header) + 2048 + st_rng(rng) % 200000; /* small/medium */
  return ((size_t)1 << 20) + st_rng(rng) % ((size_t)1 << 20);       /* huge */
}

static void* producer(void* arg) {
  const uint32_t id = (uint32_t)(uintptr_t)arg;
  uint64_t rng = 0x9e3779b97f4a7c15ull * (id + 1);
  for (uint32_t seq = 0; seq < PER_PRODUCER; ++seq) {
    const size_t n = pick_size(&rng);
    Header* h = (Header*)malloc(n);
    ST_CHECK(h != NULL);
    h->producer = id;
    h->seq = seq;
    h->size = n;
    h->seed = st_rng(&rng);
    st_fill(h + 1, n - sizeof(Header), h->seed);
    /* A local block beside each sent one: freed here, mixing local frees in. */
    void* local = malloc(1 + seq % 500);
    ST_CHECK(local != NULL);
    memset(local, 0x11, 1 + seq % 500);
    push(h);
    free(local);
  }
  pthread_mutex_lock(&q.lock);
  --q.producers_left;
  pthread_cond_broadcast(&q.not_empty);
  pthread_mutex_unlock(&q.lock);
  return NULL;
}

static void* consumer(void* arg) {
  uint64_t rng = 0x51ed27 + (uintptr_t)arg;
  size_t got = 0;
  Header* h;
  while ((h = pop()) != NULL) {
    ST_CHECKF(h->producer < PRODUCERS && h->seq < PER_PRODUCER, "bad header %u/%u", h->producer, h->seq);
    ST_CHECKF(malloc_usable_size(h) >= h->size, "usable %zu < %zu", malloc_usable_size(h), h->size);
    const size_t body = h->size - sizeof(Header);
    const size_t bad = st_verify(h + 1, body, h->seed);
    ST_CHECKF(bad == (size_t)-1, "block %u/%u (%zu bytes) corrupted at %zu", h->producer, h->seq, h->size, bad);
    __atomic_fetch_add(&seen[h->producer][h->seq], 1, __ATOMIC_RELAXED);
    if (st_rng(&rng) % 8 == 0) {
      /* realloc of a block another thread allocated */
      const size_t n = h->size < 64 ? h->size * 3 : h->size / 2 + 8;
      const Header saved = *h;
      Header* r = (Header*)realloc(h, n);
      ST_CHECK(r != NULL);
      ST_CHECK(r->producer == saved.producer && r->seq == saved.seq && r->seed == saved.seed);
      const size_t keep = (n < saved.size ? n : saved.size) - sizeof(Header);
      ST_CHECKF(st_verify(r + 1, keep, saved.seed) == (size_t)-1, "realloc lost contents of %u/%u", saved.producer,
                saved.seq);
      h = r;
    }
    free(h);
    ++got;
  }
  return (void*)got;
}

int main(void) {
  st_require_strata();
  malloc_trim(0);
  const size_t in_use_before = mallinfo2().uordblks + mallinfo2().hblkhd;

  pthread_t prod[PRODUCERS], cons[CONSUMERS];
  for (uintptr_t i = 0; i < CONSUMERS; ++i) ST_CHECK(pthread_create(&cons[i], NULL, consumer, (void*)i) == 0);
  for (uintptr_t i = 0; i < PRODUCERS; ++i) ST_CHECK(pthread_create(&prod[i], NULL, producer, (void*)i) == 0);
  for (int i = 0; i < PRODUCERS; ++i) ST_CHECK(pthread_join(prod[i], NULL) == 0);
  size_t total = 0;
  for (int i = 0; i < CONSUMERS; ++i) {
    void* got = NULL;
    ST_CHECK(pthread_join(cons[i], &got) == 0);
    total += (size_t)(uintptr_t)got;
  }
  ST_CHECKF(total == (size_t)PRODUCERS * PER_PRODUCER, "consumed %zu of %d blocks", total, PRODUCERS * PER_PRODUCER);
  for (int p = 0; p < PRODUCERS; ++p)
    for (int s = 0; s < PER_PRODUCER; ++s) ST_CHECKF(seen[p][s] == 1, "block %d/%d seen %d times", p, s, seen[p][s]);

  /* Every thread is gone: its cached blocks must be back in the central heaps. */
  malloc_trim(0);
  const size_t in_use_after = mallinfo2().uordblks + mallinfo2().hblkhd;
  if (st_on_strata())
    ST_CHECKF(in_use_after < in_use_before + ((size_t)2 << 20), "in use: %zu KiB before, %zu KiB after the threads",
              in_use_before >> 10, in_use_after >> 10);
  printf("threads_cross_free: %zu blocks crossed threads\n", total);
  return 0;
}
