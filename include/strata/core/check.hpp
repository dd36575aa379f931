// strata core: always-on CHECK and debug-only DCHECK, routed to a platform hook.
//
// Engines never print or abort by themselves: a failed check calls
// strata_fatal(), which the platform supplies (the hosted runtime writes one line
// to stderr and aborts; firmware prints on its console and halts or resets).
#pragma once
#include "strata/core/types.hpp"

extern "C" {
/// Platform hook: report an unrecoverable fault and never return. `what` is a
/// short static message naming the fault, `value` an address or number that
/// goes with it (printed in hex). Must not allocate. Supplied by the platform
/// (interpose/ on Linux, the firmware image otherwise).
[[noreturn]] void strata_fatal(const char* what, strata::uptr value);
}

/// Always-on check for cheap invariants whose failure means corruption.
#define STRATA_CHECK(cond, what, value)                                   \
  do {                                                                    \
    if (__builtin_expect(!(cond), 0)) strata_fatal((what), (strata::uptr)(value)); \
  } while (0)

#ifdef STRATA_DEBUG
/// Debug-only check (STRATA_DEBUG builds); free in release builds.
#define STRATA_DCHECK(cond, what, value) STRATA_CHECK(cond, what, value)
#else
#define STRATA_DCHECK(cond, what, value) \
  do {                                   \
    (void)sizeof(cond);                  \
  } while (0)
#endif
