// soak: a long, mixed, multi-threaded load that must end with every byte
// intact, bounded memory and no hang. Run under LD_PRELOAD=libstrata.so
// (ctest label `soak`, scripts/soak.sh), or built against the prefixed API
// (SOAK_PREFIXED: strata_* beside the system malloc, for ThreadSanitizer,
// label `runtime`).
//
// Workers (--threads, default 8) each keep up to 1500 blocks and loop over:
// allocate (malloc, calloc checked zeroed, posix_memalign, aligned_alloc,
// memalign; sizes log-uniform up to 64 KiB, now and then 1 MiB or 6 MiB;
// alignments 16 B .. 64 KiB), free, realloc chains (grow and shrink,
// contents kept), hand a block to another worker's mailbox (cross-thread
// free) and drain their own. Every block carries a pattern from its seed,
// verified before every free, realloc and hand-over. Thread churn: a worker
// retires after a random number of operations, leaving its blocks to an
// orphan list the next worker adopts (verifies) and frees; main starts a
// fresh thread in its place. A forker thread forks every --fork-ms
// (default 250): the child allocates, verifies and frees 2000 blocks of
// its own and exits; a child that does not finish within 20 s is a failure.
//
// A watchdog thread samples progress, RSS and the live set every second,
// reading /proc with open/read only (no malloc, so it works even when the
// allocator hangs). It fails the run on no progress for --stall seconds
// (default 30), or on RSS above --rss-factor (default 3) x the peak live
// set + 160 MiB. At the end: operations, ops/s, forks, threads, peak RSS
// (VmHWM), peak live set. Exit 0 only when all checks passed.
//   soak [--seconds N] [--threads N] [--fork-ms N] [--stall N] [--rss-factor F] [--cold 0|1]
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "preload_check.h"

#ifdef SOAK_PREFIXED
#include <strata/strata.h>
#define API(name) strata_##name
#else
#define API(name) name
#endif

