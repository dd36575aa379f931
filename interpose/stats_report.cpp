// strata runtime: statistics, collected and laid out.
//
// Collection (take_snapshot, take_class_rows) reads each engine under its own
// lock, one at a time; the census of segments and the resident count work on
// the segment table and mincore(2) without any lock, so the figures are
// consistent per engine, not across engines.
//
// Layout (write_stats), once for text and JSON through the Emitter:
//
// Text (default):                         JSON (opts "J"):
//   ___ Begin strata statistics ___       {"strata": {
//   Version: 0.1.0                          "version": "0.1.0",
//   Build-time option settings              "config": {...},
//   Run-time option settings                "opt": {...},
//   Allocated: ..., active: ..., ...        "stats": {"allocated": ..., ...,
//   Small heap / Medium heap / Huge           "small": {...}, "medium": {...},
//   Size classes (one row per class)          "huge": {...}, "classes": [...]}}}
//   ___ End strata statistics ___
#include <sys/mman.h>

#include "alloc.hpp"
#include "central.hpp"
#include "engine_config.hpp"
#include "huge.hpp"
#include "options.hpp"
#include "os.hpp"
#include "page_source.hpp"
#include "segment_map.hpp"
#include "stats.hpp"
#include "stats_emit.hpp"
#include "strata/strata_version.h"

