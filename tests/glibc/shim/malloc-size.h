/* strata's stand-in for glibc's internal <malloc-size.h> (tests/glibc):
   tst-mallocalign1 needs MALLOC_ALIGN_MASK, the alignment every malloc
   result must have on x86_64 and aarch64 (16 bytes; RELIABILITY #10). */
#ifndef STRATA_GLIBC_SHIM_MALLOC_SIZE_H
#define STRATA_GLIBC_SHIM_MALLOC_SIZE_H
#define MALLOC_ALIGNMENT 16
#define MALLOC_ALIGN_MASK (MALLOC_ALIGNMENT - 1)
#endif
