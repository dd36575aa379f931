// strata exports: the statistics entry points (strata_stats_print,
// glibc's mallinfo/mallinfo2/malloc_stats/malloc_info, jemalloc's
// malloc_stats_print). The figures come from Runtime::snapshot(); the report
// from write_stats() (src/runtime/stats_report.hpp), which never allocates.
#include <errno.h>
#include <malloc.h>
#include <stdio.h>

#include "export.hpp"
#include "platform/os.hpp"
#include "runtime/runtime.hpp"
#include "runtime/stats_report.hpp"

using namespace strata;
using namespace strata::rt;

namespace {
int clip_int(usize v) { return static_cast<int>(v > 0x7fffffffu ? 0x7fffffffu : v); }
}  // namespace

extern "C" {

/// jemalloc's malloc_stats_print: the report to write_cb(opaque, text), in
/// pieces (null write_cb: stderr). opts letters: J (JSON), g (no version,
/// build and run-time options), m/a (no engine figures), b (no size-class
/// rows), l (no huge-block figures). Never allocates (write_cb may).
STRATA_EXPORT void strata_stats_print(void (*write_cb)(void*, const char*), void* opaque, const char* opts) noexcept {
  write_stats(write_cb != nullptr ? write_cb : write_to_stderr, opaque, opts);
}

/// glibc's mallinfo2 with strata's figures: arena = bytes the small and medium
/// heaps (and the heap profiler's heap of sampled blocks) manage, uordblks =
/// their live bytes, fordblks = the rest, hblks/hblkhd = live blocks with
/// pages of their own (huge blocks, page-rounded, and guarded samples, their
/// usable bytes), keepcost = small heap bytes in free runs (what malloc_trim
/// can give back). Others are 0. Every live block is in uordblks + hblkhd.
STRATA_EXPORT struct mallinfo2 strata_mallinfo2() noexcept {
  const Snapshot s = g_runtime.snapshot();
  struct mallinfo2 m{};
  m.arena = s.small.managed + s.medium.managed + s.sampled.managed;
  m.hblks = s.huge_count + s.guarded.in_use;
  m.hblkhd = s.huge_bytes + s.guarded.live_bytes;
  m.uordblks = s.small.used + s.medium.used + s.sampled.used;
  m.fordblks = m.arena - m.uordblks;
  m.keepcost = s.small_free_runs;
  return m;
}

/// mallinfo2 with every field clipped to INT_MAX (glibc's old int fields).
STRATA_EXPORT struct mallinfo strata_mallinfo() noexcept {
  const struct mallinfo2 m2 = strata_mallinfo2();
  struct mallinfo m{};
  m.arena = clip_int(m2.arena);
  m.hblks = clip_int(m2.hblks);
  m.hblkhd = clip_int(m2.hblkhd);
  m.uordblks = clip_int(m2.uordblks);
  m.fordblks = clip_int(m2.fordblks);
  m.keepcost = clip_int(m2.keepcost);
  return m;
}

/// glibc's malloc_stats: glibc's summary lines (programs and glibc's own
/// tests read them), then strata's text report, on stderr. Like glibc it is
/// not a cancellation point: write(2) is one, so cancellation is disabled
/// around the output and restored after.
STRATA_EXPORT void strata_malloc_stats() noexcept {
  const int old_state = os::disable_cancel();
  const struct mallinfo2 m = strata_mallinfo2();
  char buf[512];
  const int n = ::snprintf(buf, sizeof buf,
                           "Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\nTotal (incl. mmap):\n"
                           "system bytes     = %10zu\nin use bytes     = %10zu\nmax mmap regions = %10zu\n"
                           "max mmap bytes   = %10zu\n",
                           m.arena, m.uordblks, m.arena + m.hblkhd, m.uordblks + m.hblkhd, m.hblks, m.hblkhd);
  if (n > 0) write_to_stderr(nullptr, buf);
  write_stats(write_to_stderr, nullptr, "");
  os::restore_cancel(old_state);
}

/// glibc's malloc_info(0, fp): the same XML root and elements. <sizes> lists,
/// per small size class in use, the free slots of its spans (count, bytes);
/// the totals give small, medium and huge ("mmap") live bytes. options != 0
/// or a null fp: EINVAL. Writes with fprintf (which may allocate).
STRATA_EXPORT int strata_malloc_info(int options, FILE* fp) noexcept {
  if (options != 0 || fp == nullptr) {
    errno = EINVAL;
    return -1;
  }
  const Snapshot s = g_runtime.snapshot();
  ClassRow rows[NUM_SMALL_CLASSES];
  g_runtime.small.collect_classes(rows);
  const usize heaps = s.small.segments + s.medium.segments;
  fprintf(fp, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
  usize from = 1;
  for (const ClassRow& r : rows) {
    const usize slots = r.span_bytes / r.size;
    const usize free_slots = slots > r.blocks ? slots - r.blocks : 0;
    if (r.spans != 0 && free_slots != 0)
      fprintf(fp, "  <size from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n", from, r.size, free_slots * r.size,
              free_slots);
    from = r.size + 1;
  }
  fprintf(fp,
          "</sizes>\n<total type=\"small\" count=\"0\" size=\"%zu\"/>\n"
          "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n</heap>\n"
          "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n</malloc>\n",
          s.small.used, s.medium.used, heaps, heaps, heaps, heaps, s.huge_count, s.huge_bytes, s.mapped, s.mapped,
          s.mapped, s.mapped);
  return 0;
}

#if STRATA_OVERRIDE
struct mallinfo2 mallinfo2() noexcept STRATA_ALIAS(strata_mallinfo2);
struct mallinfo mallinfo() noexcept STRATA_ALIAS(strata_mallinfo);
void malloc_stats() noexcept STRATA_ALIAS(strata_malloc_stats);
int malloc_info(int, FILE*) noexcept STRATA_ALIAS(strata_malloc_info);
void malloc_stats_print(void (*)(void*, const char*), void*, const char*) noexcept STRATA_ALIAS(strata_stats_print);
#endif
}
