// strata runtime: central heaps (locked engines that grow by segments).
#include "runtime/central.hpp"

#include "platform/os.hpp"
#include "platform/report.hpp"
#include "platform/segment_map.hpp"
#include "runtime/runtime.hpp"
#include "strata/align.hpp"

namespace strata::rt {

namespace {
// Advises away the pages [lo, hi) (page-aligned) that are resident; returns
// their bytes. Pages advised away before and not touched since are not
// resident: they are skipped (one mincore instead of a madvise) and not
// counted again.
usize purge_pages(uptr lo, uptr hi) {
  constexpr usize STEP = usize{4} << 20;  // os::resident_bytes takes at most 4 MiB
  usize resident = 0;
  for (uptr a = lo; a < hi; a += STEP) {
    const usize n = hi - a < STEP ? hi - a : STEP;
    const usize r = os::resident_bytes(reinterpret_cast<void*>(a), n);
    if (r != 0) os::purge(reinterpret_cast<void*>(a), n);
    resident += r;
  }
  return resident;
}

// Advises away the whole pages inside [start, start + bytes).
usize purge_range(void* start, usize bytes) {
  const usize page = os::page_size();
  const uptr lo = align_up(reinterpret_cast<uptr>(start), page);
  const uptr hi = align_down(reinterpret_cast<uptr>(start) + bytes, page);
  return hi > lo ? purge_pages(lo, hi) : 0;
}

// The purge rule under thp:always (Release::FreeHugePages): a free run goes
// back only where it covers whole transparent huge pages. Advising away a
// few 4 KiB pages of a huge page that still holds live blocks would make the
// kernel split it (and the program would fault the pages back one by one);
// such pages stay until malloc_trim, a memory limit, or the segment's last
// block going (then the whole segment goes back). The run's first `keep`
// bytes (the free list's link) stay: when they lie in a whole huge page, that
// page is split for 511 of its 512 pages, never for fewer.
usize purge_huge_pages(void* run, usize bytes, usize keep) {
  const usize huge = os::huge_page_size();
  const uptr s = reinterpret_cast<uptr>(run);
  const uptr first = align_up(s, huge), end = align_down(s + bytes, huge);
  if (end <= first) return 0;  // no whole huge page in the run
  const uptr after_link = align_up(s + keep, os::page_size());
  return purge_pages(first > after_link ? first : after_link, end);
}

// Adds a fresh segment run to an engine: init() the first time, add_memory() after.
template <class Engine>
bool add_segments(PageSource& pages, Engine& e, bool& initialised, usize nsegs, SegmentKind kind, u32 arena = 0) {
  // The huge heap's cached runs are resident memory no other heap can use:
  // a heap that has to map more gives them back first (a program whose
  // buffers grew, freeing the old ones, kept them beside a growing small
  // heap: 15 MB of frag-churn's peak). The caller holds its engine's lock:
  // the huge cache comes after every engine in the lock order (runtime.hpp,
  // for_each_heap).
  g_runtime.huge.release(Release::FreeSegments, 0);
  void* seg = pages.alloc_segments(nsegs, 1, kind, arena);
  if (seg == nullptr) return false;
  // A segment is a fresh mapping (PageSource::alloc_segments), so it reads
  // zero: an engine that can use that (the Heap) leaves its metadata
  // untouched until spans need it.
  const usize bytes = nsegs * SEGMENT_SIZE;
  const Result<void> r = [&] {
    if constexpr (requires { e.add_memory(seg, bytes, Contents::Zero); })
      return initialised ? e.add_memory(seg, bytes, Contents::Zero) : e.init(seg, bytes, Contents::Zero);
    else
      return initialised ? e.add_memory(seg, bytes) : e.init(seg, bytes);
  }();
  if (!r.ok()) {
    pages.free_segments(seg, nsegs);
    return false;
  }
  initialised = true;
  return true;
}

// The callback through which an engine gives whole segments back to the page source.
auto give_back_to(PageSource& pages) {
  return [&pages](void* start, usize bytes) { pages.free_segments(start, bytes / SEGMENT_SIZE); };
}
}  // namespace

// ---- SmallHeap ------------------------------------------------------------

bool SmallHeap::grow(PageSource& pages, u32 arena) {
  return add_segments(pages, engine_, initialised_, 1, SegmentKind::Small, arena);
}

usize SmallHeap::alloc_batch(PageSource& pages, u32 arena, u32 cls, void** out, usize n) {
  LockGuard g(lock_);
  usize got = initialised_ ? engine_.alloc_batch(cls, out, n) : 0;
  if (got == 0 && grow(pages, arena)) got = engine_.alloc_batch(cls, out, n);
  return got;
}

void* SmallHeap::dealloc_batch(void* const* blocks, usize n) {
  LockGuard g(lock_);
  // Every block is in a Small segment of this arena (the caller checked), and
  // such a segment is one region of this heap: its base is the region's.
  for (usize i = 0; i < n; ++i)
    if (!engine_.dealloc_in_region(segment_base(blocks[i]), blocks[i]).ok()) return blocks[i];
  return nullptr;
}

bool SmallHeap::put_chain(u32 cls, Chain c, void* tail, u32 merge_max) {
  const usize bytes = usize{c.n} * small_class_size(cls);
  if (__atomic_load_n(&transfer_count_[cls], __ATOMIC_RELAXED) == TRANSFER_CHAINS) return false;
  LockGuard g(transfer_lock_);
  if (transfer_bytes_ + bytes > TRANSFER_MAX_BYTES) return false;
  // Two half-bin chains make one whole-bin chain: the taker then refills
  // once for both (one round on the shared lock and counters, not two).
  if (const u8 k = transfer_count_[cls]; k != 0 && transfer_[cls][k - 1].n + c.n <= merge_max) {
    Chain& top = transfer_[cls][k - 1];
    *static_cast<void**>(tail) = top.head;
    top = Chain{c.head, top.n + c.n};
    transfer_bytes_ += bytes;
    return true;
  }
  if (transfer_count_[cls] == TRANSFER_CHAINS) return false;
  transfer_[cls][transfer_count_[cls]] = c;
  __atomic_store_n(&transfer_count_[cls], static_cast<u8>(transfer_count_[cls] + 1), __ATOMIC_RELAXED);
  transfer_bytes_ += bytes;
  return true;
}

SmallHeap::Chain SmallHeap::take_chain(u32 cls) {
  if (__atomic_load_n(&transfer_count_[cls], __ATOMIC_RELAXED) == 0) return Chain{};  // the usual answer, lock-free
  LockGuard g(transfer_lock_);
  if (transfer_count_[cls] == 0) return Chain{};
  const u8 k = static_cast<u8>(transfer_count_[cls] - 1);
  const Chain c = transfer_[cls][k];
  __atomic_store_n(&transfer_count_[cls], k, __ATOMIC_RELAXED);
  transfer_bytes_ -= usize{c.n} * small_class_size(cls);
  return c;
}

void SmallHeap::drain_transfer() {
  LockGuard g(transfer_lock_);
  for (u32 cls = 0; cls < NUM_SMALL_CLASSES; ++cls) {
    for (u32 k = 0; k < transfer_count_[cls]; ++k) {
      for (void* p = transfer_[cls][k].head; p != nullptr;) {
        void* next = *static_cast<void**>(p);  // read before the engine owns p
        const Result<void> r = engine_.dealloc_in_region(segment_base(p), p);
        STRATA_CHECK(r.ok(), "small heap: a kept chain holds a block that is not live", p);
        p = next;
      }
    }
    __atomic_store_n(&transfer_count_[cls], u8{0}, __ATOMIC_RELAXED);
  }
  transfer_bytes_ = 0;
}

usize SmallHeap::release(PageSource& pages, Release what) {
  LockGuard g(lock_);
  if (!initialised_) return 0;
  drain_transfer();
  // Wholly free segments go back first (the empty span each class keeps
  // against thrash is given back with them: a release comes after
  // purge_delay_ms, on malloc_trim or out of memory, so it is idle memory).
  usize released = engine_.remove_free_regions(give_back_to(pages)) * SEGMENT_SIZE;
  // A free buddy run keeps its list link in its first bytes: purge after them.
  constexpr usize KEEP = SmallEngine::PageBuddy::FREE_LINK_BYTES;
  if (what == Release::FreeHugePages) {
    engine_.for_each_free_run(os::huge_page_size(), [&](void* p, usize bytes) {
      released += purge_huge_pages(p, bytes, KEEP);
    });
  } else if (what == Release::FreePages) {
    engine_.for_each_free_run(os::page_size() + KEEP, [&](void* p, usize bytes) {
      released += purge_range(static_cast<char*>(p) + KEEP, bytes - KEEP);
    });
  }
  return released;
}

// ---- SmallArenas ----------------------------------------------------------

void SmallArenas::configure(u32 cpus) {
  const u32 want = cpus == 0 ? 1 : 2 * cpus;
  count_ = want < MAX_SMALL_ARENAS ? want : MAX_SMALL_ARENAS;
}

u32 SmallArenas::join_arena() {
  // The arena is taken only if its count is still the fewest this thread
  // saw: two threads that turn their caches on at once (a pool's workers,
  // started together, reach the end of their warm-up together) otherwise
  // both chose the same arena, and that arena alone grew to hold both
  // threads' blocks while another stood idle (gen-churn-2: two segments more,
  // peak RSS 30.6 MiB instead of 22.8, in about one run of eight).
  for (;;) {
    u32 best = 0, fewest = __atomic_load_n(&threads_[0], __ATOMIC_RELAXED);
    for (u32 a = 1; a < count_; ++a) {
      const u32 n = __atomic_load_n(&threads_[a], __ATOMIC_RELAXED);
      if (n < fewest) best = a, fewest = n;
    }
    if (__atomic_compare_exchange_n(&threads_[best], &fewest, fewest + 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return best;
  }
}

void SmallArenas::leave_arena(u32 a) {
  if (a < MAX_SMALL_ARENAS && __atomic_load_n(&threads_[a], __ATOMIC_RELAXED) != 0)
    __atomic_fetch_sub(&threads_[a], 1u, __ATOMIC_RELAXED);
}

void SmallArenas::dealloc_batch(void* const* blocks, usize n, const char* fn) {
  if (n == 0) return;
  // Usually a batch is all one arena's (a thread frees what it allocated).
  const u32 first = small_arena_of(blocks[0]);
  usize same = 1;
  while (same < n && small_arena_of(blocks[same]) == first) ++same;
  if (same == n) {
    if (void* bad = heaps_[first].dealloc_batch(blocks, n)) misuse(fn, "double free or invalid pointer", bad);
    return;
  }
  // Otherwise bucket the blocks by arena (a counting sort of at most one batch), then
  // one lock round per arena that has any.
  constexpr usize MAX = 256;
  void* sorted[MAX];
  u32 counts[MAX_SMALL_ARENAS + 1] = {};
  for (usize done = 0; done < n;) {
    const usize m = n - done < MAX ? n - done : MAX;
    for (u32& c : counts) c = 0;
    for (usize i = 0; i < m; ++i) ++counts[small_arena_of(blocks[done + i]) + 1];
    for (u32 a = 1; a <= MAX_SMALL_ARENAS; ++a) counts[a] += counts[a - 1];
    u32 fill[MAX_SMALL_ARENAS];
    for (u32 a = 0; a < MAX_SMALL_ARENAS; ++a) fill[a] = counts[a];
    for (usize i = 0; i < m; ++i) sorted[fill[small_arena_of(blocks[done + i])]++] = blocks[done + i];
    for (u32 a = 0; a < MAX_SMALL_ARENAS; ++a) {
      const u32 lo = counts[a], hi = counts[a + 1];
      if (lo == hi) continue;
      if (void* bad = heaps_[a].dealloc_batch(sorted + lo, hi - lo))
        misuse(fn, "double free or invalid pointer", bad);  // no lock held here
    }
    done += m;
  }
}

usize SmallArenas::release(Release what, u64) {
  usize released = 0;
  for (SmallHeap& h : heaps_) released += h.release(*pages_, what);
  return released;
}

void SmallArenas::collect(Snapshot& s) {
  for (SmallHeap& h : heaps_) {
    h.inspect([&](const SmallEngine& e, usize transfer) {
      s.small_transfer += transfer;
      s.small.managed += e.total_bytes();
      s.small.used += e.used_bytes();
      s.small_free_runs += e.free_run_bytes();
      s.small_spare += e.spare_bytes();
    });
  }
  s.small_arenas = count_;
}

void SmallArenas::collect_classes(ClassRow* rows) {
  for (u32 c = 0; c < NUM_SMALL_CLASSES; ++c) rows[c] = ClassRow{small_class_size(c), 0, 0, 0};
  for (SmallHeap& h : heaps_) {
    h.inspect([&](const SmallEngine& e, usize) {
      e.for_each_slab_span([&](u32 cls, usize live, usize span_bytes) {
        if (cls >= NUM_SMALL_CLASSES) return;
        rows[cls].blocks += live;
        rows[cls].spans += 1;
        rows[cls].span_bytes += span_bytes;
      });
    });
  }
}

void SmallArenas::lock() {
  for (SmallHeap& h : heaps_) h.lock();
}
void SmallArenas::unlock() {
  for (u32 a = MAX_SMALL_ARENAS; a-- > 0;) heaps_[a].unlock();
}
void SmallArenas::reset_lock_in_child() {
  for (SmallHeap& h : heaps_) h.reset_lock_in_child();
}

// ---- MediumHeap -----------------------------------------------------------

bool MediumHeap::grow() { return add_segments(*pages_, engine_, initialised_, 1, kind_); }

namespace {
/// The canary after every medium block: one granule (16 bytes, so usable
/// sizes stay multiples of MIN_ALIGN) outside its usable bytes, in front of
/// the next block's in-band header. Its words are tied to their addresses,
/// so a canary moved or copied elsewhere does not read right.
constexpr usize CANARY_BYTES = MIN_ALIGN;
constexpr u64 CANARY_KEY = 0x5354524143414e41ull;  // "STRACANA"
static_assert(CANARY_BYTES == 2 * sizeof(u64) && MediumEngine::ALIGN == MIN_ALIGN);

/// The canary's bytes for a canary at `at`.
void canary_for(const char* at, u8 (&out)[CANARY_BYTES]) {
  const u64 w[2] = {CANARY_KEY ^ reinterpret_cast<uptr>(at), ~(CANARY_KEY ^ reinterpret_cast<uptr>(at))};
  __builtin_memcpy(out, w, CANARY_BYTES);
}
void set_canary(void* p, usize block_bytes) {
  char* at = static_cast<char*>(p) + block_bytes - CANARY_BYTES;
  u8 c[CANARY_BYTES];
  canary_for(at, c);
  __builtin_memcpy(at, c, CANARY_BYTES);
}
/// What the engine is asked for: size rounded up to MIN_ALIGN (usable_size_for's
/// promise), plus the canary; false on overflow. (What it costs: 16 bytes on
/// blocks of more than 32 KiB.)
bool engine_request(usize size, usize& out) {
  usize rounded = 0;
  return align_up_checked(size == 0 ? 1 : size, MIN_ALIGN, rounded) && checked_add(rounded, CANARY_BYTES, out);
}
}  // namespace

usize MediumHeap::inspect(const void* p, usize* bad) const {
  const Result<usize> r = engine_.usable_size_in_pool(segment_base(p), p);
  if (!r.ok()) return 0;
  const usize bytes = r.value();
  const char* at = static_cast<const char*>(p) + bytes - CANARY_BYTES;
  u8 want[CANARY_BYTES];
  canary_for(at, want);
  usize first = 0;
  while (first < CANARY_BYTES && reinterpret_cast<const u8*>(at)[first] == want[first]) ++first;
  *bad = first;
  return bytes;
}

namespace {
/// The abort for a block inspect() found bad (bytes 0: not a live block).
[[noreturn]] void medium_fault(const char* fn, const void* p, usize bytes, usize bad) {
  if (bytes == 0) misuse(fn, "double free or invalid pointer", p);
  misuse_figures(fn, "heap-buffer-overflow (the bytes after a medium block were overwritten)", p, "block size",
                 bytes - CANARY_BYTES, "first overwritten byte at offset", bytes - CANARY_BYTES + bad);
}
}  // namespace

void* MediumHeap::alloc(usize size, usize align, usize* usable) {
  usize request = 0;
  if (!engine_request(size, request)) return nullptr;
  LockGuard g(lock_);
  Result<void*> r = initialised_ ? engine_.alloc(request, align) : Result<void*>(AllocError::NoMemory);
  if (!r.ok() && r.error() == AllocError::NoMemory && grow())
    r = engine_.alloc(request, align);
  if (!r.ok()) return nullptr;
  const usize bytes = engine_.usable_size_in_pool(segment_base(r.value()), r.value()).value();
  set_canary(r.value(), bytes);
  if (usable != nullptr) *usable = bytes - CANARY_BYTES;
  return r.value();
}

usize MediumHeap::dealloc(void* p, const char* fn) {
  usize bytes = 0, bad = 0;
  {
    LockGuard g(lock_);
    bytes = inspect(p, &bad);
    if (bytes != 0 && bad == CANARY_BYTES && engine_.dealloc_in_pool(segment_base(p), p).ok())
      return bytes - CANARY_BYTES;
  }
  medium_fault(fn, p, bytes, bad);
}

usize MediumHeap::usable_size(const void* p, const char* fn) {
  Result<usize> r = AllocError::NotAllocated;
  {
    LockGuard g(lock_);
    r = engine_.usable_size_in_pool(segment_base(p), p);
  }
  if (!r.ok()) misuse(fn, "invalid pointer (not a live block)", p);
  return r.value() - CANARY_BYTES;
}

bool MediumHeap::resize_in_place(void* p, usize new_size) {
  usize request = 0;
  if (!engine_request(new_size, request)) return false;
  usize bytes = 0, bad = 0;
  {
    LockGuard g(lock_);
    bytes = inspect(p, &bad);
    if (bytes != 0 && bad == CANARY_BYTES) {  // an overflow is reported, never carried along
      if (!engine_.try_resize_in_pool(segment_base(p), p, request).ok()) return false;
      set_canary(p, engine_.usable_size_in_pool(segment_base(p), p).value());
      return true;
    }
  }
  medium_fault("realloc", p, bytes, bad);
}

usize MediumHeap::release(Release what, u64) {
  LockGuard g(lock_);
  if (!initialised_) return 0;
  usize released = engine_.remove_free_pools(give_back_to(*pages_)) * SEGMENT_SIZE;
  if (what == Release::FreePages)
    engine_.for_each_free_run(os::page_size(), [&](void* p, usize bytes) { released += purge_range(p, bytes); });
  else if (what == Release::FreeHugePages)
    engine_.for_each_free_run(os::huge_page_size(), [&](void* p, usize bytes) { released += purge_huge_pages(p, bytes, 0); });
  return released;
}

void MediumHeap::collect(Snapshot& s) {
  LockGuard g(lock_);
  s.medium.managed = engine_.total_bytes();
  s.medium.used = engine_.used_bytes();
}

}  // namespace strata::rt
