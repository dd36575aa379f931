// strata firmware self-test: independent heaps (strata_fw_heap_*), the
// diagnostics and verify() of the C API, and lock hooks called from one
// thread (the multi-task image, rtos_main.cpp, runs them under preemption).
//
// Two heaps live side by side with the default heap: on the Cortex-M boards
// one in the fast SRAM and one in the PSRAM (second_ram(), boot code), as a
// firmware would split fast and slow memory; elsewhere two slices of the
// arena. What must end the program (a block freed through the wrong heap) is
// checked by the deliberate-failure image fatal_cross_heap.
#include "boot/common/platform.hpp"
#include "selftest.hpp"
#include "strata/align.hpp"
#include "strata/strata_fw.h"

#define FW(name) STRATA_FW_NAME(name)

namespace strata::fw {
namespace {

/// The engine behind the C API (CMake STRATA_FW_ENGINE).
#if STRATA_FW_ENGINE_TLSF
constexpr bool ENGINE_IS_TLSF = true;
#else
constexpr bool ENGINE_IS_TLSF = false;
#endif

strata_fw_diag diag_of(strata_fw_heap* h) {
  strata_fw_diag d{};
  strata_fw_heap_get_diag(h, &d);
  return d;
}

bool inside(const void* p, const u8* mem, usize n) {
  const uptr a = reinterpret_cast<uptr>(p), m = reinterpret_cast<uptr>(mem);
  return a >= m && a < m + n;
}

/// A heap with no memory answers everything with its defined "nothing".
void check_empty_handles(scenario::Checker& chk, u8* mem) {
  strata_fw_heap none{};
  SCEN_CHECK(chk, strata_fw_heap_malloc(&none, 16) == nullptr);
  SCEN_CHECK(chk, strata_fw_heap_malloc(nullptr, 16) == nullptr);
  SCEN_CHECK(chk, strata_fw_heap_calloc(&none, 2, 8) == nullptr);
  SCEN_CHECK(chk, strata_fw_heap_realloc(&none, nullptr, 8) == nullptr);
  strata_fw_heap_free(&none, nullptr);
  SCEN_CHECK(chk, strata_fw_heap_usable_size(&none, nullptr) == 0);
  const strata_fw_diag d = diag_of(&none);
  SCEN_CHECK(chk, d.capacity == 0 && d.allocated == 0 && d.oom_count == 0);
  SCEN_CHECK(chk, strata_fw_heap_verify(&none) == nullptr);
  SCEN_CHECK(chk, strata_fw_heap_set_lock(&none, nullptr, nullptr, nullptr) != 0);
  // init refuses what cannot hold the control block and a block, and leaves
  // the handle with no memory.
  SCEN_CHECK(chk, strata_fw_heap_init(nullptr, mem, 4096) != 0);
  SCEN_CHECK(chk, strata_fw_heap_init(&none, nullptr, 4096) != 0);
  SCEN_CHECK(chk, strata_fw_heap_init(&none, mem, 64) != 0 && none.state == nullptr);
  SCEN_CHECK(chk, strata_fw_heap_init(&none, mem, USIZE_MAX) != 0 && none.state == nullptr);
}

/// Diagnostics of one fresh heap over [mem, mem + n): every field moves as
/// documented.
void check_diag(scenario::Checker& chk, strata_fw_heap* h, u8* mem, usize n) {
  if (!SCEN_CHECK(chk, strata_fw_heap_init(h, mem, n) == 0)) return;
  strata_fw_stats st{};
  strata_fw_heap_get_stats(h, &st);
  strata_fw_diag d = diag_of(h);
  SCEN_CHECK(chk, d.capacity == st.total && d.capacity > n / 2 && d.capacity < n);
  SCEN_CHECK(chk, d.allocated == st.used && d.peak_allocated == d.allocated);
  SCEN_CHECK(chk, d.peak_request == 0 && d.oom_count == 0);
  // TLSF: the pool is one free block. Heap: a buddy run, aligned to its size,
  // and a range of n bytes always holds an aligned run of n / 4.
  SCEN_CHECK(chk, d.largest_free > (ENGINE_IS_TLSF ? n / 2 : n / 4));
  const usize base = d.allocated;

  // largest_free: that request succeeds (for TLSF it is the largest that does).
  const usize largest = d.largest_free;
  void* big = strata_fw_heap_malloc(h, largest);
  SCEN_CHECK(chk, big != nullptr && diag_of(h).peak_request == largest);
  strata_fw_heap_free(h, big);
#if STRATA_FW_ENGINE_TLSF
  SCEN_CHECK(chk, strata_fw_heap_malloc(h, largest + 2 * sizeof(void*)) == nullptr);
#endif

  // allocated / peak_allocated / peak_request.
  d = diag_of(h);
  const usize oom0 = d.oom_count;
  const usize request_peak = d.peak_request;
  SCEN_CHECK(chk, request_peak >= largest);
  void* a = strata_fw_heap_malloc(h, 3000);
  void* b = strata_fw_heap_aligned_alloc(h, 256, 100);
  if (!SCEN_CHECK(chk, a != nullptr && b != nullptr && is_ptr_aligned(b, 256))) return;
  d = diag_of(h);
  SCEN_CHECK(chk, d.allocated >= base + 3100 && d.peak_allocated >= d.allocated);
  SCEN_CHECK(chk, d.peak_request == request_peak);  // smaller requests leave the peak
  const usize peak = d.peak_allocated;
  strata_fw_heap_free(h, a);
  d = diag_of(h);
  SCEN_CHECK(chk, d.allocated < peak && d.peak_allocated == peak);

  // oom_count: a request nothing can serve counts (and sets peak_request);
  // bad arguments do not.
  SCEN_CHECK(chk, strata_fw_heap_malloc(h, n * 2) == nullptr);
  SCEN_CHECK(chk, strata_fw_heap_aligned_alloc(h, 3, 8) == nullptr);
  SCEN_CHECK(chk, strata_fw_heap_calloc(h, USIZE_MAX, 2) == nullptr);
  d = diag_of(h);
  SCEN_CHECK(chk, d.oom_count == oom0 + 1 && d.peak_request == n * 2);
  // realloc in place or moved counts as a request too; failure leaves the block.
  void* r = strata_fw_heap_realloc(h, b, n * 4);
  SCEN_CHECK(chk, r == nullptr && diag_of(h).oom_count == oom0 + 2 && diag_of(h).peak_request == n * 4);
  r = strata_fw_heap_realloc(h, b, 5000);
  SCEN_CHECK(chk, r != nullptr && strata_fw_heap_usable_size(h, r) >= 5000);
  SCEN_CHECK(chk, strata_fw_heap_verify(h) == nullptr);
  strata_fw_heap_free(h, r);
  SCEN_CHECK(chk, diag_of(h).allocated == base && strata_fw_heap_verify(h) == nullptr);
}

/// verify() names a broken invariant. TLSF keeps its header in front of each
/// block, so flipping a bit of a live header is a corruption it must see
/// (the Heap keeps all its metadata out of band, where firmware code cannot
/// reach it by accident; its verify() is exercised by the host suite).
void check_verify_reports(scenario::Checker& chk, strata_fw_heap* h) {
  void* p = strata_fw_heap_malloc(h, 64);
  if (!SCEN_CHECK(chk, p != nullptr)) return;
  SCEN_CHECK(chk, strata_fw_heap_verify(h) == nullptr);
#if STRATA_FW_ENGINE_TLSF
  uptr* check_word = static_cast<uptr*>(p) - 2;  // the block header's first word
  *check_word ^= 0x10;
  const char* what = strata_fw_heap_verify(h);
  SCEN_CHECK(chk, what != nullptr);
  if (what != nullptr) {
    put_tag("  verify() on a corrupted header: ");
    put(what);
    put("\n");
  }
  *check_word ^= 0x10;
  SCEN_CHECK(chk, strata_fw_heap_verify(h) == nullptr);
#endif
  strata_fw_heap_free(h, p);
}

/// Two heaps and the default heap: blocks come from each heap's own memory,
/// and each heap's diagnostics see only its own blocks.
void check_independent(scenario::Checker& chk, strata_fw_heap* fast, u8* fast_mem, usize fast_n, strata_fw_heap* slow,
                       u8* slow_mem, usize slow_n) {
  if (!SCEN_CHECK(chk, strata_fw_heap_init(fast, fast_mem, fast_n) == 0)) return;
  if (!SCEN_CHECK(chk, strata_fw_heap_init(slow, slow_mem, slow_n) == 0)) return;
  const usize fast0 = diag_of(fast).allocated, slow0 = diag_of(slow).allocated;
  const usize default0 = diag_of(strata_fw_default_heap()).allocated;
  void* held[3][32];
  for (usize i = 0; i < 32; ++i) {
    held[0][i] = strata_fw_heap_malloc(fast, 40 + i * 24);
    held[1][i] = strata_fw_heap_calloc(slow, 8, 100 + i);
    held[2][i] = FW(malloc)(200);
    if (!SCEN_CHECK(chk, held[0][i] && held[1][i] && held[2][i])) return;
    SCEN_CHECK(chk, inside(held[0][i], fast_mem, fast_n) && inside(held[1][i], slow_mem, slow_n));
    SCEN_CHECK(chk, !inside(held[2][i], fast_mem, fast_n) && !inside(held[2][i], slow_mem, slow_n));
  }
  const usize fast1 = diag_of(fast).allocated, slow1 = diag_of(slow).allocated;
  SCEN_CHECK(chk, fast1 > fast0 && slow1 > slow0 && diag_of(strata_fw_default_heap()).allocated > default0);
  // Freeing all of one heap leaves the others as they are.
  for (usize i = 0; i < 32; ++i) strata_fw_heap_free(fast, held[0][i]);
  SCEN_CHECK(chk, diag_of(fast).allocated == fast0 && diag_of(slow).allocated == slow1);
  for (usize i = 0; i < 32; ++i) {
    strata_fw_heap_free(slow, held[1][i]);
    FW(free)(held[2][i]);
  }
  SCEN_CHECK(chk, diag_of(slow).allocated == slow0 && diag_of(strata_fw_default_heap()).allocated == default0);
  SCEN_CHECK(chk, strata_fw_heap_verify(fast) == nullptr && strata_fw_heap_verify(slow) == nullptr);
  SCEN_CHECK(chk, strata_fw_verify() == nullptr);
}

struct HookCounts {
  u32 locks = 0;
  u32 unlocks = 0;
  u32 depth = 0;
  u32 max_depth = 0;
};
void count_lock(void* ctx) {
  HookCounts* c = static_cast<HookCounts*>(ctx);
  ++c->locks;
  if (++c->depth > c->max_depth) c->max_depth = c->depth;
}
void count_unlock(void* ctx) {
  HookCounts* c = static_cast<HookCounts*>(ctx);
  ++c->unlocks;
  --c->depth;
}

/// Lock hooks wrap every call, never nested; both-or-neither.
void check_lock_hooks(scenario::Checker& chk, strata_fw_heap* h) {
  HookCounts c;
  SCEN_CHECK(chk, strata_fw_heap_set_lock(h, count_lock, nullptr, &c) != 0);
  SCEN_CHECK(chk, strata_fw_heap_set_lock(h, nullptr, count_unlock, &c) != 0);
  if (!SCEN_CHECK(chk, strata_fw_heap_set_lock(h, count_lock, count_unlock, &c) == 0)) return;
  void* p = strata_fw_heap_malloc(h, 100);
  p = strata_fw_heap_realloc(h, p, 3000);
  SCEN_CHECK(chk, strata_fw_heap_usable_size(h, p) >= 3000);
  strata_fw_heap_free(h, p);
  (void)diag_of(h);
  SCEN_CHECK(chk, strata_fw_heap_verify(h) == nullptr);
  SCEN_CHECK(chk, c.locks == 6 && c.unlocks == 6 && c.depth == 0 && c.max_depth == 1);
  SCEN_CHECK(chk, strata_fw_heap_set_lock(h, nullptr, nullptr, nullptr) == 0);
  strata_fw_heap_free(h, strata_fw_heap_malloc(h, 8));
  SCEN_CHECK(chk, c.locks == 6);  // the spin lock again
}

}  // namespace

void suite_fw_heaps(scenario::Checker& chk) {
  Steps steps("fw_heaps", chk);
  u8* mem = arena();
  // The default heap over the first MiB of the arena; the two others in the
  // board's second RAM and the arena (or two more arena slices).
  const usize mib = usize{1} << 20;
  if (!SCEN_CHECK(chk, strata_fw_init(mem, mib) == 0)) return;
  usize fast_n = 0;
  u8* fast_mem = second_ram(fast_n);
  if (fast_mem == nullptr || fast_n < 64 * 1024) {
    fast_mem = mem + mib;
    fast_n = mib;
  }
  if (fast_n > 2 * mib) fast_n = 2 * mib;
  u8* slow_mem = mem + 2 * mib;
  const usize slow_n = 4 * mib;
  strata_fw_heap fast{}, slow{};

  check_empty_handles(chk, mem + 8 * mib);
  steps.done("empty_handles");
  check_diag(chk, &slow, slow_mem, slow_n);
  steps.done("diag");
  check_verify_reports(chk, &slow);
  steps.done("verify");
  check_independent(chk, &fast, fast_mem, fast_n, &slow, slow_mem, slow_n);
  steps.done("independent");
  check_lock_hooks(chk, &fast);
  steps.done("lock_hooks");
}

}  // namespace strata::fw
