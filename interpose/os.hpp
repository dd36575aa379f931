// strata runtime: the thin OS layer (Linux). Address-space reservation,
// commit, direct mappings, raw stderr writes and a coarse clock.
//
// Nothing here allocates or touches stdio, so it is safe from the very first
// malloc (inside the dynamic loader) and inside fork handlers.
#pragma once
#include "strata/core/types.hpp"

namespace strata::os {

/// The system page size (read once from the auxiliary vector at init).
usize page_size();

/// Reserves `bytes` of address space aligned to `align` (a power of two >= the
/// page size), inaccessible until committed. Null when the kernel refuses
/// (RLIMIT_AS, vm.max_map_count). The result is never freed by reserve().
void* reserve_aligned(usize bytes, usize align);

/// Makes [p, p+bytes) readable and writable (page-aligned range inside a
/// reservation). False when the kernel refuses (overcommit limits).
bool commit(void* p, usize bytes);

/// Gives the physical pages of [p, p+bytes) back to the OS; the range stays
/// mapped and reads as zero afterwards (MADV_DONTNEED).
void purge(void* p, usize bytes);

/// Returns a committed or reserved range to the OS entirely.
void release(void* p, usize bytes);

/// Outcome of map_fixed.
enum class MapResult { Mapped, Taken, NoMemory };

/// Maps [p, p+bytes) readable/writable (pages commit on first touch), only
/// where nothing is mapped yet: Taken when any of it is (the range is left
/// as it was), NoMemory when the kernel refuses (limits).
MapResult map_fixed(void* p, usize bytes);

/// Maps a fresh readable/writable range of `bytes` aligned to `align`. Null on failure.
void* map_aligned(usize bytes, usize align);

/// Writes the whole buffer to fd 2, retrying on EINTR; never allocates.
void write_stderr(const char* s, usize n);

/// Monotonic coarse clock in milliseconds (vDSO, no syscall on x86_64).
u64 now_ms();

/// CPUs this process may run on (sched_getaffinity; 1 when unknown). No allocation.
u32 cpu_count();

}  // namespace strata::os
