/* threads_tls_exit: malloc and free after a thread's TLS teardown began.
 *
 * glibc runs pthread key destructors in rounds (PTHREAD_DESTRUCTOR_ITERATIONS
 * = 4), in key order, and then frees its own per-thread buffers. strata's key
 * is created at start-up, so this program's key (created in main) runs
 * after strata flushed the thread's cache. Scenarios (argv[1]):
 *
 *   late_key     (key numbered above 32, so that setting it allocates in
 *                glibc) a thread allocates, then its destructor (after strata's)
 *                verifies and frees blocks the thread made, allocates and
 *                frees more, and re-arms itself for three rounds; the thread
 *                also leaves glibc per-thread buffers (strsignal, dlerror)
 *                that glibc frees after all destructors.
 *   fresh_thread a thread that never called malloc frees, in its destructor,
 *                a block of the main thread's and allocates for the first time.
 *   last_round   a thread's first allocation happens in the destructor's
 *                fourth and last round: no later round can flush the cache
 *                that this first allocation sets up.
 *
 * Each scenario runs 400 threads; none may crash, every block must keep its
 * contents, and in-use bytes (mallinfo2, after the threads are gone) may grow
 * by at most 1 MiB: a cache abandoned per thread would show as megabytes.
 */
#include <pthread.h>
#include <signal.h>

#include "preload_check.h"

enum { THREADS = 400, ROUNDS = 3, MAX_ITER = 4 /* glibc's PTHREAD_DESTRUCTOR_ITERATIONS */ };

static pthread_key_t key;

typedef struct {
  int round;
  size_t size;
  uint64_t seed;
} Carry; /* followed by size bytes of pattern */

static Carry* make_carry(int round, size_t size, uint64_t seed) {
  Carry* c = (Carry*)malloc(sizeof(Carry) + size);
  ST_CHECK(c != NULL);
  c->round = round;
  c->size = size;
  c->seed = seed;
  st_fill(c + 1, size, seed);
  return c;
}

static void check_carry(const Carry* c) {
  ST_CHECKF(st_verify(c + 1, c->size, c->seed) == (size_t)-1, "carried block (round %d) corrupted", c->round);
}

/* Block i of churn(): 20 small classes, then 4 medium blocks. */
static size_t churn_size(int i) { return i < 20 ? 16 + (size_t)i * 40 : (size_t)(i - 19) * 24000; }

/* Some allocation traffic of every kind, all freed again. */
static void churn(uint64_t seed) {
  void* blocks[24];
  for (int i = 0; i < 24; ++i) {
    const size_t n = churn_size(i);
    blocks[i] = malloc(n);
    ST_CHECK(blocks[i] != NULL);
    st_fill(blocks[i], n, seed + (uint64_t)i);
  }
  for (int i = 0; i < 24; ++i) {
    const size_t n = churn_size(i);
    ST_CHECK(st_verify(blocks[i], n, seed + (uint64_t)i) == (size_t)-1);
    free(blocks[i]);
  }
}

/* late_key / fresh_thread destructor: verify, free, churn, re-arm. */
static void rearming_destructor(void* value) {
  Carry* c = (Carry*)value;
  check_carry(c);
  const int round = c->round;
  free(c);
  churn((uint64_t)round * 1000);
  if (round < ROUNDS) ST_CHECK(pthread_setspecific(key, make_carry(round + 1, 100 + 300 * (size_t)round, 77)) == 0);
}

static void* late_key_thread(void* arg) {
  (void)arg;
  churn(1);
  ST_CHECK(pthread_setspecific(key, make_carry(1, 5000, 42)) == 0);
  /* glibc per-thread buffers, freed by glibc after every key destructor */
  ST_CHECK(strsignal(1000) != NULL);
  ST_CHECK(dlsym(RTLD_DEFAULT, "strata_no_such_symbol_for_dlerror") == NULL);
  ST_CHECK(dlerror() != NULL);
  return NULL;
}

static void* fresh_thread(void* arg) {
  /* No allocation in the thread body: only the key is set (to main's block). */
  ST_CHECK(pthread_setspecific(key, arg) == 0);
  return NULL;
}

/* last_round: count rounds without allocating; allocate in the last one. */
static void last_round_destructor(void* value) {
  const uintptr_t round = (uintptr_t)value;
  if (round < MAX_ITER) {
    ST_CHECK(pthread_setspecific(key, (void*)(round + 1)) == 0);
    return;
  }
  churn(round);
  void* keep = malloc(200); /* first allocation of the thread in its last round */
  ST_CHECK(keep != NULL);
  memset(keep, 1, 200);
  free(keep);
}

static void* last_round_thread(void* arg) {
  (void)arg;
  ST_CHECK(pthread_setspecific(key, (void*)(uintptr_t)1) == 0);
  return NULL;
}

static void run(void* (*body)(void*), int fresh, int threads) {
  for (int i = 0; i < threads; i += 4) {
    pthread_t t[4];
    for (int j = 0; j < 4; ++j) {
      void* arg = NULL;
      if (fresh) arg = make_carry(1, 64 + (size_t)(i + j), (uint64_t)(i + j)); /* freed by the thread */
      ST_CHECK(pthread_create(&t[j], NULL, body, arg) == 0);
    }
    for (int j = 0; j < 4; ++j) ST_CHECK(pthread_join(t[j], NULL) == 0);
  }
}

int main(int argc, char** argv) {
  st_require_strata();
  ST_CHECKF(argc == 2, "usage: %s late_key|fresh_thread|last_round", argv[0]);
  const char* scenario = argv[1];
  const int last = strcmp(scenario, "last_round") == 0;

  /* late_key: push the key past index 32, so that setting it allocates inside
     glibc (also from destructors). The other scenarios need a key below 32:
     there pthread_setspecific must not allocate, or the thread would not be
     allocation-free until its destructor runs. */
  if (strcmp(scenario, "late_key") == 0) {
    pthread_key_t filler[40];
    for (int i = 0; i < 40; ++i) ST_CHECK(pthread_key_create(&filler[i], NULL) == 0);
  }
  ST_CHECK(pthread_key_create(&key, last ? last_round_destructor : rearming_destructor) == 0);
  if (strcmp(scenario, "late_key") != 0) ST_CHECKF(key < 32, "key %u: setting it would allocate", key);

  void* (*body)(void*) = NULL;
  const int fresh = strcmp(scenario, "fresh_thread") == 0;
  if (strcmp(scenario, "late_key") == 0)
    body = late_key_thread;
  else if (fresh)
    body = fresh_thread;
  else if (last)
    body = last_round_thread;
  else
    ST_CHECKF(0, "unknown scenario %s", scenario);

  /* A few threads of warm-up (process-wide setup), then measure. */
  run(body, fresh, 4);
  malloc_trim(0);
  const size_t used0 = mallinfo2().uordblks;
  run(body, fresh, THREADS);

  malloc_trim(0);
  const size_t used1 = mallinfo2().uordblks;
  printf("threads_tls_exit %s: %d threads, in use %zu -> %zu KiB\n", scenario, THREADS, used0 >> 10, used1 >> 10);
  if (st_on_strata())
    ST_CHECKF(used1 <= used0 + ((size_t)1 << 20),
              "%s: in-use bytes grew by %zu KiB over %d threads: caches abandoned at thread exit", scenario,
              (used1 - used0) >> 10, THREADS);
  return 0;
}
