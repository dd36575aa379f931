// oom: real exhaustion of the address space under RLIMIT_AS, entry point by
// entry point, run under LD_PRELOAD=libstrata.so (ctest label `reliability`).
//
// `oom <MiB> <small|medium|huge|cross>` sets RLIMIT_AS to MiB and
// re-executes itself (`oom --inner <case>`), so strata starts under the limit
// (as after `ulimit -v`) and sizes its reservation from it. For small (4 KiB
// blocks), medium (256 KiB) or huge (8 MiB), the inner run takes every entry
// point in turn (malloc, calloc, realloc(NULL, n), reallocarray,
// posix_memalign, aligned_alloc, memalign, valloc, pvalloc, operator new,
// operator new[], aligned new, new(std::nothrow)) and
//   - allocates until the first failure, which must be NULL with errno
//     ENOMEM (posix_memalign: ENOMEM returned, *memptr untouched; new:
//     std::bad_alloc; nothrow new: NULL);
//   - checks that witness blocks allocated before the exhaustion kept their
//     contents, frees everything, and allocates again: at least 3/4 of the
//     previous count must succeed (freed memory is reusable, nothing leaked);
// then grows one block with realloc until that fails (ENOMEM, the block
// intact) and allocates a block of every size.
// `cross` exhausts the address space with small blocks and frees them, then
// with medium blocks, then huge, then small again, without malloc_trim: each
// phase must get most of the bytes the first one had (memory freed at one size
// serves another: the heaps give wholly free segments back when the page
// source runs dry).
// Blocks are not written (except calloc's zeroing), so the run touches
// little memory whatever the limit. Engines' own exhaustion with tiny arenas
// is covered by tests/engine (exhaustion scenarios) and the fuzzers.
#include <sys/resource.h>

#include <new>
#include <vector>

#include "preload_check.h"

