// strata platform: the memory limit of the process's own cgroup (Linux), read
// without allocating (text_file.hpp), so that a process in a container knows
// the limit its OOM killer enforces.
//
// Discovery: /proc/self/cgroup names the process's cgroup on the v2 hierarchy
// (the "0::<path>" line) and on the v1 memory hierarchy ("<n>:...memory...:<path>");
// /proc/self/mountinfo says where each hierarchy is mounted (a mount may show
// only part of the hierarchy: its root field, which a cgroup namespace or a
// container runtime sets). v2 is used when its directory has memory.max
// (memory.max and memory.high, each "max" or bytes); otherwise v1's
// memory.limit_in_bytes (values of 2^62 and more mean "no limit"). A limit
// set on an ancestor applies too, so the directories from the process's own
// up to the mount point are all read and the lowest value wins.
// No file, "max", a malformed value or an unreadable file: no limit, silently.
#pragma once
#include "strata/core/types.hpp"

namespace strata::rt {

/// What read_cgroup_memory found.
struct CgroupMemory {
  u32 version = 0;  ///< 0: no memory cgroup found, else 1 or 2
  u64 max = 0;      ///< memory.max (v2) or memory.limit_in_bytes (v1); 0: none
  u64 high = 0;     ///< memory.high (v2 only); 0: none
};

/// Longest cgroup directory path handled (longer ones: no limit).
inline constexpr usize CGROUP_PATH_MAX = 255;

/// The memory limits of the calling process's cgroup. `dir`, when non-empty,
/// is taken as the cgroup directory itself (memory.max / memory.high, else
/// memory.limit_in_bytes; no ancestors): the option cgroup_dir, for tests
/// and for containers that mount the cgroup elsewhere. Never allocates; a few
/// open/read system calls, so call it with no strata lock held.
CgroupMemory read_cgroup_memory(const char* dir);

}  // namespace strata::rt
