// strata runtime: allocation slow paths and routing by size.
#include "runtime/alloc.hpp"

#include "platform/os.hpp"
#include "strata/align.hpp"
#include "strata/core/mem.hpp"

namespace strata::rt {

namespace {
/// p is in no strata segment: a huge block freed before, or never strata's.
[[noreturn]] void foreign_pointer(const char* fn, const void* p) {
  if (g_runtime.huge.recently_released(p)) misuse(fn, "double free", p);
  misuse(fn, "invalid pointer (not allocated by strata)", p);
}

/// Out of memory. Memory freed at one size may serve another: this thread's
/// cached blocks go back to their heaps, every segment with nothing in use
/// goes back to the page source, and so do the huge cache's runs. When the
/// page source refused because of the hard memory limit (its refusal count
/// moved past `refusals_before`), every free page goes back too and the hit
/// is counted. True when one more try is worth it. Holds no lock on entry.
bool reclaim_after_oom(u64 refusals_before) {
  t_cache.flush_all();
  if (__builtin_expect(g_runtime.pages.limit_refusals() == refusals_before, 1))
    return g_runtime.release(Release::FreeSegments, 0) != 0;
  g_runtime.limits.count_hard_hit(g_runtime.release(Release::FreePages, 0));
  return true;
}

/// Requests no address space can hold fail at once, with nothing reclaimed
/// (glibc's tst-malloc-too-large makes a million such calls).
constexpr usize MAX_MAPPABLE = usize{1} << VA_BITS;

/// attempt(), and when it fails and reclaiming freed something, once more.
/// A success lets the purge policy check the soft memory limit.
template <class Attempt>
void* with_reclaim(Attempt attempt) {
  const u64 refusals = g_runtime.pages.limit_refusals();
  void* p = attempt();
  if (__builtin_expect(p != nullptr, 1)) {
    g_runtime.purge.after_alloc();
    return p;
  }
  if (!reclaim_after_oom(refusals)) return p;
  p = attempt();
  if (p == nullptr && g_runtime.pages.limit_refusals() != refusals) g_runtime.limits.count_hard_failure();
  return p;
}

/// A block of class code `code` by a refill of this thread's bin (its bin is empty).
void* refill_code(u32 code) {
  return with_reclaim([code] { return t_cache.refill(code); });
}

/// A block of class code `code` from this thread's bin, else by a refill.
void* alloc_code(u32 code) {
  void* p = ThreadCache::pop(code);
  return p != nullptr ? p : refill_code(code);
}

/// The medium-or-huge choice, once. Counts the block in thread.allocated.
void* alloc_medium_or_huge(usize n, usize align) {
  usize usable = 0;
  if (n <= MEDIUM_MAX && align <= MEDIUM_MAX_ALIGN) {
    if (void* p = g_runtime.medium.alloc(n, align, &usable)) {
      t_prof.allocated += usable;
      return p;
    }
  }
  void* p = g_runtime.huge.alloc(n, align);
  if (p != nullptr) t_prof.allocated += HugeHeap::usable_for(n, align);
  return p;
}

/// Medium and huge allocations (not small), with reclaim and retry.
void* allocate_large(usize n, usize align) {
  if (n >= MAX_MAPPABLE || align >= MAX_MAPPABLE) return nullptr;
  ensure_initialised();
  return with_reclaim([n, align] { return alloc_medium_or_huge(n, align); });
}
}  // namespace

void small_misuse(const char* fn, const void* p) {
  const auto lk = SmallEngine::lookup_in_region(segment_base(p), p);
  if (lk.cls == SmallEngine::NO_CLASS)  // a span freed back (double free), or never a block
    misuse(fn, "double free or invalid pointer (no live block there)", p);
  misuse(fn, "invalid pointer (not the start of a block)", p);
}

bool fresh_zeroed(const void* p) { return segment_kind(p) == SegmentKind::Huge && g_runtime.huge.is_fresh(p); }

void* allocate_after_fast(usize n) {
  // The fast path counted small requests down already; larger ones count here.
  const bool due = n <= SMALL_FAST_MAX ? t_cache.bytes_until_sample < 0 : sample_countdown(n);
  if (due) {  // the sampling countdown ran out (prof.hpp)
    if (void* p = prof_countdown(n, MIN_ALIGN)) return p;
    if (n <= SMALL_FAST_MAX) return alloc_code(static_cast<u32>(small_code_of(n)));  // the bin may hold blocks
  }
  if (n <= SMALL_FAST_MAX) return refill_code(static_cast<u32>(small_code_of(n)));
  return allocate_large(n, MIN_ALIGN);
}

void* allocate_aligned(usize n, usize align) {
  if (!is_pow2(align) || n >= MAX_MAPPABLE || align >= MAX_MAPPABLE) return nullptr;
  if (align <= MIN_ALIGN) return allocate(n);
  if (sample_countdown(n)) {
    if (void* p = prof_countdown(n, align)) return p;
  }
  if (n <= SMALL_MAX) {
    const u32 cls = small_class_for(n, align);
    if (cls != NO_SMALL_CLASS) return alloc_code(code_of_class(cls));
  }
  return allocate_large(n, align);
}

usize usable_size_for(usize n, usize align) {
  if (n > MAX_OBJECT_SIZE) return 0;
  if (align < MIN_ALIGN) align = MIN_ALIGN;
  if (n <= SMALL_MAX) {
    const u32 cls = small_class_for(n, align);
    if (cls != NO_SMALL_CLASS) return small_class_size(cls);
  }
  if (n > MEDIUM_MAX) {
    const usize out = HugeHeap::usable_for(n, align);
    return out <= MAX_OBJECT_SIZE ? out : 0;
  }
  usize out = 0;
  return align_up_checked(n == 0 ? 1 : n, MIN_ALIGN, out) ? out : 0;
}

bool resize_in_place(void* p, usize n) {
  switch (segment_kind(p)) {
    case SegmentKind::Medium: return n > SMALL_MAX && n <= MEDIUM_MAX && g_runtime.medium.resize_in_place(p, n);
    case SegmentKind::Huge: {
      if (n <= MEDIUM_MAX || !g_runtime.huge.resize(p, n)) return false;
      g_runtime.prof.resized(g_runtime.huge.sample_of(p), n);  // a sampled block keeps its record
      return true;
    }
    default: return false;  // Small: fixed class sizes; Sampled: moved, so the profile sees the new size
  }
}

void deallocate_slow(void* p, const char* fn) {
  if (p == nullptr) return;
  switch (segment_kind(p)) {
    case SegmentKind::Medium:
      t_prof.deallocated += g_runtime.medium.dealloc(p, fn);
      break;
    case SegmentKind::Huge: {
      usize usable = 0;
      if (const u32 record = g_runtime.huge.free(p, fn, &usable)) g_runtime.prof.forget(record);
      t_prof.deallocated += usable;
      break;
    }
    case SegmentKind::Sampled:
      g_runtime.prof.free_sampled(p, fn);
      break;
    case SegmentKind::Guarded:
      g_runtime.guarded.free(p, fn);
      return;
    case SegmentKind::Small: {  // outside the window, or not a block start (misuse)
      const SmallLookup lk = small_lookup(p);
      if (!lk.block_start) small_misuse(fn, p);
      ThreadCache::push(p, lk.code, fn);
      return;
    }
    case SegmentKind::None:
    default:
      foreign_pointer(fn, p);
  }
  g_runtime.purge.tick();
}

namespace {
/// Bytes a medium block (TLSF, also the profiler's sampled blocks) may hold
/// beyond a size it was allocated or resized for: the tail TLSF keeps when
/// it is too small to split off and the granule's rounding (the canary lies
/// outside the usable bytes).
constexpr usize MEDIUM_CLAIM_SLACK = 4 * MediumEngine::MIN_BLOCK;

[[noreturn]] void claim_mismatch(const char* fn, const void* p, usize n, usize align, usize holds) {
  if (n == ANY_SIZE) misuse_figures(fn, "alignment mismatch", p, "freed with alignment", align, "block's alignment", holds);
  misuse_figures(fn, "size mismatch", p, "freed with size", n, "block's size", holds);
}
}  // namespace

void check_dealloc_claim(const void* p, usize n, usize align, const char* fn) {
  if (align < MIN_ALIGN) align = MIN_ALIGN;
  if (!is_pow2(align)) misuse(fn, "alignment mismatch (freed with an alignment that is not a power of two)", p);
  const uptr a = reinterpret_cast<uptr>(p);
  if ((a & (align - 1)) != 0) claim_mismatch(fn, p, ANY_SIZE, align, usize{1} << __builtin_ctzll(a));
  const SegmentKind kind = segment_kind(p);
  if (kind == SegmentKind::None) return;  // not strata's: the free names it
  if (kind == SegmentKind::Small) {
    const SmallLookup lk = small_lookup(p);
    if (!lk.block_start) return;  // the free names it
    const u32 cls = class_of_code(lk.code);
    const usize class_align = SmallClasses::get(cls).align;  // what every block of the class is aligned to
    if (class_align < align) claim_mismatch(fn, p, ANY_SIZE, align, class_align);
    if (n != ANY_SIZE && (n > SMALL_MAX || small_class_for(n, align) != cls))
      claim_mismatch(fn, p, n, align, small_class_size(cls));
    return;
  }
  if (n == ANY_SIZE) return;  // medium, sampled, guarded and huge blocks: the pointer's alignment was all
  const usize u = usable_size(p, fn);
  // Huge and guarded blocks end at a page end (guarded ones at their class's end, within the page).
  const usize slack = kind == SegmentKind::Huge || kind == SegmentKind::Guarded ? os::page_size() - 1 : MEDIUM_CLAIM_SLACK;
  const usize asked = n == 0 ? 1 : n;  // malloc(0) allocates a byte's block
  if (asked > u || u - asked > slack) claim_mismatch(fn, p, n, align, u);
}

void deallocate_checked(void* p, usize n, usize align, const char* fn) {
  if (p != nullptr && g_runtime.options.sized_dealloc_check) check_dealloc_claim(p, n, align, fn);
  deallocate(p, fn);
}

bool keeps_in_place(void* p, usize n, usize align) {
  if (segment_kind(p) != SegmentKind::Small) return resize_in_place(p, n);
  return n <= SMALL_MAX && small_class_for(n, align) == class_of_code(small_lookup(p).code);
}

usize usable_size(const void* p, const char* fn) {
  if (p == nullptr) return 0;
  switch (segment_kind(p)) {
    case SegmentKind::Small: {
      const SmallLookup lk = small_lookup(p);
      if (!lk.block_start) small_misuse(fn, p);
      if (ThreadCache::is_free(p)) misuse(fn, "pointer to a freed block", p);
      return small_class_size(class_of_code(lk.code));
    }
    case SegmentKind::Medium:
      return g_runtime.medium.usable_size(p, fn);
    case SegmentKind::Huge:
      return g_runtime.huge.usable_size(p, fn);
    case SegmentKind::Sampled:
      return g_runtime.prof.usable_size(p, fn);
    case SegmentKind::Guarded:
      return g_runtime.guarded.usable_size(p, fn);
    case SegmentKind::None:
    default:
      foreign_pointer(fn, p);
  }
}

void* reallocate(void* p, usize n, const char* fn) {
  if (p == nullptr) return allocate(n);
  const usize old = usable_size(p, fn);  // validates p first: misuse aborts here
  if (n > MAX_OBJECT_SIZE) return nullptr;
  // In place only as if allocated for n (keeps_in_place): a later
  // free_sized(p, n) must find the block in n's size class.
  if (keeps_in_place(p, n, MIN_ALIGN)) return p;
  if (n > MEDIUM_MAX && segment_kind(p) == SegmentKind::Huge) {
    if (void* q = g_runtime.huge.grow_by_moving(p, n)) {  // pages moved, not copied (huge.hpp)
      const usize now = g_runtime.huge.usable_size(q, fn);
      t_prof.allocated += now;  // thread.allocated / deallocated as for a copy (prof.hpp)
      t_prof.deallocated += old;
      g_runtime.prof.resized(g_runtime.huge.sample_of(q), n);  // a sampled block keeps its record
      g_runtime.purge.after_alloc();  // the new run counts against the soft limit as an allocation's would
      return q;
    }
  }
  void* q = allocate(n);
  if (q == nullptr) return nullptr;  // p stays valid and untouched
  mem_copy(q, p, old < n ? old : n);
  deallocate(p, fn);
  return q;
}

bool trim() {
  ensure_initialised();
  t_cache.flush_all();
  return g_runtime.release(Release::FreePages, 0) != 0;
}

}  // namespace strata::rt
