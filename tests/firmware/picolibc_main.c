/*
 * strata firmware with a C library beside it: picolibc's own allocating
 * functions running on strata's heap.
 *
 * Built by the cross GCC with picolibc.specs (semihosting crt0: stdout and
 * exit go through QEMU's semihosting), linked with libstrata_fw.a and
 * libstrata_engine.a (clang objects) and no other allocator: strata's malloc,
 * free, calloc, realloc, memalign, aligned_alloc, posix_memalign and
 * malloc_usable_size replace picolibc's, so the link pulls in none of
 * picolibc's malloc members (a duplicate definition would fail the link, and
 * the ctest picolibc_one_heap checks the image's symbols for its heap).
 *
 * Every library call below must allocate from strata's pool: each block it
 * returns lies inside the pool and is a live strata block
 * (strata_fw_heap_usable_size would end in strata_fatal otherwise), and
 * strata's diagnostics see the allocations come and go. picolibc's qsort
 * sorts in place (it allocates nothing), so it sorts an array of strdup'ed
 * strings held in a strata block instead.
 *
 * Output: "strata-fw: ..." lines, ending with "strata-fw: PASS <n> checks"
 * and exit(0), or a FAIL line and exit(1), as the harness (run_qemu.sh) wants.
 */
#define _GNU_SOURCE 1
#include <regex.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/strata_fw.h"

/* 512 KiB: the Heap engine cuts spans of up to 64 KiB (a 4 KiB request takes
   one), so it wants pools of a few hundred KiB; TLSF would do with far less. */
