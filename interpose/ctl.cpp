// strata exports: jemalloc's mallctl, mallctlnametomib and mallctlbymib over

// strata_version.
#include <errno.h>
#include <stddef.h>

#include "export.hpp"
#include "runtime/ctl.hpp"
#include "strata/strata_version.h"

using namespace strata;
using namespace strata::rt;

extern "C" {

/// The version string, STRATA_VERSION_STRING of the library that runs.
STRATA_EXPORT const char* strata_version(void) noexcept { return STRATA_VERSION_STRING; }

/// jemalloc's mallctlnametomib: translates name (whole or a prefix) into
/// *miblenp indices at mibp; *miblenp is the capacity on entry, the depth on
/// return. ENOENT for an unknown name or one deeper than the capacity.
STRATA_EXPORT int strata_ctl_nametomib(const char* name, size_t* mibp, size_t* miblenp) noexcept {
  if (name == nullptr || mibp == nullptr || miblenp == nullptr) return EINVAL;
  return ctl_name_to_mib(name, mibp, miblenp);
}

/// jemalloc's mallctlbymib: runs the control at mib[0, miblen) (see mallctl).
STRATA_EXPORT int strata_ctl_bymib(const size_t* mib, size_t miblen, void* oldp, size_t* oldlenp, void* newp,
                                   size_t newlen) noexcept {
  if (mib == nullptr) return EINVAL;
  return ctl_by_mib(mib, miblen, CtlIo{oldp, oldlenp, newp, newlen});
}

/// jemalloc's mallctl(name, oldp, oldlenp, newp, newlen) over strata's names
/// (file comment): reads into oldp (*oldlenp bytes, which must be the value's
/// size) and/or writes from newp (newlen bytes). 0 on success, else an errno.
STRATA_EXPORT int strata_ctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) noexcept {
  size_t mib[CTL_MAX_DEPTH];
  size_t len = CTL_MAX_DEPTH;
  if (name == nullptr) return EINVAL;
  if (const int r = ctl_name_to_mib(name, mib, &len); r != 0) return r;
  return ctl_by_mib(mib, len, CtlIo{oldp, oldlenp, newp, newlen});
}

#if STRATA_OVERRIDE
int mallctl(const char*, void*, size_t*, void*, size_t) noexcept STRATA_ALIAS(strata_ctl);
int mallctlnametomib(const char*, size_t*, size_t*) noexcept STRATA_ALIAS(strata_ctl_nametomib);
int mallctlbymib(const size_t*, size_t, void*, size_t*, void*, size_t) noexcept STRATA_ALIAS(strata_ctl_bymib);
#endif
}
