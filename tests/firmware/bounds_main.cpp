// strata firmware bounds image: worst-case execution paths of TLSF and the
// Heap, counted in instructions with the board's cycle counter.
//
// Run under QEMU's -icount (run_qemu.sh --icount), where every counter of the
// boards ticks in a fixed proportion to the instructions executed. The image
// calibrates that proportion on a run of 1000 nops (and refuses to go on when
// two calibrations differ: the counter is then wall time, not instructions),
// then measures every engine call of an adversarial sequence and of a
// randomized run, and reports the most instructions any call of each kind
// took. Engine calls only (FwTlsf, FwHeap: what the C API calls under its
// lock); the lock and the C entry point add a few instructions.
//
// The adversarial sequence drives each operation down its longest path:
//   TLSF alloc         the first request on a fresh pool: the second-level map
//                      of its class is empty, so the first-level map is
//                      scanned, the one big block split and its tail linked
//   TLSF aligned       split_front (a free front gap) and carve (a free tail)
//   TLSF free          both physical neighbours free: two unlinks that empty
//                      their lists (bitmap bits cleared), one link
//   TLSF realloc       grow into a free next block, then split the tail
//   Heap alloc         the first block of a class on a fresh heap: the buddy
//                      splits from its largest order down to the span's
//   Heap free          the last block of a span when the class already keeps
//                      a spare: the span goes back and merges up every order
// The randomized run (RANDOM_OPS calls, sizes 1..8 KiB log-uniform, a quarter
// aligned up to 4 KiB, a fifth resizes) looks for anything longer.
//
// Then TLSF's memory bound (docs/firmware.md, "Memory bounds"): a pool of
// tlsf_pool_bound(M, n, m) bytes serves every sequence of malloc/free with
// requests of m..n bytes and at most M live request bytes. Sequences built to
// keep the heap full (live bytes held at M, sizes mixed to fragment it) must
// never fail there, and must fail on a pool of 1.25 M (else they do not
// stress the heap and the first check proves nothing).
//
// And the bounded Heap's (FwBoundedHeap: power-of-two classes in one-page
// spans): heap_bound_pages(M, n, m) pages of spans suffice. Its adversary
// goes class by class from the smallest, filling the live budget with the
// smallest requests the class takes, then freeing all but one block per span
// (those pin the span for good). It must never be refused with the bound's
// pages, and must be refused with one page less than the most it made the
// heap hold (placement does not matter: each class needs ceil(blocks / B)
// spans wherever they are), which shows how tight the bound is.
#include "boot/common/platform.hpp"
#include "report.hpp"
#include "runtime/firmware_engines.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/align.hpp"

