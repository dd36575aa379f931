// Scenarios for any PageAllocator: a randomized model-based run, exhaustion,
// and bad input.
//
// The shadow model keeps one state byte per page of the engine's window
// (absent, free, first page of a live run, later page of a live run) and a list
// of live runs. Every operation's outcome is predicted from the model before
// the engine is asked: success, or the exact AllocError. Checked as the run
// goes: no page handed out twice, alignment, addresses inside managed regions,
// used/available/total exact, first-fit placement (compared with a linear scan
// of the model every `first_fit_every` allocations), refused calls change
// nothing. At the end everything is freed, all pages are available again, and
// the longest free stretch is allocated in one piece at its model address.
//
// Page allocators never touch the pages, so callers may use made-up addresses.
// Freestanding: all storage comes from the caller (firmware runs the very same
// code from static buffers); reports go through the Checker.
#pragma once
#include "strata/core/types.hpp"
#include "scenarios/byte_model.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "scenarios/run_model.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"

namespace strata::scenario {

/// The model's view of the engine's window: state[i] describes the page at
/// window + i * page_size. The caller provides `state` (pages bytes).
struct PageShadow {
  static constexpr u8 ABSENT = 0, FREE = 1, START = 2, BODY = 3;
  u8* state;
  usize pages;  ///< the engine's capacity (MAX_PAGES)
  uptr window;  ///< address of page 0 (the first region's start)
  usize page_size;