namespace {

using AllocFn = void* (*)(size_t n);

struct Entry {
  const char* name;
  AllocFn alloc;
  bool throws;  // operator new: failure is std::bad_alloc
};

void* e_malloc(size_t n) { return malloc(n); }
void* e_calloc(size_t n) { return calloc(n / 16, 16); }
void* e_realloc(size_t n) { return realloc(NULL, n); }
void* e_reallocarray(size_t n) { return reallocarray(NULL, n / 64, 64); }
void* e_memalign(size_t n) { return memalign(256, n); }
void* e_aligned_alloc(size_t n) { return aligned_alloc(4096, n); }
void* e_valloc(size_t n) { return valloc(n); }
void* e_pvalloc(size_t n) { return pvalloc(n); }
void* e_posix_memalign(size_t n) {
  void* sentinel = (void*)&e_malloc;
  void* p = sentinel;
  const int rc = posix_memalign(&p, 64, n);
  if (rc == 0) return p;
  ST_CHECKF(rc == ENOMEM, "posix_memalign returned %d, want ENOMEM", rc);
  ST_CHECKF(p == sentinel, "posix_memalign wrote *memptr on failure");
  errno = ENOMEM;  // so the caller's errno check holds
  return NULL;
}
void* e_new(size_t n) { return ::operator new(n); }
void* e_new_array(size_t n) { return ::operator new[](n); }
void* e_new_aligned(size_t n) { return ::operator new(n, std::align_val_t{128}); }
void* e_new_nothrow(size_t n) { return ::operator new(n, std::nothrow); }

const Entry ENTRIES[] = {
    {"malloc", e_malloc, false},           {"calloc", e_calloc, false},
    {"realloc(NULL)", e_realloc, false},   {"reallocarray", e_reallocarray, false},
    {"posix_memalign", e_posix_memalign, false}, {"aligned_alloc", e_aligned_alloc, false},
    {"memalign", e_memalign, false},       {"valloc", e_valloc, false},
    {"pvalloc", e_pvalloc, false},         {"operator new", e_new, true},
    {"operator new[]", e_new_array, true}, {"operator new(align 128)", e_new_aligned, true},
    {"new(nothrow)", e_new_nothrow, false},
};

// One allocation that may fail; NULL on failure after checking how it failed.
void* try_alloc(const Entry& e, size_t n) {
  errno = 0;
  if (e.throws) {
    try {
      return st_launder(e.alloc(n));
    } catch (const std::bad_alloc&) {
      return NULL;
    }
  }
  void* p = st_launder(e.alloc(n));
  if (p == NULL) ST_CHECKF(errno == ENOMEM, "%s(%zu) failed with errno %d, want ENOMEM", e.name, n, errno);
  return p;
}

void release(const Entry& e, void* p) {
  if (e.throws) {
    if (e.alloc == e_new_array) ::operator delete[](p);
    else if (e.alloc == e_new_aligned) ::operator delete(p, std::align_val_t{128});
    else ::operator delete(p);
  } else {
    free(p);
  }
}

// Allocates n-byte blocks until the first failure; returns them.
std::vector<void*> exhaust(const Entry& e, size_t n) {
  std::vector<void*> got;
  got.reserve(1u << 16);
  for (;;) {
    void* p = try_alloc(e, n);
    if (p == NULL) return got;
    got.push_back(p);
    ST_CHECKF(got.size() < (1u << 22), "%s(%zu) never fails: is RLIMIT_AS in force?", e.name, n);
  }
}

void check_entry(const Entry& e, size_t n, void* const* witness, const size_t* wsize, int nw) {
  std::vector<void*> first = exhaust(e, n);
  ST_CHECKF(!first.empty(), "%s(%zu): not even one block before the limit", e.name, n);
  for (int i = 0; i < nw; ++i)
    ST_CHECKF(st_verify(witness[i], wsize[i], (uint64_t)i) == (size_t)-1, "witness %d damaged by %s", i, e.name);
  const size_t before = first.size();
  for (void* p : first) release(e, p);
  std::vector<void*> again = exhaust(e, n);
  ST_CHECKF(again.size() * 4 >= before * 3, "%s(%zu): %zu blocks before freeing, only %zu after", e.name, n, before,
            again.size());
  for (void* p : again) release(e, p);
  printf("oom: %-24s %8zu B: %6zu blocks, then ENOMEM; %6zu again after freeing\n", e.name, n, before,
         again.size());
}

// realloc growing one block until it fails: the block must survive intact.
void check_realloc_growth() {
  size_t n = 1 << 20;
  char* p = (char*)malloc(n);
  ST_CHECK(p != NULL);
  st_fill(p, 4096, 99);
  for (;;) {
    errno = 0;
    char* q = (char*)realloc(p, n * 2);
    if (q == NULL) {
      ST_CHECKF(errno == ENOMEM, "failed realloc: errno %d", errno);
      ST_CHECKF(st_verify(p, 4096, 99) == (size_t)-1, "failed realloc damaged its block");
      ST_CHECK(malloc_usable_size(p) >= n);
      break;
    }
    p = q;
    n *= 2;
    ST_CHECKF(n < ((size_t)1 << 44), "realloc never fails: is RLIMIT_AS in force?");
  }
  free(p);
  printf("oom: realloc growth stopped at %zu MiB with ENOMEM, block intact\n", n >> 20);
}

// Exhausts with malloc(n) and frees everything; returns the bytes it got.
size_t exhaust_bytes(size_t n) {
  std::vector<void*> got = exhaust(ENTRIES[0], n);
  for (void* p : got) free(p);
  return got.size() * n;
}

// Small, medium, huge, small again: each phase after the first must reach a
// share of the first one's bytes (huge blocks of 8 MiB take three 4 MiB
// segments with their header, so half; the others three quarters).
void check_cross() {
  const size_t small = exhaust_bytes(4096);
  const struct {
    size_t n;
    size_t num, den;
  } phases[] = {{256 * 1024, 3, 4}, {8u << 20, 1, 2}, {4096, 3, 4}};
  for (const auto& ph : phases) {
    const size_t got = exhaust_bytes(ph.n);
    ST_CHECKF(got / ph.num * ph.den >= small, "after %zu MiB of 4 KiB blocks were freed, malloc(%zu) reaches only %zu MiB",
              small >> 20, ph.n, got >> 20);
    printf("oom: cross: %zu MiB of 4 KiB blocks, then %zu MiB of %zu KiB blocks\n", small >> 20, got >> 20, ph.n >> 10);
  }
}

int inner(const char* kind) {
  st_require_strata();
  // Witnesses: one block of each kind, allocated before any exhaustion.
  const size_t wsize[3] = {100, 200 * 1024, 5u << 20};
  void* witness[3];
  for (int i = 0; i < 3; ++i) {
    witness[i] = malloc(wsize[i]);
    ST_CHECK(witness[i] != NULL);
    st_fill(witness[i], wsize[i], (uint64_t)i);
  }
  const size_t sizes[] = {4096, 256 * 1024, 8u << 20};
  if (strcmp(kind, "cross") == 0) {
    check_cross();
  } else {
    const size_t n = strcmp(kind, "small") == 0 ? sizes[0] : strcmp(kind, "medium") == 0 ? sizes[1] : sizes[2];
    ST_CHECKF(n != sizes[2] || strcmp(kind, "huge") == 0, "unknown case %s", kind);
    for (const Entry& e : ENTRIES) check_entry(e, n, witness, wsize, 3);
    check_realloc_growth();
  }
  for (int i = 0; i < 3; ++i) {
    ST_CHECK(st_verify(witness[i], wsize[i], (uint64_t)i) == (size_t)-1);
    free(witness[i]);
  }
  for (size_t n : sizes) {  // still working, at every size
    void* p = malloc(n);
    ST_CHECK(p != NULL);
    st_fill(p, n, 5);
    ST_CHECK(st_verify(p, n, 5) == (size_t)-1);
    free(p);
  }
  printf("oom: %s: PASS\n", kind);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--inner") == 0) return inner(argv[2]);
  ST_CHECKF(argc == 3, "usage: %s <RLIMIT_AS in MiB> small|medium|huge|cross", argv[0]);
  struct rlimit rl;
  ST_CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  rl.rlim_cur = (rlim_t)strtoull(argv[1], NULL, 10) << 20;
  ST_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
  char* args[] = {argv[0], (char*)"--inner", argv[2], NULL};
  execv("/proc/self/exe", args);
  ST_CHECKF(0, "execv: %s", strerror(errno));
}