static unsigned char pool[512 * 1024];
static unsigned long checks, failures;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    ++checks;                                                                        \
    if (!(cond)) {                                                                   \
      ++failures;                                                                    \
      printf("strata-fw: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                                \
  } while (0)

void strata_fatal(const char* what, uintptr_t value) {
  printf("strata-fw: FAIL fatal: %s %#lx\n", what, (unsigned long)value);
  fflush(stdout);
  _exit(3);
}

static size_t allocated(void) {
  struct strata_fw_diag d;
  strata_fw_get_diag(&d);
  return d.allocated;
}

/* A block the library handed out is strata's: inside the pool, live. */
static int strata_block(const void* p, size_t at_least) {
  const unsigned char* b = (const unsigned char*)p;
  if (b < pool || b >= pool + sizeof pool) return 0;
  return strata_fw_heap_usable_size(strata_fw_default_heap(), (void*)p) >= at_least;
}

static unsigned long step_checks, step_failures;

static void step(const char* name) {
  printf("strata-fw: picolibc %s: %s (%lu checks)\n", name, failures == step_failures ? "ok" : "FAILED",
         checks - step_checks);
  step_checks = checks;
  step_failures = failures;
}

static void strings(void) {
  const size_t base = allocated();
  char* a = strdup("strata on picolibc");
  char* b = strndup("0123456789abcdef", 10);
  CHECK(a != NULL && b != NULL);
  if (a == NULL || b == NULL) return;
  CHECK(strcmp(a, "strata on picolibc") == 0 && strcmp(b, "0123456789") == 0);
  CHECK(strata_block(a, strlen(a) + 1) && strata_block(b, 11));
  CHECK(allocated() > base);
  free(a);
  free(b);
  char* s = NULL;
  int n = asprintf(&s, "%s %d %#x %s", "asprintf", 42, 0xbeef, "grows its buffer with realloc: a longer line than its first guess");
  CHECK(n > 60 && s != NULL && strata_block(s, (size_t)n + 1));
  CHECK(s != NULL && strncmp(s, "asprintf 42 0xbeef", 18) == 0);
  free(s);
  CHECK(allocated() == base);
}

static void memory_file(void) {
  const size_t base = allocated();
  FILE* f = fmemopen(NULL, 4096, "w+");  /* NULL: fmemopen allocates the buffer too */
  CHECK(f != NULL);
  if (f == NULL) return;
  CHECK(allocated() >= base + 4096);
  for (int i = 0; i < 100; ++i) fprintf(f, "line %d\n", i);
  fflush(f);
  rewind(f);
  char line[32];
  int lines = 0, last = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    ++lines;
    sscanf(line, "line %d", &last);
  }
  CHECK(lines == 100 && last == 99);
  fclose(f);
  CHECK(allocated() == base);
}

static int by_string(const void* x, const void* y) { return strcmp(*(char* const*)x, *(char* const*)y); }

static void sorting(void) {
  const size_t base = allocated();
  enum { N = 200 };
  char** words = calloc(N, sizeof *words);
  CHECK(words != NULL && strata_block(words, N * sizeof *words));
  if (words == NULL) return;
  for (int i = 0; i < N; ++i) {
    char buf[16];
    snprintf(buf, sizeof buf, "w%05d", (i * 7919) % N);
    words[i] = strdup(buf);
    CHECK(words[i] != NULL);
  }
  qsort(words, N, sizeof *words, by_string);
  int sorted = 1;
  for (int i = 1; i < N; ++i) sorted &= strcmp(words[i - 1], words[i]) < 0;
  CHECK(sorted);
  for (int i = 0; i < N; ++i) free(words[i]);
  free(words);
  CHECK(allocated() == base);
}

static int by_int(const void* x, const void* y) { return *(const int*)x - *(const int*)y; }
static void drop(void* node) { (void)node; }

static void trees_env_regex(void) {
  const size_t base = allocated();
  /* tsearch: one malloc per node. */
  static int keys[64];
  void* root = NULL;
  for (int i = 0; i < 64; ++i) {
    keys[i] = (i * 37) % 64;
    CHECK(tsearch(&keys[i], &root, by_int) != NULL);
  }
  CHECK(allocated() > base);
  int probe = 17;
  CHECK(tfind(&probe, &root, by_int) != NULL);
  tdestroy(root, drop);
  CHECK(allocated() == base);

  /* setenv: environ grows with realloc, each entry with malloc. */
  CHECK(setenv("STRATA_FW", "picolibc", 1) == 0 && setenv("STRATA_HEAP", "tlsf-or-heap", 1) == 0);
  const char* v = getenv("STRATA_FW");
  CHECK(v != NULL && strcmp(v, "picolibc") == 0);
  CHECK(allocated() > base);

  /* regcomp/regexec: malloc and realloc inside the regex engine. */
  regex_t re;
  const size_t before_regex = allocated();
  CHECK(regcomp(&re, "^(strata|tlsf)-[0-9]+[a-z]*$", REG_EXTENDED | REG_NOSUB) == 0);
  CHECK(allocated() > before_regex);
  CHECK(regexec(&re, "strata-2024fw", 0, NULL, 0) == 0);
  CHECK(regexec(&re, "o1heap-22", 0, NULL, 0) == REG_NOMATCH);
  regfree(&re);
  CHECK(allocated() == before_regex);
}

int main(void) {
  printf("strata-fw: picolibc beside strata on %s\n", STRATA_FW_ISA_NAME);
  if (strata_fw_init(pool, sizeof pool) != 0) {
    printf("strata-fw: FAIL strata_fw_init\n");
    return 1;
  }
  strings();
  step("strdup_asprintf");
  memory_file();
  step("fmemopen");
  sorting();
  step("qsort");
  trees_env_regex();
  step("tsearch_setenv_regex");

  struct strata_fw_diag d;
  strata_fw_get_diag(&d);
  const char* broken = strata_fw_verify();
  CHECK(broken == NULL);
  CHECK(d.peak_allocated > 4096 && d.peak_request >= 4096 && d.oom_count == 0);
  printf("strata-fw:   capacity=%lu allocated=%lu peak_allocated=%lu peak_request=%lu\n", (unsigned long)d.capacity,
         (unsigned long)d.allocated, (unsigned long)d.peak_allocated, (unsigned long)d.peak_request);
  if (failures != 0) {
    printf("strata-fw: FAIL %lu of %lu checks failed\n", failures, checks);
    return 1;
  }
  printf("strata-fw: PASS %lu checks\n", checks);
  return 0;
}
