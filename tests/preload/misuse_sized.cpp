/* misuse_sized: sized and aligned deallocation whose claim contradicts the
 * block, one case per argument (tests/preload/CMakeLists.txt, run through
 * misuse_expect.sh): the process must die of SIGABRT with one line naming the
 * function, the mismatch and the pointer it printed as `ptr=` beforehand.
 * With `all` every case runs in turn and the program exits 0: under
 * sized_dealloc_check:false strata ignores the claims, and nothing breaks.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "preload_check.h"

extern "C" {
void free_sized(void*, std::size_t) __attribute__((weak));
void free_aligned_sized(void*, std::size_t, std::size_t) __attribute__((weak));
void* mallocx(std::size_t, int) __attribute__((weak));
void sdallocx(void*, std::size_t, int) __attribute__((weak));
}

namespace {

void announce(const void* p) {
  std::printf("ptr=%p\n", p);
  std::fflush(stdout);
}

// A base class without a virtual destructor: `delete base` of a Derived
// calls the sized operator delete with sizeof(Base), the classic wrong size.
struct Base {
  long id;
};
struct Derived : Base {
  char payload[96];
};

struct alignas(64) Line {
  char bytes[64];
};

__attribute__((noinline)) void delete_wrong_type() {
  Base* b = new Derived;  // 104 bytes: the 112-byte class
  announce(b);
  delete b;  // operator delete(b, sizeof(Base) = 8)
}

__attribute__((noinline)) void delete_array_wrong_size() {
  char* a = new char[3000];
  announce(a);
  ::operator delete[](a, 300);
}

__attribute__((noinline)) void delete_wrong_alignment() {
  Line* l = new Line;  // operator new(64, align_val_t{64})
  announce(l);
  ::operator delete(l, sizeof(Line), std::align_val_t{128});
}

__attribute__((noinline)) void delete_unsized_wrong_alignment() {
  void* p = ::operator new(48);  // malloc's alignment only
  announce(p);
  ::operator delete(p, std::align_val_t{4096});
}

__attribute__((noinline)) void delete_medium_wrong_size() {
  void* p = ::operator new(256 * 1024);
  announce(p);
  ::operator delete(p, 128 * 1024);
}

__attribute__((noinline)) void free_sized_small() {
  void* p = std::malloc(100);
  announce(p);
  free_sized(p, 1000);
}

__attribute__((noinline)) void free_sized_huge() {
  void* p = std::malloc(8u << 20);
  announce(p);
  free_sized(p, 4u << 20);
}

__attribute__((noinline)) void free_aligned_sized_case() {
  void* p = std::malloc(200);  // not aligned_alloc(4096, ...)
  announce(p);
  free_aligned_sized(p, 4096, 200);
}

__attribute__((noinline)) void sdallocx_wrong_size() {
  void* p = mallocx(64, 0);
  announce(p);
  sdallocx(p, 16, 0);
}

struct Case {
  const char* name;
  void (*run)();
};
const Case CASES[] = {
    {"delete_wrong_type", delete_wrong_type},
    {"delete_array_wrong_size", delete_array_wrong_size},
    {"delete_wrong_alignment", delete_wrong_alignment},
    {"delete_unsized_wrong_alignment", delete_unsized_wrong_alignment},
    {"delete_medium_wrong_size", delete_medium_wrong_size},
    {"free_sized_small", free_sized_small},
    {"free_sized_huge", free_sized_huge},
    {"free_aligned_sized", free_aligned_sized_case},
    {"sdallocx_wrong_size", sdallocx_wrong_size},
};

}  // namespace

int main(int argc, char** argv) {
  st_require_strata();
  ST_CHECKF(argc == 2, "usage: %s <case>|all", argv[0]);
  ST_CHECK(free_sized != nullptr && free_aligned_sized != nullptr && mallocx != nullptr && sdallocx != nullptr);
  const bool all = std::strcmp(argv[1], "all") == 0;
  for (const Case& c : CASES) {
    if (!all && std::strcmp(argv[1], c.name) != 0) continue;
    c.run();
    if (!all) {
      std::printf("misuse not detected\n");
      return 1;
    }
    // Ignored claims leave the heap whole: it keeps serving and freeing.
    for (int i = 0; i < 1000; ++i) std::free(std::malloc(static_cast<std::size_t>(i) * 37));
  }
  if (all) return 0;
  ST_CHECKF(0, "unknown case %s", argv[1]);
  return 1;
}
