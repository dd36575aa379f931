// libFuzzer target: the malloc runtime (interpose/) through its prefixed API
// (strata_malloc ...), built from source into the fuzzer with the fuzzer's
// sanitizers (tests/fuzz/CMakeLists.txt), beside the system malloc.
//
// The runtime aborts by design on misuse, so only valid sequences are
// decoded: malloc, calloc (zeroed), realloc (grow, shrink, to 0 = free, from
// NULL), reallocarray, posix_memalign, aligned_alloc, memalign (also with a
// non-power-of-two alignment, rounded up), valloc, pvalloc, jemalloc's
// mallocx/rallocx/xallocx/dallocx/sdallocx, the frees (free, free_sized,
// free_aligned_sized), malloc_trim; sizes from 0 to 8 MiB (small, medium and
// huge blocks). And every errno path: sizes past PTRDIFF_MAX and
// overflowing products give NULL + ENOMEM (and leave a realloc'ed block
// intact), bad alignments give EINVAL (posix_memalign leaves *out alone),
// free preserves errno. Checked: 16-byte (or requested) alignment, no
// overlap, contents across every move, usable size >= request and equal to
// sallocx, calloc and MALLOCX_ZERO memory zeroed, nallocx a lower bound,
// mallinfo2's live bytes >= the model's. Everything is freed at the end of
// each input (the runtime is process-wide, shared by all inputs). Sized frees
// claim what the block was allocated or last resized for, with its alignment
// (the runtime checks the claim: a wrong one would abort the fuzzer).
#define FUZZ_NO_FATAL_HOOK 1  // the runtime defines strata_fatal itself
#include "fuzz_common.hpp"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>

#include <strata/strata.h>

