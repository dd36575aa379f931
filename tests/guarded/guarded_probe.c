// Guarded-sampling probe (tests/guarded/CMakeLists.txt): one heap bug per
// mode, run under LD_PRELOAD=libstrata with guarded_sample_rate:1, so the
// block is guarded and the bug must kill the process with a report naming
// the kind and the functions below (exported: -rdynamic, noinline).
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, used))

static volatile char sink;

NOINLINE char* probe_allocate(size_t n) {
  char* p = malloc(n);
  __asm__ volatile("" ::: "memory");
  return p;
}
NOINLINE void probe_release(char* p) {
  free(p);
  __asm__ volatile("" ::: "memory");
}
NOINLINE void probe_write(char* p, long off) { p[off] = 1; }
NOINLINE char probe_read(char* p, long off) { return p[off]; }

// Chaining: the program's own SIGSEGV handler recovers from its own faults
// on a page it mapped inaccessible, while strata guards every allocation.
static sigjmp_buf recover;
static volatile int own_faults;
static void own_handler(int sig) {
  (void)sig;
  ++own_faults;
  siglongjmp(recover, 1);
}

static int chain(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = own_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_NODEFER;
  char* warm = probe_allocate(24);  // strata is initialised (and its handler installed) before ours
  probe_release(warm);
  if (sigaction(SIGSEGV, &sa, NULL) != 0) return 2;
  char* page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < 100; ++i) {
    char* p = probe_allocate(40);
    p[39] = 2;  // in bounds: no fault
    if (sigsetjmp(recover, 1) == 0) sink = page[i];
    probe_release(p);
  }
  printf("own faults: %d\n", own_faults);
  return own_faults == 100 ? 0 : 1;
}

// mallctl's guarded.* counters (libstrata's export; weak: the probe also runs without it).
extern int mallctl(const char*, void*, size_t*, void*, size_t) __attribute__((weak));
static unsigned long long guarded_stat(const char* name) {
  unsigned long long v = 0;
  size_t len = sizeof v;
  if (mallctl == NULL || mallctl(name, &v, &len, NULL, 0) != 0) return ~0ull;
  return v;
}

static int stats(void) {
  const unsigned long long s0 = guarded_stat("guarded.samples"), u0 = guarded_stat("guarded.in_use");
  char* p[10];
  for (int i = 0; i < 10; ++i) p[i] = probe_allocate(100);
  const unsigned long long s1 = guarded_stat("guarded.samples"), u1 = guarded_stat("guarded.in_use");
  // Guarded blocks are live blocks: mallinfo2 counts them (with their own pages: in hblkhd).
  const struct mallinfo2 mi = mallinfo2();
  const int counted = mi.hblks >= 10 && mi.hblkhd >= 10 * 100 && mi.uordblks + mi.hblkhd >= 10 * 100;
  printf("mallinfo2: hblks %zu hblkhd %zu uordblks %zu\n", mi.hblks, mi.hblkhd, mi.uordblks);
  for (int i = 0; i < 10; ++i) probe_release(p[i]);
  const unsigned long long u2 = guarded_stat("guarded.in_use");
  printf("samples %llu -> %llu, in use %llu -> %llu -> %llu, slots %llu, faults %llu\n", s0, s1, u0, u1, u2,
         guarded_stat("guarded.slots"), guarded_stat("guarded.faults"));
  return counted && s1 - s0 >= 10 && u1 - u0 >= 10 && u1 - u2 >= 10 && guarded_stat("guarded.slots") == 256 &&
                 guarded_stat("guarded.faults") == 0
             ? 0
             : 1;
}

// A fork while other threads walk a stack from the object files: the child
// must get none of the walks' descriptors. Every allocation here is a
// guarded sample, and each comes from one of 512 call sites in turn (the
// functions below), more than the walk's cache of 256 decoded frames holds:
// so each walk decodes its first frame from the probe's file, which it opens.
// Three threads allocate without pause while the main thread forks 200
// times; each child exits with the number of descriptors it has that the
// process had not before the threads.
enum { MAX_FD = 1024, WALKERS = 3, FORKS = 200 };
#define SITE(n) \
  NOINLINE static void site##n(void) { probe_release(probe_allocate(64)); __asm__ volatile("" ::: "memory"); }
#define SITES8(n) SITE(n##0) SITE(n##1) SITE(n##2) SITE(n##3) SITE(n##4) SITE(n##5) SITE(n##6) SITE(n##7)
#define SITES64(n) SITES8(n##0) SITES8(n##1) SITES8(n##2) SITES8(n##3) SITES8(n##4) SITES8(n##5) SITES8(n##6) SITES8(n##7)
SITES64(1) SITES64(2) SITES64(3) SITES64(4) SITES64(5) SITES64(6) SITES64(7) SITES64(8)
#define REF8(n) site##n##0, site##n##1, site##n##2, site##n##3, site##n##4, site##n##5, site##n##6, site##n##7,
#define REF64(n) REF8(n##0) REF8(n##1) REF8(n##2) REF8(n##3) REF8(n##4) REF8(n##5) REF8(n##6) REF8(n##7)
static void (*const sites[512])(void) = {REF64(1) REF64(2) REF64(3) REF64(4) REF64(5) REF64(6) REF64(7) REF64(8)};
static volatile int stop_walks;
static void* allocate_until_stopped(void* arg) {
  for (unsigned i = (unsigned)(size_t)arg * 171; !stop_walks; ++i) sites[i % 512]();
  return NULL;
}

