// strata runtime: the statistics report, laid out once for text and JSON
// through the Emitter from Runtime::snapshot (consistent per heap, not across
// heaps: each is read under its own lock in turn).
//
//
// Text (default):                         JSON (opts "J"):
//   ___ Begin strata statistics ___       {"strata": {
//   Version: 0.1.0                          "version": "0.1.0",
//   Build-time option settings              "config": {...},
//   Run-time option settings                "opt": {...},
//   Allocated: ..., active: ..., ...        "stats": {"allocated": ..., ...,
//   Small heap / Medium heap / Huge           "small": {...}, "medium": {...},
//   Memory limits / Transparent huge pages    "huge": {...}, "limits": {...}, "thp": {...},
//   Size classes (one row per class)          "classes": [...]}}}
//   ___ End strata statistics ___
#include "runtime/stats_report.hpp"

#include "platform/os.hpp"
#include "runtime/runtime.hpp"
#include "runtime/stats_emit.hpp"
#include "strata/strata_version.h"

namespace strata::rt {

// ---- layout --------------------------------------------------------------------
namespace {

/// Which sections opts asks for (jemalloc's letters; unknown letters are ignored).
struct Sections {
  bool json = false, general = true, engines = true, classes = true, huge = true, limits = true;
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
      case 'L': s.limits = false; break;
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
    char value[OPTION_TEXT_MAX + 1];
    format_option(g_runtime.options, i, value, sizeof value);
    const OptionType t = option_info(i).type;
    e.kv_raw(option_info(i).name, label, value, t == OptionType::String || t == OptionType::Choice || t == OptionType::Path);
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
  e.kv("transfer", "bytes of freed chains kept for other threads (in used)", s.small_transfer);
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
  e.kv("moves", "reallocs that moved pages rather than copy", s.huge_moves);
  e.kv("segments", "segment bytes (live and cached)", s.huge_segments);
  e.end();
}

void emit_limits(Emitter& e, const Snapshot& s) {
  const LimitFigures& l = s.limits;
  e.begin("limits", "Memory limits (of mapped bytes; 0 = none):");
  e.kv("hard", "hard limit", l.hard);
  e.kv_str("hard_source", "hard limit from", limit_source_name(static_cast<LimitSource>(l.hard_source)));
  e.kv("soft", "soft limit", l.soft);
  e.kv_str("soft_source", "soft limit from", limit_source_name(static_cast<LimitSource>(l.soft_source)));
  e.kv("cgroup_version", "cgroup version (0 = no memory cgroup)", l.cgroup_version);
  e.kv("cgroup_max", "cgroup memory.max", l.cgroup_max);
  e.kv("cgroup_high", "cgroup memory.high", l.cgroup_high);
  e.kv("hard_hits", "allocations that met the hard limit", l.hard_hits);
  e.kv("hard_failures", "of which failed after reclaiming", l.hard_failures);
  e.kv("soft_passes", "purge passes forced by the soft limit", l.soft_passes);
  e.kv("reclaimed", "bytes given back because of a limit", l.reclaimed);
  e.end();
  e.begin("thp", "Transparent huge pages:");
  e.kv_str("mode", "mode (opt.thp)", THP_CHOICES[static_cast<usize>(g_runtime.pages.thp())]);
  e.kv("anon_huge", "AnonHugePages of strata's segments (bytes)", g_runtime.pages.anon_huge_bytes());
  e.end();
}

// Always printed: no opts letter hides it.
void emit_guarded(Emitter& e, const Snapshot& s) {
  e.begin("guarded", "Guarded sampling:");
  e.kv("samples", "allocations placed in a guarded slot", s.guarded.samples);
  e.kv("slots", "slots in the pool (0 = off)", s.guarded.slots);
  e.kv("in_use", "slots holding a live block", s.guarded.in_use);
  e.kv("faults", "errors reported", s.guarded.faults);
  e.end();
}

void emit_classes(Emitter& e) {
  ClassRow rows[NUM_SMALL_CLASSES];
  g_runtime.small.collect_classes(rows);
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
  const Snapshot s = g_runtime.snapshot();
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
  if (sec.limits) emit_limits(e, s);
  emit_guarded(e, s);
  if (sec.classes) emit_classes(e);
  e.end();
  e.end("___ End strata statistics ___");
}

void write_to_stderr(void*, const char* text) {
  usize n = 0;
  while (text[n] != 0) ++n;
  os::write_stderr(text, n);
}

void print_stats_to_stderr() { write_stats(write_to_stderr, nullptr, g_runtime.options.stats_print_opts); }

}  // namespace strata::rt
