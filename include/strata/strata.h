/*
 * strata: the C API of libstrata, the Linux malloc replacement.
 *
 * libstrata.so / libstrata.a replace malloc: link them (or LD_PRELOAD the
 * shared library) and malloc, free, operator new ... are strata's. Every
 * function below also exists under its strata_ name, so a program can call
 * strata explicitly; libstrata_prefixed.a has only the strata_ names, to sit
 * beside the system allocator.
 *
 *   #include <strata/strata.h>
 *   CMake:      find_package(strata) ; target_link_libraries(app strata::strata)
 *   pkg-config: cc app.c $(pkg-config --cflags --libs strata)
 *
 * Semantics are glibc's for the libc names (errno = ENOMEM on every failed
 * allocation, realloc(p, 0) frees and returns NULL, malloc(0) is a unique
 * pointer) and jemalloc's for mallocx & co. and mallctl. Misuse (a double
 * free, a pointer strata never returned) aborts with one line on stderr.
 * Thread-safe; not async-signal-safe.
 */
#ifndef STRATA_STRATA_H
#define STRATA_STRATA_H

#include <stddef.h>
#include <stdio.h>

#include "strata/strata_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ------------------------------------------------------------ */

/* The running library's version, "MAJOR.MINOR.PATCH" (compare with
 * STRATA_VERSION_STRING, the version this header came with). */
const char* strata_version(void);

/* ---- Allocation (libc semantics) ------------------------------------------ */

/* At least n bytes, 16-aligned; NULL and errno = ENOMEM on failure. */
void* strata_malloc(size_t n);
/* Frees p (NULL: nothing); preserves errno. */
void strata_free(void* p);
/* n * size zeroed bytes; NULL and ENOMEM on overflow or failure. */
void* strata_calloc(size_t n, size_t size);
/* Resizes p to n bytes, moving it if needed; NULL p: malloc; n == 0: frees
 * p and returns NULL; on failure NULL (ENOMEM) and p stays valid. */
void* strata_realloc(void* p, size_t n);
/* realloc(p, n * size) with an overflow check (ENOMEM). */
void* strata_reallocarray(void* p, size_t n, size_t size);
/* *out = n bytes aligned to align (a power of two >= sizeof(void*)); returns
 * 0, EINVAL for a bad align (*out untouched), or ENOMEM. */
int strata_posix_memalign(void** out, size_t align, size_t n);
/* n bytes aligned to align (a power of two, else NULL and EINVAL). */
void* strata_aligned_alloc(size_t align, size_t n);
/* glibc's memalign: a non-power-of-two align is rounded up. */
void* strata_memalign(size_t align, size_t n);
/* Page-aligned n bytes. */
void* strata_valloc(size_t n);
/* Page-aligned, n rounded up to whole pages. */
void* strata_pvalloc(size_t n);
/* Bytes usable at p (>= what was asked; 0 for NULL). */
size_t strata_malloc_usable_size(void* p);
/* C23: frees p; the size and alignment hints are not trusted. */
void strata_free_sized(void* p, size_t size);
void strata_free_aligned_sized(void* p, size_t align, size_t size);

/* ---- glibc's malloc extensions -------------------------------------------- */

/* Gives cached and free pages back to the OS; 1 when anything was released. */
int strata_malloc_trim(size_t pad);
/* Accepts every glibc parameter and returns 1 (strata has no such knobs). */
int strata_mallopt(int param, int value);
/* Writes the text statistics report to stderr. */
void strata_malloc_stats(void);
/* glibc's XML report (<malloc version="1">...) to fp; options must be 0.
 * 0, or -1 with errno = EINVAL. */
int strata_malloc_info(int options, FILE* fp);
/* glibc's mallinfo2 with strata's figures: arena = bytes the small and
 * medium heaps manage, uordblks = their live bytes, fordblks = the rest,
 * hblks/hblkhd = live huge blocks and bytes, keepcost = bytes malloc_trim can
 * release. mallinfo clips each to INT_MAX. Include <malloc.h> to call them. */
