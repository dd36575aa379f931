/* fork_under_load: fork() while other threads are inside malloc and free.
 *
 * 3 worker threads allocate, fill, verify and free blocks of every size
 * class (small, medium and huge, so every strata lock is busy) and realloc
 * them, without pause. Meanwhile the main thread forks 200 times. Each child
 * (which inherits whatever locks the workers held at the moment of the fork)
 * checks that a block the parent filled before the fork survived, allocates,
 * reallocs and frees blocks of all sizes, starts a thread that does the same,
 * and exits with status 0. The parent waits for each child with a 10 s
 * deadline: all 200 must exit 0; a child still running at its deadline is
 * reported as a hang (a lock left taken across fork), then killed.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "preload_check.h"

enum { WORKERS = 3, FORKS = 200, CHILD_DEADLINE_MS = 10000 };

static volatile int g_stop;

static void* worker(void* arg) {
  uint64_t rng = 0xf00d + (uintptr_t)arg;
  enum { SLOTS = 64 };
  void* slot[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  unsigned long ops = 0;
  while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED)) {
    const unsigned i = (unsigned)(st_rng(&rng) % SLOTS);
    if (slot[i] != NULL) {
      ST_CHECKF(st_verify(slot[i], len[i], i) == (size_t)-1, "worker block corrupted");
      if (st_rng(&rng) % 4 == 0) {
        const size_t n = st_rng_size(&rng, 64 * 1024);
        slot[i] = realloc(slot[i], n);
        ST_CHECK(slot[i] != NULL);
        if (n > len[i]) st_fill_from(slot[i], len[i], n, i);
        len[i] = n;
        continue;
      }
      free(slot[i]);
      slot[i] = NULL;
      continue;
    }
    const uint64_t r = st_rng(&rng) % 100;
    len[i] = r < 90 ? st_rng_size(&rng, 4096) : r < 99 ? 20000 + st_rng(&rng) % 400000 : (size_t)2 << 20;
    slot[i] = malloc(len[i]);
    ST_CHECK(slot[i] != NULL);
    st_fill(slot[i], len[i] < 65536 ? len[i] : 65536, i);
    if (len[i] > 65536) len[i] = 65536; /* only the filled prefix is checked */
    ++ops;
  }
  for (unsigned i = 0; i < SLOTS; ++i) free(slot[i]);
  return (void*)ops;
}

/* The child's own allocation traffic; returns 0 on success. */
static void* child_work(void* arg) {
  uint64_t rng = 0xc0ffee ^ (uintptr_t)arg;
  void* blocks[100];
  size_t sizes[100];
  for (int i = 0; i < 100; ++i) {
    const size_t n = i % 50 == 0 ? (size_t)3 << 20 : i % 10 == 0 ? 150000 : st_rng_size(&rng, 8192);
    blocks[i] = malloc(n);
    ST_CHECK(blocks[i] != NULL);
    sizes[i] = n < 16384 ? n : 16384; /* only a prefix is filled and checked */
    st_fill(blocks[i], sizes[i], (uint64_t)i);
  }
  for (int i = 0; i < 100; i += 3) {
    blocks[i] = realloc(blocks[i], sizes[i] * 2 + 1);
    ST_CHECK(blocks[i] != NULL);
  }
  for (int i = 0; i < 100; ++i) {
    ST_CHECK(st_verify(blocks[i], sizes[i], (uint64_t)i) == (size_t)-1);
    free(blocks[i]);
  }
  void* z = calloc(100, 100);
  ST_CHECK(z != NULL && st_all_zero(z, 10000));
  free(z);
  return NULL;
}

static void child(unsigned index, const void* before, size_t before_len) {
  ST_CHECKF(st_verify(before, before_len, 99) == (size_t)-1, "child %u: parent's block lost", index);
  child_work((void*)(uintptr_t)index);
  pthread_t t;
  ST_CHECK(pthread_create(&t, NULL, child_work, (void*)(uintptr_t)(index + 1000)) == 0);
  ST_CHECK(pthread_join(t, NULL) == 0);
  free((void*)before); /* the parent's block, freed in the child */
  exit(0);
}

/* Waits for pid up to the deadline; returns its wait status, or -1 for a hang. */
static int wait_with_deadline(pid_t pid) {
  const uint64_t deadline = st_now_ms() + CHILD_DEADLINE_MS;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    ST_CHECK(r >= 0);
    if (r == pid) return status;
    if (st_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(500);
  }
}

int main(void) {
  st_require_strata();
  pthread_t workers[WORKERS];
  for (uintptr_t i = 0; i < WORKERS; ++i) ST_CHECK(pthread_create(&workers[i], NULL, worker, (void*)i) == 0);

  const size_t before_len = 3000;
  void* before = malloc(before_len);
  ST_CHECK(before != NULL);
  st_fill(before, before_len, 99);

  int ok = 0, hung = 0, failed = 0;
  const uint64_t t0 = st_now_ms();
  for (unsigned i = 0; i < FORKS; ++i) {
    fflush(stdout);
    const pid_t pid = fork();
    ST_CHECK(pid >= 0);
    if (pid == 0) child(i, before, before_len);
    const int status = wait_with_deadline(pid);
    if (status == -1) {
      ++hung;
      fprintf(stderr, "fork %u: child %d hung (killed after %d ms)\n", i, (int)pid, CHILD_DEADLINE_MS);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      ++ok;
    } else {
      ++failed;
      if (WIFSIGNALED(status))
        fprintf(stderr, "fork %u: child killed by signal %d\n", i, WTERMSIG(status));
      else
        fprintf(stderr, "fork %u: child exited with %d\n", i, WEXITSTATUS(status));
    }
    if (hung >= 2) break; /* enough evidence; the CTest timeout is near */
  }
  __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
  unsigned long ops = 0;
  for (int i = 0; i < WORKERS; ++i) {
    void* r = NULL;
    ST_CHECK(pthread_join(workers[i], &r) == 0);
    ops += (unsigned long)(uintptr_t)r;
  }
  ST_CHECKF(st_verify(before, before_len, 99) == (size_t)-1, "parent's block changed across forks");
  free(before);
  printf("fork_under_load: %d/%d children exited 0 (%d hung, %d failed) in %llu ms; workers did %lu allocations\n", ok,
         FORKS, hung, failed, (unsigned long long)(st_now_ms() - t0), ops);
  ST_CHECKF(ok == FORKS, "%d of %d children exited cleanly", ok, FORKS);
  return 0;
}
