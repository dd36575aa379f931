// strata firmware C API (include/strata/strata_fw.h): independent heaps, each
// one engine instance, and the malloc family over the default heap.
//
// A heap's whole state (HeapState: the engine, the lock or the firmware's lock
// hooks, the diagnostics counters) lives at the start of the memory the heap
// is given; the caller's strata_fw_heap handle points at it. No constructor
// runs before init, and a zeroed handle is a heap with no memory: every
// allocation answers NULL. Which engine is chosen at build time (CMake
// STRATA_FW_ENGINE -> one of the STRATA_FW_ENGINE_* macros); the code below
// uses only what both offer: alloc with alignment, dealloc and usable_size by
// pointer alone, and, where the engine has it, in-place resize for realloc.
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
#elif STRATA_FW_ENGINE_HEAP_BOUNDED
using Engine = FwBoundedHeap;
#else
using Engine = FwTlsf;
#endif

/// What an engine offers beyond the common surface, as compile-time facts
/// (templates, so that `if constexpr` discards what an engine lacks).
template <class E>
struct EngineTraits {
  /// What malloc guarantees without an explicit alignment: two pointers (see
  /// the header on max_align_t), or the engine's own granule when larger.
  static constexpr usize malloc_align() {
    usize a = 2 * sizeof(void*);
    if constexpr (requires { E::ALIGN; })
      if (E::ALIGN > a) a = E::ALIGN;
    return a;
  }
  /// Where a pool starts: malloc's alignment, or the engine's region
  /// alignment when that is larger (the Heap's 16 on 32-bit targets).
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
  /// A request of this many bytes (malloc alignment) succeeds now: TLSF
  /// knows the exact largest; the Heap's largest free buddy run is served
  /// as a large block (slab slots of big classes may allow more).
  static usize largest_free(const E& e) {
    if constexpr (requires { e.largest_alloc(); }) return e.largest_alloc();
    else return e.largest_free_run();
  }
};
using Traits = EngineTraits<Engine>;
constexpr usize MALLOC_ALIGN = Traits::malloc_align();

