// Engine tests: the platform fatal hook. One line on stderr naming the fault,
// then abort(), so death tests can match the message.
#include <cstdio>
#include <cstdlib>

#include "strata/core/check.hpp"

extern "C" [[noreturn]] void strata_fatal(const char* what, strata::uptr value) {
  std::fprintf(stderr, "strata: %s 0x%llx\n", what, static_cast<unsigned long long>(value));
  std::abort();
}