namespace {
fuzz::Shadow<512> g_live;
constexpr std::size_t LIVE_CAP = 96u << 20;  // bytes the model lets live at once

enum How : std::size_t { PLAIN = 0, JEM = 1 };  // Block::tag: how to free it

std::size_t usable(const void* p) {
  const std::size_t u = strata_malloc_usable_size(const_cast<void*>(p));
  FUZZ_CHECK(u == strata_sallocx(p, 0));
  return u;
}

void accept(void* p, std::size_t size, std::size_t align, fuzz::Input& in, std::size_t how = PLAIN,
            bool zeroed = false) {
  FUZZ_CHECK(p != nullptr);
  FUZZ_CHECK(usable(p) >= size);
  if (zeroed) fuzz::for_checked_bytes(size, [&](std::size_t k) { FUZZ_CHECK(static_cast<std::uint8_t*>(p)[k] == 0); });
  g_live.add(p, size, align < 16 ? 16 : align, in.u32(), how);
}

void release(std::size_t i, unsigned how) {
  g_live.check(i);
  const fuzz::Block b = g_live.remove(i);
  errno = 4242;
  switch (how % 5) {
    case 0: strata_free(b.ptr); break;
    case 1:  // C23: free_sized for malloc's alignment, free_aligned_sized for aligned_alloc's
      if (b.align <= 16) strata_free_sized(b.ptr, b.size);
      else strata_free_aligned_sized(b.ptr, b.align, b.size);
      break;
    case 2: strata_free_aligned_sized(b.ptr, b.align, b.size); break;
    case 3: strata_dallocx(b.ptr, 0); break;
    default: strata_sdallocx(b.ptr, b.size, STRATA_MALLOCX_ALIGN(b.align)); break;  // the allocation's flags
  }
  FUZZ_CHECK(errno == 4242);
}

// realloc-like moves: the shared prefix survives, the block is re-recorded.
void moved(std::size_t i, void* q, std::size_t n, fuzz::Input& in) {
  fuzz::Block b = g_live.remove(i);
  FUZZ_CHECK(q != nullptr && reinterpret_cast<std::uintptr_t>(q) % 16 == 0);
  b.ptr = static_cast<std::uint8_t*>(q);
  fuzz::Shadow<512>::check(b, n);
  accept(q, n, 16, in, b.tag);
}

void expect_nomem(void* p) {
  FUZZ_CHECK(p == nullptr && errno == ENOMEM);
}

// The failure paths: nothing is allocated, errno says why, blocks survive.
void errors(fuzz::Input& in) {
  const std::size_t huge = SIZE_MAX - in.u16() * std::size_t{4096};  // > PTRDIFF_MAX
  const std::size_t big = static_cast<std::size_t>(PTRDIFF_MAX) + 1 + in.u16();
  errno = 0;
  switch (in.u8() % 9) {
    case 0: expect_nomem(strata_malloc(in.u8() & 1 ? huge : big)); break;
    case 1: expect_nomem(strata_calloc(std::size_t{1} << (32 + in.u8() % 16), std::size_t{1} << 32)); break;
    case 2: expect_nomem(strata_calloc(1, big)); break;
    case 3: {
      void* out = &g_live;
      FUZZ_CHECK(strata_posix_memalign(&out, in.u8() % 2 == 0 ? 4 : 24 + 16 * std::size_t{in.u8()}, 64) == EINVAL);
      FUZZ_CHECK(out == &g_live);
      FUZZ_CHECK(strata_posix_memalign(&out, 64, big) == ENOMEM && out == &g_live);
      break;
    }
    case 4:
      FUZZ_CHECK(strata_aligned_alloc(3 + 2 * std::size_t{in.u8()}, 64) == nullptr && errno == EINVAL);
      break;
    case 5:
      FUZZ_CHECK(strata_memalign(SIZE_MAX / 2 + 2 + in.u8(), 64) == nullptr && errno == EINVAL);
      expect_nomem(strata_memalign(4096, huge));
      break;
    case 6: expect_nomem(in.u8() & 1 ? strata_valloc(huge) : strata_pvalloc(SIZE_MAX - in.u8())); break;
    case 7: FUZZ_CHECK(strata_nallocx(big, 0) == 0 && strata_mallocx(big, 0) == nullptr); break;
    default: {  // a failed realloc/reallocarray leaves the block as it was
      if (g_live.count() == 0 || g_live.at(0).tag != PLAIN) break;
      const fuzz::Block& b = g_live.at(0);
      expect_nomem(in.u8() & 1 ? strata_realloc(b.ptr, big) : strata_reallocarray(b.ptr, SIZE_MAX / 2, 3));
      g_live.check(0);
      FUZZ_CHECK(usable(b.ptr) >= b.size);
      break;
    }
  }
}

void allocate(fuzz::Input& in) {
  const std::size_t n = in.u8() % 16 == 0 ? in.size(23) : in.size(17);  // huge blocks now and then
  if (g_live.full() || g_live.live_bytes() + n > LIVE_CAP) return;
  const std::size_t align = in.align(in.u8() % 8 == 0 ? 22 : 12);
  switch (in.u8() % 10) {
    case 0: accept(strata_malloc(n), n, 16, in); break;
    case 1: {
      const std::size_t k = 1 + in.u8() % 8;
      accept(strata_calloc(k, n / k), k * (n / k), 16, in, PLAIN, true);
      break;
    }
    case 2: {
      void* p = nullptr;
      const std::size_t a = align < sizeof(void*) ? sizeof(void*) : align;
      FUZZ_CHECK(strata_posix_memalign(&p, a, n) == 0);
      accept(p, n, a, in);
      break;
    }
    case 3: accept(strata_aligned_alloc(align, n), n, align, in); break;
    case 4: {  // a non-power-of-two alignment is rounded up
      const std::size_t odd = align + (align > 2 ? align / 2 : 0);
      std::size_t up = 1;
      while (up < odd) up <<= 1;
      accept(strata_memalign(odd, n), n, up, in);
      break;
    }
    case 5: accept(strata_valloc(n), n, 4096, in); break;
    case 6: {
      void* p = strata_pvalloc(n);
      const std::size_t rounded = (n == 0 ? 4096 : (n + 4095) & ~std::size_t{4095});
      FUZZ_CHECK(usable(p) >= rounded);
      accept(p, rounded, 4096, in);  // allocated for whole pages: sized frees claim those
      break;
    }
    case 7: accept(strata_realloc(nullptr, n), n, 16, in); break;
    default: {  // mallocx with an alignment, zeroed or not
      const bool zero = in.u8() & 1;
      const int flags = STRATA_MALLOCX_ALIGN(align) | (zero ? STRATA_MALLOCX_ZERO : 0);
      const std::size_t predicted = strata_nallocx(n, flags);
      void* p = strata_mallocx(n, flags);
      FUZZ_CHECK(predicted >= n && usable(p) >= predicted);
      accept(p, n, align, in, JEM, zero);
      break;
    }
  }
}

void resize(fuzz::Input& in) {
  if (g_live.count() == 0) return;
  const std::size_t i = in.index(g_live.count());
  const std::size_t n = in.u8() % 8 == 0 ? in.size(23) : in.size(17);
  if (g_live.live_bytes() + n > LIVE_CAP) return;
  g_live.check(i);
  fuzz::Block& b = g_live.at(i);
  switch (in.u8() % 5) {
    case 0:
      if (n == 0) {  // glibc: frees and returns NULL
        void* p = g_live.remove(i).ptr;
        FUZZ_CHECK(strata_realloc(p, 0) == nullptr);
        return;
      }
      return moved(i, strata_realloc(b.ptr, n), n, in);
    case 1: {
      const std::size_t k = 1 + in.u8() % 4;
      if (n / k == 0) {  // a zero total is realloc(p, 0): freed, NULL
        void* p = g_live.remove(i).ptr;
        FUZZ_CHECK(strata_reallocarray(p, k, 0) == nullptr);
        return;
      }
      return moved(i, strata_reallocarray(b.ptr, k, n / k), k * (n / k), in);
    }
    case 2:
      return moved(i, strata_rallocx(b.ptr, n == 0 ? 1 : n, 0), n == 0 ? 1 : n, in);
    default: {  // in place or not at all
      const std::size_t old = usable(b.ptr);
      const std::size_t got = strata_xallocx(b.ptr, n, in.u8(), 0);
      FUZZ_CHECK(got == usable(b.ptr));
      fuzz::Shadow<512>::check(b, got);
      if (got != old || got < b.size) {  // resized: sized frees now claim the new size
        b.size = got;
        fuzz::Shadow<512>::fill(b);
      }
      return;
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  for (unsigned step = 0; !in.done() && step < 2048; ++step) {
    switch (in.u8() % 10) {
      case 0: case 1: case 2: case 3: allocate(in); break;
      case 4: case 5: case 6:
        if (g_live.count() != 0) release(in.index(g_live.count()), in.u8());
        break;
      case 7: resize(in); break;
      case 8: errors(in); break;
      default:
        if (in.u8() % 8 == 0) strata_malloc_trim(0);
        {
          const struct mallinfo2 mi = strata_mallinfo2();
          FUZZ_CHECK(mi.uordblks + mi.hblkhd >= g_live.live_bytes());
        }
        for (std::size_t i = 0; i < g_live.count(); ++i) g_live.check(i);
        break;
    }
  }
  while (g_live.count() != 0) release(g_live.count() - 1, g_live.count());
  return 0;
}