namespace {

struct Options {
  double seconds = 60;
  int threads = 8;
  int fork_ms = 250;
  int stall = 30;
  double rss_factor = 3.0;
  bool cold = false;  // no strata call before the threads start
};
Options g_opt;

struct Block {
  unsigned char* p;
  size_t n;
  uint64_t seed;
};

std::atomic<uint64_t> g_ops{0}, g_forks{0}, g_threads{0}, g_handoffs{0}, g_reallocs{0};
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_live_peak{0};
std::atomic<bool> g_stop{false};

void live_add(int64_t d) {
  const int64_t now = g_live.fetch_add(d, std::memory_order_relaxed) + d;
  int64_t peak = g_live_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_live_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

// /proc/self/<file> field `key` in KiB, read without allocating.
size_t proc_kib(const char* key) {
  char buf[4096];
  const int fd = open("/proc/self/status", O_RDONLY);
  if (fd < 0) return 0;
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* at = strstr(buf, key);
  return at == NULL ? 0 : (size_t)strtoull(at + strlen(key), NULL, 10);
}

[[noreturn]] void die(const char* what) {
  char line[256];
  const int n = snprintf(line, sizeof line, "soak: FAIL: %s (ops %llu)\n", what,
                         (unsigned long long)g_ops.load());
  if (write(2, line, (size_t)n) < 0) _exit(3);
  _exit(1);
}

void check_block(const Block& b) {
  const size_t bad = st_verify(b.p, b.n, b.seed);
  if (bad != (size_t)-1) {
    fprintf(stderr, "soak: block %p (%zu bytes) corrupt at offset %zu\n", (void*)b.p, b.n, bad);
    die("corrupted block");
  }
}

void release(Block& b) {
  check_block(b);
  API(free)(b.p);
  live_add(-(int64_t)b.n);
}

size_t pick_size(uint64_t* rng) {
  const uint64_t r = st_rng(rng) % 1000;
  if (r == 0) return (size_t)6 << 20;  // huge
  if (r < 12) return (size_t)1 << 20;  // medium / huge boundary
  return st_rng_size(rng, 64 * 1024);
}

// One new block of n bytes, one of five ways; aligned as asked.
Block make(size_t n, uint64_t* rng) {
  void* p = NULL;
  size_t align = 16;
  switch (st_rng(rng) % 6) {
    case 0: {
      p = API(calloc)(1, n);
      if (p != NULL && !st_all_zero(p, n)) die("calloc memory not zeroed");
      break;
    }
    case 1:
      align = (size_t)8 << (st_rng(rng) % 14);
      if (API(posix_memalign)(&p, align, n) != 0) p = NULL;
      break;
    case 2:
      align = (size_t)16 << (st_rng(rng) % 12);
      p = API(aligned_alloc)(align, n);
      break;
    case 3:
      align = (size_t)32 << (st_rng(rng) % 8);
      p = API(memalign)(align, n);
      break;
    default:
      p = API(malloc)(n);
      break;
  }
  if (p == NULL) die("allocation failed");
  if (!st_is_aligned(p, align) || !st_is_aligned(p, 16)) die("misaligned block");
  if (API(malloc_usable_size)(p) < n) die("usable size below the request");
  Block b{(unsigned char*)p, n, st_rng(rng)};
  st_fill(b.p, b.n, b.seed);
  live_add((int64_t)n);
  return b;
}

// Mailboxes for cross-thread frees: worker i receives in g_box[i].
struct Mailbox {
  std::mutex m;
  std::vector<Block> items;
};
constexpr int MAX_THREADS = 64;
Mailbox g_box[MAX_THREADS];
std::atomic<bool> g_retired[MAX_THREADS];
std::mutex g_orphans_m;
std::vector<Block> g_orphans;  // left by retired workers, adopted by new ones

void worker(int id, uint64_t seed) {
  uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;
  std::vector<Block> mine;
  mine.reserve(1500);
  {
    std::lock_guard<std::mutex> g(g_orphans_m);
    for (Block& b : g_orphans) check_block(b), mine.push_back(b);
    g_orphans.clear();
  }
  const uint64_t life = 5000 + st_rng(&rng) % 60000;
  uint64_t local_ops = 0;
  for (uint64_t op = 0; op < life && !g_stop.load(std::memory_order_relaxed); ++op) {
    const uint64_t r = st_rng(&rng) % 100;
    if (r < 38 && mine.size() < 1500) {
      mine.push_back(make(pick_size(&rng), &rng));
    } else if (r < 62 && !mine.empty()) {
      const size_t i = st_rng(&rng) % mine.size();
      release(mine[i]);
      mine[i] = mine.back();
      mine.pop_back();
    } else if (r < 78 && !mine.empty()) {  // realloc chain step
      Block& b = mine[st_rng(&rng) % mine.size()];
      check_block(b);
      const size_t n = pick_size(&rng);
      void* q = API(realloc)(b.p, n);
      if (q == NULL) die("realloc failed");
      const size_t keep = n < b.n ? n : b.n;
      if (st_verify(q, keep, b.seed) != (size_t)-1) die("realloc lost contents");
      st_fill_from(q, keep, n, b.seed);
      live_add((int64_t)n - (int64_t)b.n);
      b.p = (unsigned char*)q;
      b.n = n;
      g_reallocs.fetch_add(1, std::memory_order_relaxed);
    } else if (r < 90 && !mine.empty()) {  // hand a block to another worker
      const int to = (int)(st_rng(&rng) % (uint64_t)g_opt.threads);
      Block b = mine.back();
      mine.pop_back();
      check_block(b);
      std::lock_guard<std::mutex> g(g_box[to].m);
      if (g_box[to].items.size() < 4096) {
        g_box[to].items.push_back(b);
        g_handoffs.fetch_add(1, std::memory_order_relaxed);
      } else {
        release(b);
      }
    } else {  // free what others sent
      std::vector<Block> got;
      {
        std::lock_guard<std::mutex> g(g_box[id].m);
        got.swap(g_box[id].items);
      }
      for (Block& b : got) release(b);
    }
    if (++local_ops == 256) g_ops.fetch_add(256, std::memory_order_relaxed), local_ops = 0;
  }
  g_ops.fetch_add(local_ops, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> g(g_orphans_m);  // retire: the next worker adopts them
    for (Block& b : mine) g_orphans.push_back(b);
  }
  g_retired[id].store(true);
}

// Child of a fork: a private workload, then _exit (never returns).
[[noreturn]] void child_work(uint64_t seed) {
  uint64_t rng = seed | 1;
  Block held[64];
  int n = 0;
  for (int i = 0; i < 2000; ++i) {
    if (n == 64 || (n > 0 && st_rng(&rng) % 2 == 0)) {
      const int k = (int)(st_rng(&rng) % (uint64_t)n);
      if (st_verify(held[k].p, held[k].n, held[k].seed) != (size_t)-1) _exit(3);
      API(free)(held[k].p);
      held[k] = held[--n];
    } else {
      held[n++] = make(st_rng_size(&rng, 256 * 1024), &rng);
    }
  }
  while (n > 0) API(free)(held[--n].p);
  _exit(0);
}

void forker() {
  uint64_t seed = 77;
  while (!g_stop.load()) {
    usleep((useconds_t)g_opt.fork_ms * 1000);
    if (g_stop.load()) break;
    const pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) child_work(++seed);
    const uint64_t deadline = st_now_ms() + 20000;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (st_now_ms() > deadline) {
        kill(pid, SIGKILL);
        die("a forked child hung (deadlock after fork)");
      }
      usleep(2000);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("a forked child failed");
    g_forks.fetch_add(1, std::memory_order_relaxed);
  }
}

void watchdog() {
  uint64_t last = 0, still = 0;
  while (!g_stop.load()) {
    sleep(1);
    const uint64_t now = g_ops.load();
    still = now == last ? still + 1 : 0;
    last = now;
    if ((int)still >= g_opt.stall) die("no progress: deadlock or livelock");
    if (g_opt.rss_factor <= 0) continue;  // sanitizer shadow memory: no bound
    const double rss = (double)proc_kib("VmRSS:") * 1024;
    const double bound = g_opt.rss_factor * (double)g_live_peak.load() + 160.0 * 1024 * 1024;
    if (rss > bound) {
      fprintf(stderr, "soak: RSS %.0f MiB, peak live %.0f MiB, bound %.0f MiB\n", rss / 1048576,
              (double)g_live_peak.load() / 1048576, bound / 1048576);
      die("RSS beyond the bound");
    }
  }
}

void parse(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* k = argv[i];
    const char* v = argv[i + 1];
    if (strcmp(k, "--seconds") == 0) g_opt.seconds = atof(v);
    else if (strcmp(k, "--threads") == 0) g_opt.threads = atoi(v);
    else if (strcmp(k, "--fork-ms") == 0) g_opt.fork_ms = atoi(v);
    else if (strcmp(k, "--stall") == 0) g_opt.stall = atoi(v);
    else if (strcmp(k, "--rss-factor") == 0) g_opt.rss_factor = atof(v);
    else if (strcmp(k, "--cold") == 0) g_opt.cold = atoi(v) != 0;
    else ST_CHECKF(0, "unknown option %s", k);
  }
  ST_CHECKF(g_opt.threads >= 1 && g_opt.threads <= MAX_THREADS, "--threads 1..%d", MAX_THREADS);
}
}  // namespace

