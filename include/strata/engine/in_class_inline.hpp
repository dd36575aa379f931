// strata engine: STRATA_IN_CLASS_INLINE, written on the out-of-line
// definition of an engine member function that used to be defined in its
// class (the companion headers: heap_spans.hpp, tlsf_free_blocks.hpp, ...).
//
// A member function defined in its class is implicitly inline, and the two
// compilers read that differently: GCC treats it as declared `inline` (its
// larger inlining limits apply), clang does not (no inline hint). `inline` on
// the out-of-line definition would keep GCC's code and grow clang's (the
// firmware's Tlsf by half at -Os); no keyword, the reverse (GCC stops
// inlining the fast paths' helpers). This is each compiler's own reading, so
// moving a definition out of its class changes no generated code with either.
#pragma once

#if defined(__clang__)
#define STRATA_IN_CLASS_INLINE
#else
#define STRATA_IN_CLASS_INLINE inline
#endif