namespace strata::fw {
namespace {

constexpr u64 RANDOM_OPS = 20'000;
/// What malloc asks the engines for (the C API's alignment: two pointers).
constexpr usize MALLOC_ALIGN = 2 * sizeof(void*);
constexpr u64 SEED = 0xb0a2d5;
constexpr usize TLSF_POOL = usize{256} << 10;
constexpr usize HEAP_POOL = usize{2} << 20;
alignas(4096) u8 memory[HEAP_POOL];

// ---- Counting instructions ----------------------------------------------------
u64 counter_mask() { return cycle_counter_bits() >= 64 ? ~u64{0} : (u64{1} << cycle_counter_bits()) - 1; }

/// Counter ticks of an empty measurement, and per 1000 instructions.
struct Calibration {
  u64 empty;
  u64 per_1000;
};

[[gnu::noinline]] Calibration calibrate() {
  const u64 mask = counter_mask();
  u64 a = cycle_counter();
  __asm__ __volatile__("" ::: "memory");
  u64 b = cycle_counter();
  const u64 empty = (b - a) & mask;
  a = cycle_counter();
  __asm__ __volatile__(".rept 1000\n nop\n .endr" ::: "memory");
  b = cycle_counter();
  return Calibration{empty, ((b - a) & mask) - empty};
}

Calibration cal;

/// Instructions f() executed (rounded; the measurement's own reads excluded).
template <class F>
u64 instructions(F&& f) {
  const u64 a = cycle_counter();
  f();
  const u64 b = cycle_counter();
  const u64 ticks = (b - a) & counter_mask();
  const u64 net = ticks > cal.empty ? ticks - cal.empty : 0;
  return (net * 1000 + cal.per_1000 / 2) / cal.per_1000;
}

/// The longest call of each kind, and what it was.
struct Worst {
  u64 alloc = 0, aligned = 0, free = 0, resize = 0;
  void note(u64& slot, u64 n) {
    if (n > slot) slot = n;
  }
};

void report(const char* engine, const char* what, const Worst& w) {
  put_tag("  wcet ");
  put(engine);
  put(" ");
  put(what);
  put_field("alloc", w.alloc);
  put_field("aligned_alloc", w.aligned);
  put_field("free", w.free);
  put_field("realloc_in_place", w.resize);
  put(" (instructions)\n");
}

// ---- TLSF -------------------------------------------------------------------------
FwTlsf tlsf;

template <class E>
void* take(Result<void*> r) {
  return r.ok() ? r.value() : nullptr;
}

Worst tlsf_adversarial(scenario::Checker& chk) {
  Worst w;
  (void)tlsf.init(memory, TLSF_POOL);
  void* p = nullptr;
  w.note(w.alloc, instructions([&] { p = take<FwTlsf>(tlsf.alloc(100, MALLOC_ALIGN)); }));  // first-level scan
  void* q = nullptr;
  w.note(w.aligned, instructions([&] { q = take<FwTlsf>(tlsf.alloc(300, 1024)); }));  // front gap and tail
  SCEN_CHECK(chk, p != nullptr && q != nullptr && is_ptr_aligned(q, 1024));
  // a b c d contiguous; a and c free: freeing b merges both neighbours.
  void* a = take<FwTlsf>(tlsf.alloc(200, 1));
  void* b = take<FwTlsf>(tlsf.alloc(200, 1));
  void* c = take<FwTlsf>(tlsf.alloc(400, 1));
  void* d = take<FwTlsf>(tlsf.alloc(200, 1));
  if (!SCEN_CHECK(chk, a && b && c && d)) return w;
  SCEN_CHECK(chk, tlsf.dealloc(a).ok() && tlsf.dealloc(c).ok());
  w.note(w.free, instructions([&] { SCEN_CHECK(chk, tlsf.dealloc(b).ok()); }));
  // d grows into the free rest of the pool and leaves a tail.
  w.note(w.resize, instructions([&] { SCEN_CHECK(chk, tlsf.try_resize_in_place(d, 5000).ok()); }));
  SCEN_CHECK(chk, tlsf.dealloc(d).ok() && tlsf.dealloc(p).ok() && tlsf.dealloc(q).ok());
  SCEN_CHECK(chk, tlsf.used_bytes() == 0 && tlsf.verify());
  return w;
}

/// The randomized run over any engine with alloc/dealloc(p) (and resize when E has it).
template <class E>
Worst random_run(E& e, scenario::Checker& chk, u64 seed) {
  Worst w;
  constexpr usize LIVE = 256;
  void* live[LIVE] = {};
  scenario::Rng rng(seed);
  for (u64 op = 0; op < RANDOM_OPS; ++op) {
    void*& slot = live[rng.below(LIVE)];
    if (slot == nullptr) {
      const usize size = static_cast<usize>(rng.log_uniform(8192));
      if (rng.chance(1, 4)) {
        const usize align = usize{1} << rng.range(4, 12);
        w.note(w.aligned, instructions([&] { slot = take<E>(e.alloc(size, align)); }));
      } else {
        w.note(w.alloc, instructions([&] { slot = take<E>(e.alloc(size, MALLOC_ALIGN)); }));
      }
    } else if constexpr (requires { e.try_resize_in_place(slot, 1); }) {
      if (rng.chance(1, 5)) {
        const usize size = static_cast<usize>(rng.log_uniform(8192));
        w.note(w.resize, instructions([&] { (void)e.try_resize_in_place(slot, size); }));
        continue;
      }
      w.note(w.free, instructions([&] { SCEN_CHECK(chk, e.dealloc(slot).ok()); }));
      slot = nullptr;
    } else {
      w.note(w.free, instructions([&] { SCEN_CHECK(chk, e.dealloc(slot).ok()); }));
      slot = nullptr;
    }
  }
  for (void*& p : live)
    if (p != nullptr) SCEN_CHECK(chk, e.dealloc(p).ok());
  SCEN_CHECK(chk, e.used_bytes() == 0 && e.verify());
  return w;
}

// ---- Heap -------------------------------------------------------------------------
FwHeap heap;

Worst heap_adversarial(scenario::Checker& chk) {
  Worst w;
  (void)heap.init(memory, HEAP_POOL);
  // The first block of the largest class: the buddy splits from its top order.
  const usize big = FwHeap::class_size(FwHeap::num_classes() - 1);
  void* first = nullptr;
  w.note(w.alloc, instructions([&] { first = take<FwHeap>(heap.alloc(big, MALLOC_ALIGN)); }));
  void* aligned = nullptr;
  w.note(w.aligned, instructions([&] { aligned = take<FwHeap>(heap.alloc(3000, 4096)); }));
  if (!SCEN_CHECK(chk, first != nullptr && aligned != nullptr)) return w;
  // Two spans of one class; emptying the first makes it the spare, emptying
  // the second gives it back to the buddy, which merges it up.
  const u32 cls = FwHeap::class_for(1000, 16);
  const usize per_span = FwHeap::class_span_bytes(cls) / FwHeap::class_size(cls);
  void* blocks[2 * 64] = {};
  const usize n = 2 * per_span <= 128 ? 2 * per_span : 128;
  for (usize i = 0; i < n; ++i) blocks[i] = take<FwHeap>(heap.alloc(1000, 16));
  for (usize i = 0; i + 1 < n; ++i) SCEN_CHECK(chk, heap.dealloc(blocks[i]).ok());
  w.note(w.free, instructions([&] { SCEN_CHECK(chk, heap.dealloc(blocks[n - 1]).ok()); }));
  SCEN_CHECK(chk, heap.dealloc(first).ok() && heap.dealloc(aligned).ok());
  SCEN_CHECK(chk, heap.used_bytes() == 0 && heap.verify());
  return w;
}

/// Regression guards, in instructions per call on any ISA: both engines are
/// constant time (the Heap up to its buddy's few orders), and the slowest
/// ISA (riscv64, software bit scans) measures well under these (docs/firmware.md).
constexpr u64 TLSF_CEILING = 1000;
constexpr u64 HEAP_CEILING = 2000;

void check_ceiling(scenario::Checker& chk, const Worst& w, u64 ceiling) {
  SCEN_CHECK(chk, w.alloc > 0 && w.alloc <= ceiling);
  SCEN_CHECK(chk, w.aligned > 0 && w.aligned <= ceiling);
  SCEN_CHECK(chk, w.free > 0 && w.free <= ceiling);
  SCEN_CHECK(chk, w.resize <= ceiling);
}

// ---- TLSF's memory bound -------------------------------------------------------
/// The derived bound (docs/firmware.md): with G the granule, every block of a
/// request r is at most r + 2G - 1 bytes; when a request fails, every free
/// block is below N, the class boundary the largest request rounds up to, and
/// free blocks never touch (so there are at most U + 1 of them, U live blocks
/// <= M / m). A pool whose block bytes exceed M + U (2G - 1) + (U + 1)(N - G)
/// therefore never fails; add the pool frame.
constexpr usize tlsf_pool_bound(usize live_max, usize n, usize m) {
  using C = detail::TlsfClasses<TlsfSmallConfig::SL_LOG2, TlsfSmallConfig::MAX_POOL_LOG2, detail::TLSF_GRANULE>;
  constexpr usize G = detail::TLSF_GRANULE;
  usize block = align_up(n + detail::TLSF_HEADER, G);
  if (block < detail::TLSF_MIN_BLOCK) block = detail::TLSF_MIN_BLOCK;
  const typename C::Index at = C::index_for_request(block);
  const usize N = C::class_min(at.fl, at.sl);
  const usize U = live_max / m;
  return live_max + U * (2 * G - 1) + (U + 1) * (N - G) + G + detail::TLSF_POOL_OVERHEAD;
}

/// Runs `runs` sequences of malloc/free on a fresh TLSF pool of `pool` bytes:
/// live request bytes kept at (and never above) live_max, sizes m..n, a
/// quarter of them tiny and pinned longer (they split free blocks). Returns
/// the number of refused requests.
u64 tlsf_bound_runs(usize pool, usize live_max, usize n, usize m, u32 runs, scenario::Checker& chk) {
  u64 refused = 0;
  constexpr usize SLOTS = 1024;
  void* blocks[SLOTS];
  usize sizes[SLOTS];
  for (u32 run = 0; run < runs; ++run) {
    if (!SCEN_CHECK(chk, tlsf.init(memory, pool).ok())) return refused;
    scenario::Rng rng(SEED + run);
    usize live = 0, count = 0;
    for (u32 op = 0; op < 4000; ++op) {
      const usize r = rng.chance(1, 4) ? m : m + static_cast<usize>(rng.below(n - m + 1));
      while (count > 0 && (live + r > live_max || count == SLOTS)) {  // free until it fits
        const usize i = static_cast<usize>(rng.below(count));
        SCEN_CHECK(chk, tlsf.dealloc(blocks[i]).ok());
        live -= sizes[i];
        blocks[i] = blocks[--count];
        sizes[i] = sizes[count];
      }
      const Result<void*> p = tlsf.alloc(r, MALLOC_ALIGN);
      if (!p.ok()) {
        ++refused;
        continue;
      }
      blocks[count] = p.value();
      sizes[count++] = r;
      live += r;
    }
    SCEN_CHECK(chk, tlsf.verify());
  }
  return refused;
}

// ---- The bounded Heap's memory bound ------------------------------------------
FwBoundedHeap bheap;
constexpr usize PAGE = FwBoundedHeap::PAGE_SIZE;

/// The derived bound (docs/firmware.md): a new span of class c is taken only
/// when every span the class holds is full, and a full span holds B_c blocks
/// of requests of at least max(m, s_{c-1} + 1) bytes (smaller requests go to
/// smaller classes), so class c never holds more than
/// floor(M / (B_c max(m, s_{c-1} + 1))) + 1 spans (its spare included). All
/// spans are one page, so any free page serves any of them: the heap never
/// fails while its buddy has that many pages summed over the classes a
/// request of m..n bytes can land in.
constexpr usize heap_bound_pages(usize live_max, usize n, usize m) {
  usize pages = 0, below = 0;  // below: the class under c (its requests are larger)
  for (u32 c = 0; c < BoundedClasses::NUM_CLASSES && below < n; ++c) {
    const SizeClass& sc = BoundedClasses::get(c);
    if (sc.size >= m) {
      const usize least = m > below + 1 ? m : below + 1;
      pages += live_max / (sc.blocks * least) + 1;
    }
    below = sc.size;
  }
  return pages;
}

/// The smallest pool whose buddy manages `pages` pages (the metadata takes
/// the rest), the heap initialised over it.
usize bheap_pool_for(usize pages) {
  auto enough = [pages](usize pool) { return bheap.init(memory, pool).ok() && bheap.total_bytes() >= pages * PAGE; };
  usize pool = pages * PAGE;
  while (!enough(pool)) pool += PAGE;
  while (enough(pool - 16)) pool -= 16;
  (void)enough(pool);
  return pool;
}

struct Adversary {
  u64 refused = 0;
  usize peak_pages = 0;  ///< the most pages the heap's spans held at once
};

/// The class-by-class adversary over a bounded Heap of `pages` pages.
Adversary bheap_adversary(usize pages, usize live_max, usize n, usize m, scenario::Checker& chk) {
  Adversary a;
  const usize pool = bheap_pool_for(pages);
  SCEN_CHECK(chk, bheap.total_bytes() == pages * PAGE);
  constexpr usize MAX_BLOCKS = 2048;
  static void* batch[MAX_BLOCKS];
  static bool pinned_page[HEAP_POOL / PAGE];
  for (bool& p : pinned_page) p = false;
  usize live = 0, below = 0;
  for (u32 c = 0; c < BoundedClasses::NUM_CLASSES && below < n; ++c) {
    const usize size = BoundedClasses::get(c).size;
    const usize r = m > below + 1 ? m : below + 1;
    below = size;
    if (size < m) continue;
    usize count = 0;
    while (live + r <= live_max && count < MAX_BLOCKS) {
      const Result<void*> p = bheap.alloc(r, MALLOC_ALIGN);
      if (!p.ok()) {
        ++a.refused;
        break;
      }
      batch[count++] = p.value();
      live += r;
    }
    const usize held = (bheap.total_bytes() - bheap.free_run_bytes()) / PAGE;
    if (held > a.peak_pages) a.peak_pages = held;
    for (usize i = 0; i < count; ++i) {  // keep the first block of each span
      const usize page = (reinterpret_cast<uptr>(batch[i]) - reinterpret_cast<uptr>(memory)) / PAGE;
      if (!pinned_page[page]) {
        pinned_page[page] = true;
        continue;
      }
      SCEN_CHECK(chk, bheap.dealloc(batch[i]).ok());
      live -= r;
    }
  }
  SCEN_CHECK(chk, bheap.verify());
  (void)pool;
  return a;
}

Worst max_of(const Worst& x, const Worst& y) {
  Worst m = x;
  m.note(m.alloc, y.alloc);
  m.note(m.aligned, y.aligned);
  m.note(m.free, y.free);
  m.note(m.resize, y.resize);
  return m;
}

/// Reports the adversarial sequence's counts, runs and reports the random run
/// on e over a fresh pool, and checks the worst of both against the ceiling.
template <class E>
Worst wcet(const char* name, E& e, const Worst& adversarial, usize pool, u64 ceiling, scenario::Checker& chk) {
  report(name, "adversarial", adversarial);
  (void)e.init(memory, pool);
  const Worst random = random_run(e, chk, SEED);
  report(name, "random", random);
  const Worst worst = max_of(adversarial, random);
  report(name, "worst", worst);
  check_ceiling(chk, worst, ceiling);
  return worst;
}

}  // namespace
}  // namespace strata::fw

