// strata core: memory copy/fill through compiler builtins.
//
// Freestanding builds resolve these to memcpy/memset/memmove/memcmp, which the
// firmware runtime (freestanding/runtime) supplies; hosted builds use libc's.
#pragma once
#include "strata/core/types.hpp"

namespace strata {
inline void mem_copy(void* dst, const void* src, usize n) { __builtin_memcpy(dst, src, n); }
inline void mem_move(void* dst, const void* src, usize n) { __builtin_memmove(dst, src, n); }
inline void mem_set(void* dst, int byte, usize n) { __builtin_memset(dst, byte, n); }
inline int mem_cmp(const void* a, const void* b, usize n) { return __builtin_memcmp(a, b, n); }

/// What a range handed to an engine holds. Zero promises that every byte
/// reads zero (a fresh anonymous mapping, a .bss array not used yet): an
/// engine may then skip clearing its metadata, whose pages then stay
/// untouched (not resident) until used. Unknown makes no promise.
enum class Contents : u8 { Unknown, Zero };
}  // namespace strata