  uptr address(usize i) const { return window + i * page_size; }
  /// Page index of addr into `first` when the n pages from addr are inside the window.
  bool locate(uptr addr, usize n, usize& first) const {
    if (addr < window || (addr - window) / page_size >= pages) return false;
    first = (addr - window) / page_size;
    return n <= pages - first;
  }
  bool all(usize first, usize n, u8 s) const {
    for (usize i = first; i < first + n; ++i)
      if (state[i] != s) return false;
    return true;
  }
  bool any(usize first, usize n, u8 s) const {
    for (usize i = first; i < first + n; ++i)
      if (state[i] == s) return true;
    return false;
  }
  void mark(usize first, usize n, bool taken) {
    for (usize i = first; i < first + n; ++i) state[i] = !taken ? FREE : i == first ? START : BODY;
  }
  /// What alloc_pages_at(addr, n, align) must answer (align and addr valid).
  Result<void> expect_at(uptr addr, usize n) const {
    usize first = 0;
    if (!locate(addr, n, first) || any(first, n, ABSENT)) return AllocError::InvalidParam;
    return all(first, n, FREE) ? ok() : Result<void>(AllocError::NoMemory);
  }
  /// What dealloc_pages(addr, n) must answer: ok only for one whole live run.
  Result<void> expect_dealloc(uptr addr, usize n) const {
    if (n == 0 || addr % page_size != 0) return AllocError::InvalidParam;
    usize first = 0;
    if (!locate(addr, n, first) || state[first] != START || !all(first + 1, n - 1, BODY)) return AllocError::NotAllocated;
    const bool continues = first + n < pages && state[first + n] == BODY;
    return continues ? Result<void>(AllocError::NotAllocated) : ok();
  }
  /// First-fit answer by linear scan: index of the lowest run of n free pages
  /// whose address is a multiple of align bytes (>= page_size), or `pages`.
  usize first_fit(usize n, usize align) const {
    usize stretch = 0;
    for (usize i = 0; i < pages; ++i) {
      if (state[i] != FREE) {
        stretch = i + 1;
        continue;
      }
      const usize c = (align_up(address(stretch), align) - window) / page_size;
      if (i + 1 >= c + n) return c;
    }
    return pages;
  }
  /// Longest stretch of free pages: its length, its first page in `first`.
  usize longest_free(usize& first) const {
    usize best = 0, run = 0;
    for (usize i = 0; i < pages; ++i) {
      run = state[i] == FREE ? run + 1 : 0;
      if (run > best) {
        best = run;
        first = i + 1 - run;
      }
    }
    return best;
  }
};

/// One live run of the model.
struct PageRun {
  uptr addr;
  usize pages;
};

/// The shared knobs (seed, ops, alloc/bad percentages, first_fit_every:
/// counted in alloc_pages calls) and the page model's own.
struct PageModelParams : RunModelParams {
  usize max_run = 64;        ///< run lengths log-uniform in [1, max_run]
  usize max_align_log2 = 4;  ///< alignments page_size << k, k uniform in [0, max_align_log2]
  u32 at_percent = 15;       ///< share of allocations made with alloc_pages_at
};

using PageModelStats = RunModelStats;

/// Initialises `a` over regions[0] (which opens the window) and adds the rest,
/// recording them in the shadow (state bytes reset to ABSENT first). True when
/// every call succeeded.
template <PageAllocator A>
bool setup_pages(A& a, const Region* regions, usize nregions, PageShadow& m, Checker& chk) {
  for (usize i = 0; i < m.pages; ++i) m.state[i] = PageShadow::ABSENT;
  m.window = regions[0].start;
  m.page_size = A::PAGE_SIZE;
  for (usize r = 0; r < nregions; ++r) {
    void* p = reinterpret_cast<void*>(regions[r].start);
    Result<void> res = r == 0 ? a.init(p, regions[r].size) : a.add_memory(p, regions[r].size);
    usize first = 0;
    if (!SCEN_CHECK(chk, res.ok()) || !SCEN_CHECK(chk, m.locate(regions[r].start, regions[r].size / A::PAGE_SIZE, first)))
      return false;
    m.mark(first, regions[r].size / A::PAGE_SIZE, false);
  }
  return true;
}

/// The randomized run over `regions` (page-aligned, disjoint, inside the
/// window of `pages` pages opened by the first). `state` holds `pages` bytes,
/// `live` up to `live_capacity` runs.
template <PageAllocator A>
PageModelStats run_page_model(A& a, const Region* regions, usize nregions, u8* state, usize pages, PageRun* live,
                              usize live_capacity, const PageModelParams& p, Checker& chk) {
  RunTally run(p, chk);
  PageModelStats& st = run.st;
  PageShadow m{state, pages, 0, A::PAGE_SIZE};
  if (!setup_pages(a, regions, nregions, m, chk)) return st;
  const usize total = a.total_pages();
  Rng rng(p.seed);
  usize nlive = 0, used = 0;
  PageRun last_freed{0, 0};

  auto free_live = [&](usize k) {
    const PageRun r = live[k];
    if (!run.agree(a.dealloc_pages(r.addr, r.pages), ok())) return false;
    usize first = 0;
    m.locate(r.addr, r.pages, first);
    m.mark(first, r.pages, false);
    used -= r.pages;
    live[k] = live[--nlive];
    last_freed = r;
    ++st.frees;
    return true;
  };
  auto record = [&](uptr addr, usize n) {
    usize first = 0;
    m.locate(addr, n, first);
    m.mark(first, n, true);
    used += n;
    live[nlive++] = PageRun{addr, n};
    run.allocated(used);
  };

  for (u64 op = 0; op < p.ops; ++op) {
    const usize n = static_cast<usize>(rng.log_uniform(p.max_run));
    const usize align = A::PAGE_SIZE << rng.below(p.max_align_log2 + 1);
    if (rng.below(100) < p.bad_percent) {
      // Calls that must be refused (or, for the random range, whatever the model says).
      const usize k = nlive > 0 ? static_cast<usize>(rng.below(nlive)) : 0;
      const PageRun r = nlive > 0 ? live[k] : last_freed;
      uptr addr = 0;
      usize cnt = 0;
      switch (rng.below(6)) {
        case 0: addr = last_freed.addr, cnt = last_freed.pages; break;     // double free
        case 1: addr = r.addr, cnt = r.pages + 1; break;                    // too many pages
        case 2: addr = r.addr + A::PAGE_SIZE, cnt = r.pages; break;         // from the middle
        case 3: addr = r.addr + 1, cnt = r.pages; break;                    // misaligned
        case 4: addr = m.address(static_cast<usize>(rng.below(pages))), cnt = n; break;
        default:
          run.agree(a.alloc_pages(rng.chance(1, 2) ? 0 : n, rng.chance(1, 2) ? 0 : 3 * A::PAGE_SIZE),
                    AllocError::InvalidParam);
          continue;
      }
      const Result<void> want = m.expect_dealloc(addr, cnt);
      if (want.ok() || cnt == 0) continue;  // a real live run by chance: leave it alone
      if (!run.agree(a.dealloc_pages(addr, cnt), want)) SCEN_CHECK(chk, a.used_pages() == used);
    } else if (nlive == 0 || (nlive < live_capacity && rng.below(100) < p.alloc_percent)) {
      if (rng.below(100) < p.at_percent) {
        const uptr addr = align_down(m.address(static_cast<usize>(rng.below(pages + pages / 8 + 1))), align);
        const usize small_align = rng.chance(1, 4) ? 1 : align;  // below PAGE_SIZE: page alignment
        if (run.agree(a.alloc_pages_at(addr, n, small_align), m.expect_at(addr, n))) record(addr, n);
      } else {
        // The model's first fit as an address: m.address(pages) when none fits.
        const auto fit = [&] { return m.address(m.first_fit(n, align)); };
        Result<uptr> got = AllocError::NoMemory;
        if (!run.alloc_first_fit(op, got, [&] { return a.alloc_pages(n, align); }, fit, m.address(pages))) return st;
        usize first = 0;
        if (got.ok()) {
          if (!SCEN_CHECK(chk, is_aligned(got.value(), align)) || !SCEN_CHECK(chk, m.locate(got.value(), n, first)) ||
              !SCEN_CHECK(chk, m.all(first, n, PageShadow::FREE)))
            return st;
          record(got.value(), n);
        } else if (!run.relieve(got, rng, nlive, free_live)) {
          return st;
        }
      }
    } else if (!free_live(static_cast<usize>(rng.below(nlive)))) {
      return st;
    }
    if (!SCEN_CHECK(chk, a.used_pages() == used) || !SCEN_CHECK(chk, a.total_pages() == total) ||
        !SCEN_CHECK(chk, a.available_pages() == total - used))
      return st;
  }

  while (nlive > 0)
    if (!free_live(nlive - 1)) return st;
  SCEN_CHECK(chk, a.used_pages() == 0);
  SCEN_CHECK(chk, a.available_pages() == total);
  usize first = 0;
  const usize longest = m.longest_free(first);
  Result<uptr> whole = a.alloc_pages(longest, A::PAGE_SIZE);
  if (SCEN_CHECK(chk, whole.ok()) && SCEN_CHECK(chk, whole.value() == m.address(first)))
    SCEN_CHECK(chk, a.dealloc_pages(whole.value(), longest).ok());
  return st;
}

/// Exhaustion over `regions`: single pages until NoMemory (each one new, as
/// many as total_pages), then nothing fits; every page at an even window index
/// freed gives no two-page run and hands the lowest back first; then
/// alloc_pages(1, align) until NoMemory yields exactly the managed pages whose
/// address is a multiple of align. Finally everything is free and the longest
/// stretch fits. `held` has room for total_pages() addresses.
template <PageAllocator A>
void run_page_exhaustion(A& a, const Region* regions, usize nregions, u8* state, usize pages, uptr* held,
                         usize held_capacity, usize align, Checker& chk) {
  PageShadow m{state, pages, 0, A::PAGE_SIZE};
  if (!setup_pages(a, regions, nregions, m, chk)) return;
  const usize total = a.total_pages();
  auto is = [](auto r, AllocError e) { return !r.ok() && r.error() == e; };
  // Takes pages one at a time with `al` until NoMemory; returns how many.
  auto drain = [&](usize al) -> usize {
    usize count = 0;
    while (true) {
      Result<uptr> r = a.alloc_pages(1, al);
      usize first = 0;
      if (!r.ok()) return SCEN_CHECK(chk, r.error() == AllocError::NoMemory) ? count : 0;
      if (!SCEN_CHECK(chk, count < held_capacity) || !SCEN_CHECK(chk, is_aligned(r.value(), al)) ||
          !SCEN_CHECK(chk, m.locate(r.value(), 1, first)) || !SCEN_CHECK(chk, m.state[first] == PageShadow::FREE))
        return 0;
      m.mark(first, 1, true);
      held[count++] = r.value();
    }
  };
  // Frees the held pages whose window index has the given parity (2: all).
  auto release = [&](usize count, usize parity) {
    for (usize i = 0; i < count; ++i) {
      usize first = 0;
      m.locate(held[i], 1, first);
      if (m.state[first] != PageShadow::START || (parity < 2 && first % 2 != parity)) continue;
      SCEN_CHECK(chk, a.dealloc_pages(held[i], 1).ok());
      m.mark(first, 1, false);
    }
  };

  const usize count = drain(A::PAGE_SIZE);
  SCEN_CHECK(chk, count == total);
  SCEN_CHECK(chk, a.available_pages() == 0 && a.used_pages() == total);
  SCEN_CHECK(chk, is(a.alloc_pages(1, 1), AllocError::NoMemory));
  if (count > 0) SCEN_CHECK(chk, is(a.alloc_pages_at(held[0], 1, A::PAGE_SIZE), AllocError::NoMemory));
  release(count, 0);
  if (a.available_pages() > 0) {
    SCEN_CHECK(chk, is(a.alloc_pages(2, 1), AllocError::NoMemory));
    Result<uptr> r = a.alloc_pages(1, 1);
    if (SCEN_CHECK(chk, r.ok()) && SCEN_CHECK(chk, r.value() == m.address(m.first_fit(1, A::PAGE_SIZE))))
      SCEN_CHECK(chk, a.dealloc_pages(r.value(), 1).ok());
  }
  release(count, 2);
  SCEN_CHECK(chk, a.used_pages() == 0 && a.available_pages() == total);

  usize aligned = 0;
  for (usize i = 0; i < pages; ++i) aligned += m.state[i] == PageShadow::FREE && is_aligned(m.address(i), align);
  const usize got = drain(align);
  SCEN_CHECK(chk, got == aligned);
  release(got, 2);
  SCEN_CHECK(chk, a.used_pages() == 0);
  usize first = 0;
  const usize longest = m.longest_free(first);
  Result<uptr> whole = a.alloc_pages(longest, 1);
  if (SCEN_CHECK(chk, whole.ok()) && SCEN_CHECK(chk, whole.value() == m.address(first)))
    SCEN_CHECK(chk, a.dealloc_pages(whole.value(), longest).ok());
}

/// Every kind of bad input, each answered with its documented error and no
/// change of state. `region` is page-aligned, 4 pages or more, and at least 4
/// pages smaller than the engine's window of `pages` pages (so a gap exists).
template <PageAllocator A>
void run_page_bad_input(A& a, Region region, usize pages, Checker& chk) {
  constexpr usize PS = A::PAGE_SIZE;
  const uptr s = region.start;
  void* start = reinterpret_cast<void*>(s);
  auto at = [](uptr x) { return reinterpret_cast<void*>(x); };
  auto is = [](auto r, AllocError e) { return !r.ok() && r.error() == e; };
  if (!SCEN_CHECK(chk, region.size >= 4 * PS && region.size / PS + 4 <= pages)) return;

  // init: misaligned start or size, empty, more than the capacity.
  SCEN_CHECK(chk, is(a.init(at(s + 1), region.size), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.init(start, region.size - 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.init(start, 0), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.init(start, (pages + 1) * PS), AllocError::InvalidParam));
  // A failed init leaves an empty allocator.
  SCEN_CHECK(chk, a.total_pages() == 0 && is(a.alloc_pages(1, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.alloc_pages_at(s, 1, 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.dealloc_pages(s, 1), AllocError::NotAllocated));

  if (!SCEN_CHECK(chk, a.init(start, region.size).ok())) return;
  const usize total = region.size / PS;
  const uptr end = s + region.size;  // first page of the gap after the region
  // add_memory: overlap, outside the window, misaligned, wrapping.
  SCEN_CHECK(chk, is(a.add_memory(start, region.size), AllocError::MemoryOverlap));
  SCEN_CHECK(chk, is(a.add_memory(at(s + PS), PS), AllocError::MemoryOverlap));
  SCEN_CHECK(chk, is(a.add_memory(at(end - PS), 2 * PS), AllocError::MemoryOverlap));
  SCEN_CHECK(chk, is(a.add_memory(at(s - PS), PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.add_memory(at(s + pages * PS), PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.add_memory(at(s + (pages - 1) * PS), 2 * PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.add_memory(at(end + 1), PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.add_memory(at(USIZE_MAX - PS + 1), 2 * PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, a.total_pages() == total);

  // alloc_pages: zero pages, zero or non-power-of-two alignment, too many pages.
  SCEN_CHECK(chk, is(a.alloc_pages(0, PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages(1, 0), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages(1, 3 * PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages(total + 1, PS), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.alloc_pages(USIZE_MAX, PS), AllocError::NoMemory));

  Result<uptr> r = a.alloc_pages(2, 1);  // below PAGE_SIZE: page alignment
  Result<uptr> r2 = a.alloc_pages(1, PS);
  if (!SCEN_CHECK(chk, r.ok() && r.value() == s) || !SCEN_CHECK(chk, r2.ok() && r2.value() == s + 2 * PS)) return;
  // alloc_pages_at: taken, misaligned, outside the window or in the gap, zero pages.
  SCEN_CHECK(chk, is(a.alloc_pages_at(s + PS, 1, PS), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.alloc_pages_at(end - PS, 2, PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages_at(s + 3 * PS + 1, 1, 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages_at(s + 3 * PS, 1, 3), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages_at(s - PS, 1, PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages_at(end, 1, PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages_at(s + pages * PS, 1, PS), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_pages_at(s + 3 * PS, 0, PS), AllocError::InvalidParam));
  // dealloc_pages: wrong count, middle page, across two allocations, misaligned, outside.
  SCEN_CHECK(chk, is(a.dealloc_pages(s, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, is(a.dealloc_pages(s, 3), AllocError::NotAllocated));
  SCEN_CHECK(chk, is(a.dealloc_pages(s + PS, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, is(a.dealloc_pages(s + 3 * PS, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, is(a.dealloc_pages(s + 1, 2), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.dealloc_pages(s, 0), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.dealloc_pages(s - PS, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, is(a.dealloc_pages(end, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, a.used_pages() == 3 && a.available_pages() == total - 3);
  // Double free.
  SCEN_CHECK(chk, a.dealloc_pages(s, 2).ok());
  SCEN_CHECK(chk, is(a.dealloc_pages(s, 2), AllocError::NotAllocated));
  SCEN_CHECK(chk, a.dealloc_pages(s + 2 * PS, 1).ok());
  SCEN_CHECK(chk, is(a.dealloc_pages(s + 2 * PS, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, a.used_pages() == 0 && a.available_pages() == total);
}

}  // namespace strata::scenario