using namespace strata;
using namespace strata::fw;

extern "C" int fw_main() {
  scenario::Checker chk = console_checker();
  Steps steps("bounds", chk);
  put_tag("bounds on " STRATA_FW_ISA_NAME "\n");
  cycle_counter_start();
  cal = calibrate();
  const Calibration again = calibrate();
  put_tag("  counter: ");
  put_dec(cal.per_1000);
  put(" ticks per 1000 instructions, ");
  put_dec(cal.empty);
  put(" per empty measurement\n");
  // Under -icount the counter is a function of the instruction count: two
  // calibrations agree exactly. Wall-clock ticks would not.
  if (!SCEN_CHECK(chk, again.per_1000 == cal.per_1000 && again.empty == cal.empty && cal.per_1000 >= 1000)) {
    put_tag("  the cycle counter does not count instructions: run under qemu -icount (run_qemu.sh --icount)\n");
    return report_verdict(chk);
  }
  steps.done("calibration");

  const Worst tw = wcet("tlsf", tlsf, tlsf_adversarial(chk), TLSF_POOL, TLSF_CEILING, chk);
  SCEN_CHECK(chk, tw.resize > 0);
  steps.done("wcet_tlsf");

  // TLSF's memory bound, for M = 16 KiB live, requests of 16..512 bytes.
  constexpr usize M = usize{16} << 10, N_MAX = 512, M_MIN = 16;
  constexpr usize H = tlsf_pool_bound(M, N_MAX, M_MIN);
  static_assert(H <= HEAP_POOL, "the bound's pool fits the image's memory");
  put_tag("  tlsf memory bound: M=");
  put_dec(M);
  put(" n=");
  put_dec(N_MAX);
  put(" m=");
  put_dec(M_MIN);
  put(" H=");
  put_dec(H);
  put(" (");
  put_dec(H / M);
  put(".");
  put_dec(H * 10 / M % 10);
  put(" M)\n");
  const u64 refused_at_h = tlsf_bound_runs(H, M, N_MAX, M_MIN, 8, chk);
  const u64 refused_small = tlsf_bound_runs(M + M / 4, M, N_MAX, M_MIN, 8, chk);
  put_tag(" ");
  put_field("refused_at_H", refused_at_h);
  put_field("refused_at_1.25M", refused_small);
  put("\n");
  SCEN_CHECK(chk, refused_at_h == 0);
  SCEN_CHECK(chk, refused_small > 0);
  // How far below H these sequences still pass (context for the bound's
  // slack: a bisection over the pool size, to 1 KiB).
  usize lo = M + M / 4, hi = H;
  while (hi - lo > 1024) {
    const usize mid = align_down(lo + (hi - lo) / 2, 16);
    (tlsf_bound_runs(mid, M, N_MAX, M_MIN, 8, chk) == 0 ? hi : lo) = mid;
  }
  put_tag("  these sequences pass from a pool of about ");
  put_dec(hi);
  put(" bytes (");
  put_dec(hi / M);
  put(".");
  put_dec(hi * 10 / M % 10);
  put(" M)\n");
  steps.done("tlsf_memory_bound");

  // The bounded Heap's memory bound, for the same M, n, m.
  constexpr usize HP = heap_bound_pages(M, N_MAX, M_MIN);
  const usize heap_pool = bheap_pool_for(HP);
  put_tag("  bounded heap memory bound: ");
  put_dec(HP);
  put(" pages of spans, a pool of ");
  put_dec(heap_pool);
  put(" bytes (");
  put_dec(heap_pool / M);
  put(".");
  put_dec(heap_pool * 10 / M % 10);
  put(" M)\n");
  const Adversary at_bound = bheap_adversary(HP, M, N_MAX, M_MIN, chk);
  const Adversary below = bheap_adversary(at_bound.peak_pages - 1, M, N_MAX, M_MIN, chk);
  put_tag(" ");
  put_field("refused_at_bound", at_bound.refused);
  put_field("adversary_pages", at_bound.peak_pages);
  put_field("refused_one_page_below", below.refused);
  put("\n");
  SCEN_CHECK(chk, at_bound.refused == 0 && at_bound.peak_pages <= HP);
  SCEN_CHECK(chk, below.refused > 0);
  // Tight: the adversary makes the heap hold at least 90% of the bound.
  SCEN_CHECK(chk, at_bound.peak_pages * 10 >= HP * 9);
  steps.done("heap_memory_bound");

  (void)wcet("heap", heap, heap_adversarial(chk), HEAP_POOL, HEAP_CEILING, chk);
  (void)bheap.init(memory, HEAP_POOL);
  const Worst bw = random_run(bheap, chk, SEED);
  report("heap_bounded", "random", bw);
  check_ceiling(chk, bw, HEAP_CEILING);
  steps.done("wcet_heap");
  return report_verdict(chk);
}
