/* cxx_new_delete: every replaceable operator new/delete of C++17/20 is
 * strata's and keeps its promises.
 *
 *  - each of the 20 forms resolves into libstrata.so (dlsym of the mangled name);
 *  - plain, array and nothrow new return usable, 16-byte-aligned blocks that
 *    every matching delete (plain, array, nothrow, sized, sized array) frees;
 *  - std::align_val_t new (plain, array, nothrow) honours every power-of-two
 *    alignment 1 .. 4 MiB, with the aligned and sized+aligned deletes; classes
 *    declared alignas(64) / alignas(4096) get their alignment from new-expressions;
 *  - with sized_dealloc_check:false (mallctl opt.sized_dealloc_check), a
 *    sized delete with a wrong size is harmless (strata ignores the size;
 *    with the check on, the default, it aborts: misuse_sized.cpp);
 *  - new of an impossible size loops on the new-handler: a handler that frees
 *    a reserve on its first call lets the retry succeed (the failure is made
 *    real with RLIMIT_AS and a 1 TiB request); a handler that calls
 *    std::set_new_handler(nullptr) makes new throw std::bad_alloc after
 *    exactly that many calls; with no handler new throws at once;
 *  - nothrow forms return nullptr and never throw, with or without a handler,
 *    also when the handler itself throws std::bad_alloc.
 */
#include <sys/resource.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <new>

#include "preload_check.h"

