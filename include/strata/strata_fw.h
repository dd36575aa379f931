/*
 * strata firmware C API: malloc and friends over one static pool.
 *
 * For bare-metal firmware (x86_64, riscv64, aarch64; see docs/firmware.md).
 * Link libstrata_fw.a (this API) and libstrata_engine.a; add
 * libstrata_fw_runtime.a (memcpy/memset/memmove/memcmp) when the firmware has
 * no libc of its own, and libstrata_fw_cxx.a for C++ operator new/delete. The
 * firmware supplies one function:
 *
 *   void strata_fatal(const char* what, uintptr_t value);   // never returns
 *
 * called on heap corruption, an invalid free, and C++ new out of memory.
 *
 * Symbol prefix: built with the CMake option STRATA_FW_PREFIX (for example
 * strata_fw_) the functions are named strata_fw_malloc, strata_fw_free, ...
 * so they can sit beside a libc's own malloc. Code including this header must
 * see the same STRATA_FW_PREFIX definition (the CMake target strata_fw passes
 * it on); it then calls STRATA_FW_NAME(malloc)(n) or the prefixed name.
 * strata_fw_init and strata_fw_get_stats are never prefixed.
 *
 * Engine: TLSF by default (O(1), 16-byte alignment, about 2.3 KiB of control
 * state); the slab+buddy Heap with -DSTRATA_FW_ENGINE=heap.
 *
 * Concurrency: every call takes one spin lock, so calls from several cores are
 * safe. The lock does not mask interrupts: an interrupt handler that allocates
 * while the code it interrupted holds the lock spins forever. Firmware with
 * interrupts must either mask them around these calls or not allocate from
 * interrupt handlers.
 */
#ifndef STRATA_STRATA_FW_H
#define STRATA_STRATA_FW_H

#include <stddef.h>

#ifndef STRATA_FW_PREFIX
#define STRATA_FW_PREFIX
#endif
#define STRATA_FW_JOIN_(a, b) a##b
#define STRATA_FW_JOIN(a, b) STRATA_FW_JOIN_(a, b)
/** The linked name of API function `name` under the configured prefix. */
#define STRATA_FW_NAME(name) STRATA_FW_JOIN(STRATA_FW_PREFIX, name)

#ifdef __cplusplus
#define STRATA_FW_NOEXCEPT noexcept
extern "C" {
#else
#define STRATA_FW_NOEXCEPT
#endif

/** Heap statistics in bytes, engine block granularity (headers included):
    used + available == total. */
struct strata_fw_stats {
  size_t total;
  size_t used;
  size_t available;
};

/**
 * Hands [pool, pool + size) to the allocator, forgetting any earlier pool and
 * every block allocated from it. pool need not be aligned (the start is
 * rounded up to the engine's alignment); pools larger than the engine's
 * largest (16 MiB for TLSF) are split into several. The memory must stay
 * reserved for the allocator until the next strata_fw_init.
 * Returns 0 on success, otherwise a strata AllocError code (1 InvalidParam:
 * null, or too small to hold the engine's metadata) and the allocator is empty.
 * Before the first successful call every allocation returns NULL.
 */
int strata_fw_init(void* pool, size_t size) STRATA_FW_NOEXCEPT;

/** Fills *out with the current statistics (all zero before strata_fw_init). */
void strata_fw_get_stats(struct strata_fw_stats* out) STRATA_FW_NOEXCEPT;

/** size bytes aligned to at least 2 * sizeof(void*), or NULL when the pool
    cannot serve it. malloc(0) returns a unique minimal block. */
void* STRATA_FW_NAME(malloc)(size_t size) STRATA_FW_NOEXCEPT;

/** Frees a block from malloc/calloc/realloc/aligned_alloc; NULL is a no-op.
    A pointer the allocator never handed out, or one already freed, is caught
    and reported through strata_fatal (never silently corrupts the heap). */
void STRATA_FW_NAME(free)(void* ptr) STRATA_FW_NOEXCEPT;

/** n * size zeroed bytes; NULL when n * size overflows size_t or the pool is
    exhausted. */
void* STRATA_FW_NAME(calloc)(size_t n, size_t size) STRATA_FW_NOEXCEPT;

/**
 * Resizes ptr's block to size bytes, keeping min(old, size) bytes of its
 * contents: in place when possible, else by allocating, copying and freeing.
 * realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL. On
 * failure returns NULL and ptr is untouched (still valid). An invalid ptr is
 * reported as for free.
 */
void* STRATA_FW_NAME(realloc)(void* ptr, size_t size) STRATA_FW_NOEXCEPT;

/** size bytes aligned to alignment, which must be a power of two (else NULL);
    size need not be a multiple of alignment. Free with free. */
void* STRATA_FW_NAME(aligned_alloc)(size_t alignment, size_t size) STRATA_FW_NOEXCEPT;

/** Usable bytes of a live block (>= the size requested); 0 for NULL. */
size_t STRATA_FW_NAME(malloc_usable_size)(void* ptr) STRATA_FW_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* STRATA_STRATA_FW_H */
