/* peak_probe: where an allocator's memory is at a program's peak RSS.
 *
 * A diagnostic, not part of the comparison. Preloaded in front of the
 * allocator under test:
 *     LD_PRELOAD=build-bench/bench/libpeak_probe.so:<allocator.so> program args...
 * it forwards every malloc-family call (and C++ new/delete) to the next
 * library, and meanwhile
 *   - counts the bytes the program holds, at the allocator's usable size
 *     (malloc_usable_size), in per-thread counters (no atomic RMW per call);
 *   - samples /proc/self/statm every PEAK_PROBE_MS milliseconds (default 1) on
 *     its own thread; at each new maximum of RSS it reads the allocator's
 *     mallctl("stats.*") (jemalloc and strata both answer) and keeps the
 *     allocator's full statistics report (malloc_stats_print, opts from
 *     PEAK_PROBE_OPTS, default "J") in a static buffer;
 *   - at exit prints on stderr one line
 *       peak_probe: rss <KiB> live <bytes> allocated <bytes> active <bytes>
 *                   resident <bytes> mapped <bytes> metadata <bytes>
 *     (figures at the sampled peak) and writes the report kept at the peak to
 *     the file PEAK_PROBE_OUT names, if set.
 * With PEAK_PROBE_WIDEN=1 the probe first lets the allocator initialise
 * (one malloc), then allows the process every CPU: started under
 * `taskset -c 0`, an allocator that sizes its arenas by the CPUs it may use
 * (strata: 2 per CPU; jemalloc: 4 per CPU) gets the one-CPU count while the
 * program still runs on all of them.
 * allocated - live is what the allocator counts as allocated but the program
 * does not hold: blocks in thread caches (both count them as allocated).
 * The counting costs time (a usable-size call per free), so read RSS, not
 * time, from probed runs. Allocations the program makes before the probe has
 * found the next malloc come from a small static buffer and are never freed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void* (*malloc_fn)(size_t);
typedef void (*free_fn)(void*);
typedef void* (*calloc_fn)(size_t, size_t);
typedef void* (*realloc_fn)(void*, size_t);
typedef int (*memalign_fn)(void**, size_t, size_t);
typedef void* (*aligned_fn)(size_t, size_t);
typedef size_t (*usable_fn)(void*);
typedef int (*mallctl_fn)(const char*, void*, size_t*, void*, size_t);
typedef void (*stats_print_fn)(void (*)(void*, const char*), void*, const char*);

static malloc_fn next_malloc;
static free_fn next_free;
static calloc_fn next_calloc;
static realloc_fn next_realloc;
static memalign_fn next_posix_memalign;
static aligned_fn next_aligned_alloc;
static usable_fn next_usable;

/* Allocations made while dlsym itself allocates (before the lookups finish). */
static char boot_buf[1 << 16] __attribute__((aligned(64)));
static size_t boot_used;
static int is_boot(const void* p) { return (const char*)p >= boot_buf && (const char*)p < boot_buf + sizeof boot_buf; }
static void* boot_alloc(size_t n) {
  size_t at = (boot_used + 63) & ~(size_t)63;
  if (at + n > sizeof boot_buf) return NULL;
  boot_used = at + n;
  return boot_buf + at;
}

static int resolving;
static void resolve(void) {
  if (next_malloc != NULL || resolving) return;
  resolving = 1;
  next_free = (free_fn)dlsym(RTLD_NEXT, "free");
  next_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
  next_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
  next_posix_memalign = (memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
  next_aligned_alloc = (aligned_fn)dlsym(RTLD_NEXT, "aligned_alloc");
  next_usable = (usable_fn)dlsym(RTLD_NEXT, "malloc_usable_size");
  next_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
  resolving = 0;
}

/* Live bytes: one counter per thread (a slot taken on the thread's first call), summed by the sampler. */
#define MAX_SLOTS 4096
static _Atomic int64_t slots[MAX_SLOTS];
static atomic_uint next_slot;
static __thread int64_t* my_slot;
static int64_t overflow_slot_dummy;
static _Atomic int64_t overflow_live;

static void count(int64_t delta) {
  if (my_slot == NULL) {
    unsigned i = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed);
    my_slot = i < MAX_SLOTS ? (int64_t*)&slots[i] : &overflow_slot_dummy;
  }
  if (my_slot == &overflow_slot_dummy) {
    atomic_fetch_add_explicit(&overflow_live, delta, memory_order_relaxed);
    return;
  }
  /* Only this thread writes its slot: a plain load and a relaxed store. */
  _Atomic int64_t* s = (_Atomic int64_t*)my_slot;
  atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) + delta, memory_order_relaxed);
}
static int64_t live_bytes(void) {
  int64_t sum = atomic_load_explicit(&overflow_live, memory_order_relaxed);
  for (unsigned i = 0; i < MAX_SLOTS; ++i) sum += atomic_load_explicit(&slots[i], memory_order_relaxed);
  return sum;
}
static void* counted(void* p) {
  if (p != NULL && !is_boot(p)) count((int64_t)next_usable(p));
  return p;
}
static void uncount(void* p) {
  if (p != NULL && !is_boot(p)) count(-(int64_t)next_usable(p));
}