namespace strata::rt {

// ---- collection ----------------------------------------------------------------
namespace {

/// Bytes of segments of each kind inside the reservation, and how many of
/// their pages are resident.
struct Census {
  usize bytes[4];
  usize resident;
};

/// Resident bytes of one segment (0 when mincore refuses).
usize resident_in_segment(void* seg) {
  const usize page = os::page_size();
  unsigned char vec[SEGMENT_SIZE / 4096];
  const usize pages = SEGMENT_SIZE / page;
  if (pages > sizeof vec || ::mincore(seg, SEGMENT_SIZE, vec) != 0) return 0;
  usize n = 0;
  for (usize i = 0; i < pages; ++i) n += vec[i] & 1u;
  return n * page;
}

// Segments mapped outside the reservation (when it was full or refused) are
// not in the census: their bytes still count in `mapped`, not in `resident`.
Census take_census() {
  Census c{};
  const uptr base = g_page_source.reserve_base();
  const usize nsegs = g_page_source.reserved_bytes() / SEGMENT_SIZE;
  for (usize i = 0; i < nsegs; ++i) {
    void* seg = reinterpret_cast<void*>(base + i * SEGMENT_SIZE);
    const auto kind = static_cast<usize>(segment_kind(seg));
    if (kind == 0 || kind >= 4) continue;
    c.bytes[kind] += SEGMENT_SIZE;
    c.resident += resident_in_segment(seg);
  }
  return c;
}

usize sub_or_zero(usize a, usize b) { return a > b ? a - b : 0; }
}  // namespace

Snapshot take_snapshot() {
  Snapshot s{};
  g_small.inspect([&](const SmallEngine& e) {
    s.small.managed += e.total_bytes();
    s.small.used += e.used_bytes();
    s.small_free_runs += e.free_run_bytes();
    s.small_spare += e.spare_bytes();
  });
  s.small_arenas = g_small.count();
  g_medium.inspect([&](const MediumEngine& e) {
    s.medium.managed = e.total_bytes();
    s.medium.used = e.used_bytes();
  });
  huge_stats(s.huge_count, s.huge_bytes);
  s.huge_cached = huge_cache_bytes();
  const Census c = take_census();
  s.small.segments = c.bytes[static_cast<usize>(SegmentKind::Small)];
  s.medium.segments = c.bytes[static_cast<usize>(SegmentKind::Medium)];
  s.huge_segments = c.bytes[static_cast<usize>(SegmentKind::Huge)];
  s.mapped = g_page_source.mapped_bytes();
  s.reserved = g_page_source.reserved_bytes();
  s.allocated = s.small.used + s.medium.used + s.huge_bytes;
  s.active = sub_or_zero(s.small.managed, s.small_free_runs) + s.medium.used + s.huge_bytes;
  s.metadata = sub_or_zero(s.small.segments, s.small.managed) + sub_or_zero(s.medium.segments, s.medium.managed) +
               s.huge_count * os::page_size();
  s.resident = c.resident;
  s.retained = sub_or_zero(s.reserved, s.small.segments + s.medium.segments + s.huge_segments);
  return s;
}

void take_class_rows(ClassRow* rows) {
  for (u32 c = 0; c < NUM_SMALL_CLASSES; ++c) rows[c] = ClassRow{small_class_size(c), 0, 0, 0};
  g_small.inspect([&](const SmallEngine& e) {
    e.for_each_slab_span([&](u32 cls, usize live, usize span_bytes) {
      if (cls >= NUM_SMALL_CLASSES) return;
      rows[cls].blocks += live;
      rows[cls].spans += 1;
      rows[cls].span_bytes += span_bytes;
    });
  });
}

// ---- layout --------------------------------------------------------------------
namespace {

/// Which sections opts asks for (jemalloc's letters; unknown letters are ignored).
struct Sections {
  bool json = false, general = true, engines = true, classes = true, huge = true;
};

Sections parse_opts(const char* opts) {
  Sections s;
  for (const char* c = opts; c != nullptr && *c != 0; ++c) {
    switch (*c) {
      case 'J': s.json = true; break;
      case 'g': s.general = false; break;
      case 'm':
      case 'a': s.engines = false; break;
      case 'b': s.classes = false; break;
      case 'l': s.huge = false; break;
      default: break;
    }
  }
  return s;
}

void emit_general(Emitter& e) {
  e.kv_str("version", "Version", STRATA_VERSION_STRING);
  e.begin("config", "Build-time option settings");
#ifdef NDEBUG
  e.kv_bool("debug", "config.debug", false);
#else
  e.kv_bool("debug", "config.debug", true);
#endif
  e.kv_str("default_conf", "config.default_conf", default_conf());
  e.kv("segment_size", "config.segment_size", SEGMENT_SIZE);
  e.kv("small_max", "config.small_max", SMALL_MAX);
  e.kv("medium_max", "config.medium_max", MEDIUM_MAX);
  e.kv("page_size", "config.page_size", os::page_size());
  e.end();
  e.begin("opt", "Run-time option settings");
  for (usize i = 0; i < option_count(); ++i) {
    char label[48] = "opt.";
    usize n = 4;
    for (const char* s = option_info(i).name; *s != 0 && n + 1 < sizeof label; ++s) label[n++] = *s;
    label[n] = 0;
    char value[32];
    format_option(g_options, i, value, sizeof value);
    e.kv_raw(option_info(i).name, label, value, option_info(i).type == OptionType::String);
  }
  e.end();
}

void emit_engines(Emitter& e, const Snapshot& s) {
  e.begin("small", "Small heap (slab+buddy Heap; blocks up to config.small_max, through the thread caches):");
  e.kv("arenas", "arenas", s.small_arenas);
  e.kv("segments", "segment bytes", s.small.segments);
  e.kv("managed", "managed bytes", s.small.managed);
  e.kv("used", "live block bytes (thread-cached included)", s.small.used);
  e.kv("free_runs", "free run bytes (no span)", s.small_free_runs);
  e.kv("spare", "empty spare span bytes", s.small_spare);
  e.end();
  e.begin("medium", "Medium heap (TLSF; blocks up to config.medium_max):");
  e.kv("segments", "segment bytes", s.medium.segments);
  e.kv("managed", "managed bytes", s.medium.managed);
  e.kv("used", "live block bytes (headers included)", s.medium.used);
  e.end();
}

void emit_huge(Emitter& e, const Snapshot& s) {
  e.begin("huge", "Huge blocks (whole segments, unmapped on free):");
  e.kv("count", "live blocks", s.huge_count);
  e.kv("bytes", "live bytes", s.huge_bytes);
  e.kv("cached", "freed runs kept for reuse (bytes)", s.huge_cached);
  e.kv("segments", "segment bytes (live and cached)", s.huge_segments);
  e.end();
}

void emit_classes(Emitter& e) {
  ClassRow rows[NUM_SMALL_CLASSES];
  take_class_rows(rows);
  static constexpr const char* COLS[] = {"size", "blocks", "bytes", "spans", "span_bytes", "util_pct"};
  e.table_begin("classes", "Size classes (small heap; blocks = live, thread-cached included):", COLS, 6);
  for (const ClassRow& r : rows) {
    if (r.spans == 0) continue;  // classes never used: no row
    const u64 bytes = r.blocks * r.size;
    const u64 v[6] = {r.size, r.blocks, bytes, r.spans, r.span_bytes, r.span_bytes != 0 ? bytes * 100 / r.span_bytes : 0};
    e.table_row(v);
  }
  e.table_end();
}
}  // namespace

void write_stats(WriteCb cb, void* opaque, const char* opts) {
  ensure_initialised();  // the options block must show loaded options
  const Sections sec = parse_opts(opts);
  const Snapshot s = take_snapshot();
  Emitter e(cb, opaque, sec.json);
  e.begin("strata", "___ Begin strata statistics ___");
  if (sec.general) emit_general(e);
  e.begin("stats", nullptr);
  static constexpr const char* KEYS[] = {"allocated", "active", "metadata", "resident", "mapped", "retained"};
  static constexpr const char* LABELS[] = {"Allocated", "active", "metadata", "resident", "mapped", "retained"};
  const u64 summary[] = {s.allocated, s.active, s.metadata, s.resident, s.mapped, s.retained};
  e.kv_line(KEYS, LABELS, summary, 6);
  e.kv("reserved", "Reserved address space", s.reserved);
  if (sec.engines) emit_engines(e, s);
  if (sec.huge) emit_huge(e, s);
  if (sec.classes) emit_classes(e);
  e.end();
  e.end("___ End strata statistics ___");
}

void write_to_stderr(void*, const char* text) {
  usize n = 0;
  while (text[n] != 0) ++n;
  os::write_stderr(text, n);
}

void print_stats_to_stderr() { write_stats(write_to_stderr, nullptr, g_options.stats_print_opts); }

}  // namespace strata::rt
