/*
 * strata firmware C API: malloc and friends, and independent heaps, over
 * memory the firmware hands in.
 *
 * For bare-metal firmware (x86_64, riscv64, aarch64, Cortex-M3/M4, RV32; see
 * docs/firmware.md). Link libstrata_fw.a (this API) and libstrata_engine.a;
 * add libstrata_fw_runtime.a (memcpy/memset/memmove/memcmp) when the firmware
 * has no libc of its own, and libstrata_fw_cxx.a for C++ operator new/delete.
 * The firmware supplies one function:
 *
 *   void strata_fatal(const char* what, uintptr_t value);   // never returns
 *
 * called on heap corruption, an invalid free, an allocation from an interrupt
 * handler that interrupted a call on the same heap, and C++ new out of memory.
 *
 * Heaps. A strata_fw_heap is one engine instance over one piece of memory:
 * fast SRAM, slow external RAM, a DMA-capable region each get their own
 * (strata_fw_heap_init). The malloc family works on the *default heap*, set
 * up by strata_fw_init. A block is freed, resized and measured through the
 * heap it came from; handing it to another heap is an invalid free.
 *
 * Symbol prefix: built with the CMake option STRATA_FW_PREFIX (for example
 * strata_fw_) the malloc family is named strata_fw_malloc, strata_fw_free, ...
 * so it can sit beside a libc's own malloc. Code including this header must
 * see the same STRATA_FW_PREFIX definition (the CMake target strata_fw passes
 * it on); it then calls STRATA_FW_NAME(malloc)(n) or the prefixed name. The
 * strata_fw_* functions are never prefixed.
 *
 * Engine: TLSF by default (O(1), about 1.2 KiB of control state on 32-bit
 * targets, 2.3 KiB on 64-bit ones); the slab+buddy Heap with
 * -DSTRATA_FW_ENGINE=heap; the bounded Heap, whose worst-case memory for a
 * given live size is stated and tight (docs/firmware.md, "Memory bounds"),
 * with -DSTRATA_FW_ENGINE=heap_bounded. Every heap of a build uses the same
 * engine.
 *
 * Alignment: the malloc family returns blocks aligned to 2 * sizeof(void*):
 * 16 bytes on 64-bit targets, 8 on 32-bit ones, as newlib's and picolibc's own
 * malloc do. That is alignof(max_align_t) everywhere but RV32's ilp32 ABI,
 * where a 128-bit long double makes max_align_t 16: use aligned_alloc(16, n)
 * for those.
 *
 * errno: nothing here sets it (no libc is assumed). posix_memalign returns
 * its error code, as POSIX says.
 *
 * Concurrency. Every call on a heap takes that heap's lock: by default a spin
 * lock (calls from several cores are safe), or the firmware's own lock and
 * unlock functions (strata_fw_heap_set_lock: an RTOS mutex, or masking
 * interrupts). Interrupt rule: with the default spin lock, an interrupt
 * handler may allocate only when it did not interrupt a call on the same
 * heap; if it did, the lock is held by the code it interrupted and would spin
 * forever, so the call ends in strata_fatal instead, when the CPU can tell it
 * is in a handler (Cortex-M: IPSR; elsewhere the firmware defines
 * strata_fw_in_interrupt). Lock hooks that mask interrupts make allocation
 * from any handler safe. strata_fw_init and strata_fw_heap_init must not run
 * concurrently with other calls on the same heap (call them at boot).
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

/** Diagnostics of one heap (strata_fw_heap_get_diag). Bytes are engine block
    bytes (headers and rounding included), so they add up against capacity. */
struct strata_fw_diag {
  size_t capacity;        /**< bytes of blocks the heap manages (its memory less the heap's control block and engine metadata) */
  size_t allocated;       /**< bytes in live blocks now */
  size_t peak_allocated;  /**< the most `allocated` has been since strata_fw_heap_init */
  size_t largest_free;    /**< a request of this many bytes (malloc alignment) succeeds now; TLSF: exactly the largest that does */
  size_t peak_request;    /**< the largest size any allocation call asked for, served or not */
  size_t oom_count;       /**< allocation calls answered NULL because no block fitted (bad arguments not counted) */
};

