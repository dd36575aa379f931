// strata runtime: statistics entry points. The text report is built in a
// stack buffer and written with write(2), so printing never allocates.
#include "stats.hpp"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "central.hpp"
#include "export.hpp"
#include "huge.hpp"
#include "os.hpp"
#include "page_source.hpp"
#include "report.hpp"

namespace strata::rt {

Snapshot take_snapshot() {
  Snapshot s{};
  g_small.stats(s.small_used, s.small_total);
  g_medium.stats(s.medium_used, s.medium_total);
  huge_stats(s.huge_count, s.huge_bytes);
  s.mapped = g_page_source.mapped_bytes();
  s.reserved = g_page_source.reserved_bytes();
  return s;
}

namespace {
/// Appends "name: value\n" lines into a fixed buffer.
struct Writer {
  char buf[1024];
  usize n = 0;
  void put(const char* s) {
    for (; *s != 0 && n < sizeof(buf) - 1; ++s) buf[n++] = *s;
  }
  void line(const char* name, u64 v) {
    put(name);
    char num[24];
    const usize k = format_dec(num, v);
    num[k] = 0;
    put(num);
    put("\n");
  }
};

void write_report(void (*out)(void*, const char*), void* opaque) {
  const Snapshot s = take_snapshot();
  Writer w;
  w.put("___ Begin strata statistics ___\n");
  w.line("Allocated: ", s.small_used + s.medium_used + s.huge_bytes);
  w.line("Mapped: ", s.mapped);
  w.line("Reserved: ", s.reserved);
  w.line("Small heap used: ", s.small_used);
  w.line("Small heap total: ", s.small_total);
  w.line("Medium heap used: ", s.medium_used);
  w.line("Medium heap total: ", s.medium_total);
  w.line("Huge blocks: ", s.huge_count);
  w.line("Huge bytes: ", s.huge_bytes);
  w.put("___ End strata statistics ___\n");
  w.buf[w.n] = 0;
  out(opaque, w.buf);
}

void to_stderr(void*, const char* s) { os::write_stderr(s, ::strlen(s)); }
}  // namespace

void print_stats_to_stderr() { write_report(to_stderr, nullptr); }

}  // namespace strata::rt

using namespace strata;
using namespace strata::rt;

extern "C" {

/// jemalloc's signature: write_cb(opaque, text) receives the report; null
/// write_cb writes to stderr. opts is accepted for compatibility.
STRATA_EXPORT void strata_stats_print(void (*write_cb)(void*, const char*), void* opaque, const char*) noexcept {
  write_report(write_cb != nullptr ? write_cb : to_stderr, opaque);
}

STRATA_EXPORT struct mallinfo2 strata_mallinfo2() noexcept {
  const Snapshot s = take_snapshot();
  struct mallinfo2 m{};
  m.arena = s.small_total + s.medium_total;
  m.ordblks = 0;
  m.hblks = s.huge_count;
  m.hblkhd = s.huge_bytes;
  m.uordblks = s.small_used + s.medium_used;
  m.fordblks = m.arena - m.uordblks;
  m.keepcost = 0;
  return m;
}

STRATA_EXPORT struct mallinfo strata_mallinfo() noexcept {
  const struct mallinfo2 m2 = strata_mallinfo2();
  struct mallinfo m{};
  auto clip = [](usize v) { return static_cast<int>(v > 0x7fffffffu ? 0x7fffffffu : v); };
  m.arena = clip(m2.arena);
  m.hblks = clip(m2.hblks);
  m.hblkhd = clip(m2.hblkhd);
  m.uordblks = clip(m2.uordblks);
  m.fordblks = clip(m2.fordblks);
  return m;
}

STRATA_EXPORT void strata_malloc_stats() noexcept { print_stats_to_stderr(); }

STRATA_EXPORT int strata_malloc_info(int options, FILE* fp) noexcept {
  if (options != 0 || fp == nullptr) {
    errno = EINVAL;
    return -1;
  }
  const Snapshot s = take_snapshot();
  fprintf(fp,
          "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n"
          "<total type=\"small\" count=\"0\" size=\"%zu\"/>\n<total type=\"medium\" count=\"0\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n</heap>\n"
          "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n<system type=\"current\" size=\"%zu\"/>\n"
          "<system type=\"max\" size=\"%zu\"/>\n</malloc>\n",
          s.small_used, s.medium_used, s.small_total + s.medium_total, s.small_total + s.medium_total, s.huge_count,
          s.huge_bytes, s.mapped, s.mapped);
  return 0;
}

#if STRATA_OVERRIDE
struct mallinfo2 mallinfo2() noexcept STRATA_ALIAS(strata_mallinfo2);
struct mallinfo mallinfo() noexcept STRATA_ALIAS(strata_mallinfo);
void malloc_stats() noexcept STRATA_ALIAS(strata_malloc_stats);
int malloc_info(int, FILE*) noexcept STRATA_ALIAS(strata_malloc_info);
#endif
}