int main(int argc, char** argv) {
  parse(argc, argv);
#ifndef SOAK_PREFIXED
  st_require_strata();
#endif
  // Warm start: strata initialises on this thread before any worker runs.
  // --cold 1 lets the workers' first calls race through initialisation.
  if (!g_opt.cold) API(free)(st_launder(API(malloc)(1)));
  const uint64_t t0 = st_now_ms();
  std::thread dog(watchdog);
  std::thread fk;
  if (g_opt.fork_ms > 0) fk = std::thread(forker);
  std::vector<std::thread> pool((size_t)g_opt.threads);
  uint64_t next_seed = 1;
  for (int i = 0; i < g_opt.threads; ++i) pool[(size_t)i] = std::thread(worker, i, next_seed++), g_threads++;
  // Churn: whenever a worker retires, a fresh thread takes its place.
  while (st_now_ms() - t0 < (uint64_t)(g_opt.seconds * 1000)) {
    usleep(20000);
    for (int i = 0; i < g_opt.threads; ++i) {
      if (!g_retired[i].load()) continue;
      pool[(size_t)i].join();
      g_retired[i].store(false);
      pool[(size_t)i] = std::thread(worker, i, next_seed++);
      g_threads++;
    }
  }
  g_stop = true;
  for (auto& t : pool) t.join();
  if (fk.joinable()) fk.join();
  dog.join();
  for (Mailbox& b : g_box)
    for (Block& x : b.items) release(x);
  for (Block& x : g_orphans) release(x);
  const double secs = (double)(st_now_ms() - t0) / 1000.0;
  API(malloc_trim)(0);
  printf("soak: %.0f s, %d threads at a time (%llu started), %llu operations (%.0f ops/s), %llu reallocs, "
         "%llu cross-thread hand-overs, %llu forks\n",
         secs, g_opt.threads, (unsigned long long)g_threads.load(), (unsigned long long)g_ops.load(),
         (double)g_ops.load() / secs, (unsigned long long)g_reallocs.load(), (unsigned long long)g_handoffs.load(),
         (unsigned long long)g_forks.load());
  printf("soak: peak RSS %zu MiB (VmHWM), peak live set %lld MiB, RSS after free+trim %zu MiB, live now %lld\n",
         proc_kib("VmHWM:") / 1024, (long long)(g_live_peak.load() >> 20), proc_kib("VmRSS:") / 1024,
         (long long)g_live.load());
  ST_CHECKF(g_live.load() == 0, "live bytes %lld after freeing everything", (long long)g_live.load());
  printf("soak: PASS\n");
  return 0;
}