namespace {

const char* const MANGLED[] = {
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPv", "_ZdaPv",
    "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t", "_ZdlPvm", "_ZdaPvm", "_ZdlPvSt11align_val_t",
    "_ZdaPvSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
    "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
};

extern "C" int mallctl(const char*, void*, std::size_t*, void*, std::size_t) __attribute__((weak));

/// strata's opt.sized_dealloc_check (true without strata: a glibc reference run passes no wrong sizes).
bool sized_check_on() {
  bool on = true;
  std::size_t len = sizeof on;
  if (mallctl != nullptr) ST_CHECK(mallctl("opt.sized_dealloc_check", &on, &len, nullptr, 0) == 0);
  return on;
}

void use(void* p, std::size_t n, std::size_t align, const char* who) {
  ST_CHECKF(p != nullptr, "%s(%zu) returned null", who, n);
  ST_CHECKF(st_is_aligned(p, align < 16 ? 16 : align), "%s(%zu, align %zu) = %p", who, n, align, p);
  ST_CHECKF(malloc_usable_size(p) >= n, "%s(%zu): usable %zu", who, n, malloc_usable_size(p));
  st_fill(p, n, n ^ align);
  ST_CHECK(st_verify(p, n, n ^ align) == static_cast<std::size_t>(-1));
}

void check_plain_forms() {
  const std::size_t sizes[] = {0, 1, 16, 100, 4096, 40000, 600000, std::size_t{3} << 20};
  for (std::size_t n : sizes) {
    void* a = ::operator new(n);
    use(a, n, 16, "new");
    ::operator delete(a);
    void* b = ::operator new[](n);
    use(b, n, 16, "new[]");
    ::operator delete[](b);
    void* c = ::operator new(n, std::nothrow);
    use(c, n, 16, "new(nothrow)");
    ::operator delete(c, std::nothrow);
    void* d = ::operator new[](n, std::nothrow);
    use(d, n, 16, "new[](nothrow)");
    ::operator delete[](d, std::nothrow);
    void* e = ::operator new(n);
    use(e, n, 16, "new");
    ::operator delete(e, n);  // sized
    void* f = ::operator new[](n);
    use(f, n, 16, "new[]");
    ::operator delete[](f, n);  // sized array
    // With the check off, a wrong size in a sized delete must not corrupt anything.
    if (!sized_check_on()) {
      void* g = ::operator new(n);
      use(g, n, 16, "new");
      ::operator delete(g, n * 3 + 100);
    }
  }
  // New-expressions (the compiler's own calls).
  auto* arr = new std::uint64_t[1000];
  for (int i = 0; i < 1000; ++i) arr[i] = static_cast<std::uint64_t>(i) * 3;
  ST_CHECK(arr[999] == 2997);
  delete[] arr;
  auto* one = new std::uint64_t(42);
  ST_CHECK(*one == 42);
  delete one;
}

struct alignas(64) Line {
  unsigned char bytes[64];
};
struct alignas(4096) PageObj {
  unsigned char bytes[5000];
};

void check_aligned_forms() {
  for (std::size_t align = 1; align <= (std::size_t{4} << 20); align <<= 1) {
    const std::align_val_t al{align};
    const std::size_t sizes[] = {1, align, align + 3, 70000};
    for (std::size_t n : sizes) {
      void* a = ::operator new(n, al);
      use(a, n, align, "new(align)");
      ::operator delete(a, al);
      void* b = ::operator new[](n, al);
      use(b, n, align, "new[](align)");
      ::operator delete[](b, al);
      void* c = ::operator new(n, al, std::nothrow);
      use(c, n, align, "new(align, nothrow)");
      ::operator delete(c, al, std::nothrow);
      void* d = ::operator new[](n, al, std::nothrow);
      use(d, n, align, "new[](align, nothrow)");
      ::operator delete[](d, al, std::nothrow);
      void* e = ::operator new(n, al);
      use(e, n, align, "new(align)");
      ::operator delete(e, n, al);  // sized + aligned
      void* f = ::operator new[](n, al);
      use(f, n, align, "new[](align)");
      ::operator delete[](f, n, al);
    }
  }
  Line* lines = new Line[33];
  ST_CHECK(st_is_aligned(lines, 64));
  delete[] lines;
  for (int i = 0; i < 8; ++i) {
    auto* p = new PageObj;
    ST_CHECKF(st_is_aligned(p, 4096), "new PageObj = %p", static_cast<void*>(p));
    p->bytes[4999] = 1;
    delete p;
  }
}

// ---- new-handler -------------------------------------------------------

int g_calls = 0;
int g_calls_until_give_up = 0;
void* g_reserve = nullptr;
std::size_t g_reserve_bytes = 0;

void release_reserve_handler() {
  ++g_calls;
  if (g_reserve != nullptr) {
    ::munmap(g_reserve, g_reserve_bytes);
    g_reserve = nullptr;
  } else {
    std::set_new_handler(nullptr);  // nothing left to free: let new throw
  }
}

void give_up_handler() {
  if (++g_calls >= g_calls_until_give_up) std::set_new_handler(nullptr);
}

void throwing_handler() {
  ++g_calls;
  throw std::bad_alloc();
}

constexpr std::size_t TIB = std::size_t{1} << 40;

// Limits the address space so that a 1 TiB block fits only without a 1 TiB
// reserve the test holds itself (an mmap, not strata's memory).
void arm_address_limit() {
  g_reserve_bytes = TIB;
  g_reserve = ::mmap(nullptr, g_reserve_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ST_CHECK(g_reserve != MAP_FAILED);
  const std::size_t vm = st_vm_kib() * 1024;  // includes the reserve
  rlimit rl{};
  ST_CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  rl.rlim_cur = vm + TIB / 2;  // room for 1 TiB only once the reserve is gone
  ST_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
}

void disarm_address_limit() {
  rlimit rl{};
  ST_CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  rl.rlim_cur = rl.rlim_max;
  ST_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
}

void check_reserve_handler() {
  arm_address_limit();
  g_calls = 0;
  std::set_new_handler(release_reserve_handler);
  void* big = nullptr;
  try {
    big = ::operator new(TIB);
  } catch (const std::bad_alloc&) {
    big = nullptr;
  }
  disarm_address_limit();
  ST_CHECKF(big != nullptr, "new(1 TiB) failed after the handler freed the reserve (%d calls)", g_calls);
  ST_CHECKF(g_calls == 1, "new-handler called %d times, want 1", g_calls);
  static_cast<char*>(big)[0] = 1;
  static_cast<char*>(big)[TIB - 1] = 1;
  ::operator delete(big);
}

void check_new_handler() {
  // 1. No handler: bad_alloc at once.
  std::set_new_handler(nullptr);
  bool threw = false;
  try {
    void* p = ::operator new(SIZE_MAX);
    ::operator delete(p);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  ST_CHECK(threw);

  // 2. A handler that frees a reserve on its first call: the retry succeeds.
  // (glibc maps without MAP_NORESERVE: overcommit refuses 1 TiB there.)
  if (st_on_strata()) check_reserve_handler();

  // 3. A handler that gives up on its Nth call: new loops N times, then throws.
  const int rounds[] = {1, 5};
  for (int until : rounds) {
    g_calls = 0;
    g_calls_until_give_up = until;
    std::set_new_handler(give_up_handler);
    threw = false;
    try {
      void* p = ::operator new[](SIZE_MAX / 2, std::align_val_t{64});
      ::operator delete[](p, std::align_val_t{64});
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    ST_CHECK(threw);
    ST_CHECKF(g_calls == until, "new-handler called %d times, want %d", g_calls, until);
  }

  // 4. nothrow forms: null, no exception, the handler loop still runs.
  g_calls = 0;
  g_calls_until_give_up = 3;
  std::set_new_handler(give_up_handler);
  ST_CHECK(::operator new(SIZE_MAX, std::nothrow) == nullptr);
  ST_CHECKF(g_calls == 3, "nothrow new called the handler %d times, want 3", g_calls);
  std::set_new_handler(throwing_handler);
  g_calls = 0;
  ST_CHECK(::operator new[](SIZE_MAX - 4096, std::nothrow) == nullptr);
  // (libstdc++'s own aligned new rounds SIZE_MAX up to 0: strata only.)
  const std::size_t worst = st_on_strata() ? SIZE_MAX : SIZE_MAX / 2;
  ST_CHECK(::operator new(worst, std::align_val_t{4096}, std::nothrow) == nullptr);
  ST_CHECK(::operator new[](worst, std::align_val_t{1u << 22}, std::nothrow) == nullptr);
  ST_CHECKF(g_calls == 3, "throwing new-handler called %d times, want 3", g_calls);
  std::set_new_handler(nullptr);
  ST_CHECK(::operator new(static_cast<std::size_t>(PTRDIFF_MAX) + 1, std::nothrow) == nullptr);
}

}  // namespace

int main() {
  st_require_strata();
  if (st_on_strata())  // (in a glibc reference run they live in libstdc++)
    for (const char* name : MANGLED) (void)st_sym(name);
  check_plain_forms();
  check_aligned_forms();
  check_new_handler();
  std::printf("cxx_new_delete: OK\n");
  return 0;
}
