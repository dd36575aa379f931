// strata bench: the platform fatal hook for engine-level benchmark programs.
// A failed engine CHECK during a benchmark is a bug: say which, then abort.
#include <cstdio>
#include <cstdlib>

#include "strata/core/check.hpp"

extern "C" [[noreturn]] void strata_fatal(const char* what, strata::uptr value) {
  std::fprintf(stderr, "strata bench: engine check failed: %s 0x%llx\n", what,
               static_cast<unsigned long long>(value));
  std::abort();
}
