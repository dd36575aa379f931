/* Shared helpers of the LD_PRELOAD test programs (tests/preload) and the
 * runtime tests (tests/runtime). Header-only, valid C11 and C++20.
 *
 *  - ST_CHECK / ST_CHECKF: a failed check prints file:line, the condition and
 *    a message on stderr and exits with status 1 (never abort(): the misuse
 *    tests reserve SIGABRT for strata's own reports).
 *  - st_require_strata(): the first call of every program. It proves that the
 *    process really runs on strata: strata_malloc exists, malloc is defined
 *    by the same object, and a block from the program's malloc is one
 *    strata_malloc_usable_size knows (strata aborts on a foreign pointer), so
 *    a broken LD_PRELOAD cannot pass silently.
 *    With STRATA_TEST_AGAINST=glibc in the environment it checks the opposite
 *    (no strata in the process) and st_on_strata() answers 0: a developer's
 *    reference run of the semantics glibc shares with strata.
 *  - st_sym(): dlsym(RTLD_DEFAULT) of an entry point, checked to come from
 *    the object that defines strata_malloc (libc.so.6 in a glibc reference run).
 *  - st_fill / st_verify: a position- and seed-dependent byte pattern, to
 *    prove contents survive realloc, cross-thread hand-over and fork.
 *  - st_rss_kib, st_now_ms, st_rng: RSS, a monotonic clock and a small PRNG.
 *  - st_run_in_child: runs a function in a forked child with its stderr
 *    captured and an optional deadline (for reports that end the process).
 */
#ifndef STRATA_TESTS_PRELOAD_CHECK_H
#define STRATA_TESTS_PRELOAD_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- checks ------------------------------------------------------------- */

__attribute__((noreturn, format(printf, 4, 5))) static inline void st_fail(const char* file, int line,
                                                                            const char* cond, const char* fmt, ...) {
  fflush(stdout);
  fprintf(stderr, "%s:%d: CHECK failed: %s", file, line, cond);
  if (fmt != NULL && fmt[0] != 0) {
    va_list ap;
    va_start(ap, fmt);
    fputs(" -- ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  _exit(1);
}

#define ST_CHECK(cond)                                            \
  do {                                                            \
    if (__builtin_expect(!(cond), 0)) st_fail(__FILE__, __LINE__, #cond, "%s", ""); \
  } while (0)
#define ST_CHECKF(cond, ...)                                                         \
  do {                                                                               \
    if (__builtin_expect(!(cond), 0)) st_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)

/* Hides a value from the optimiser (on top of -fno-builtin). */
static inline void* st_launder(void* p) {
  __asm__ volatile("" : "+r"(p) : : "memory");
  return p;
}

static inline int st_is_aligned(const void* p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* ---- running on strata -------------------------------------------------- */

static int st_strata_mode = -1; /* -1 unknown, 1 strata, 0 glibc reference run */

static inline int st_on_strata(void) { return st_strata_mode == 1; }

/* Path of the object defining address a ("" if none). */
static inline const char* st_object_of(const void* a) {
  Dl_info info;
  if (dladdr(a, &info) == 0 || info.dli_fname == NULL) return "";
  return info.dli_fname;
}

/* Object (shared library or executable) that defines strata_malloc. */
static const char* st_strata_object;

/* dlsym(RTLD_DEFAULT, name), checked to be defined by the allocator under
   test: the object that defines strata_malloc (libstrata.so when preloaded,
   the executable when strata is linked in statically), or libc.so.6 in a
   glibc reference run. */
static inline void* st_sym(const char* name) {
  void* f = dlsym(RTLD_DEFAULT, name);
  ST_CHECKF(f != NULL, "entry point %s is not defined in the process", name);
  const char* obj = st_object_of(f);
  if (st_strata_mode == 0)
    ST_CHECKF(strstr(obj, "libc.so") != NULL, "%s resolves into %s, expected libc.so.6", name, obj);
  else
    ST_CHECKF(strcmp(obj, st_strata_object) == 0, "%s resolves into '%s', expected strata's '%s'", name, obj,
              st_strata_object);
  return f;
}

/* st_sym(name) on strata; in a glibc reference run, st_sym(standin) for the
   names glibc 2.36 does not export (cfree is hidden, __posix_memalign and the
   C23 free_sized family do not exist). */
static inline void* st_sym_or(const char* name, const char* standin) {
  return st_sym(st_strata_mode == 0 ? standin : name);
}

static inline void st_require_strata(void) {
  const char* against = getenv("STRATA_TEST_AGAINST");
  void* sm = dlsym(RTLD_DEFAULT, "strata_malloc");
  if (against != NULL && strcmp(against, "glibc") == 0) {
    ST_CHECKF(sm == NULL, "STRATA_TEST_AGAINST=glibc but strata is loaded (LD_PRELOAD=%s)", getenv("LD_PRELOAD"));
    st_strata_mode = 0;
    fprintf(stderr, "note: reference run against glibc (strata-only checks skipped)\n");
    return;
  }
  ST_CHECKF(sm != NULL, "not running on strata: strata_malloc is not in the process (LD_PRELOAD=%s)",
            getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)");
  st_strata_mode = 1;
  st_strata_object = st_object_of(sm);
  size_t (*strata_usable)(void*) = (size_t(*)(void*))st_sym("strata_malloc_usable_size");
  (void)st_sym("malloc");
  /* A block from the program's own malloc call is one strata knows (strata
     aborts on any pointer it did not hand out). */
  void* p = st_launder(malloc(100));
  ST_CHECK(p != NULL);
  ST_CHECKF(strata_usable(p) >= 100 && strata_usable(p) == malloc_usable_size(p), "usable %zu / %zu",
            strata_usable(p), malloc_usable_size(p));
  free(p);
}

/* ---- patterns ----------------------------------------------------------- */

static inline uint64_t st_mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ull;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dull;
  x ^= x >> 33;
  return x;
}

/* Byte i of the pattern for seed s: depends on i and s only. */
static inline unsigned char st_pattern_byte(size_t i, uint64_t seed) {
  return (unsigned char)(st_mix((i >> 3) ^ (seed << 40) ^ seed) >> ((i & 7) * 8));
}

/* Writes the pattern over bytes [from, n) of the block at p (word-wise where
   the block is 8-aligned). The pattern of a byte depends on its offset, so a
   grown block needs only its new part filled. */
static inline void st_fill_from(void* p, size_t from, size_t n, uint64_t seed) {
  unsigned char* b = (unsigned char*)p;
  size_t i = from;
  if (((uintptr_t)b & 7) == 0) {
    for (; i < n && (i & 7) != 0; ++i) b[i] = st_pattern_byte(i, seed);
    for (; i + 8 <= n; i += 8) {
      const uint64_t w = st_mix((i >> 3) ^ (seed << 40) ^ seed);
      memcpy(b + i, &w, 8);
    }
  }
  for (; i < n; ++i) b[i] = st_pattern_byte(i, seed);
}

/* Writes the pattern over [p, p+n). */
static inline void st_fill(void* p, size_t n, uint64_t seed) { st_fill_from(p, 0, n, seed); }

/* Index of the first byte that differs from the pattern, or (size_t)-1. */
static inline size_t st_verify(const void* p, size_t n, uint64_t seed) {
  const unsigned char* b = (const unsigned char*)p;
  size_t i = 0;
  if (((uintptr_t)b & 7) == 0) {
    for (; i + 8 <= n; i += 8) {
      const uint64_t w = st_mix((i >> 3) ^ (seed << 40) ^ seed);
      if (memcmp(b + i, &w, 8) != 0) break;
    }
  }
  for (; i < n; ++i)
    if (b[i] != st_pattern_byte(i, seed)) return i;
  return (size_t)-1;
}

/* 1 when all n bytes at p are zero. */
static inline int st_all_zero(const void* p, size_t n) {
  const unsigned char* b = (const unsigned char*)p;
  size_t i = 0;
  for (; i < n && ((uintptr_t)(b + i) & 7) != 0; ++i)
    if (b[i] != 0) return 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    if (w != 0) return 0;
  }
  for (; i < n; ++i)
    if (b[i] != 0) return 0;
  return 1;
}

/* ---- process facts ------------------------------------------------------ */

static inline size_t st_page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* Resident set size in KiB (from /proc/self/statm). */
static inline size_t st_rss_kib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  fclose(f);
  return resident * (st_page_size() / 1024);
}

/* Virtual size in KiB (VmSize). */
static inline size_t st_vm_kib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long size = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%lu", &size) != 1) size = 0;
  fclose(f);
  return size * (st_page_size() / 1024);
}

