// strata firmware self-test: the firmware C API (include/strata/strata_fw.h)
// and the C++ operator new/delete of freestanding/runtime, as firmware code
// would call them, over the engine the build chose (STRATA_FW_ENGINE) and
// under the build's symbol prefix (STRATA_FW_PREFIX).
//
// What ends the program (an invalid free, new out of memory) cannot be
// checked here: the images fatal_free and fatal_new do it, and the harness
// expects them to fail with strata_fatal's message.
#include <new>

#include "strata/core/bits.hpp"
#include "selftest.hpp"
#include "strata/align.hpp"
#include "strata/strata_fw.h"

#define FW(name) STRATA_FW_NAME(name)

namespace strata::fw {
namespace {
usize used_bytes() {
  strata_fw_stats s{};
  strata_fw_get_stats(&s);
  return s.used;
}

bool all_bytes(const void* p, usize n, u8 v) {
  const u8* b = static_cast<const u8*>(p);
  for (usize i = 0; i < n; ++i)
    if (b[i] != v) return false;
  return true;
}

void fill_index(void* p, usize n) {
  u8* b = static_cast<u8*>(p);
  for (usize i = 0; i < n; ++i) b[i] = static_cast<u8>(i * 13 + 7);
}

bool check_index(const void* p, usize n) {
  const u8* b = static_cast<const u8*>(p);
  for (usize i = 0; i < n; ++i)
    if (b[i] != static_cast<u8>(i * 13 + 7)) return false;
  return true;
}

struct alignas(256) OverAligned {
  u8 bytes[300];
};

void check_malloc_free(scenario::Checker& chk, usize used0) {
  const usize sizes[] = {0, 1, 15, 16, 17, 100, 1000, 5000, 70000};
  void* ptrs[sizeof sizes / sizeof sizes[0]] = {};
  for (usize i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    ptrs[i] = FW(malloc)(sizes[i]);
    if (!SCEN_CHECK(chk, ptrs[i] != nullptr)) return;
    SCEN_CHECK(chk, is_ptr_aligned(ptrs[i], 2 * sizeof(void*)));
    SCEN_CHECK(chk, FW(malloc_usable_size)(ptrs[i]) >= sizes[i]);
    fill_index(ptrs[i], sizes[i]);
  }
  SCEN_CHECK(chk, ptrs[0] != ptrs[1]);  // malloc(0) is a block of its own
  for (usize i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    SCEN_CHECK(chk, check_index(ptrs[i], sizes[i]));
    FW(free)(ptrs[i]);
  }
  FW(free)(nullptr);
  SCEN_CHECK(chk, FW(malloc_usable_size)(nullptr) == 0);
  SCEN_CHECK(chk, used_bytes() == used0);
}

void check_calloc(scenario::Checker& chk, usize used0) {
  void* dirty = FW(malloc)(512);
  if (!SCEN_CHECK(chk, dirty != nullptr)) return;
  __builtin_memset(dirty, 0xa5, 512);
  FW(free)(dirty);
  void* z = FW(calloc)(16, 32);
  if (!SCEN_CHECK(chk, z != nullptr)) return;
  SCEN_CHECK(chk, all_bytes(z, 512, 0));
  FW(free)(z);
  // n * size overflowing size_t is refused, not truncated.
  SCEN_CHECK(chk, FW(calloc)(USIZE_MAX / 2 + 1, 2) == nullptr);
  SCEN_CHECK(chk, FW(calloc)(USIZE_MAX, USIZE_MAX) == nullptr);
  constexpr u32 HALF_BITS = sizeof(usize) * 4;  // the product is exactly 2^(bits of size_t)
  SCEN_CHECK(chk, FW(calloc)(usize{1} << (HALF_BITS + 1), usize{1} << (HALF_BITS - 1)) == nullptr);
  void* none = FW(calloc)(0, 10);
  SCEN_CHECK(chk, none != nullptr);
  FW(free)(none);
  SCEN_CHECK(chk, used_bytes() == used0);
}

void check_realloc(scenario::Checker& chk, usize used0) {
  void* p = FW(realloc)(nullptr, 100);  // realloc(NULL, n) == malloc(n)
  if (!SCEN_CHECK(chk, p != nullptr)) return;
  fill_index(p, 100);
  void* fence = FW(malloc)(64);  // a used neighbour: growing p must move it
  p = FW(realloc)(p, 10000);
  if (!SCEN_CHECK(chk, p != nullptr)) return;
  SCEN_CHECK(chk, check_index(p, 100));
  fill_index(p, 10000);
  p = FW(realloc)(p, 50);  // shrink keeps the head
  if (!SCEN_CHECK(chk, p != nullptr)) return;
  SCEN_CHECK(chk, check_index(p, 50));
  // A request the pool cannot serve: NULL, and the old block is untouched.
  SCEN_CHECK(chk, FW(realloc)(p, scenario::BEYOND_ANY_POOL) == nullptr);
  SCEN_CHECK(chk, FW(realloc)(p, USIZE_MAX) == nullptr);
  SCEN_CHECK(chk, check_index(p, 50) && FW(malloc_usable_size)(p) >= 50);
  SCEN_CHECK(chk, FW(realloc)(p, 0) == nullptr);  // frees
  FW(free)(fence);
  SCEN_CHECK(chk, used_bytes() == used0);
}

void check_aligned_alloc(scenario::Checker& chk, usize used0) {
  for (usize align = 1; align <= (usize{1} << 16); align <<= 1) {
    void* p = FW(aligned_alloc)(align, 24);
    if (!SCEN_CHECK(chk, p != nullptr)) return;
    SCEN_CHECK(chk, is_ptr_aligned(p, align));
    fill_index(p, 24);
    FW(free)(p);
  }
  SCEN_CHECK(chk, FW(aligned_alloc)(0, 8) == nullptr);
  SCEN_CHECK(chk, FW(aligned_alloc)(3, 8) == nullptr);
  SCEN_CHECK(chk, FW(aligned_alloc)(48, 96) == nullptr);
  void* odd = FW(aligned_alloc)(64, 10);  // size need not be a multiple of the alignment
  SCEN_CHECK(chk, odd != nullptr && is_ptr_aligned(odd, 64));
  FW(free)(odd);
  SCEN_CHECK(chk, used_bytes() == used0);
}

void check_exhaustion(scenario::Checker& chk, usize used0) {
  void** held = slots();
  usize n = 0;
  while (n < SLOT_CAPACITY) {
    void* p = FW(malloc)(1000);
    if (p == nullptr) break;
    held[n++] = p;
  }
  SCEN_CHECK(chk, n > 0 && n < SLOT_CAPACITY);  // the pool ran out, not the slots
  SCEN_CHECK(chk, FW(malloc)(1000) == nullptr);
  for (usize i = 0; i < n; ++i) FW(free)(held[i]);
  SCEN_CHECK(chk, used_bytes() == used0);
  void* again = FW(malloc)(1000);
  SCEN_CHECK(chk, again != nullptr);
  FW(free)(again);
}

void check_new_delete(scenario::Checker& chk, usize used0) {
  int* one = new int(42);
  SCEN_CHECK(chk, *one == 42 && used_bytes() > used0);
  delete one;
  int* many = new int[100]();
  SCEN_CHECK(chk, many[0] == 0 && many[99] == 0);
  delete[] many;
  OverAligned* big = new OverAligned;  // aligned new
  SCEN_CHECK(chk, is_ptr_aligned(big, alignof(OverAligned)));
  delete big;
  OverAligned* arr = new OverAligned[3];
  SCEN_CHECK(chk, is_ptr_aligned(arr, alignof(OverAligned)));
  delete[] arr;
  char* huge = new (std::nothrow) char[scenario::BEYOND_ANY_POOL];
  SCEN_CHECK(chk, huge == nullptr);
  OverAligned* huge_aligned = new (std::nothrow) OverAligned[scenario::BEYOND_ANY_POOL / sizeof(OverAligned)];
  SCEN_CHECK(chk, huge_aligned == nullptr);
  char* small = new (std::nothrow) char[10];
  SCEN_CHECK(chk, small != nullptr);
  delete[] small;
  SCEN_CHECK(chk, used_bytes() == used0);
}

}  // namespace

void suite_fw_api(scenario::Checker& chk) {
  u8* mem = arena();
  Steps steps("fw_api", chk);

  SCEN_CHECK(chk, strata_fw_init(nullptr, 4096) != 0);
  SCEN_CHECK(chk, FW(malloc)(1) == nullptr);  // no pool: every allocation fails
  SCEN_CHECK(chk, strata_fw_init(mem + 1, 8) != 0);
  SCEN_CHECK(chk, FW(malloc)(1) == nullptr);
  // An unaligned pool start is fine: the allocator rounds it up.
  const usize pool = usize{1} << 20;
  if (!SCEN_CHECK(chk, strata_fw_init(mem + 3, pool) == 0)) return;
  strata_fw_stats st{};
  strata_fw_get_stats(&st);
  SCEN_CHECK(chk, st.total > pool / 2 && st.total <= pool && st.used + st.available == st.total);
  const usize used0 = st.used;
  steps.done("init");

  check_malloc_free(chk, used0);
  steps.done("malloc_free");
  check_calloc(chk, used0);
  steps.done("calloc");
  check_realloc(chk, used0);
  steps.done("realloc");
  check_aligned_alloc(chk, used0);
  steps.done("aligned_alloc");
  check_exhaustion(chk, used0);
  steps.done("exhaustion");
  check_new_delete(chk, used0);
  steps.done("new_delete");

  // A pool larger than the engine takes in one piece is split, not refused.
  if (!SCEN_CHECK(chk, strata_fw_init(mem, ARENA_SIZE) == 0)) return;
  strata_fw_get_stats(&st);
  SCEN_CHECK(chk, st.total >= ARENA_SIZE - (usize{1} << 20) && st.total <= ARENA_SIZE);
  usize mib_blocks = 0;
  void** held = slots();
  for (void* p; (p = FW(malloc)(usize{1} << 20)) != nullptr;) held[mib_blocks++] = p;
  SCEN_CHECK(chk, mib_blocks >= ARENA_SIZE / (usize{1} << 20) - 2);
  for (usize i = 0; i < mib_blocks; ++i) FW(free)(held[i]);
  strata_fw_get_stats(&st);
  SCEN_CHECK(chk, st.used == used0);
  steps.done("large_pool");
}

}  // namespace strata::fw
