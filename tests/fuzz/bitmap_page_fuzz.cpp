// libFuzzer target: BitmapPageAllocator<4096, 700> against a brute-force
// model of its pages (managed / free / allocation start), so every answer is
// predicted exactly, not just checked for plausibility:
//
//  - add_memory: InvalidParam for a misaligned start or size, size 0, a range
//    below the window or past its end; MemoryOverlap when a page is managed.
//  - alloc_pages(n, align): the lowest aligned run of n free pages (first
//    fit, aligned in absolute addresses), else NoMemory; InvalidParam for
//    n == 0 or a non-power-of-two alignment.
//  - alloc_pages_at(base, n, align): InvalidParam for misalignment or pages
//    not managed; NoMemory when managed but some page is taken.
//  - dealloc_pages(pos, n): only one whole live allocation is accepted;
//    double frees, wrong counts, middles and foreign addresses are
//    NotAllocated (InvalidParam for n == 0 or an unaligned pos).
//  - total/used/available pages equal the model's counts after every step.
// The allocator only hands out addresses, so the window is a fake address
// range (never dereferenced) whose page phase comes from the input.
#include "fuzz_common.hpp"

#include "strata/engine/bitmap_page.hpp"

namespace {
constexpr std::size_t PAGE = 4096;
constexpr std::size_t PAGES = 700;
using Engine = strata::BitmapPageAllocator<PAGE, PAGES>;
using strata::AllocError;

Engine g_pages;
bool g_managed[PAGES];
bool g_free[PAGES];
bool g_start[PAGES];
std::uintptr_t g_window = 0;

std::size_t count(const bool* v, bool want) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < PAGES; ++i) n += v[i] == want;
  return n;
}

void check_stats() {
  const std::size_t total = count(g_managed, true);
  std::size_t used = 0;
  for (std::size_t i = 0; i < PAGES; ++i) used += g_managed[i] && !g_free[i];
  FUZZ_CHECK(g_pages.total_pages() == total && g_pages.used_pages() == used);
  FUZZ_CHECK(g_pages.available_pages() == total - used);
}

// [first, first + n) inside the window, from an address (false if not).
bool to_index(std::uintptr_t addr, std::size_t n, std::size_t& first) {
  if (addr < g_window) return false;
  const std::size_t idx = (addr - g_window) / PAGE;
  if (idx >= PAGES || n > PAGES - idx) return false;
  first = idx;
  return true;
}

bool all(const bool* v, std::size_t first, std::size_t n, bool want) {
  for (std::size_t i = first; i < first + n; ++i)
    if (v[i] != want) return false;
  return true;
}

void take(std::size_t first, std::size_t n) {
  for (std::size_t i = first; i < first + n; ++i) g_free[i] = false;
  g_start[first] = true;
}

void do_add(std::uintptr_t addr, std::size_t size) {
  const strata::Result<void> r = g_pages.add_memory(reinterpret_cast<void*>(addr), size);
  std::size_t first = 0;
  if (size == 0 || addr % PAGE != 0 || size % PAGE != 0 || !to_index(addr, size / PAGE, first)) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
  } else if (!all(g_managed, first, size / PAGE, false)) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::MemoryOverlap);
  } else {
    FUZZ_CHECK(r.ok());
    for (std::size_t i = first; i < first + size / PAGE; ++i) g_managed[i] = g_free[i] = true;
  }
}

void do_alloc(std::size_t n, std::size_t align) {
  const strata::Result<std::uintptr_t> r = g_pages.alloc_pages(n, align);
  if (n == 0 || !strata::is_pow2(align)) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
    return;
  }
  const std::size_t step = align > PAGE ? align / PAGE : 1;
  std::size_t want = PAGES;  // first fit: lowest aligned start with n free pages
  for (std::size_t s = 0; s + n <= PAGES && want == PAGES; ++s)
    if (((g_window / PAGE) + s) % step == 0 && all(g_free, s, n, true)) want = s;
  if (want == PAGES) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::NoMemory);
    return;
  }
  FUZZ_CHECK(r.ok() && r.value() == g_window + want * PAGE);
  take(want, n);
}

