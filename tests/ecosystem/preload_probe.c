/* Probe for the preload tests (tests/ecosystem): run with libstrata preloaded.
 *   preload_probe names   every jemalloc/glibc extension name is strata's, and works
 *   preload_probe json    malloc_stats_print(..., "J") on stdout
 *   preload_probe xml     malloc_info(0, stdout)
 * Names are looked up with dlsym: the program is not linked against strata. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                \
  do {                                                          \
    if (!(c)) {                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      exit(1);                                                  \
    }                                                           \
  } while (0)

static void* sym(const char* name) {
  void* s = dlsym(RTLD_DEFAULT, name);
  if (s == NULL) fprintf(stderr, "missing symbol %s\n", name);
  CHECK(s != NULL);
  return s;
}

static void to_stdout(void* opaque, const char* s) {
  (void)opaque;
  fputs(s, stdout);
}

static void* keep[3000];

static void allocate_some(void) {
  for (int i = 0; i < 3000; ++i) keep[i] = malloc((size_t)(i % 500) * 13 + (i % 7 == 0 ? 200000 : 0));
  keep[0] = realloc(keep[0], 6u << 20);
}

static int check_names(void) {
  static const char* const names[][2] = {
      {"mallctl", "strata_ctl"},          {"mallctlnametomib", "strata_ctl_nametomib"},
      {"mallctlbymib", "strata_ctl_bymib"}, {"malloc_stats_print", "strata_stats_print"},
      {"mallocx", "strata_mallocx"},      {"rallocx", "strata_rallocx"},
      {"xallocx", "strata_xallocx"},      {"sallocx", "strata_sallocx"},
      {"dallocx", "strata_dallocx"},      {"sdallocx", "strata_sdallocx"},
      {"nallocx", "strata_nallocx"},      {"mallinfo2", "strata_mallinfo2"},
      {"mallinfo", "strata_mallinfo"},    {"malloc_stats", "strata_malloc_stats"},
      {"malloc_info", "strata_malloc_info"}, {"malloc_usable_size", "strata_malloc_usable_size"},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    if (sym(names[i][0]) != sym(names[i][1])) fprintf(stderr, "%s is not strata's\n", names[i][0]);
    CHECK(sym(names[i][0]) == sym(names[i][1]));
  }
  int (*ctl)(const char*, void*, size_t*, void*, size_t) = sym("mallctl");
  void* (*mallocx)(size_t, int) = sym("mallocx");
  void* (*rallocx)(void*, size_t, int) = sym("rallocx");
  size_t (*xallocx)(void*, size_t, size_t, int) = sym("xallocx");
  size_t (*sallocx)(const void*, int) = sym("sallocx");
  size_t (*nallocx)(size_t, int) = sym("nallocx");
  void (*dallocx)(void*, int) = sym("dallocx");
  void (*sdallocx)(void*, size_t, int) = sym("sdallocx");
  const char* version = NULL;
  size_t len = sizeof version;
  CHECK(ctl("version", &version, &len, NULL, 0) == 0 && strcmp(version, ((const char* (*)(void))sym("strata_version"))()) == 0);
  CHECK(ctl("no.such.name", NULL, NULL, NULL, 0) == 2 /* ENOENT */);
  char* p = mallocx(100, 0x40 | 6); /* MALLOCX_ZERO | MALLOCX_LG_ALIGN(6) */
  CHECK(p != NULL && ((size_t)p & 63) == 0 && p[99] == 0);
  CHECK(sallocx(p, 0) == nallocx(100, 6) && sallocx(p, 0) == malloc_usable_size(p));
  p = rallocx(p, 5000, 0);
  CHECK(p != NULL && xallocx(p, 10, 0, 0) >= 5000);
  dallocx(p, 0);
  p = mallocx(64, 0);
  free(p);  /* mallocx blocks are malloc blocks */
  p = malloc(64);
  sdallocx(p, 64, 0);
  puts("names ok");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  CHECK(dlsym(RTLD_DEFAULT, "strata_malloc") != NULL); /* running on strata */
  if (strcmp(mode, "names") == 0) return check_names();
  allocate_some();
  if (strcmp(mode, "json") == 0) {
    void (*print)(void (*)(void*, const char*), void*, const char*) = sym("malloc_stats_print");
    print(to_stdout, NULL, "J");
  } else if (strcmp(mode, "xml") == 0) {
    CHECK(malloc_info(0, stdout) == 0);
  } else {
    fprintf(stderr, "usage: %s names|json|xml\n", argv[0]);
    return 2;
  }
  return 0;
}
