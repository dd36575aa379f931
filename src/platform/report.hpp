// strata platform: fatal reports. One line on stderr, then abort(): misuse that
// cannot be answered (double free, foreign pointer) is never obeyed.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// Prints `strata: <fn>(): <what> 0x<addr>` and aborts. Never allocates.
[[noreturn]] void misuse(const char* fn, const char* what, const void* p);

/// Prints `strata: <fn>(): <what> (<k1> <v1>, <k2> <v2>) 0x<addr>` and
/// aborts: misuse whose message needs two figures (sizes). Never allocates.
[[noreturn]] void misuse_figures(const char* fn, const char* what, const void* p, const char* k1, u64 v1,
                                 const char* k2, u64 v2);

/// Prints `strata: <a><b> 0x<v>` and aborts. Never allocates.
[[noreturn]] void fatal_line(const char* a, const char* b, u64 v);

/// Prints `<strata>: <text>` followed by a newline (no allocation). For warnings.
void warn(const char* text);

/// Formats v as 0x-prefixed hex into buf (at least 19 bytes); returns length.
usize format_hex(char* buf, u64 v);

/// Formats v in decimal into buf (at least 21 bytes); returns length.
usize format_dec(char* buf, u64 v);

}  // namespace strata::rt
