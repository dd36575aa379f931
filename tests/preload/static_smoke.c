/* static_smoke: a C program linked against libstrata.a (target strata_static)
 * runs on strata without any LD_PRELOAD.
 *
 * Checks: malloc and free in this executable are strata's (the executable
 * exports strata_malloc, and malloc is the same function, defined in the
 * executable); allocations glibc makes for the program (strdup, fopen,
 * asprintf, getline) come from strata too, which strata_malloc_usable_size
 * proves (it aborts on foreign pointers); the main size ranges, calloc,
 * realloc, aligned allocation, errno and EINVAL semantics, mallinfo2, 20,000
 * strings made by strdup and sorted by qsort, and a few threads with
 * cross-thread frees work.
 */
#include <pthread.h>

#include "preload_check.h"

void* strata_malloc(size_t n);
size_t strata_malloc_usable_size(void* p);

static void* thread_body(void* arg) {
  /* frees the block main allocated, returns one of its own */
  free(arg);
  void* p = malloc(333);
  ST_CHECK(p != NULL);
  st_fill(p, 333, 5);
  return p;
}

static int compare_strings(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

int main(void) {
  ST_CHECKF(getenv("LD_PRELOAD") == NULL || strstr(getenv("LD_PRELOAD"), "strata") == NULL,
            "static_smoke must run without LD_PRELOAD (LD_PRELOAD=%s)", getenv("LD_PRELOAD"));
  st_require_strata();
  ST_CHECKF(dlsym(RTLD_DEFAULT, "malloc") == (void*)strata_malloc, "malloc is not strata_malloc");
  ST_CHECKF(strstr(st_object_of((void*)strata_malloc), "libstrata") == NULL,
            "strata_malloc comes from %s, not from this executable", st_object_of((void*)strata_malloc));

  /* glibc's own allocations for the program go through the executable's malloc. */
  char* s = strdup("static strata");
  ST_CHECK(s != NULL && strata_malloc_usable_size(s) >= 14);
  char* msg = NULL;
  ST_CHECK(asprintf(&msg, "%s %d %0500d", s, 42, 7) > 500);
  ST_CHECK(strata_malloc_usable_size(msg) > 500);
  FILE* f = fopen("/proc/self/maps", "r");
  ST_CHECK(f != NULL);
  char* line = NULL;
  size_t cap = 0;
  ST_CHECK(getline(&line, &cap, f) > 0);
  ST_CHECK(strata_malloc_usable_size(line) >= cap);
  free(line);
  fclose(f);
  free(msg);
  free(s);

  const size_t sizes[] = {0, 1, 100, 5000, 40000, 700000, (size_t)6 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    void* p = malloc(sizes[i]);
    ST_CHECK(p != NULL && st_is_aligned(p, 16) && malloc_usable_size(p) >= sizes[i]);
    st_fill(p, sizes[i], i);
    p = realloc(p, sizes[i] * 2 + 10);
    ST_CHECK(p != NULL && st_verify(p, sizes[i], i) == (size_t)-1);
    free(p);
    void* z = calloc(1, sizes[i]);
    ST_CHECK(z != NULL && st_all_zero(z, sizes[i]));
    free(z);
    void* a = aligned_alloc(4096, sizes[i] + 1);
    ST_CHECK(a != NULL && st_is_aligned(a, 4096));
    free(a);
  }

  /* The libc contract holds in the static build too. */
  errno = 0;
  ST_CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
  void* pm = &pm;
  ST_CHECK(posix_memalign(&pm, 3, 10) == EINVAL && pm == (void*)&pm);
  ST_CHECK(posix_memalign(&pm, 1u << 16, 10) == 0 && st_is_aligned(pm, 1u << 16));
  errno = EDOM;
  free(pm);
  ST_CHECK(errno == EDOM);
  ST_CHECK(mallopt(M_ARENA_MAX, 1) == 1);

  /* Many strings made by glibc (strdup) and sorted, then mallinfo2 sees them. */
  enum { STRINGS = 20000 };
  char** strs = (char**)calloc(STRINGS, sizeof(char*));
  ST_CHECK(strs != NULL);
  const size_t used0 = mallinfo2().uordblks;
  for (int i = 0; i < STRINGS; ++i) {
    char buf[64];
    snprintf(buf, sizeof buf, "%08x-string-%d", (unsigned)(i * 2654435761u), i);
    strs[i] = strdup(buf);
    ST_CHECK(strs[i] != NULL && strata_malloc_usable_size(strs[i]) > strlen(buf));
  }
  ST_CHECKF(mallinfo2().uordblks >= used0 + STRINGS * 16, "mallinfo2 uordblks %zu -> %zu", used0,
            mallinfo2().uordblks);
  qsort(strs, STRINGS, sizeof(char*), compare_strings);
  for (int i = 1; i < STRINGS; ++i) ST_CHECK(strcmp(strs[i - 1], strs[i]) < 0);
  for (int i = 0; i < STRINGS; ++i) free(strs[i]);
  free(strs);

  pthread_t t[4];
  for (int i = 0; i < 4; ++i) {
    void* gift = malloc(1000);
    ST_CHECK(gift != NULL);
    ST_CHECK(pthread_create(&t[i], NULL, thread_body, gift) == 0);
  }
  for (int i = 0; i < 4; ++i) {
    void* r = NULL;
    ST_CHECK(pthread_join(t[i], &r) == 0);
    ST_CHECK(r != NULL && st_verify(r, 333, 5) == (size_t)-1);
    free(r);
  }
  printf("static_smoke: OK\n");
  return 0;
}