static inline uint64_t st_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs f() in a forked child whose stderr goes to err (up to cap - 1 bytes,
 * NUL-terminated); the child exits with status 0 when f returns. With
 * deadline_ms > 0, a child still running after that long is killed and
 * *hung (if not null) set to 1. Returns the child's wait status. */
static inline int st_run_in_child(void (*f)(void), char* err, size_t cap, unsigned deadline_ms, int* hung) {
  int fd[2];
  ST_CHECK(pipe(fd) == 0);
  fflush(stdout);
  fflush(stderr);
  const pid_t pid = fork();
  ST_CHECK(pid >= 0);
  if (pid == 0) {
    dup2(fd[1], 2);
    close(fd[0]);
    close(fd[1]);
    f();
    _exit(0);
  }
  close(fd[1]);
  int status = 0, ended = 0, killed = 0;
  if (deadline_ms > 0) {
    /* Polled; the child's stderr (a report: small) waits in the pipe. */
    const uint64_t deadline = st_now_ms() + deadline_ms;
    while (!ended && !killed) {
      const pid_t w = waitpid(pid, &status, WNOHANG);
      ST_CHECK(w == 0 || w == pid);
      ended = w == pid;
      if (!ended && st_now_ms() > deadline) {
        kill(pid, SIGKILL);
        killed = 1;
      }
      if (!ended && !killed) usleep(1000);
    }
  }
  if (hung != NULL) *hung = killed;
  size_t got = 0;
  ssize_t r;
  while (got + 1 < cap && (r = read(fd[0], err + got, cap - 1 - got)) > 0) got += (size_t)r;
  err[got] = 0;
  close(fd[0]);
  if (!ended) ST_CHECK(waitpid(pid, &status, 0) == pid);
  return status;
}

/* xorshift64*: deterministic, per-thread state. */
static inline uint64_t st_rng(uint64_t* state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545f4914f6cdd1dull;
}

/* A size from 1 to max, spread evenly over the powers of two (log-uniform). */
static inline size_t st_rng_size(uint64_t* state, size_t max) {
  const uint64_t r = st_rng(state);
  unsigned bits = 0;
  while (((size_t)1 << bits) < max) ++bits;
  const unsigned b = (unsigned)(r % (bits + 1));
  const size_t hi = (size_t)1 << b;
  size_t n = hi / 2 + 1 + (size_t)((r >> 8) % (hi / 2 + 1));
  return n > max ? max : n;
}

#ifdef __cplusplus
}
#endif

#endif /* STRATA_TESTS_PRELOAD_CHECK_H */
