// strata runtime: the figures of statistics. One snapshot (Runtime::snapshot)
// feeds every reader: the text and JSON report (stats_report.hpp:
// strata_stats_print, malloc_stats, stats at exit), mallinfo/mallinfo2,
// malloc_info and mallctl("stats.*").
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

/// The memory limits in effect (limits.hpp) and what they did.
struct LimitFigures {
  usize hard;             ///< hard limit in effect (0: none)
  usize soft;             ///< soft limit in effect (0: none)
  u8 hard_source;         ///< LimitSource of each
  u8 soft_source;
  u32 cgroup_version;     ///< 0: no memory cgroup found (or cgroup_limit off), 1 or 2
  u64 cgroup_max;         ///< memory.max / memory.limit_in_bytes (0: none)
  u64 cgroup_high;        ///< memory.high (0: none)
  u64 hard_hits;          ///< allocations that met the hard limit (each then reclaimed)
  u64 hard_failures;      ///< of those, the ones that failed after reclaiming
  u64 soft_passes;        ///< purge passes forced by the soft limit
  u64 reclaimed;          ///< bytes given back by those reclaims and passes
};

/// The guarded pool (runtime/guarded.hpp).
struct GuardedFigures {
  u64 samples;       ///< allocations placed in a guarded slot since the start
  u64 slots;         ///< slots in the pool (0: guarded sampling off)
  u64 in_use;        ///< slots holding a live block now
  u64 faults;        ///< errors reported (faults, double and invalid frees, overwritten padding)
  u64 live_bytes;    ///< usable bytes of the live guarded blocks (in stats.allocated)
  u64 mapped;        ///< bytes of the pool's mappings (not in stats.mapped: outside the page source)
};

/// A consistent-enough snapshot: each heap is read under its own lock in turn.
struct Snapshot {
  usize allocated, active, metadata, resident, mapped, retained;
  usize reserved;           ///< address space reserved at start
  EngineFigures small;      ///< Heap (slab+buddy) behind the thread caches, all arenas
  usize small_arenas;       ///< arenas in use
  usize small_free_runs;    ///< small bytes in free buddy runs (no span)
  usize small_spare;        ///< small bytes in empty spans kept per class
  usize small_transfer;     ///< small bytes in chains kept between threads (counted as used)
  EngineFigures medium;     ///< Tlsf
  usize huge_count;         ///< live huge blocks
  usize huge_bytes;         ///< their bytes (page-rounded)
  usize huge_segments;      ///< bytes of huge segments (live blocks and cached runs)
  usize huge_cached;        ///< bytes of freed runs kept committed for reuse
  usize huge_moves;         ///< reallocs that moved a huge block's pages instead of copying them
  LimitFigures limits;      ///< memory limits (MemoryLimits::collect)
  EngineFigures sampled;    ///< the heap profiler's Tlsf of sampled blocks (runtime/prof.hpp)
  GuardedFigures guarded;   ///< the guarded pool (runtime/guarded.hpp)
};

/// One row per small size class.
struct ClassRow {
  usize size;        ///< block size of the class
  usize blocks;      ///< live blocks out of the central heap (thread caches included)
  usize spans;       ///< spans (slabs) of the class
  usize span_bytes;  ///< bytes of those spans
};

/// stats.* as of the last write of mallctl("epoch") (ctl.cpp): the figures
/// are copied here so that a read of stats.allocated after an epoch write
/// sees the same snapshot as stats.active, as jemalloc's do.
struct StatsEpoch {
  enum Index : usize { ALLOCATED, ACTIVE, METADATA, RESIDENT, MAPPED, RETAINED, HUGE_MOVES, COUNT };
  u64 values[COUNT] = {};
  u64 epoch = 0;  ///< epoch writes so far (0: never refreshed)
};

}  // namespace strata::rt
