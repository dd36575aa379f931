// Adapts a scenario Checker to GoogleTest: each failed scenario check becomes a
// non-fatal gtest failure at the scenario's source line.
#pragma once
#include <gtest/gtest.h>

#include "scenarios/checker.hpp"

namespace strata::test {

inline scenario::Checker gtest_checker() {
  scenario::Checker c;
  c.on_fail = [](void*, const char* file, int line, const char* expr) {
    ADD_FAILURE_AT(file, line) << "scenario check failed: " << expr;
  };
  return c;
}

/// A static arena owned for the whole test program's life (as in firmware):
/// fixtures take slices of it; nothing is on a dead stack frame.
template <strata::usize N, strata::usize Align = 4096>
struct alignas(Align) Arena {
  unsigned char bytes[N];
  void* data() { return bytes; }
  static constexpr strata::usize size() { return N; }
};

}  // namespace strata::test
