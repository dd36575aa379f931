// strata firmware C API (include/strata/strata_fw.h) over one engine instance.
//
// The engine is a constinit global behind a spin lock: no constructor runs
// before strata_fw_init, and every entry point works (returns NULL) before it.
// Which engine is chosen at build time (CMake STRATA_FW_ENGINE -> one of the
// STRATA_FW_ENGINE_* macros); the code below uses only what both offer: alloc
// with alignment, dealloc and usable_size by pointer alone, and, where the
// engine has it, in-place resize for realloc.
//
// An invalid free or realloc (a pointer this heap never handed out, or a
// double free) is not obeyed: it ends in strata_fatal, the firmware's hook.
#include "strata/strata_fw.h"

#include "strata/core/bits.hpp"
#include "strata/core/check.hpp"
#include "strata/core/mem.hpp"
#include "strata/core/spin_lock.hpp"
#include "strata/align.hpp"
#include "runtime/firmware_engines.hpp"
#include "strata/concepts.hpp"

namespace strata::fw {
namespace {

#if STRATA_FW_ENGINE_HEAP
using Engine = FwHeap;
#else
using Engine = FwTlsf;
#endif

/// What an engine offers beyond the common surface, as compile-time facts
/// (templates, so that `if constexpr` discards what an engine lacks).
template <class E>
struct EngineTraits {
  /// What malloc guarantees without an explicit alignment: C's max_align_t
  /// on these targets, or the engine's own granule when that is larger.
  static constexpr usize malloc_align() {
    usize a = 2 * sizeof(void*);
    if constexpr (requires { E::ALIGN; })
      if (E::ALIGN > a) a = E::ALIGN;
    return a;
  }
  /// Where init() puts a pool's start: malloc's alignment, or the engine's
  /// region alignment when that is larger (the Heap's 16 on 32-bit targets).
  static constexpr usize pool_align() {
    usize a = malloc_align();
    if constexpr (requires { E::REGION_ALIGN; })
      if (E::REGION_ALIGN > a) a = E::REGION_ALIGN;
    return a;
  }
  /// Largest pool the engine accepts in one piece (no limit when it states none).
  static constexpr usize max_pool_piece() {
    if constexpr (requires { E::MAX_POOL_SIZE; }) return E::MAX_POOL_SIZE;
    else return USIZE_MAX;
  }
  /// Smallest pool the engine accepts (0 when it states none).
  static constexpr usize min_pool_piece() {
    if constexpr (requires { E::MIN_POOL_SIZE; }) return E::MIN_POOL_SIZE;
    else return 0;
  }
  /// Whether blocks can grow and shrink in place (realloc's fast path).
  static constexpr bool RESIZES = requires(E& e, void* p, usize n) {
    { e.try_resize_in_place(p, n) } -> same_as<Result<void*>>;
  };
};
using Traits = EngineTraits<Engine>;
constexpr usize MALLOC_ALIGN = Traits::malloc_align();

constinit Engine engine;
constinit SpinLock lock;

/// Frees p under the lock; an invalid pointer is fatal.
void free_locked(void* p) {
  const Result<void> r = engine.dealloc(p);
  STRATA_CHECK(r.ok(), "strata_fw: free of a pointer not allocated here", p);
}

/// Usable size of live block p under the lock; an invalid pointer is fatal.
usize usable_locked(void* p) {
  const Result<usize> r = engine.usable_size(p);
  STRATA_CHECK(r.ok(), "strata_fw: pointer not allocated here", p);
  return r.value();
}

/// A block of size bytes aligned to align (a power of two), or null (lock held).
void* alloc_locked(usize size, usize align) {
  const Result<void*> r = engine.alloc(size, align);
  return r.ok() ? r.value() : nullptr;
}

/// alloc_locked under the lock.
void* alloc(usize size, usize align) {
  LockGuard<SpinLock> guard(lock);
  return alloc_locked(size, align);
}

/// realloc's slow path (lock held): a new block, the old contents, the old
/// block freed. Null, with p untouched, when no block fits.
void* move_locked(void* p, usize size) {
  const usize old = usable_locked(p);
  void* q = alloc_locked(size, MALLOC_ALIGN);
  if (q == nullptr) return nullptr;
  mem_copy(q, p, old < size ? old : size);
  free_locked(p);
  return q;
}

/// realloc of live block p to size > 0 bytes (lock held): in place when the
/// engine can, else moved. Null, with p untouched, when neither works.
template <class E>
void* realloc_locked(E& e, void* p, usize size) {
  if constexpr (EngineTraits<E>::RESIZES) {
    const Result<void*> r = e.try_resize_in_place(p, size);
    if (r.ok()) return p;
    STRATA_CHECK(r.error() != AllocError::NotAllocated, "strata_fw: realloc of a pointer not allocated here", p);
    if (r.error() != AllocError::NoMemory) return nullptr;  // size beyond any object
  } else {
    if (usable_locked(p) >= size) return p;
  }
  return move_locked(p, size);
}

}  // namespace
}  // namespace strata::fw

