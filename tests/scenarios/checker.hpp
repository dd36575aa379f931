// Scenario checks shared by the host GoogleTest suite and the firmware images.
//
// Scenarios are freestanding templates: they report through a Checker instead of
// gtest macros or printf, so the same code runs under GoogleTest (which turns a
// failure into ADD_FAILURE) and on bare metal (which prints and fails the boot).
#pragma once
#include "strata/core/types.hpp"

namespace strata::scenario {

/// Collects check results. on_fail is called for every failed check with the
/// source location and the failed expression; ctx is passed through.
struct Checker {
  void (*on_fail)(void* ctx, const char* file, int line, const char* expr) = nullptr;
  void* ctx = nullptr;
  u64 checks = 0;
  u64 failures = 0;

  bool check(bool cond, const char* file, int line, const char* expr) {
    ++checks;
    if (!cond) {
      ++failures;
      if (on_fail) on_fail(ctx, file, line, expr);
    }
    return cond;
  }
  bool ok() const { return failures == 0; }
};

/// A power of two above every pool, region and block the scenarios build, yet
/// a valid size and alignment: 2^40 on 64-bit targets, 2^30 on 32-bit ones.
inline constexpr usize BEYOND_ANY_POOL = usize{1} << (sizeof(usize) == 8 ? 40 : 30);
/// The largest power of two a usize holds (2^63 or 2^31).
inline constexpr usize TOP_BIT = usize{1} << (sizeof(usize) * 8 - 1);

}  // namespace strata::scenario

/// Records a check; evaluates to cond. Scenarios stop early with
/// `if (!SCEN_CHECK(c, x)) return;` where continuing would crash.
#define SCEN_CHECK(chk, cond) ((chk).check(static_cast<bool>(cond), __FILE__, __LINE__, #cond))