void do_alloc_at(std::uintptr_t base, std::size_t n, std::size_t align) {
  const strata::Result<std::uintptr_t> r = g_pages.alloc_pages_at(base, n, align);
  std::size_t first = 0;
  if (n == 0 || !strata::is_pow2(align) || base % PAGE != 0 || base % align != 0 || !to_index(base, n, first) ||
      !all(g_managed, first, n, true)) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
  } else if (!all(g_free, first, n, true)) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::NoMemory);
  } else {
    FUZZ_CHECK(r.ok() && r.value() == base);
    take(first, n);
  }
}

void do_dealloc(std::uintptr_t pos, std::size_t n) {
  const strata::Result<void> r = g_pages.dealloc_pages(pos, n);
  if (n == 0 || pos % PAGE != 0) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::InvalidParam);
    return;
  }
  std::size_t first = 0;
  bool whole = to_index(pos, n, first) && g_start[first] && all(g_managed, first, n, true) && all(g_free, first, n, false);
  for (std::size_t i = first + 1; whole && i < first + n; ++i) whole = !g_start[i];
  if (whole && first + n < PAGES) {  // the next page must not continue this allocation
    const std::size_t a = first + n;
    whole = !g_managed[a] || g_free[a] || g_start[a];
  }
  if (!whole) {
    FUZZ_CHECK(!r.ok() && r.error() == AllocError::NotAllocated);
    return;
  }
  FUZZ_CHECK(r.ok());
  for (std::size_t i = first; i < first + n; ++i) g_free[i] = true;
  g_start[first] = false;
}

// A live allocation's start page and length (false when there is none).
bool pick_live(fuzz::Input& in, std::size_t& first, std::size_t& n) {
  const std::size_t live = count(g_start, true);
  if (live == 0) return false;
  std::size_t k = in.u8() % live;
  for (first = 0; !g_start[first] || k-- != 0; ++first) {
  }
  for (n = 1; first + n < PAGES && g_managed[first + n] && !g_free[first + n] && !g_start[first + n];) ++n;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  for (std::size_t i = 0; i < PAGES; ++i) g_managed[i] = g_free[i] = g_start[i] = false;
  g_window = 0x40000000u + std::uintptr_t{in.u8()} * PAGE;
  g_pages = Engine{};
  // The first region opens the window (its start is the window's start).
  {
    const std::size_t n = 1 + in.u16() % PAGES;
    const strata::Result<void> r = g_pages.init(reinterpret_cast<void*>(g_window), n * PAGE);
    FUZZ_CHECK(r.ok());
    for (std::size_t i = 0; i < n; ++i) g_managed[i] = g_free[i] = true;
  }
  for (unsigned step = 0; !in.done() && step < 2048; ++step) {
    const std::uintptr_t any_addr = g_window + (static_cast<std::intptr_t>(in.u16() % (PAGES + 64)) - 32) * PAGE +
                                    (in.u8() % 8 == 0 ? 8 : 0);
    switch (in.u8() % 8) {
      case 0:
        do_add(any_addr, (in.u8() % 64) * PAGE + (in.u8() % 16 == 0 ? 512 : 0));
        break;
      case 1: case 2:
        do_alloc(in.u8() % 40, in.u8() % 16 == 0 ? 3 * PAGE : std::size_t{1} << (in.u8() % 20));
        break;
      case 3:
        do_alloc_at(any_addr, in.u8() % 24, std::size_t{1} << (in.u8() % 18));
        break;
      case 4: case 5: {  // a live allocation, sometimes with a wrong count or a shifted start
        std::size_t first = 0, n = 0;
        if (!pick_live(in, first, n)) break;
        const unsigned how = in.u8() % 6;
        if (how == 4) n += 1;
        if (how == 5 && n > 1) n -= 1;
        do_dealloc(g_window + (first + (how == 3 ? 1 : 0)) * PAGE, n);
        break;
      }
      default:
        do_dealloc(any_addr, in.u8() % 24);
        break;
    }
    check_stats();
  }
  return 0;
}
