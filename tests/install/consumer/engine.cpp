// Consumer of the installed engine headers: a TLSF over a static arena.
#include <cstdio>
#include <cstdlib>

#include "strata/engine/tlsf.hpp"

// The engines report corruption through this platform hook (core/check.hpp);
// a program using them without libstrata supplies it.
extern "C" [[noreturn]] void strata_fatal(const char* what, strata::uptr value) {
  std::fprintf(stderr, "engine: %s %#lx\n", what, static_cast<unsigned long>(value));
  std::abort();
}

int main() {
  alignas(64) static unsigned char arena[1 << 16];
  static strata::Tlsf<> tlsf;
  if (!tlsf.init(arena, sizeof arena).ok()) return 1;
  strata::Result<void*> r = tlsf.alloc(100, 64);
  if (!r.ok() || (reinterpret_cast<unsigned long>(r.value()) & 63) != 0) return 1;
  if (!tlsf.dealloc(r.value()).ok()) return 1;
  std::puts("engine ok");
  return 0;
}