struct mallinfo2 strata_mallinfo2(void);
struct mallinfo strata_mallinfo(void);

/* ---- Statistics ------------------------------------------------------------ */

/* Writes the statistics report through write_cb(opaque, text), called with
 * NUL-terminated pieces (write_cb NULL: stderr). Never allocates itself.
 * opts: NULL or jemalloc's letters: "J" JSON ({"strata":{"version",
 * "config","opt","stats"}}), "g" omit version and options, "m"/"a" omit
 * engine figures, "b" omit size-class rows, "l" omit huge blocks.
 * Same function as jemalloc's malloc_stats_print. */
void strata_stats_print(void (*write_cb)(void* opaque, const char* text), void* opaque, const char* opts);

/* ---- Named controls (jemalloc's mallctl) ----------------------------------- */

/* Reads the control `name` into oldp (*oldlenp must be its size) and/or
 * writes it from newp (newlen bytes). 0, or ENOENT (unknown name), EPERM
 * (read-only), EINVAL (wrong size). Names: version, epoch, config.*, opt.<key>,
 * thread.tcache.flush, thread.arena, arena.<i>.purge, arenas.*, stats.{allocated, active,
 * metadata, resident, mapped, retained}, limit.* (memory limits: hard and soft
 * read-write, their sources, the cgroup's, counters), thp.{mode, anon_huge};
 * the README lists them. */
int strata_ctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen);
/* Translates name (or a prefix of it) into *miblenp integers at mibp
 * (*miblenp: capacity in, depth out), to run later with strata_ctl_bymib. */
int strata_ctl_nametomib(const char* name, size_t* mibp, size_t* miblenp);
/* strata_ctl for a name translated by strata_ctl_nametomib. */
int strata_ctl_bymib(const size_t* mib, size_t miblen, void* oldp, size_t* oldlenp, void* newp, size_t newlen);

/* ---- jemalloc's *allocx API ------------------------------------------------ */

/* Flags, as jemalloc's: alignment 2^la, or a (a power of two); zeroed memory.
 * jemalloc's tcache and arena bits are accepted and ignored. */
#define STRATA_MALLOCX_LG_ALIGN(la) ((int)(la))
#define STRATA_MALLOCX_ALIGN(a) ((int)__builtin_ctzll((unsigned long long)(a)))
#define STRATA_MALLOCX_ZERO ((int)0x40)

/* At least n bytes with the flags' alignment (zeroed with MALLOCX_ZERO). */
void* strata_mallocx(size_t n, int flags);
/* Resizes p (may move); MALLOCX_ZERO zeroes the growth; NULL on failure. */
void* strata_rallocx(void* p, size_t n, int flags);
/* Resizes p in place to >= n + extra (else >= n) when possible; returns the
 * resulting usable size. */
size_t strata_xallocx(void* p, size_t n, size_t extra, int flags);
/* Usable size of p. */
size_t strata_sallocx(const void* p, int flags);
/* Frees p. */
void strata_dallocx(void* p, int flags);
/* Frees p; the size is a hint strata does not trust. */
void strata_sdallocx(void* p, size_t size, int flags);
/* Usable size mallocx(n, flags) would give (exact for small and huge sizes,
 * a lower bound for medium ones); 0 when too large. */
size_t strata_nallocx(size_t n, int flags);

/* ---- C++ entry points, callable from C ------------------------------------- */

/* operator new(n, std::nothrow) and operator delete(p). */
void* strata_new_nothrow(size_t n);
void strata_delete(void* p);
#ifdef __cplusplus
/* operator new(n) and operator new(n, std::align_val_t(align)): throw
 * std::bad_alloc after the new-handler gives up. */
void* strata_new(size_t n);
void* strata_new_aligned(size_t n, size_t align);
#endif

#ifdef __cplusplus
}
#endif

#endif /* STRATA_STRATA_H */
