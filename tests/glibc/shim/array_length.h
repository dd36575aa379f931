/* strata's stand-in for glibc's internal <array_length.h> (tests/glibc). */
#ifndef STRATA_GLIBC_SHIM_ARRAY_LENGTH_H
#define STRATA_GLIBC_SHIM_ARRAY_LENGTH_H
#define array_length(var) (sizeof (var) / sizeof ((var)[0]))
#endif
