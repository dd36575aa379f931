// strata exports: symbol export control. The library is built with
// -fvisibility=hidden; only what carries STRATA_EXPORT is visible, and the
// version script (strata.map) is the final word on what libstrata.so exports.
#pragma once

#define STRATA_EXPORT __attribute__((visibility("default")))

// STRATA_OVERRIDE=1 (libstrata.so, libstrata.a): the standard names (malloc,
// free, operator new ...) are aliases of the strata_* functions.
// STRATA_OVERRIDE=0 (libstrata_prefixed.a): only strata_* exist, so tests and
// programs can call strata beside the system allocator.
#ifndef STRATA_OVERRIDE
#define STRATA_OVERRIDE 1
#endif

#if STRATA_OVERRIDE
#define STRATA_ALIAS(target) __attribute__((alias(#target), visibility("default")))
#endif
