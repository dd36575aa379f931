/*
 * strata firmware runtime: memcpy, memset, memmove and memcmp (and, on ARM,
 * the run-time ABI's __aeabi_mem* forms of the first three).
 *
 * clang emits calls to these four even with -ffreestanding (struct copies,
 * __builtin_mem* in include/strata/core/mem.hpp), and a bare-metal image has no libc to
 * supply them. A firmware that already has a libc (newlib, picolibc) simply
 * does not link this object.
 *
 * This file must be compiled with -ffreestanding -fno-builtin (the CMake
 * target sets both): otherwise clang recognises the copy loops below as
 * memcpy/memset idioms and turns them into calls to themselves.
 *
 * Word-at-a-time when both pointers share alignment, bytes otherwise: every
 * access is naturally aligned, which aarch64 with the MMU off (-mstrict-align)
 * requires.
 */
#include <stddef.h>
#include <stdint.h>

typedef uintptr_t word_t;
#define WORD_SIZE sizeof(word_t)
#define WORD_MASK (WORD_SIZE - 1)

/** Copies n bytes from src to dst; the ranges must not overlap. Returns dst. */
void* memcpy(void* restrict dst, const void* restrict src, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* s = (const unsigned char*)src;
  if ((((uintptr_t)d ^ (uintptr_t)s) & WORD_MASK) == 0) {
    while (n > 0 && ((uintptr_t)d & WORD_MASK) != 0) {
      *d++ = *s++;
      --n;
    }
    word_t* dw = (word_t*)d;
    const word_t* sw = (const word_t*)s;
    for (; n >= WORD_SIZE; n -= WORD_SIZE) *dw++ = *sw++;
    d = (unsigned char*)dw;
    s = (const unsigned char*)sw;
  }
  while (n-- > 0) *d++ = *s++;
  return dst;
}

/** Copies n bytes from src to dst; the ranges may overlap. Returns dst. */
void* memmove(void* dst, const void* src, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* s = (const unsigned char*)src;
  if (d == s || n == 0) return dst;
  /* Forward copy is safe unless dst starts inside [src, src + n). */
  if ((uintptr_t)d - (uintptr_t)s >= n) return memcpy(dst, src, n);
  d += n;
  s += n;
  if ((((uintptr_t)d ^ (uintptr_t)s) & WORD_MASK) == 0) {
    while (n > 0 && ((uintptr_t)d & WORD_MASK) != 0) {
      *--d = *--s;
      --n;
    }
    word_t* dw = (word_t*)d;
    const word_t* sw = (const word_t*)s;
    for (; n >= WORD_SIZE; n -= WORD_SIZE) *--dw = *--sw;
    d = (unsigned char*)dw;
    s = (const unsigned char*)sw;
  }
  while (n-- > 0) *--d = *--s;
  return dst;
}

/** Fills n bytes at dst with (unsigned char)c. Returns dst. */
void* memset(void* dst, int c, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char byte = (unsigned char)c;
  while (n > 0 && ((uintptr_t)d & WORD_MASK) != 0) {
    *d++ = byte;
    --n;
  }
  const word_t pattern = (word_t)byte * (~(word_t)0 / 0xff); /* byte in every lane */
  word_t* dw = (word_t*)d;
  for (; n >= WORD_SIZE; n -= WORD_SIZE) *dw++ = pattern;
  d = (unsigned char*)dw;
  while (n-- > 0) *d++ = byte;
  return dst;
}

/** Compares n bytes as unsigned char: <0, 0 or >0 as a sorts before, equal to or after b. */
int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char* x = (const unsigned char*)a;
  const unsigned char* y = (const unsigned char*)b;
  for (; n > 0; --n, ++x, ++y)
    if (*x != *y) return (int)*x - (int)*y;
  return 0;
}

#if defined(__ARM_EABI__)
/*
 * The ARM run-time ABI names (RTABI 4.3.4): clang lowers copies and fills on
 * arm-none-eabi to these rather than to memcpy/memset. The 4- and 8-suffixed
 * forms promise aligned pointers; plain loops serve them all. Note the
 * argument order of __aeabi_memset: (dst, n, c).
 */
void __aeabi_memcpy(void* dst, const void* src, size_t n) { memcpy(dst, src, n); }
void __aeabi_memcpy4(void* dst, const void* src, size_t n) { memcpy(dst, src, n); }
void __aeabi_memcpy8(void* dst, const void* src, size_t n) { memcpy(dst, src, n); }
void __aeabi_memmove(void* dst, const void* src, size_t n) { memmove(dst, src, n); }
void __aeabi_memmove4(void* dst, const void* src, size_t n) { memmove(dst, src, n); }
void __aeabi_memmove8(void* dst, const void* src, size_t n) { memmove(dst, src, n); }
void __aeabi_memset(void* dst, size_t n, int c) { memset(dst, c, n); }
void __aeabi_memset4(void* dst, size_t n, int c) { memset(dst, c, n); }
void __aeabi_memset8(void* dst, size_t n, int c) { memset(dst, c, n); }
void __aeabi_memclr(void* dst, size_t n) { memset(dst, 0, n); }
void __aeabi_memclr4(void* dst, size_t n) { memset(dst, 0, n); }
void __aeabi_memclr8(void* dst, size_t n) { memset(dst, 0, n); }
#endif