static int fork_fds(void) {
  static char before[MAX_FD];
  for (int fd = 0; fd < MAX_FD; ++fd) before[fd] = fcntl(fd, F_GETFD) != -1;
  pthread_t t[WALKERS];
  for (int i = 0; i < WALKERS; ++i)
    if (pthread_create(&t[i], NULL, allocate_until_stopped, (void*)(size_t)i) != 0) return 2;
  const unsigned long long s0 = guarded_stat("guarded.samples");
  while (guarded_stat("guarded.samples") - s0 < 100) usleep(1000);
  int copied = 0, failed = 0;
  for (int i = 0; i < FORKS && !failed; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      int extra = 0;
      for (int fd = 0; fd < MAX_FD; ++fd) extra += fcntl(fd, F_GETFD) != -1 && !before[fd];
      _exit(extra > 100 ? 100 : extra);
    }
    int status = 0;
    failed = pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status);
    if (!failed) copied += WEXITSTATUS(status);
  }
  stop_walks = 1;
  for (int i = 0; i < WALKERS; ++i) pthread_join(t[i], NULL);
  printf("descriptors copied into %d fork children: %d; samples %llu\n", FORKS, copied,
         guarded_stat("guarded.samples") - s0);
  return failed ? 2 : copied == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* m = argv[1];
  setvbuf(stdout, NULL, _IONBF, 0);
  if (strcmp(m, "chain") == 0) return chain();
  if (strcmp(m, "stats") == 0) return stats();
  if (strcmp(m, "fork_fds") == 0) return fork_fds();
  if (strncmp(m, "huge_overflow", 13) == 0) {  // huge blocks (huge_guard): the page after the usable end
    char* h = probe_allocate((size_t)4 << 20);
    if (strcmp(m, "huge_overflow_resized") == 0) {
      // The guard follows the block: grown in place, shrunk in place, and
      // reused from the huge cache at another size; every usable byte stays
      // writable each time (a guard left behind would fault here).
      h = realloc(h, (size_t)5 << 20);
      memset(h, 1, malloc_usable_size(h));
      h = realloc(h, (size_t)3 << 20);
      memset(h, 2, malloc_usable_size(h));
      char* old = h;
      probe_release(h);
      h = probe_allocate((size_t)2 << 20);  // the cached run, its guard moved
      printf("huge run reused from the cache: %s\n", h == old ? "yes" : "no");
      memset(h, 3, malloc_usable_size(h));
    }
    probe_write(h, (long)malloc_usable_size(h) - 1);  // the last usable byte: fine
    probe_write(h, (long)malloc_usable_size(h));      // one past it: the guard page
    printf("overflow not detected\n");
    return 0;
  }
  char* p = probe_allocate(37);
  if (strcmp(m, "overflow1") == 0) {
    probe_write(p, 48);  // past the 16-byte-rounded end: the guard page
  } else if (strcmp(m, "overflow_pad") == 0) {
    probe_write(p, 37);  // one byte past the block, inside the alignment padding
    probe_release(p);
  } else if (strcmp(m, "overflow_page") == 0) {
    probe_write(p, 37 + 4096);
  } else if (strcmp(m, "underflow") == 0) {
    // One sample in eight is left-aligned: allocate until one is.
    while (((unsigned long)p & 4095) != 0) p = probe_allocate(37);
    probe_write(p, -1);
  } else if (strcmp(m, "uaf_read") == 0) {
    probe_release(p);
    sink = probe_read(p, 3);
  } else if (strcmp(m, "uaf_write") == 0) {
    probe_release(p);
    probe_write(p, 3);
  } else if (strcmp(m, "double_free") == 0) {
    probe_release(p);
    probe_release(p);
  } else if (strcmp(m, "invalid_free") == 0) {
    probe_release(p + 8);
  } else if (strcmp(m, "clean") == 0) {
    // Every guarded path in bounds: realloc, usable size, calloc, memalign.
    p = realloc(p, 100);
    memset(p, 7, 100);
    p = realloc(p, 3000);
    if (p[99] != 7) return 1;
    char* q = calloc(10, 10);
    for (int i = 0; i < 100; ++i)
      if (q[i] != 0) return 1;
    void* a = NULL;
    if (posix_memalign(&a, 256, 200) != 0 || ((unsigned long)a & 255) != 0) return 1;
    free(a);
    free(q);
    free(p);
    return 0;
  }
  printf("no fault\n");
  return 0;
}