/**
 * A heap handle. Treat as opaque: the heap's state lives at the start of the
 * memory given to strata_fw_heap_init, and this points at it. A zeroed handle
 * (a static one before init) is a heap with no memory: allocations return
 * NULL, frees of non-NULL pointers are invalid.
 */
typedef struct strata_fw_heap {
  void* state;
} strata_fw_heap;

/** Lock or unlock hook: called with the ctx given to strata_fw_heap_set_lock. */
typedef void (*strata_fw_lock_fn)(void* ctx);

/* ---- Independent heaps --------------------------------------------------- */

/**
 * Makes [mem, mem + size) a heap of its own, forgetting whatever *heap was
 * before (its blocks are lost). mem need not be aligned; the heap's control
 * block (engine state, lock, diagnostics: a few hundred bytes to 2.3 KiB, see
 * docs/firmware.md) is placed at its aligned start and the rest becomes the
 * pool; pools larger than the engine takes in one piece (16 MiB for TLSF) are
 * split. The memory must stay reserved for the heap until the next init.
 * The lock is the spin lock again. Returns 0 on success, otherwise a strata
 * AllocError code (1 InvalidParam: heap or mem null, or size too small for the
 * control block and one block) and *heap has no memory.
 * Not thread-safe: no other call may use *heap meanwhile.
 */
int strata_fw_heap_init(strata_fw_heap* heap, void* mem, size_t size) STRATA_FW_NOEXCEPT;

/** malloc on *heap: size bytes aligned to 2 * sizeof(void*), or NULL when no
    block fits (or heap is NULL). size 0 gives a unique minimal block. */
void* strata_fw_heap_malloc(strata_fw_heap* heap, size_t size) STRATA_FW_NOEXCEPT;

/** aligned_alloc on *heap: alignment must be a power of two (else NULL); size
    need not be a multiple of it. */
void* strata_fw_heap_aligned_alloc(strata_fw_heap* heap, size_t alignment, size_t size) STRATA_FW_NOEXCEPT;

/** calloc on *heap: n * size zeroed bytes; NULL when that overflows size_t
    or no block fits. */
void* strata_fw_heap_calloc(strata_fw_heap* heap, size_t n, size_t size) STRATA_FW_NOEXCEPT;

/** realloc on *heap (as STRATA_FW_NAME(realloc)); ptr must come from *heap. */
void* strata_fw_heap_realloc(strata_fw_heap* heap, void* ptr, size_t size) STRATA_FW_NOEXCEPT;

/** free on *heap: NULL is a no-op; a pointer *heap never handed out (another
    heap's, a double free, an interior pointer) ends in strata_fatal. */
void strata_fw_heap_free(strata_fw_heap* heap, void* ptr) STRATA_FW_NOEXCEPT;

/** Usable bytes of live block ptr of *heap (>= the size requested); 0 for
    NULL; an invalid ptr ends in strata_fatal. */
size_t strata_fw_heap_usable_size(strata_fw_heap* heap, void* ptr) STRATA_FW_NOEXCEPT;

/** Fills *out with *heap's statistics (all zero for a heap with no memory). */
void strata_fw_heap_get_stats(strata_fw_heap* heap, struct strata_fw_stats* out) STRATA_FW_NOEXCEPT;

/** Fills *out with *heap's diagnostics (all zero for a heap with no memory). */
void strata_fw_heap_get_diag(strata_fw_heap* heap, struct strata_fw_diag* out) STRATA_FW_NOEXCEPT;