/// One heap: everything strata_fw_heap_init places at the start of the memory.
struct HeapState {
  /// Names a live state (the handle may point at anything after misuse).
  static constexpr uptr MAGIC = static_cast<uptr>(0x5a7a'f1e0'4ea9'0001ull);

  /// Placement in the heap's memory (no <new> here): new (where) HeapState().
  static void* operator new(usize, void* where) noexcept { return where; }

  uptr magic = 0;  ///< address ^ MAGIC once initialised
  Engine engine{};
  SpinLock spin{};
  strata_fw_lock_fn lock_hook = nullptr;  ///< null: the spin lock
  strata_fw_lock_fn unlock_hook = nullptr;
  void* hook_ctx = nullptr;
  usize peak_used = 0;
  usize peak_request = 0;
  usize oom_count = 0;
};

/// The state behind a handle: null for a null handle or one with no memory;
/// strata_fatal for a handle that points at something else.
HeapState* state_of(strata_fw_heap* heap) {
  if (heap == nullptr || heap->state == nullptr) return nullptr;
  HeapState* h = static_cast<HeapState*>(heap->state);
  STRATA_CHECK(h->magic == (reinterpret_cast<uptr>(h) ^ HeapState::MAGIC), "strata_fw: not a heap handle", heap);
  return h;
}

/// Takes the heap's lock: the firmware's hook, or the spin lock. A spin lock
/// found taken while the CPU is in an interrupt handler means the handler
/// interrupted a call on this heap, which holds it and cannot run again
/// before the handler returns: fatal, instead of spinning forever.
void acquire(HeapState& h) {
  if (h.lock_hook != nullptr) return h.lock_hook(h.hook_ctx);
  if (h.spin.try_lock()) return;
  STRATA_CHECK(strata_fw_in_interrupt() == 0,
               "strata_fw: allocation from an interrupt handler that interrupted the same heap "
               "(mask interrupts with strata_fw_heap_set_lock hooks)",
               &h);
  h.spin.lock();
}

void release(HeapState& h) {
  if (h.unlock_hook != nullptr) return h.unlock_hook(h.hook_ctx);
  h.spin.unlock();
}

/// The heap's lock for one scope.
class Locked {
 public:
  explicit Locked(HeapState& h) : h_(h) { acquire(h_); }
  ~Locked() { release(h_); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  HeapState& h_;
};

/// Frees p (lock held); an invalid pointer is fatal.
void free_locked(HeapState& h, void* p) {
  const Result<void> r = h.engine.dealloc(p);
  STRATA_CHECK(r.ok(), "strata_fw: free of a pointer not allocated here", p);
}

/// Usable size of live block p (lock held); an invalid pointer is fatal.
usize usable_locked(HeapState& h, void* p) {
  const Result<usize> r = h.engine.usable_size(p);
  STRATA_CHECK(r.ok(), "strata_fw: pointer not allocated here", p);
  return r.value();
}

/// Counts a request of `size` bytes (lock held).
void note_request(HeapState& h, usize size) {
  if (size > h.peak_request) h.peak_request = size;
}

/// Counts what an allocation call got (lock held): the peak on success, the
/// out-of-memory count on a null answer.
void* note_result(HeapState& h, void* p) {
  if (p == nullptr) {
    ++h.oom_count;
  } else if (h.engine.used_bytes() > h.peak_used) {
    h.peak_used = h.engine.used_bytes();
  }
  return p;
}

/// A block of size bytes aligned to align (a power of two), or null (lock held).
void* alloc_locked(HeapState& h, usize size, usize align) {
  note_request(h, size);
  const Result<void*> r = h.engine.alloc(size, align);
  return note_result(h, r.ok() ? r.value() : nullptr);
}

/// alloc_locked under the lock; null for a heap with no memory.
void* alloc(strata_fw_heap* heap, usize size, usize align) {
  HeapState* h = state_of(heap);
  if (h == nullptr) return nullptr;
  Locked guard(*h);
  return alloc_locked(*h, size, align);
}

/// realloc's slow path (lock held): a new block, the old contents, the old
/// block freed. Null, with p untouched, when no block fits.
void* move_locked(HeapState& h, void* p, usize size) {
  const usize old = usable_locked(h, p);
  void* q = alloc_locked(h, size, MALLOC_ALIGN);
  if (q == nullptr) return nullptr;
  mem_copy(q, p, old < size ? old : size);
  free_locked(h, p);
  return q;
}

/// realloc of live block p to size > 0 bytes (lock held): in place when the
/// engine can, else moved. Null, with p untouched, when neither works.
template <class E>
void* realloc_locked(HeapState& h, E& e, void* p, usize size) {
  if constexpr (EngineTraits<E>::RESIZES) {
    note_request(h, size);
    const Result<void*> r = e.try_resize_in_place(p, size);
    if (r.ok()) return note_result(h, p);
    STRATA_CHECK(r.error() != AllocError::NotAllocated, "strata_fw: realloc of a pointer not allocated here", p);
    if (r.error() != AllocError::NoMemory) return note_result(h, nullptr);  // size beyond any object
  } else {
    if (usable_locked(h, p) >= size) return p;
  }
  return move_locked(h, p, size);
}

/// The consistency of the diagnostics (lock held); null when it holds.
const char* verify_locked(const HeapState& h) {
  const char* what = nullptr;
  if (!h.engine.verify([&what](const char* w, const void*) { what = w; })) return what;
  if (h.engine.used_bytes() > h.peak_used || h.peak_used > h.engine.total_bytes())
    return "strata_fw: peak_allocated below allocated or above capacity";
  return nullptr;
}

constinit strata_fw_heap default_heap{nullptr};

}  // namespace
}  // namespace strata::fw

using namespace strata;

#define STRATA_FW_API extern "C"

