// Scenarios for any IdAllocator: a randomized model-based run, exhaustion, and
// bad input.
//
// The shadow model is one byte per id (allocated or not) plus a list of live
// runs. Every call's outcome is predicted from the model first: success or the
// exact AllocError. Checked as the run goes: no id handed out twice, alignment,
// ids in range, used/available exact, is_allocated agreeing with the model,
// first-fit placement (compared with a linear scan every `first_fit_every`
// allocations), refused calls changing nothing. Runs are sometimes returned in
// two pieces (ids are owned one by one). At the end everything is freed and the
// whole id space is allocated in one run starting at 0.
//
// Freestanding: storage comes from the caller; reports go through the Checker.
#pragma once
#include "strata/core/types.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "scenarios/run_model.hpp"
#include "strata/align.hpp"
#include "strata/concepts.hpp"

namespace strata::scenario {

/// One live run of ids in the model.
struct IdRun {
  usize start;
  usize count;
};

/// The shared knobs (seed, ops, alloc/bad percentages, first_fit_every:
/// counted in alloc_id calls) and the id model's own.
struct IdModelParams : RunModelParams {
  usize max_count = 32;      ///< run lengths log-uniform in [1, max_count]
  usize max_align_log2 = 5;  ///< alignments 2^k, k uniform in [0, max_align_log2]
  u32 fixed_percent = 15;    ///< share of allocations made with alloc_fixed_id
};

using IdModelStats = RunModelStats;

namespace detail {
/// Linear-scan first fit over the model: lowest multiple of align starting
/// `count` free ids, or `size`.
inline usize id_first_fit(const u8* taken, usize size, usize count, usize align) {
  usize stretch = 0;
  for (usize i = 0; i < size; ++i) {
    if (taken[i]) {
      stretch = i + 1;
      continue;
    }
    const usize c = align_up(stretch, align);
    if (i + 1 >= c + count) return c;
  }
  return size;
}
}  // namespace detail

/// The randomized run on a fresh allocator (used() == 0). `taken` holds size()
/// bytes, `live` up to `live_capacity` runs (> 0).
template <IdAllocator A>
IdModelStats run_id_model(A& a, u8* taken, IdRun* live, usize live_capacity, const IdModelParams& p, Checker& chk) {
  RunTally run(p, chk);
  IdModelStats& st = run.st;
  const usize size = a.size();
  if (!SCEN_CHECK(chk, a.used() == 0 && a.available() == size)) return st;
  for (usize i = 0; i < size; ++i) taken[i] = 0;
  Rng rng(p.seed);
  usize nlive = 0, used = 0;
  IdRun last_freed{0, 0};

  auto all = [&](usize start, usize count, u8 v) {
    for (usize i = start; i < start + count; ++i)
      if (taken[i] != v) return false;
    return true;
  };
  auto mark = [&](usize start, usize count, u8 v) {
    for (usize i = start; i < start + count; ++i) taken[i] = v;
    used = v ? used + count : used - count;
  };
  auto add_live = [&](usize start, usize count) {
    mark(start, count, 1);
    live[nlive++] = IdRun{start, count};
    run.allocated(used);
  };
  // Frees live run k, whole or (sometimes) just its first part.
  auto free_live = [&](usize k) {
    IdRun& r = live[k];
    const usize part = r.count > 1 && rng.chance(1, 4) ? static_cast<usize>(rng.range(1, r.count - 1)) : r.count;
    if (!run.agree(a.dealloc_id(r.start, part), ok())) return false;
    mark(r.start, part, 0);
    last_freed = IdRun{r.start, part};
    r.start += part;
    r.count -= part;
    if (r.count == 0) live[k] = live[--nlive];
    ++st.frees;
    return true;
  };

  for (u64 op = 0; op < p.ops; ++op) {
    const usize count = static_cast<usize>(rng.log_uniform(p.max_count));
    const usize align = usize{1} << rng.below(p.max_align_log2 + 1);
    const usize id = static_cast<usize>(rng.below(size));
    if (rng.below(100) < p.bad_percent) {
      switch (rng.below(5)) {
        case 0:  // double free, unless the ids were handed out again meanwhile
          if (last_freed.count > 0 && !all(last_freed.start, last_freed.count, 1))
            run.agree(a.dealloc_id(last_freed.start, last_freed.count), AllocError::NotAllocated);
          break;
        case 1:  // a range holding a free id
          if (id + count <= size && !all(id, count, 1)) run.agree(a.dealloc_id(id, count), AllocError::NotAllocated);
          break;
        case 2:  // out of range or empty
          run.agree(a.dealloc_id(rng.chance(1, 2) ? size - 1 : id, rng.chance(1, 2) ? 0 : size + 1),
                    AllocError::InvalidParam);
          break;
        case 3:
          run.agree(a.alloc_fixed_id(size + id), AllocError::InvalidParam);
          break;
        default:
          run.agree(a.alloc_id(rng.chance(1, 2) ? 0 : count, rng.chance(1, 2) ? 0 : 3 * align),
                    AllocError::InvalidParam);
          break;
      }
    } else if (nlive == 0 || (nlive < live_capacity && rng.below(100) < p.alloc_percent)) {
      if (rng.below(100) < p.fixed_percent) {
        if (run.agree(a.alloc_fixed_id(id), taken[id] ? Result<void>(AllocError::NoMemory) : ok())) add_live(id, 1);
      } else {
        const auto fit = [&] { return detail::id_first_fit(taken, size, count, align); };  // size: none fits
        Result<usize> got = AllocError::NoMemory;
        if (!run.alloc_first_fit(op, got, [&] { return a.alloc_id(count, align); }, fit, size)) return st;
        if (!got.ok()) {
          if (!run.relieve(got, rng, nlive, free_live)) return st;
        } else {
          const usize s = got.value();
          if (!SCEN_CHECK(chk, s % align == 0) || !SCEN_CHECK(chk, s < size && count <= size - s) ||
              !SCEN_CHECK(chk, all(s, count, 0)))
            return st;
          add_live(s, count);
        }
      }
    } else if (!free_live(static_cast<usize>(rng.below(nlive)))) {
      return st;
    }
    if (!SCEN_CHECK(chk, a.used() == used) || !SCEN_CHECK(chk, a.available() == size - used) ||
        !SCEN_CHECK(chk, a.is_allocated(id) == (taken[id] != 0)))
      return st;
  }

  while (nlive > 0)
    if (!free_live(nlive - 1)) return st;
  SCEN_CHECK(chk, a.used() == 0 && a.available() == size);
  Result<usize> whole = a.alloc_id(size, 1);
  if (SCEN_CHECK(chk, whole.ok() && whole.value() == 0)) SCEN_CHECK(chk, a.dealloc_id(0, size).ok());
  return st;
}

/// Exhaustion on a fresh allocator: single ids until NoMemory (0, 1, 2, ...
/// in order, size() of them), then no id fits; every odd id freed gives no run
/// of two and hands back 1 first; then alloc_id(1, align) on an empty
/// allocator yields exactly the multiples of align. Ends empty.
template <IdAllocator A>
void run_id_exhaustion(A& a, usize align, Checker& chk) {
  const usize size = a.size();
  auto is = [](auto r, AllocError e) { return !r.ok() && r.error() == e; };
  usize n = 0;
  for (Result<usize> r = a.alloc_id(1, 1); r.ok(); r = a.alloc_id(1, 1))
    if (!SCEN_CHECK(chk, r.value() == n++)) return;
  SCEN_CHECK(chk, n == size && a.used() == size && a.available() == 0);
  SCEN_CHECK(chk, is(a.alloc_id(1, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.alloc_fixed_id(size - 1), AllocError::NoMemory));
  for (usize i = 1; i < size; i += 2) SCEN_CHECK(chk, a.dealloc_id(i, 1).ok());
  if (size > 1) {
    SCEN_CHECK(chk, is(a.alloc_id(2, 1), AllocError::NoMemory));
    Result<usize> r = a.alloc_id(1, 1);
    if (SCEN_CHECK(chk, r.ok() && r.value() == 1)) SCEN_CHECK(chk, a.dealloc_id(1, 1).ok());
  }
  for (usize i = 0; i < size; i += 2) SCEN_CHECK(chk, a.dealloc_id(i, 1).ok());
  SCEN_CHECK(chk, a.used() == 0);

  usize k = 0;
  for (Result<usize> r = a.alloc_id(1, align); r.ok(); r = a.alloc_id(1, align))
    if (!SCEN_CHECK(chk, r.value() == k++ * align)) return;
  SCEN_CHECK(chk, k == (size + align - 1) / align);
  for (usize i = 0; i < k; ++i) SCEN_CHECK(chk, a.dealloc_id(i * align, 1).ok());
  SCEN_CHECK(chk, a.used() == 0 && a.available() == size);
}

/// Every kind of bad input on a fresh allocator of at least 8 ids, each
/// answered with its documented error and no change of state.
template <IdAllocator A>
void run_id_bad_input(A& a, Checker& chk) {
  const usize size = a.size();
  auto is = [](auto r, AllocError e) { return !r.ok() && r.error() == e; };
  if (!SCEN_CHECK(chk, size >= 8 && a.used() == 0)) return;
  SCEN_CHECK(chk, is(a.alloc_id(0, 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_id(1, 0), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_id(1, 6), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_id(size + 1, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.alloc_id(USIZE_MAX, 1), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.alloc_fixed_id(size), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.alloc_fixed_id(USIZE_MAX), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.dealloc_id(0, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, is(a.dealloc_id(0, 0), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.dealloc_id(size, 1), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.dealloc_id(size - 1, 2), AllocError::InvalidParam));
  SCEN_CHECK(chk, is(a.dealloc_id(1, USIZE_MAX), AllocError::InvalidParam));
  SCEN_CHECK(chk, a.used() == 0 && !a.is_allocated(0) && !a.is_allocated(size) && !a.is_allocated(USIZE_MAX));

  // An alignment past the id space admits only id 0.
  Result<usize> huge = a.alloc_id(1, TOP_BIT);
  if (!SCEN_CHECK(chk, huge.ok() && huge.value() == 0)) return;
  SCEN_CHECK(chk, is(a.alloc_id(1, TOP_BIT), AllocError::NoMemory));
  SCEN_CHECK(chk, a.dealloc_id(0, 1).ok());

  Result<usize> r = a.alloc_id(4, 4);
  if (!SCEN_CHECK(chk, r.ok() && r.value() == 0)) return;
  SCEN_CHECK(chk, a.alloc_fixed_id(5).ok());
  SCEN_CHECK(chk, is(a.alloc_fixed_id(5), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.alloc_fixed_id(2), AllocError::NoMemory));
  SCEN_CHECK(chk, is(a.dealloc_id(3, 3), AllocError::NotAllocated));  // id 4 is free
  SCEN_CHECK(chk, is(a.dealloc_id(4, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, a.used() == 5 && a.is_allocated(3) && !a.is_allocated(4) && a.is_allocated(5));
  // Ids are owned one by one: part of a run, then a span of run and fixed id.
  SCEN_CHECK(chk, a.dealloc_id(0, 2).ok());
  SCEN_CHECK(chk, is(a.dealloc_id(0, 1), AllocError::NotAllocated));
  SCEN_CHECK(chk, a.alloc_fixed_id(4).ok());
  SCEN_CHECK(chk, a.dealloc_id(2, 4).ok());
  SCEN_CHECK(chk, is(a.dealloc_id(2, 4), AllocError::NotAllocated));
  SCEN_CHECK(chk, a.used() == 0 && a.available() == size);
}

}  // namespace strata::scenario
