// strata runtime: huge blocks.
#include "runtime/huge.hpp"

#include "platform/os.hpp"
#include "platform/report.hpp"
#include "platform/segment_map.hpp"
#include "strata/align.hpp"

namespace strata::rt {

/// Lives just before the block. `check` ties the header to its block so a
/// stray pointer that happens to land on a page boundary inside a huge block
/// is not taken for one.
struct HugeHeader {
  u64 check;
  void* base;    ///< first segment
  usize nsegs;   ///< segments in the run
  usize usable;  ///< writable bytes from the block start
  char* guard;   ///< the inaccessible page after the block (null: none)
  HugeHeader* prev;  ///< live blocks, linked for the fault handler (HugeHeap::live_)
  HugeHeader* next;
  u32 sample;    ///< the heap profiler's record of this block (0: not sampled)
  bool fresh;    ///< freshly mapped: the block reads as zero
  bool unmovable;  ///< a page move was refused (grow_by_moving): realloc copies it
};

namespace {

constexpr usize CACHE_MAX_RUN = 32u << 20;
constexpr usize CACHE_MAX_BYTES = 64u << 20;
constexpr usize CACHE_MIN_BYTES = 8u << 20;

constexpr u64 HUGE_MAGIC = 0x53545241'48554745ull;  // "STRAHUGE"

u64 check_of(const void* block) { return HUGE_MAGIC ^ reinterpret_cast<uptr>(block); }

/// Where the header goes. For alignments up to HEADER_BYTES (every malloc)
/// it sits in the first HEADER_BYTES of the run and the block follows in the
/// same page, as glibc lays out an mmapped chunk (programs and glibc's
/// tst-free-errno remap a block's pages around it and keep its first page);
/// larger alignments put it in the page just before the block.
constexpr usize HEADER_BYTES = 64;
static_assert(sizeof(HugeHeader) <= HEADER_BYTES);

/// Offset of the block in its run: HEADER_BYTES, or max(page, align).
usize block_offset(usize align, usize page) {
  if (align <= HEADER_BYTES) return HEADER_BYTES;
  return align > page ? align : page;
}

/// Bytes from a block at page offset `lead` to the end of the page holding
/// its n-th byte: what the block may use.
bool usable_bytes(usize n, usize lead, usize page, usize& out) {
  usize end = 0;
  if (!align_up_checked((n == 0 ? 1 : n) + lead, page, end)) return false;
  out = end - lead;
  return true;
}

HugeHeader* header_of(const void* p, const char* fn) {
  const usize page = os::page_size();
  const uptr lead = reinterpret_cast<uptr>(p) & (page - 1);
  if (lead != HEADER_BYTES && lead != 0) misuse(fn, "invalid pointer (inside a huge block)", p);
  auto* h = reinterpret_cast<HugeHeader*>(reinterpret_cast<uptr>(p) - (lead != 0 ? HEADER_BYTES : page));
  // A header page before the block may belong to the previous segment of the
  // same run only; it is always mapped, since the run starts no later.
  if (segment_kind(h) != SegmentKind::Huge) misuse(fn, "invalid pointer (not the start of a huge block)", p);
  if (h->check == 0 && h->usable != 0) misuse(fn, "double free", p);  // freed, run kept in the cache
  if (h->check != check_of(p)) misuse(fn, "invalid pointer (not the start of a huge block)", p);
  return h;
}
}  // namespace

// Takes the smallest cached run of at least nsegs segments (file comment,
// Reuse). Lock not held on entry.
bool HugeHeap::cache_take(usize nsegs, CachedRun& out) {
  LockGuard g(cache_lock_);
  usize best = CACHE_SLOTS;
  for (usize i = 0; i < cache_used_; ++i) {
    const usize n = cache_[i].nsegs;
    if (n >= nsegs && (best == CACHE_SLOTS || n < cache_[best].nsegs)) best = i;
  }
  if (best == CACHE_SLOTS) return false;
  out = cache_[best];
  cache_[best] = cache_[--cache_used_];
  __atomic_fetch_sub(&cache_bytes_, out.nsegs * SEGMENT_SIZE, __ATOMIC_RELAXED);
  return true;
}

// Keeps a freed run if it is small enough and there is room; false otherwise.
bool HugeHeap::cache_put(const CachedRun& run) {
  const usize bytes = run.nsegs * SEGMENT_SIZE;
  if (bytes > CACHE_MAX_RUN || !__atomic_load_n(&keep_freed_, __ATOMIC_RELAXED)) return false;
  // The cache may hold as much as the live huge blocks (8..64 MiB): what it
  // keeps is resident memory, so it scales with what the program uses.
  usize limit = __atomic_load_n(&bytes_, __ATOMIC_RELAXED);
  limit = limit < CACHE_MIN_BYTES ? CACHE_MIN_BYTES : limit > CACHE_MAX_BYTES ? CACHE_MAX_BYTES : limit;
  LockGuard g(cache_lock_);
  if (cache_used_ == CACHE_SLOTS || __atomic_load_n(&cache_bytes_, __ATOMIC_RELAXED) + bytes > limit) return false;
  cache_[cache_used_++] = run;
  __atomic_fetch_add(&cache_bytes_, bytes, __ATOMIC_RELAXED);
  return true;
}

template <class Pick>
usize HugeHeap::release_cached(Pick pick) {
  CachedRun victims[CACHE_SLOTS];
  usize n = 0, bytes = 0;
  {
    LockGuard g(cache_lock_);
    for (usize i = 0; i < cache_used_;) {
      if (pick(cache_[i])) {
        victims[n++] = cache_[i];
        __atomic_fetch_sub(&cache_bytes_, cache_[i].nsegs * SEGMENT_SIZE, __ATOMIC_RELAXED);
        cache_[i] = cache_[--cache_used_];
      } else {
        ++i;
      }
    }
  }
  for (usize i = 0; i < n; ++i) {  // outside the lock: unmapping takes a while
    bytes += victims[i].nsegs * SEGMENT_SIZE;
    pages_->free_segments(victims[i].base, victims[i].nsegs);
  }
  return bytes;
}

usize HugeHeap::release(Release, u64 min_age_ms) {
  if (__atomic_load_n(&cache_bytes_, __ATOMIC_RELAXED) == 0) return 0;
  const u64 now = os::now_ms();
  return release_cached([&](const CachedRun& r) { return min_age_ms == 0 || now - r.freed_ms >= min_age_ms; });
}

void HugeHeap::remember_released(const void* p) {
  const u32 i = __atomic_fetch_add(&released_next_, 1u, __ATOMIC_RELAXED) % RELEASED_RING;
  __atomic_store_n(&released_[i], reinterpret_cast<uptr>(p), __ATOMIC_RELAXED);
}

usize HugeHeap::usable_for(usize n, usize align) {
  const usize page = os::page_size();
  usize body = 0;
  return usable_bytes(n, block_offset(align, page) & (page - 1), page, body) ? body : 0;
}

char* HugeHeap::move_guard(char* have, char* want) {
  if (have == want) return have;
  const usize page = os::page_size();
  if (have != nullptr && !os::protect(have, page, true)) return have;  // cannot lift it: keep it where it is known
  return want != nullptr && os::protect(want, page, false) ? want : nullptr;
}

void HugeHeap::link(HugeHeader* h) {
  LockGuard g(cache_lock_);
  h->prev = nullptr;
  h->next = live_;
  if (live_ != nullptr) live_->prev = h;
  __atomic_store_n(&live_, h, __ATOMIC_RELEASE);  // the fault handler walks it without the lock
}

void HugeHeap::unlink(HugeHeader* h) {
  LockGuard g(cache_lock_);
  if (h->next != nullptr) h->next->prev = h->prev;
  if (h->prev != nullptr) __atomic_store_n(&h->prev->next, h->next, __ATOMIC_RELEASE);
  else __atomic_store_n(&live_, h->next, __ATOMIC_RELEASE);
}

bool HugeHeap::run_layout(usize n, usize offset, usize page, usize& body, usize& span) const {
  usize total = 0;
  if (!usable_bytes(n, offset & (page - 1), page, body) || !checked_add(body, offset, total)) return false;
  if (guard_ && !checked_add(total, page, total)) return false;  // room for the guard page
  return align_up_checked(total, SEGMENT_SIZE, span);
}

void* HugeHeap::alloc(usize n, usize align) {
  const usize page = os::page_size();
  const usize offset = block_offset(align, page);
  usize body = 0, span = 0;
  if (!run_layout(n, offset, page, body, span)) return nullptr;
  const usize nsegs = span / SEGMENT_SIZE;
  const usize align_segs = align > SEGMENT_SIZE ? align / SEGMENT_SIZE : 1;
  CachedRun run{};
  bool fresh = true;
  if (align <= page && cache_take(nsegs, run)) {
    fresh = false;
  } else {
    // A miss maps fresh memory: cached runs too small for this request go
    // back first, so the cache does not stack resident memory on a growing heap.
    if (__atomic_load_n(&cache_bytes_, __ATOMIC_RELAXED) != 0)
      release_cached([nsegs](const CachedRun& r) { return r.nsegs < nsegs; });
    run.base = pages_->alloc_segments(nsegs, align_segs, SegmentKind::Huge);
    if (run.base == nullptr) {
      // Out of memory: cached runs are memory too. Give them back and retry once.
      if (release(Release::FreeSegments, 0) == 0) return nullptr;
      run.base = pages_->alloc_segments(nsegs, align_segs, SegmentKind::Huge);
      if (run.base == nullptr) return nullptr;
    }
    run.nsegs = nsegs;
    run.guard = nullptr;
  }
  char* block = static_cast<char*>(run.base) + offset;
  if (!fresh) {
    // The pages the run's last block used past this one's end (and guard)
    // would stay resident, unused (file comment, Reuse).
    char* keep_end = block + body + (guard_ ? page : 0);
    if (run.used_end > keep_end) os::purge(keep_end, static_cast<usize>(run.used_end - keep_end));
  }
  auto* h = reinterpret_cast<HugeHeader*>(block - (offset == HEADER_BYTES ? HEADER_BYTES : page));
  h->base = run.base;
  h->nsegs = run.nsegs;
  h->usable = body;
  h->guard = move_guard(run.guard, guard_ ? block + body : nullptr);
  h->fresh = fresh;
  h->unmovable = false;
  h->sample = 0;
  h->check = check_of(block);
  link(h);
  __atomic_fetch_add(&count_, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&bytes_, body, __ATOMIC_RELAXED);
  return block;
}

u32 HugeHeap::free(void* p, const char* fn, usize* usable) {
  HugeHeader* h = header_of(p, fn);
  if (usable != nullptr) *usable = h->usable;
  const CachedRun run{h->base, h->nsegs, os::now_ms(), h->guard, static_cast<char*>(p) + h->usable};
  const u32 sample = h->sample;
  unlink(h);
  __atomic_fetch_sub(&count_, 1, __ATOMIC_RELAXED);
  __atomic_fetch_sub(&bytes_, h->usable, __ATOMIC_RELAXED);
  h->check = 0;  // a second free of p now fails the check (if the memory is still ours)
  // A run whose pages the program split (a refused move found it) may keep
  // the program's mprotect: it is unmapped, not handed to the next block.
  if (h->unmovable || !cache_put(run)) {
    remember_released(p);
    pages_->free_segments(run.base, run.nsegs);
  }
  return sample;
}

void HugeHeap::set_sample(void* p, u32 record) { header_of(p, "malloc")->sample = record; }

u32 HugeHeap::sample_of(const void* p) const { return header_of(p, "realloc")->sample; }

bool HugeHeap::recently_released(const void* p) const {
  const uptr a = reinterpret_cast<uptr>(p);
  for (const uptr& r : released_)
    if (__atomic_load_n(&r, __ATOMIC_RELAXED) == a) return true;
  return false;
}

bool HugeHeap::is_fresh(const void* p) const { return header_of(p, "calloc")->fresh; }

usize HugeHeap::usable_size(const void* p, const char* fn) const { return header_of(p, fn)->usable; }

bool HugeHeap::resize(void* p, usize n) {
  HugeHeader* h = header_of(p, "realloc");
  const usize page = os::page_size();
  usize body = 0, need = 0;
  if (!usable_bytes(n, reinterpret_cast<uptr>(p) & (page - 1), page, body)) return false;
  if (!checked_add(body, guard_ ? page : 0, need)) return false;
  const uptr end_of_run = reinterpret_cast<uptr>(h->base) + h->nsegs * SEGMENT_SIZE;
  if (reinterpret_cast<uptr>(p) + need > end_of_run) return false;  // would leave the run
  // The run is mapped read/write but for the guard, which moves to the new
  // end; shrinking gives the pages past the new end back.
  if (body < h->usable) os::purge(static_cast<char*>(p) + body, h->usable - body);
  h->guard = move_guard(h->guard, guard_ ? static_cast<char*>(p) + body : nullptr);
  __atomic_fetch_add(&bytes_, body - h->usable, __ATOMIC_RELAXED);  // wraps correctly
  h->usable = body;
  return true;
}

void* HugeHeap::grow_by_moving(void* p, usize n) {
  if (!__atomic_load_n(&moves_, __ATOMIC_RELAXED)) return nullptr;
  HugeHeader* h = header_of(p, "realloc");
  char* const old_base = static_cast<char*>(h->base);
  if (h->unmovable || static_cast<char*>(p) != old_base + HEADER_BYTES) return nullptr;  // aligned beyond 64: copied
  const usize page = os::page_size();
  usize body = 0, span = 0;
  if (!run_layout(n, HEADER_BYTES, page, body, span)) return nullptr;
  // The header and the block: whole pages (the block ends at a page end), in
  // front of the guard: one kernel mapping, unless the program split it.
  const usize moved = HEADER_BYTES + h->usable;
  if (body <= h->usable || moved > span) return nullptr;
  const usize nsegs = span / SEGMENT_SIZE;
  void* run = pages_->alloc_segments(nsegs, 1, SegmentKind::Huge);
  if (run == nullptr) return nullptr;
  // Where the pages wait between the two moves: a page longer than the
  // block, so that the first move grows (below); 2 MiB-aligned, as the runs
  // are, so transparent huge pages survive the trip.
  const usize scratch_bytes = moved + page;
  void* scratch = os::reserve_aligned(scratch_bytes, usize{2} << 20);
  if (scratch == nullptr) {
    pages_->free_segments(run, nsegs);
    return nullptr;
  }
  const usize old_nsegs = h->nsegs, old_usable = h->usable;
  // A refused move leaves the block where it was, marked so that it is
  // copied from then on (the program split its pages, most likely); after 16
  // refusals moves stop. The range the kernel was to move it to may have
  // been unmapped before the kernel refused, and another mapping may have
  // taken it since: such a range is only released when mapping it anew shows
  // it was free, and otherwise left alone (address space; no pages).
  const auto refused = [&]() {
    link(h);
    h->unmovable = true;
    if (__atomic_add_fetch(&move_refusals_, 1u, __ATOMIC_RELAXED) >= 16)
      __atomic_store_n(&moves_, false, __ATOMIC_RELAXED);
  };
  unlink(h);  // the header moves with the block
  // First out to scratch, grown by a page: the kernel grows one mapping
  // only, so a block the program split is refused whole, before any of it
  // moved (a move of several mappings at one size, which kernels from 6.17
  // allow, can stop halfway).
  const os::MoveResult out = os::move_pages(old_base, moved, scratch, scratch_bytes);
  if (out != os::MoveResult::Moved) {
    refused();
    if (os::map_fixed(scratch, scratch_bytes) == os::MapResult::Mapped) os::release(scratch, scratch_bytes);
    pages_->free_segments(run, nsegs);  // not the kernel's target: untouched
    return nullptr;
  }
  // The old run now has a hole where the block was: mapped again at once, so
  // that the run can be unmapped whole; if another mapping got there first,
  // it is left alone.
  const bool hole_ours = os::map_fixed(old_base, moved) == os::MapResult::Mapped;
  const os::MoveResult in = os::move_pages(scratch, scratch_bytes, run, span);
  if (in != os::MoveResult::Moved) {
    // Back where the block was (a part of scratch's one mapping, at one size).
    const bool back = hole_ours && os::move_pages(scratch, moved, old_base, moved) == os::MoveResult::Moved;
    STRATA_CHECK(back, "huge heap: realloc could not move a block back", p);
    os::release(static_cast<char*>(scratch) + moved, page);
    refused();
    if (in == os::MoveResult::Refused || os::map_fixed(run, span) == os::MapResult::Mapped)
      pages_->free_segments(run, nsegs);
    else
      pages_->abandon_segments(run, nsegs);
    return nullptr;
  }
  auto* nh = static_cast<HugeHeader*>(run);
  char* block = static_cast<char*>(run) + HEADER_BYTES;
  nh->base = run;
  nh->nsegs = nsegs;
  nh->usable = body;
  nh->guard = guard_ ? move_guard(nullptr, block + body) : nullptr;  // the old one stayed in the old run
  nh->fresh = false;
  nh->check = check_of(block);
  link(nh);
  __atomic_fetch_add(&bytes_, body - old_usable, __ATOMIC_RELAXED);
  if (hole_ours) {
    pages_->free_segments(old_base, old_nsegs);
  } else {
    os::release(old_base + moved, old_nsegs * SEGMENT_SIZE - moved);
    pages_->abandon_segments(old_base, old_nsegs);
  }
  remember_released(p);
  __atomic_fetch_add(&moves_done_, usize{1}, __ATOMIC_RELAXED);
  return block;
}

bool HugeHeap::guard_owner(const void* addr, const void** block, usize* usable) const {
  const uptr a = reinterpret_cast<uptr>(addr);
  const usize page = os::page_size();
  // The handler cannot take the lock (the faulting thread may hold it in
  // strata's own code); the walk reads headers of live blocks, which stay
  // mapped while linked, and a bounded number of them.
  usize steps = 0;
  for (const HugeHeader* h = __atomic_load_n(&live_, __ATOMIC_ACQUIRE); h != nullptr && steps < (usize{1} << 20);
       h = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE), ++steps) {
    const char* g = h->guard;
    if (g == nullptr || a < reinterpret_cast<uptr>(g) || a - reinterpret_cast<uptr>(g) >= page) continue;
    *block = g - h->usable;
    *usable = h->usable;
    return true;
  }
  return false;
}

void HugeHeap::collect(Snapshot& s) const {
  s.huge_count = __atomic_load_n(&count_, __ATOMIC_RELAXED);
  s.huge_bytes = __atomic_load_n(&bytes_, __ATOMIC_RELAXED);
  s.huge_cached = __atomic_load_n(&cache_bytes_, __ATOMIC_RELAXED);
  s.huge_moves = __atomic_load_n(&moves_done_, __ATOMIC_RELAXED);
}

}  // namespace strata::rt