STRATA_FW_API int strata_fw_heap_init(strata_fw_heap* heap, void* mem, size_t size) noexcept {
  using namespace fw;
  if (heap == nullptr) return static_cast<int>(AllocError::InvalidParam);
  heap->state = nullptr;
  const uptr raw = reinterpret_cast<uptr>(mem);
  uptr at = 0;
  uptr start = 0;
  uptr end = 0;
  if (raw == 0 || !checked_add(raw, size, end) || !align_up_checked(raw, alignof(HeapState), at) ||
      !align_up_checked(at + sizeof(HeapState), Traits::pool_align(), start) || start < raw || start - raw >= size)
    return static_cast<int>(AllocError::InvalidParam);
  usize left = size - (start - raw);
  HeapState* h = new (reinterpret_cast<void*>(at)) HeapState();
  // The first piece through init(), the rest, when the pool exceeds the
  // engine's largest, through add_memory().
  constexpr usize MAX_PIECE = Traits::max_pool_piece();
  usize piece = left < MAX_PIECE ? left : MAX_PIECE;
  const Result<void> first = h->engine.init(reinterpret_cast<void*>(start), piece);
  if (!first.ok()) return static_cast<int>(first.error());
  for (start += piece, left -= piece; left != 0 && left >= Traits::min_pool_piece(); start += piece, left -= piece) {
    piece = left < MAX_PIECE ? left : MAX_PIECE;
    if (!h->engine.add_memory(reinterpret_cast<void*>(start), piece).ok()) break;  // keep what is in
  }
  h->peak_used = h->engine.used_bytes();
  h->magic = at ^ HeapState::MAGIC;
  heap->state = h;
  return 0;
}

STRATA_FW_API void* strata_fw_heap_malloc(strata_fw_heap* heap, size_t size) noexcept {
  return fw::alloc(heap, size, fw::MALLOC_ALIGN);
}

STRATA_FW_API void* strata_fw_heap_aligned_alloc(strata_fw_heap* heap, size_t alignment, size_t size) noexcept {
  if (!is_pow2(alignment)) return nullptr;
  return fw::alloc(heap, size, alignment > fw::MALLOC_ALIGN ? alignment : fw::MALLOC_ALIGN);
}

STRATA_FW_API void* strata_fw_heap_calloc(strata_fw_heap* heap, size_t n, size_t size) noexcept {
  usize bytes = 0;
  if (!checked_mul(n, size, bytes)) return nullptr;
  void* p = fw::alloc(heap, bytes, fw::MALLOC_ALIGN);
  if (p != nullptr) mem_set(p, 0, bytes);
  return p;
}

STRATA_FW_API void* strata_fw_heap_realloc(strata_fw_heap* heap, void* ptr, size_t size) noexcept {
  using namespace fw;
  if (ptr == nullptr) return alloc(heap, size, MALLOC_ALIGN);
  HeapState* h = state_of(heap);
  STRATA_CHECK(h != nullptr, "strata_fw: realloc of a pointer not allocated here", ptr);
  Locked guard(*h);
  if (size == 0) {
    free_locked(*h, ptr);
    return nullptr;
  }
  return realloc_locked(*h, h->engine, ptr, size);
}

STRATA_FW_API void strata_fw_heap_free(strata_fw_heap* heap, void* ptr) noexcept {
  using namespace fw;
  if (ptr == nullptr) return;
  HeapState* h = state_of(heap);
  STRATA_CHECK(h != nullptr, "strata_fw: free of a pointer not allocated here", ptr);
  Locked guard(*h);
  free_locked(*h, ptr);
}

STRATA_FW_API size_t strata_fw_heap_usable_size(strata_fw_heap* heap, void* ptr) noexcept {
  using namespace fw;
  if (ptr == nullptr) return 0;
  HeapState* h = state_of(heap);
  STRATA_CHECK(h != nullptr, "strata_fw: pointer not allocated here", ptr);
  Locked guard(*h);
  return usable_locked(*h, ptr);
}

STRATA_FW_API void strata_fw_heap_get_diag(strata_fw_heap* heap, strata_fw_diag* out) noexcept {
  using namespace fw;
  *out = strata_fw_diag{};
  HeapState* h = state_of(heap);
  if (h == nullptr) return;
  Locked guard(*h);
  out->capacity = h->engine.total_bytes();
  out->allocated = h->engine.used_bytes();
  out->peak_allocated = h->peak_used;
  out->largest_free = Traits::largest_free(h->engine);
  out->peak_request = h->peak_request;
  out->oom_count = h->oom_count;
}

STRATA_FW_API void strata_fw_heap_get_stats(strata_fw_heap* heap, strata_fw_stats* out) noexcept {
  strata_fw_diag d{};
  strata_fw_heap_get_diag(heap, &d);
  *out = strata_fw_stats{d.capacity, d.allocated, d.capacity - d.allocated};  // available = total - used
}