void* malloc(size_t n) {
  resolve();
  if (next_malloc == NULL) return boot_alloc(n);
  return counted(next_malloc(n));
}
void free(void* p) {
  if (p == NULL || is_boot(p)) return;
  resolve();
  uncount(p);
  next_free(p);
}
void* calloc(size_t n, size_t m) {
  resolve();
  if (next_calloc == NULL) return boot_alloc(n * m); /* static: already zero */
  return counted(next_calloc(n, m));
}
void* realloc(void* p, size_t n) {
  resolve();
  if (is_boot(p)) { /* the old size is unknown: copy what the boot buffer holds from p, up to n */
    void* q = malloc(n);
    const size_t avail = (size_t)(boot_buf + sizeof boot_buf - (char*)p);
    if (q != NULL) memcpy(q, p, n < avail ? n : avail);
    return q;
  }
  if (p != NULL) uncount(p);
  void* q = next_realloc(p, n);
  if (q == NULL && p != NULL && n != 0) count((int64_t)next_usable(p)); /* failed: p stays */
  return counted(q);
}
int posix_memalign(void** out, size_t align, size_t n) {
  resolve();
  int r = next_posix_memalign(out, align, n);
  if (r == 0) counted(*out);
  return r;
}
void* aligned_alloc(size_t align, size_t n) {
  resolve();
  return counted(next_aligned_alloc(align, n));
}
void* memalign(size_t align, size_t n) { return aligned_alloc(align, n); }
size_t malloc_usable_size(void* p) {
  resolve();
  return is_boot(p) ? 0 : next_usable(p);
}

/* C++: route new/delete through the counted malloc/free (the nothrow and aligned forms are left to the allocator). */
void* _Znwm(size_t n) { return malloc(n == 0 ? 1 : n); }
void* _Znam(size_t n) { return malloc(n == 0 ? 1 : n); }
void _ZdlPv(void* p) { free(p); }
void _ZdaPv(void* p) { free(p); }
void _ZdlPvm(void* p, size_t n) { (void)n, free(p); }
void _ZdaPvm(void* p, size_t n) { (void)n, free(p); }

/* ---- the sampler ---------------------------------------------------------- */

struct Peak {
  long rss_kib;
  int64_t live;
  size_t allocated, active, resident, mapped, metadata;
};
static pthread_mutex_t peak_lock = PTHREAD_MUTEX_INITIALIZER;
static struct Peak peak;
static char report[1 << 20];
static size_t report_len;
static char scratch[1 << 20];
static size_t scratch_len;

static void to_scratch(void* opaque, const char* text) {
  (void)opaque;
  size_t n = strlen(text);
  if (scratch_len + n >= sizeof scratch) n = sizeof scratch - 1 - scratch_len;
  memcpy(scratch + scratch_len, text, n);
  scratch_len += n;
}

static size_t ctl_size(mallctl_fn ctl, const char* name) {
  size_t v = 0, len = sizeof v;
  return ctl != NULL && ctl(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

static void* sampler(void* arg) {
  (void)arg;
  const char* ms_env = getenv("PEAK_PROBE_MS");
  const long ms = ms_env != NULL && atol(ms_env) > 0 ? atol(ms_env) : 1;
  const char* opts = getenv("PEAK_PROBE_OPTS");
  mallctl_fn ctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
  stats_print_fn print = (stats_print_fn)dlsym(RTLD_DEFAULT, "malloc_stats_print");
  const long page_kib = sysconf(_SC_PAGESIZE) / 1024;
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return NULL;
  struct timespec nap = {ms / 1000, (ms % 1000) * 1000000L};
  for (;;) {
    char buf[128];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = 0;
      long size = 0, rss = 0;
      if (sscanf(buf, "%ld %ld", &size, &rss) == 2 && rss * page_kib > peak.rss_kib) {
        struct Peak p = {rss * page_kib, live_bytes(), 0, 0, 0, 0, 0};
        if (ctl != NULL) {
          uint64_t epoch = 1;
          ctl("epoch", NULL, NULL, &epoch, sizeof epoch);
          p.allocated = ctl_size(ctl, "stats.allocated");
          p.active = ctl_size(ctl, "stats.active");
          p.resident = ctl_size(ctl, "stats.resident");
          p.mapped = ctl_size(ctl, "stats.mapped");
          p.metadata = ctl_size(ctl, "stats.metadata");
        }
        if (print != NULL) {
          scratch_len = 0;
          print(to_scratch, NULL, opts != NULL ? opts : "J");
        }
        pthread_mutex_lock(&peak_lock);
        memcpy(report, scratch, scratch_len);
        report_len = scratch_len;
        peak = p;
        pthread_mutex_unlock(&peak_lock);
      }
    }
    nanosleep(&nap, NULL);
  }
  return NULL;
}

__attribute__((constructor)) static void start(void) {
  resolve();
  const char* widen = getenv("PEAK_PROBE_WIDEN");
  if (widen != NULL && widen[0] == '1') {
    free(malloc(1)); /* the allocator is set up under the CPU mask the process started with */
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < CPU_SETSIZE; ++i) CPU_SET(i, &all);
    sched_setaffinity(0, sizeof all, &all);
  }
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_create(&t, &attr, sampler, NULL);
  pthread_attr_destroy(&attr);
}

__attribute__((destructor)) static void finish(void) {
  pthread_mutex_lock(&peak_lock); /* held to the end: the sampler stops updating */
  struct Peak p = peak;
  fprintf(stderr,
          "peak_probe: rss %ld live %lld allocated %zu active %zu resident %zu mapped %zu metadata %zu\n",
          p.rss_kib, (long long)p.live, p.allocated, p.active, p.resident, p.mapped, p.metadata);
  const char* out = getenv("PEAK_PROBE_OUT");
  if (out != NULL && report_len > 0) {
    FILE* f = fopen(out, "w");
    if (f != NULL) {
      fwrite(report, 1, report_len, f);
      fclose(f);
    }
  }
  pthread_mutex_unlock(&peak_lock);
}