using namespace strata;

#define STRATA_FW_API extern "C"

STRATA_FW_API int strata_fw_init(void* pool, size_t size) noexcept {
  using namespace fw;
  LockGuard<SpinLock> guard(lock);
  const uptr raw = reinterpret_cast<uptr>(pool);
  uptr start = 0;
  if (raw == 0 || !align_up_checked(raw, Traits::pool_align(), start) || start - raw >= size) {
    (void)engine.init(nullptr, 0);  // leaves the engine empty
    return static_cast<int>(AllocError::InvalidParam);
  }
  usize left = size - (start - raw);
  // The first piece through init() (which forgets the old pool), the rest,
  // when the pool exceeds the engine's largest, through add_memory().
  constexpr usize MAX_PIECE = Traits::max_pool_piece();
  usize piece = left < MAX_PIECE ? left : MAX_PIECE;
  const Result<void> first = engine.init(reinterpret_cast<void*>(start), piece);
  if (!first.ok()) return static_cast<int>(first.error());
  for (start += piece, left -= piece; left != 0 && left >= Traits::min_pool_piece(); start += piece, left -= piece) {
    piece = left < MAX_PIECE ? left : MAX_PIECE;
    if (!engine.add_memory(reinterpret_cast<void*>(start), piece).ok()) break;  // keep what is in
  }
  return 0;
}

STRATA_FW_API void strata_fw_get_stats(strata_fw_stats* out) noexcept {
  LockGuard<SpinLock> guard(fw::lock);
  out->total = fw::engine.total_bytes();
  out->used = fw::engine.used_bytes();
  out->available = fw::engine.available_bytes();
}

STRATA_FW_API void* STRATA_FW_NAME(malloc)(size_t size) noexcept { return fw::alloc(size, fw::MALLOC_ALIGN); }

STRATA_FW_API void STRATA_FW_NAME(free)(void* ptr) noexcept {
  if (ptr == nullptr) return;
  LockGuard<SpinLock> guard(fw::lock);
  fw::free_locked(ptr);
}

STRATA_FW_API void* STRATA_FW_NAME(calloc)(size_t n, size_t size) noexcept {
  usize bytes = 0;
  if (!checked_mul(n, size, bytes)) return nullptr;
  void* p = fw::alloc(bytes, fw::MALLOC_ALIGN);
  if (p != nullptr) mem_set(p, 0, bytes);
  return p;
}

STRATA_FW_API void* STRATA_FW_NAME(realloc)(void* ptr, size_t size) noexcept {
  using namespace fw;
  if (ptr == nullptr) return alloc(size, MALLOC_ALIGN);
  LockGuard<SpinLock> guard(lock);
  if (size == 0) {
    free_locked(ptr);
    return nullptr;
  }
  return realloc_locked(engine, ptr, size);
}

STRATA_FW_API void* STRATA_FW_NAME(aligned_alloc)(size_t alignment, size_t size) noexcept {
  if (!is_pow2(alignment)) return nullptr;
  return fw::alloc(size, alignment > fw::MALLOC_ALIGN ? alignment : fw::MALLOC_ALIGN);
}

STRATA_FW_API size_t STRATA_FW_NAME(malloc_usable_size)(void* ptr) noexcept {
  if (ptr == nullptr) return 0;
  LockGuard<SpinLock> guard(fw::lock);
  return fw::usable_locked(ptr);
}
