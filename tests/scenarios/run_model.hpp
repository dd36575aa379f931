// What the randomized runs of the id model (id_model.hpp) and the page model
// (page_model.hpp) share: both engines hand out runs (of ids, of pages) by
// first fit, so both runs have the same knobs, count the same things and
// judge the engine's answers the same way.
//
// Freestanding like the scenarios that include it: no library header.
#pragma once
#include "strata/core/types.hpp"
#include "scenarios/checker.hpp"
#include "scenarios/rng.hpp"
#include "strata/result.hpp"

namespace strata::scenario {

/// The knobs both runs share; each model adds its own (run lengths,
/// alignments, allocations at a chosen place).
struct RunModelParams {
  u64 seed = 1;
  u64 ops = 1'000'000;
  u32 alloc_percent = 52;    ///< share of operations that allocate (when the live list has room)
  u32 bad_percent = 4;       ///< share of operations that must be refused
  u64 first_fit_every = 64;  ///< compare with the model's first fit every N first-fit allocations (0: never)
};

/// What a run did, for reports.
struct RunModelStats {
  u64 ops = 0;  ///< engine calls made
  u64 allocs = 0;
  u64 frees = 0;
  u64 refused = 0;  ///< calls answered with an error, as predicted
  u64 first_fit_checks = 0;
  usize peak_used = 0;
};

/// The bookkeeping of one run: its counters, and the checks of the engine's
/// answers against the model's predictions (through the Checker).
class RunTally {
 public:
  RunTally(const RunModelParams& p, Checker& chk) : p_(p), chk_(chk) {}

  RunModelStats st{};

  /// One engine call answered `got` where the model predicts `want` (success
  /// or that exact error); true when the call succeeded.
  template <class R>
  bool agree(const R& got, Result<void> want) {
    ++st.ops;
    if (!SCEN_CHECK(chk_, got.ok() == want.ok() && (got.ok() || got.error() == want.error()))) return false;
    if (!want.ok()) ++st.refused;
    return got.ok();
  }
  /// A run was handed out; `used` ids or pages are now live.
  void allocated(usize used) {
    ++st.allocs;
    if (used > st.peak_used) st.peak_used = used;
  }
  /// Allocation by first fit at operation `op`: got = alloc(). Every
  /// first_fit_every-th one must answer fit(), the model's first fit taken
  /// before the call (`none` when nothing fits). False on a mismatch.
  template <class R, class Alloc, class Fit, class V>
  bool alloc_first_fit(u64 op, R& got, Alloc alloc, Fit fit, V none) {
    const bool check = p_.first_fit_every != 0 && op % p_.first_fit_every == 0;
    const V want = check ? fit() : none;
    got = alloc();
    ++st.ops;
    if (!check) return true;
    ++st.first_fit_checks;
    return SCEN_CHECK(chk_, got.ok() == (want != none)) && (!got.ok() || SCEN_CHECK(chk_, got.value() == want));
  }
  /// A first-fit allocation refused with `got`: that must be NoMemory. Then,
  /// under pressure, up to three random live runs are freed with
  /// free_live(k), k < nlive (which free_live lowers), so both paths keep
  /// running. False when a check failed.
  template <class R, class FreeLive>
  bool relieve(const R& got, Rng& rng, const usize& nlive, FreeLive free_live) {
    if (!SCEN_CHECK(chk_, got.error() == AllocError::NoMemory)) return false;
    for (int i = 0; i < 3 && nlive > 0; ++i)
      if (!free_live(static_cast<usize>(rng.below(nlive)))) return false;
    return true;
  }

 private:
  const RunModelParams& p_;
  Checker& chk_;
};

}  // namespace strata::scenario
