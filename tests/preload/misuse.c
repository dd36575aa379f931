/* misuse: one allocator misuse per run, chosen by argv[1]; strata must abort.
 *
 * The program prints `ptr=<address>` on stdout (the pointer it is about to
 * hand over wrongly), then commits the fault. misuse_expect.sh checks that
 * the process died of SIGABRT and that stderr is exactly one line of the
 * form `strata: <fn>(): <fault> <address>` naming that very pointer. If the
 * fault goes unnoticed the program exits 0 ("misuse not detected"), which
 * the driver reports as a failure.
 *
 * Cases: double_free_small, double_free_medium (100 KiB), double_free_large
 * (8 MiB), double_free_after_trim (the block went back to the central heap
 * first), double_free_cross_thread, interior_small, interior_medium,
 * interior_large, stack_pointer, wild_pointer, foreign_glibc (a block from
 * glibc's own malloc, reached through libc.so.6), realloc_invalid,
 * realloc_freed, usable_size_invalid, overflow_medium_1 / overflow_medium_8
 * (a write of 1 / 8 bytes past the usable end of a 256 KiB block, found by
 * its free), overflow_medium_realloc (found by the realloc that would grow it).
 */
#include <pthread.h>

#include "preload_check.h"

static void announce(const void* p) {
  printf("ptr=%p\n", p);
  fflush(stdout);
}

static void* fresh(size_t n) {
  void* p = malloc(n);
  ST_CHECK(p != NULL);
  memset(p, 0x42, n);
  return p;
}

static void double_free(size_t n) {
  void* p = fresh(n);
  free(p);
  announce(p);
  free(p);
}

static void interior(size_t n, size_t offset) {
  char* p = (char*)fresh(n);
  announce(p + offset);
  free(p + offset);
}

static void* free_in_thread(void* p) {
  free(p);
  return NULL;
}

/* glibc's malloc, reached through libc.so.6 itself (the program's malloc is strata's). */
static void* glibc_block(void) {
  void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  ST_CHECK(libc != NULL);
  void* (*glibc_malloc)(size_t) = (void* (*)(size_t))dlsym(libc, "malloc");
  ST_CHECK(glibc_malloc != NULL);
  ST_CHECKF(strstr(st_object_of((void*)glibc_malloc), "libc.so") != NULL, "libc's malloc found in %s",
            st_object_of((void*)glibc_malloc));
  ST_CHECKF((void*)glibc_malloc != dlsym(RTLD_DEFAULT, "malloc"), "libc.so.6's malloc is the process's malloc");
  void* p = glibc_malloc(64);
  ST_CHECK(p != NULL);
  memset(p, 0x13, 64);
  return p;
}

int main(int argc, char** argv) {
  st_require_strata();
  ST_CHECKF(argc == 2, "usage: %s <case>", argv[0]);
  const char* c = argv[1];
  if (strcmp(c, "double_free_small") == 0) {
    double_free(64);
  } else if (strcmp(c, "double_free_medium") == 0) {
    double_free(100 * 1024);
  } else if (strcmp(c, "double_free_large") == 0) {
    double_free((size_t)8 << 20);
  } else if (strcmp(c, "double_free_after_trim") == 0) {
    void* p = fresh(256);
    free(p);
    malloc_trim(0); /* the thread's cache goes back to the central heap */
    announce(p);
    free(p);
  } else if (strcmp(c, "double_free_cross_thread") == 0) {
    void* p = fresh(128);
    pthread_t t;
    ST_CHECK(pthread_create(&t, NULL, free_in_thread, p) == 0 && pthread_join(t, NULL) == 0);
    announce(p);
    free(p);
  } else if (strcmp(c, "interior_small") == 0) {
    interior(64, 8);
  } else if (strcmp(c, "interior_medium") == 0) {
    interior(100 * 1024, 4096);
  } else if (strcmp(c, "interior_large") == 0) {
    interior((size_t)8 << 20, (size_t)1 << 20);
  } else if (strcmp(c, "stack_pointer") == 0) {
    char local[64];
    memset(local, 0, sizeof local);
    announce(local);
    free(st_launder(local));
  } else if (strcmp(c, "wild_pointer") == 0) {
    void* p = (void*)(uintptr_t)0x12345678;
    announce(p);
    free(p);
  } else if (strcmp(c, "foreign_glibc") == 0) {
    void* p = glibc_block();
    announce(p);
    free(p);
  } else if (strcmp(c, "realloc_invalid") == 0) {
    void* p = (void*)(uintptr_t)0x12345678;
    announce(p);
    void* q = realloc(p, 100);
    printf("realloc returned %p\n", q);
  } else if (strcmp(c, "realloc_freed") == 0) {
    void* p = fresh(48);
    free(p);
    announce(p);
    void* q = realloc(p, 100);
    printf("realloc returned %p\n", q);
  } else if (strncmp(c, "overflow_medium_", 16) == 0) {
    const size_t n = 256 * 1024;
    char* p = (char*)fresh(n);
    ST_CHECK(malloc_usable_size(p) == n); /* the write below is past the usable end */
    announce(p);
    if (strcmp(c + 16, "8") == 0) {
      memset(st_launder(p + n), 0x41, 8);
    } else {
      ((volatile char*)st_launder(p))[n] = 0;
    }
    if (strcmp(c + 16, "realloc") == 0) {
      void* q = realloc(p, 2 * n);
      printf("realloc returned %p\n", q);
    } else {
      free(p);
    }
  } else if (strcmp(c, "usable_size_invalid") == 0) {
    char* p = (char*)fresh(64);
    announce(p + 8);
    printf("usable size %zu\n", malloc_usable_size(p + 8));
  } else {
    ST_CHECKF(0, "unknown case %s", c);
  }
  printf("misuse not detected\n");
  return 0;
}
