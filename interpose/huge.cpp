// strata runtime: huge blocks.
#include "huge.hpp"

#include "layout.hpp"
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
  void* base;     ///< first segment
  usize nsegs;    ///< segments in the run
  usize usable;   ///< committed, writable bytes from the block start
};

constexpr u64 HUGE_MAGIC = 0x53545241'48554745ull;  // "STRAHUGE"

u64 check_of(const void* block) { return HUGE_MAGIC ^ reinterpret_cast<uptr>(block); }

constinit usize g_huge_count = 0;
constinit usize g_huge_bytes = 0;

HugeHeader* header_of(const void* p, const char* fn) {
  const usize page = os::page_size();
  if (!is_aligned(reinterpret_cast<uptr>(p), page)) misuse(fn, "invalid pointer (inside a huge block)", p);
  auto* h = reinterpret_cast<HugeHeader*>(reinterpret_cast<uptr>(p) - page);
  // The header page may belong to the previous segment of the same run only;
  // it is always committed, since the run starts at least a page earlier.
  if (segment_kind(h) != SegmentKind::Huge || h->check != check_of(p))
    misuse(fn, "invalid pointer (not the start of a huge block)", p);
  return h;
}
}  // namespace

void* huge_alloc(usize n, usize align) {
  const usize page = os::page_size();
  const usize offset = align > page ? align : page;
  usize body = 0, total = 0;
  if (!align_up_checked(n == 0 ? 1 : n, page, body) || !checked_add(body, offset, total)) return nullptr;
  usize span = 0;
  if (!align_up_checked(total, SEGMENT_SIZE, span)) return nullptr;
  const usize nsegs = span / SEGMENT_SIZE;
  const usize align_segs = align > SEGMENT_SIZE ? align / SEGMENT_SIZE : 1;
  char* base = static_cast<char*>(g_page_source.alloc_segments(nsegs, align_segs, total, SegmentKind::Huge));
  if (base == nullptr) return nullptr;
  char* block = base + offset;
  auto* h = reinterpret_cast<HugeHeader*>(block - page);
  h->base = base;
  h->nsegs = nsegs;
  h->usable = body;
  h->check = check_of(block);
  __atomic_fetch_add(&g_huge_count, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&g_huge_bytes, body, __ATOMIC_RELAXED);
  return block;
}

void huge_free(void* p, const char* fn) {
  HugeHeader* h = header_of(p, fn);
  void* base = h->base;
  const usize nsegs = h->nsegs;
  __atomic_fetch_sub(&g_huge_count, 1, __ATOMIC_RELAXED);
  __atomic_fetch_sub(&g_huge_bytes, h->usable, __ATOMIC_RELAXED);
  h->check = 0;  // a second free of p now fails the check (if the memory is still ours)
  g_page_source.free_segments(base, nsegs);
}

usize huge_usable_size(const void* p, const char* fn) { return header_of(p, fn)->usable; }

bool huge_resize(void* p, usize n) {
  HugeHeader* h = header_of(p, "realloc");
  const usize page = os::page_size();
  usize body = 0;
  if (!align_up_checked(n == 0 ? 1 : n, page, body)) return false;
  const uptr end_of_run = reinterpret_cast<uptr>(h->base) + h->nsegs * SEGMENT_SIZE;
  if (reinterpret_cast<uptr>(p) + body > end_of_run) return false;  // would leave the run
  if (body > h->usable) {
    if (!os::commit(static_cast<char*>(p) + h->usable, body - h->usable)) return false;
  } else if (body < h->usable) {
    os::purge(static_cast<char*>(p) + body, h->usable - body);
  }
  __atomic_fetch_add(&g_huge_bytes, body - h->usable, __ATOMIC_RELAXED);  // wraps correctly
  h->usable = body;
  return true;
}

void huge_stats(usize& count, usize& bytes) {
  count = __atomic_load_n(&g_huge_count, __ATOMIC_RELAXED);
  bytes = __atomic_load_n(&g_huge_bytes, __ATOMIC_RELAXED);
}

}  // namespace strata::rt
