// strata runtime: huge blocks.
#include "huge.hpp"

#include "layout.hpp"
#include "lock.hpp"
#include "options.hpp"
#include "os.hpp"
#include "page_source.hpp"
#include "report.hpp"
#include "segment_map.hpp"
#include "strata/align.hpp"

namespace strata::rt {
namespace {

/// Lives in the page just before the block. `check` ties the header to its
/// block so a stray pointer that happens to land on a page boundary inside a
/// huge block is not taken for one.
struct HugeHeader {
  u64 check;
  void* base;      ///< first segment
  usize nsegs;     ///< segments in the run
  usize usable;    ///< writable bytes from the block start
  usize committed; ///< committed bytes from base (for reuse from the cache)
  bool fresh;      ///< freshly mapped: the block reads as zero
};

/// The last RELEASED_RING huge blocks whose memory went back to the OS, so a
/// second free of one can be named a double free (its segments are no longer
/// strata's, which would otherwise read as a foreign pointer).
constexpr usize RELEASED_RING = 64;
constinit uptr g_released[RELEASED_RING] = {};
constinit u32 g_released_next = 0;

void remember_released(const void* p) {
  const u32 i = __atomic_fetch_add(&g_released_next, 1u, __ATOMIC_RELAXED) % RELEASED_RING;
  __atomic_store_n(&g_released[i], reinterpret_cast<uptr>(p), __ATOMIC_RELAXED);
}

constinit usize g_huge_count = 0;
constinit usize g_huge_bytes = 0;

/// A freed run kept for reuse.
struct CachedRun {
  void* base;
  usize nsegs;
  usize committed;
  u64 freed_ms;
};

constexpr usize CACHE_SLOTS = 16;
constexpr usize CACHE_MAX_RUN = 32u << 20;
constexpr usize CACHE_MAX_BYTES = 64u << 20;
constexpr usize CACHE_MIN_BYTES = 8u << 20;

constinit Lock g_cache_lock{};
constinit CachedRun g_cache[CACHE_SLOTS] = {};
constinit usize g_cache_used = 0;  ///< slots in use: g_cache[0, g_cache_used)
constinit usize g_cache_bytes = 0;

// Takes a cached run of at least nsegs segments (and not more than twice
// that, so a small request does not pin a big run). Lock not held on entry.
bool cache_take(usize nsegs, CachedRun& out) {
  LockGuard g(g_cache_lock);
  usize best = CACHE_SLOTS;
  for (usize i = 0; i < g_cache_used; ++i) {
    const usize n = g_cache[i].nsegs;
    if (n >= nsegs && n <= 2 * nsegs && (best == CACHE_SLOTS || n < g_cache[best].nsegs)) best = i;
  }
  if (best == CACHE_SLOTS) return false;
  out = g_cache[best];
  g_cache[best] = g_cache[--g_cache_used];
  __atomic_fetch_sub(&g_cache_bytes, out.nsegs * SEGMENT_SIZE, __ATOMIC_RELAXED);
  return true;
}

// Keeps a freed run if it is small enough and there is room; false otherwise.
bool cache_put(const CachedRun& run) {
  const usize bytes = run.nsegs * SEGMENT_SIZE;
  if (bytes > CACHE_MAX_RUN || g_options.purge_delay_ms == 0) return false;
  // The cache may hold as much as the live huge blocks (8..64 MiB): what it
  // keeps is resident memory, so it scales with what the program uses.
  usize limit = __atomic_load_n(&g_huge_bytes, __ATOMIC_RELAXED);
  limit = limit < CACHE_MIN_BYTES ? CACHE_MIN_BYTES : limit > CACHE_MAX_BYTES ? CACHE_MAX_BYTES : limit;
  LockGuard g(g_cache_lock);
  if (g_cache_used == CACHE_SLOTS || __atomic_load_n(&g_cache_bytes, __ATOMIC_RELAXED) + bytes > limit) return false;
  g_cache[g_cache_used++] = run;
  __atomic_fetch_add(&g_cache_bytes, bytes, __ATOMIC_RELAXED);
  return true;
}

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
bool usable_for(usize n, usize lead, usize page, usize& out) {
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
  // same run only; it is always committed, since the run starts no later.
  if (segment_kind(h) != SegmentKind::Huge) misuse(fn, "invalid pointer (not the start of a huge block)", p);
  if (h->check == 0 && h->usable != 0) misuse(fn, "double free", p);  // freed, run kept in the cache
  if (h->check != check_of(p)) misuse(fn, "invalid pointer (not the start of a huge block)", p);
  return h;
}
// Releases every cached run of fewer than nsegs segments.
void release_smaller_than(usize nsegs) {
  CachedRun victims[CACHE_SLOTS];
  usize n = 0;
  {
    LockGuard g(g_cache_lock);
    for (usize i = 0; i < g_cache_used;) {
      if (g_cache[i].nsegs < nsegs) {
        victims[n++] = g_cache[i];
        __atomic_fetch_sub(&g_cache_bytes, g_cache[i].nsegs * SEGMENT_SIZE, __ATOMIC_RELAXED);
        g_cache[i] = g_cache[--g_cache_used];
      } else {
        ++i;
      }
    }
  }
  for (usize i = 0; i < n; ++i) g_page_source.free_segments(victims[i].base, victims[i].nsegs);
}
}  // namespace

usize huge_usable_for(usize n, usize align) {
  const usize page = os::page_size();
  usize body = 0;
  return usable_for(n, block_offset(align, page) & (page - 1), page, body) ? body : 0;
}

void* huge_alloc(usize n, usize align) {
  const usize page = os::page_size();
  const usize offset = block_offset(align, page);
  usize body = 0, total = 0;
  if (!usable_for(n, offset & (page - 1), page, body) || !checked_add(body, offset, total)) return nullptr;
  usize span = 0;
  if (!align_up_checked(total, SEGMENT_SIZE, span)) return nullptr;
  const usize nsegs = span / SEGMENT_SIZE;
  const usize align_segs = align > SEGMENT_SIZE ? align / SEGMENT_SIZE : 1;
  CachedRun run{};
  bool fresh = true;
  if (align <= page && cache_take(nsegs, run)) {
    fresh = false;
    if (run.committed < total) {
      if (!os::commit(run.base, total)) {
        g_page_source.free_segments(run.base, run.nsegs);
        return nullptr;
      }
      run.committed = total;
    }
  } else {
    // A miss maps fresh memory: cached runs too small for this request go
    // back first, so the cache does not stack resident memory on a growing heap.
    if (huge_cache_bytes() != 0) release_smaller_than(nsegs);
    run.base = g_page_source.alloc_segments(nsegs, align_segs, total, SegmentKind::Huge);
    if (run.base == nullptr) {
      // Out of memory: cached runs are memory too. Give them back and retry once.
      if (huge_cache_release(0) == 0) return nullptr;
      run.base = g_page_source.alloc_segments(nsegs, align_segs, total, SegmentKind::Huge);
      if (run.base == nullptr) return nullptr;
    }
    run.nsegs = nsegs;
    run.committed = total;
  }
  char* block = static_cast<char*>(run.base) + offset;
  auto* h = reinterpret_cast<HugeHeader*>(block - (offset == HEADER_BYTES ? HEADER_BYTES : page));
  h->base = run.base;
  h->nsegs = run.nsegs;
  h->usable = body;
  h->committed = run.committed;
  h->fresh = fresh;
  h->check = check_of(block);
  __atomic_fetch_add(&g_huge_count, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&g_huge_bytes, body, __ATOMIC_RELAXED);
  return block;
}

void huge_free(void* p, const char* fn) {
  HugeHeader* h = header_of(p, fn);
  const CachedRun run{h->base, h->nsegs, h->committed, os::now_ms()};
  __atomic_fetch_sub(&g_huge_count, 1, __ATOMIC_RELAXED);
  __atomic_fetch_sub(&g_huge_bytes, h->usable, __ATOMIC_RELAXED);
  h->check = 0;  // a second free of p now fails the check (if the memory is still ours)
  if (!cache_put(run)) {
    remember_released(p);
    g_page_source.free_segments(run.base, run.nsegs);
  }
}

bool huge_recently_released(const void* p) {
  const uptr a = reinterpret_cast<uptr>(p);
  for (const uptr& r : g_released)
    if (__atomic_load_n(&r, __ATOMIC_RELAXED) == a) return true;
  return false;
}

bool huge_is_fresh(const void* p) { return header_of(p, "calloc")->fresh; }

usize huge_cache_release(u64 max_age_ms) {
  CachedRun victims[CACHE_SLOTS];
  usize n = 0, bytes = 0;
  {
    const u64 now = os::now_ms();
    LockGuard g(g_cache_lock);
    for (usize i = 0; i < g_cache_used;) {
      if (max_age_ms == 0 || now - g_cache[i].freed_ms >= max_age_ms) {
        victims[n++] = g_cache[i];
        __atomic_fetch_sub(&g_cache_bytes, g_cache[i].nsegs * SEGMENT_SIZE, __ATOMIC_RELAXED);
        g_cache[i] = g_cache[--g_cache_used];
      } else {
        ++i;
      }
    }
  }
  for (usize i = 0; i < n; ++i) {  // outside the lock: unmapping takes a while
    bytes += victims[i].nsegs * SEGMENT_SIZE;
    g_page_source.free_segments(victims[i].base, victims[i].nsegs);
  }
  return bytes;
}

usize huge_cache_bytes() { return __atomic_load_n(&g_cache_bytes, __ATOMIC_RELAXED); }
void huge_lock() { g_cache_lock.lock(); }
void huge_unlock() { g_cache_lock.unlock(); }
void huge_reset_lock_in_child() { g_cache_lock.reset(); }

usize huge_usable_size(const void* p, const char* fn) { return header_of(p, fn)->usable; }

bool huge_resize(void* p, usize n) {
  HugeHeader* h = header_of(p, "realloc");
  const usize page = os::page_size();
  usize body = 0;
  if (!usable_for(n, reinterpret_cast<uptr>(p) & (page - 1), page, body)) return false;
  const uptr end_of_run = reinterpret_cast<uptr>(h->base) + h->nsegs * SEGMENT_SIZE;
  if (reinterpret_cast<uptr>(p) + body > end_of_run) return false;  // would leave the run
  if (body > h->usable) {
    if (!os::commit(static_cast<char*>(p) + h->usable, body - h->usable)) return false;
  } else if (body < h->usable) {
    os::purge(static_cast<char*>(p) + body, h->usable - body);
  }
  const usize end = static_cast<usize>(static_cast<char*>(p) + body - static_cast<char*>(h->base));
  if (end > h->committed) h->committed = end;
  __atomic_fetch_add(&g_huge_bytes, body - h->usable, __ATOMIC_RELAXED);  // wraps correctly
  h->usable = body;
  return true;
}

void huge_stats(usize& count, usize& bytes) {
  count = __atomic_load_n(&g_huge_count, __ATOMIC_RELAXED);
  bytes = __atomic_load_n(&g_huge_bytes, __ATOMIC_RELAXED);
}

}  // namespace strata::rt
