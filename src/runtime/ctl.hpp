// strata runtime: named controls (jemalloc's mallctl) — the interface the
// export layer calls. The names, their types and errors are listed at the top
// of ctl.cpp, which holds the tree.
#pragma once
#include <stddef.h>

#include "strata/core/types.hpp"

namespace strata::rt {

/// Deepest name (components), as jemalloc's CTL_MAX_DEPTH.
inline constexpr usize CTL_MAX_DEPTH = 7;

/// The caller's buffers of one mallctl call (any may be null).
struct CtlIo {
  void* oldp;
  size_t* oldlenp;
  const void* newp;
  size_t newlen;
};

/// Translates name (non-null) into mib (capacity *miblen, set to the depth
/// on success). 0, or ENOENT for an unknown name, an empty component or more
/// components than the capacity.
int ctl_name_to_mib(const char* name, size_t* mib, size_t* miblen);

/// Runs the control at mib[0, len) (non-null mib). 0 or an errno: ENOENT
/// when the path is unknown or ends before a control, EPERM writing a
/// read-only value, EINVAL a wrong *oldlenp or newlen.
int ctl_by_mib(const size_t* mib, size_t len, const CtlIo& io);

}  // namespace strata::rt