STRATA_FW_API const char* strata_fw_heap_verify(strata_fw_heap* heap) noexcept {
  using namespace fw;
  HeapState* h = state_of(heap);
  if (h == nullptr) return nullptr;
  Locked guard(*h);
  return verify_locked(*h);
}

STRATA_FW_API int strata_fw_heap_set_lock(strata_fw_heap* heap, strata_fw_lock_fn lock, strata_fw_lock_fn unlock,
                                          void* ctx) noexcept {
  using namespace fw;
  HeapState* h = state_of(heap);
  if (h == nullptr || (lock == nullptr) != (unlock == nullptr)) return static_cast<int>(AllocError::InvalidParam);
  h->lock_hook = lock;
  h->unlock_hook = unlock;
  h->hook_ctx = ctx;
  return 0;
}

STRATA_FW_API [[gnu::weak]] int strata_fw_in_interrupt(void) noexcept {
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
  u32 ipsr = 0;
  __asm__ __volatile__("mrs %0, ipsr" : "=r"(ipsr));
  return (ipsr & 0x1ff) != 0;  // the active exception number; 0 in thread mode
#else
  return 0;
#endif
}

// ---- The default heap and the malloc family --------------------------------

STRATA_FW_API strata_fw_heap* strata_fw_default_heap(void) noexcept { return &fw::default_heap; }

STRATA_FW_API int strata_fw_init(void* pool, size_t size) noexcept {
  return strata_fw_heap_init(&fw::default_heap, pool, size);
}

STRATA_FW_API void strata_fw_get_stats(strata_fw_stats* out) noexcept { strata_fw_heap_get_stats(&fw::default_heap, out); }

STRATA_FW_API void strata_fw_get_diag(strata_fw_diag* out) noexcept { strata_fw_heap_get_diag(&fw::default_heap, out); }

STRATA_FW_API const char* strata_fw_verify(void) noexcept { return strata_fw_heap_verify(&fw::default_heap); }

STRATA_FW_API int strata_fw_set_lock(strata_fw_lock_fn lock, strata_fw_lock_fn unlock, void* ctx) noexcept {
  return strata_fw_heap_set_lock(&fw::default_heap, lock, unlock, ctx);
}

STRATA_FW_API void* STRATA_FW_NAME(malloc)(size_t size) noexcept { return strata_fw_heap_malloc(&fw::default_heap, size); }

STRATA_FW_API void STRATA_FW_NAME(free)(void* ptr) noexcept { strata_fw_heap_free(&fw::default_heap, ptr); }

STRATA_FW_API void* STRATA_FW_NAME(calloc)(size_t n, size_t size) noexcept {
  return strata_fw_heap_calloc(&fw::default_heap, n, size);
}

STRATA_FW_API void* STRATA_FW_NAME(realloc)(void* ptr, size_t size) noexcept {
  return strata_fw_heap_realloc(&fw::default_heap, ptr, size);
}

STRATA_FW_API void* STRATA_FW_NAME(aligned_alloc)(size_t alignment, size_t size) noexcept {
  return strata_fw_heap_aligned_alloc(&fw::default_heap, alignment, size);
}

STRATA_FW_API void* STRATA_FW_NAME(memalign)(size_t alignment, size_t size) noexcept {
  return strata_fw_heap_aligned_alloc(&fw::default_heap, alignment, size);
}

STRATA_FW_API int STRATA_FW_NAME(posix_memalign)(void** out, size_t alignment, size_t size) noexcept {
  constexpr int EINVAL_CODE = 22;  // POSIX's numbers, as newlib, picolibc and Linux define them
  constexpr int ENOMEM_CODE = 12;
  if (!is_pow2(alignment) || alignment % sizeof(void*) != 0) return EINVAL_CODE;
  void* p = strata_fw_heap_aligned_alloc(&fw::default_heap, alignment, size);
  if (p == nullptr) return ENOMEM_CODE;
  *out = p;
  return 0;
}

STRATA_FW_API size_t STRATA_FW_NAME(malloc_usable_size)(void* ptr) noexcept {
  return strata_fw_heap_usable_size(&fw::default_heap, ptr);
}
