/* misuse_more: the misuse cases tests/preload/misuse.c does not have, with
 * the same contract (driven by tests/preload/misuse_expect.sh): print
 * `ptr=<address>`, commit the fault, and strata must abort with the one
 * line `strata: <fn>(): <fault> <address>`.
 *
 * Cases:
 *   realloc_glibc, usable_size_glibc, delete_glibc, free_sized_glibc
 *       a block from glibc's own malloc (reached through libc.so.6) handed
 *       to strata's realloc, malloc_usable_size, operator delete, free_sized
 *       (RELIABILITY #8: never write through a foreign pointer);
 *   free_mmap        the start of a page the program mapped itself;
 *   realloc0_then_free  realloc(p, 0) frees p (glibc semantics); a later
 *       free(p) is a double free;
 *   double_free_cached_huge  a huge block freed twice while its run sits in
 *       strata's cache of freed huge runs (not yet unmapped);
 *   usable_size_freed_medium  malloc_usable_size of a freed medium block;
 *   double_free_remote_stale  a block freed, given back to its arena, its
 *       first bytes overwritten (a use after free, which erases the free tag
 *       the thread cache checks), then freed again by a thread of another
 *       arena among blocks it frees for the first thread: the batch it
 *       flushes would be kept whole for the first thread's arena (the
 *       transfer cache), and must not be, or the block would be handed out
 *       twice.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "preload_check.h"

static void announce(const void* p) {
  printf("ptr=%p\n", p);
  fflush(stdout);
}

/* glibc's malloc, reached through libc.so.6 itself (the program's is strata's). */
static void* glibc_block(size_t n) {
  void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  ST_CHECK(libc != NULL);
  void* (*glibc_malloc)(size_t) = (void* (*)(size_t))dlsym(libc, "malloc");
  ST_CHECK(glibc_malloc != NULL && (void*)glibc_malloc != dlsym(RTLD_DEFAULT, "malloc"));
  void* p = glibc_malloc(n);
  ST_CHECK(p != NULL);
  memset(p, 0x5a, n);
  return p;
}

/* Enough calls to turn the calling thread's cache on (its warm-up). */
static void warm_up(void) {
  for (int i = 0; i < 1100; ++i) free(malloc(16));
}

/* double_free_remote_stale: blocks of one size class, all allocated by the
 * main thread, and the stale one. */
enum { REMOTE_BLOCKS = 64, REMOTE_SIZE = 1000 };
static void* g_remote[REMOTE_BLOCKS];
static void* g_stale;

/* The other thread: warms up (and so joins an arena of its own, not the
 * main thread's), frees the main thread's blocks, then the stale one. */
static void* free_remotely(void* arg) {
  (void)arg;
  warm_up();
  for (int i = 0; i < REMOTE_BLOCKS; ++i) free(g_remote[i]);
  announce(g_stale);
  free(g_stale);
  return NULL;
}

/* operator delete(void*) by its mangled name: callable from C. */
extern void _ZdlPv(void* p);

int main(int argc, char** argv) {
  st_require_strata();
  ST_CHECKF(argc == 2, "usage: %s <case>", argv[0]);
  const char* c = argv[1];
  if (strcmp(c, "realloc_glibc") == 0) {
    void* p = glibc_block(48);
    announce(p);
    printf("realloc returned %p\n", realloc(p, 4096));
  } else if (strcmp(c, "usable_size_glibc") == 0) {
    void* p = glibc_block(48);
    announce(p);
    printf("usable size %zu\n", malloc_usable_size(p));
  } else if (strcmp(c, "delete_glibc") == 0) {
    void* p = glibc_block(48);
    announce(p);
    _ZdlPv(p);
  } else if (strcmp(c, "free_sized_glibc") == 0) {
    void (*free_sized)(void*, size_t) = (void (*)(void*, size_t))st_sym("free_sized");
    void* p = glibc_block(48);
    announce(p);
    free_sized(p, 48);
  } else if (strcmp(c, "free_mmap") == 0) {
    void* p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ST_CHECK(p != MAP_FAILED);
    announce(p);
    free(p);
  } else if (strcmp(c, "realloc0_then_free") == 0) {
    void* p = malloc(64);
    ST_CHECK(p != NULL);
    ST_CHECK(realloc(p, 0) == NULL);
    announce(p);
    free(p);
  } else if (strcmp(c, "double_free_cached_huge") == 0) {
    void* keep = malloc((size_t)16 << 20); /* live huge bytes let the cache keep runs */
    void* p = malloc((size_t)2 << 20);
    ST_CHECK(keep != NULL && p != NULL);
    memset(p, 1, 4096);
    free(p);
    announce(p);
    free(p);
    free(keep);
  } else if (strcmp(c, "usable_size_freed_medium") == 0) {
    void* p = malloc(100 * 1024);
    ST_CHECK(p != NULL);
    void* guard = malloc(100 * 1024); /* keeps p's block from merging away */
    free(p);
    announce(p);
    printf("usable size %zu\n", malloc_usable_size(p));
    free(guard);
  } else if (strcmp(c, "double_free_remote_stale") == 0) {
    int (*mallctl)(const char*, void*, size_t*, void*, size_t) =
        (int (*)(const char*, void*, size_t*, void*, size_t))st_sym("mallctl");
    warm_up();
    g_stale = malloc(REMOTE_SIZE);
    ST_CHECK(g_stale != NULL);
    for (int i = 0; i < REMOTE_BLOCKS; ++i) ST_CHECK((g_remote[i] = malloc(REMOTE_SIZE)) != NULL);
    free(g_stale);
    ST_CHECK(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0); /* back to its arena */
    memset(g_stale, 0, 16);
    /* The remote blocks fill the other thread's bin, so the stale block's free
       overflows it, and the flush that follows starts with that block. */
    pthread_t t;
    ST_CHECK(pthread_create(&t, NULL, free_remotely, NULL) == 0);
    ST_CHECK(pthread_join(t, NULL) == 0);
  } else {
    ST_CHECKF(0, "unknown case %s", c);
  }
  printf("misuse not detected\n");
  return 0;
}
