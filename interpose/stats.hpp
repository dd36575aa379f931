// strata runtime: statistics. One snapshot of the allocator's figures feeds
// every reader: the text and JSON report (strata_stats_print, malloc_stats,
// stats at exit), mallinfo/mallinfo2, malloc_info and mallctl("stats.*").
//
// Meaning of the summary figures (jemalloc's names, strata's memory):
//   allocated  bytes of live blocks: small blocks at their class size (blocks
//              held in thread caches count as allocated: the central heap
//              cannot see them), medium blocks with their 16-byte header,
//              huge blocks rounded to pages
//   active     bytes of pages holding live blocks: small spans and large
//              buddy blocks, medium blocks, huge blocks (>= allocated)
//   metadata   engine bookkeeping inside the segments (Heap region headers,
//              TLSF pool overhead) plus one header page per huge block
//   resident   pages of strata's segments in RAM (mincore), metadata included
//   mapped     bytes of segments handed to the engines
//   retained   reserved address space not handed out (no memory behind it)
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// Figures of one engine, in bytes.
struct EngineFigures {
  usize segments;  ///< bytes of the segments the engine holds
  usize managed;   ///< bytes the engine manages (segments less its metadata)
  usize used;      ///< bytes of live blocks
};

/// A consistent-enough snapshot: each engine is read under its own lock in turn.
struct Snapshot {
  usize allocated, active, metadata, resident, mapped, retained;
  usize reserved;           ///< address space reserved at start
  EngineFigures small;      ///< Heap (slab+buddy) behind the thread caches, all arenas
  usize small_arenas;       ///< arenas in use
  usize small_free_runs;    ///< small bytes in free buddy runs (no span)
  usize small_spare;        ///< small bytes in empty spans kept per class
  EngineFigures medium;     ///< Tlsf
  usize huge_count;         ///< live huge blocks
  usize huge_bytes;         ///< their bytes (page-rounded)
  usize huge_segments;      ///< bytes of huge segments (live blocks and cached runs)
  usize huge_cached;        ///< bytes of freed runs kept committed for reuse
};

/// One row per small size class.
struct ClassRow {
  usize size;        ///< block size of the class
  usize blocks;      ///< live blocks out of the central heap (thread caches included)
  usize spans;       ///< spans (slabs) of the class
  usize span_bytes;  ///< bytes of those spans
};

/// Takes the snapshot (each engine's lock in turn). Never allocates.
Snapshot take_snapshot();

/// Fills rows[0, NUM_SMALL_CLASSES) (engine_config.hpp), one per small size
/// class, under the small heap's lock. Never allocates.
void take_class_rows(ClassRow* rows);

/// Writer callback of the report (jemalloc's write_cb): text, NUL-terminated.
using WriteCb = void (*)(void* opaque, const char* text);

/// Writes the statistics report to cb in pieces of at most a few KiB, built
/// in a stack buffer (never allocates; cb may allocate). opts takes jemalloc's
/// letters: J (JSON instead of text), g (no general information: version,
/// build and run-time options), m or a (no engine figures), b (no size-class
/// rows), l (no huge-block figures). Null opts means "".
void write_stats(WriteCb cb, void* opaque, const char* opts);

/// write_stats to stderr with opts from the stats_print_opts option (exit report).
void print_stats_to_stderr();

/// write_stats's writer for stderr (opaque unused).
void write_to_stderr(void* opaque, const char* text);

}  // namespace strata::rt