/**
 * Checks every invariant of *heap: the engine's own walk over every block and
 * free list (boundary tags, bitmaps, class lists, statistics) and the
 * diagnostics' consistency. Returns NULL when all hold, else a static string
 * naming the first one broken (the heap is corrupt: stop using it). A heap
 * with no memory is intact. O(blocks), under the heap's lock: for tests,
 * idle-time checks, and after a suspected overrun, not for hot paths.
 */
const char* strata_fw_heap_verify(strata_fw_heap* heap) STRATA_FW_NOEXCEPT;

/**
 * Replaces *heap's spin lock by lock(ctx) / unlock(ctx), called around every
 * operation on the heap (never nested, never from inside another hook call).
 * lock and unlock both NULL restore the spin lock. Typical hooks: an RTOS
 * mutex (tasks only), or save-and-mask / restore interrupts (tasks and
 * interrupt handlers). Call it after strata_fw_heap_init and before the heap
 * is shared. Returns 0, or 1 (InvalidParam) when heap has no memory or only
 * one of lock and unlock is NULL (nothing changes then).
 */
int strata_fw_heap_set_lock(strata_fw_heap* heap, strata_fw_lock_fn lock, strata_fw_lock_fn unlock,
                            void* ctx) STRATA_FW_NOEXCEPT;

/**
 * Weak hook, defined by strata and replaceable by the firmware: non-zero when
 * the CPU is running an interrupt or exception handler. strata's definition
 * reads IPSR on Cortex-M and answers 0 elsewhere. Only consulted when a heap
 * with the default spin lock finds the lock taken (see the interrupt rule).
 */
int strata_fw_in_interrupt(void) STRATA_FW_NOEXCEPT;

/* ---- The default heap and the malloc family ------------------------------ */

/** The default heap, which the malloc family and operator new use. */
strata_fw_heap* strata_fw_default_heap(void) STRATA_FW_NOEXCEPT;

/**
 * strata_fw_heap_init on the default heap: hands [pool, pool + size) to the
 * malloc family. Before the first successful call every allocation returns
 * NULL. Returns 0 or an AllocError code, as strata_fw_heap_init.
 */
int strata_fw_init(void* pool, size_t size) STRATA_FW_NOEXCEPT;

/** strata_fw_heap_get_stats on the default heap. */
void strata_fw_get_stats(struct strata_fw_stats* out) STRATA_FW_NOEXCEPT;

/** strata_fw_heap_get_diag on the default heap. */
void strata_fw_get_diag(struct strata_fw_diag* out) STRATA_FW_NOEXCEPT;

/** strata_fw_heap_verify on the default heap. */
const char* strata_fw_verify(void) STRATA_FW_NOEXCEPT;

/** strata_fw_heap_set_lock on the default heap. */
int strata_fw_set_lock(strata_fw_lock_fn lock, strata_fw_lock_fn unlock, void* ctx) STRATA_FW_NOEXCEPT;

/** size bytes aligned to at least 2 * sizeof(void*), or NULL when the pool
    cannot serve it. malloc(0) returns a unique minimal block. */
void* STRATA_FW_NAME(malloc)(size_t size) STRATA_FW_NOEXCEPT;

/** Frees a block from the malloc family; NULL is a no-op. A pointer the
    default heap never handed out, or one already freed, is caught and
    reported through strata_fatal (never silently corrupts the heap). */
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

/** aligned_alloc under its older name (same contract, same arguments). */
void* STRATA_FW_NAME(memalign)(size_t alignment, size_t size) STRATA_FW_NOEXCEPT;

/** POSIX aligned allocation: *out = a block of size bytes aligned to
    alignment and 0, or 22 (EINVAL: alignment not a power of two or not a
    multiple of sizeof(void*)) or 12 (ENOMEM) with *out untouched. */
int STRATA_FW_NAME(posix_memalign)(void** out, size_t alignment, size_t size) STRATA_FW_NOEXCEPT;

/** Usable bytes of a live block (>= the size requested); 0 for NULL. */
size_t STRATA_FW_NAME(malloc_usable_size)(void* ptr) STRATA_FW_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* STRATA_STRATA_FW_H */
