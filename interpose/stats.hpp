// strata runtime: statistics (mallinfo2, malloc_stats, malloc_info, strata_stats_*).
#pragma once
#include "core/types.hpp"

namespace strata::rt {

/// A consistent-enough snapshot of the allocator's figures, in bytes.
struct Snapshot {
  usize small_used;     ///< bytes of small blocks out of the central heap (live or thread-cached)
  usize small_total;    ///< bytes the small heap manages
  usize medium_used;    ///< bytes of live medium blocks (with headers)
  usize medium_total;   ///< bytes the medium heap manages
  usize huge_count;     ///< live huge blocks
  usize huge_bytes;     ///< their writable bytes
  usize mapped;         ///< bytes of segments handed to engines
  usize reserved;       ///< address space reserved up front
};

/// Takes each engine's lock in turn; never allocates.
Snapshot take_snapshot();

/// Writes the text report (as strata_stats_print with no options) to stderr.
void print_stats_to_stderr();

}  // namespace strata::rt
