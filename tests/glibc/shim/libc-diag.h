/* strata's stand-in for glibc's internal <libc-diag.h>, enough for the
   malloc tests built outside glibc (tests/glibc/CMakeLists.txt): the
   diagnostic push/pop pairs they use around deliberate misuse, with the
   "ignore" steps left empty because the tests are compiled with -w. */
#ifndef STRATA_GLIBC_SHIM_LIBC_DIAG_H
#define STRATA_GLIBC_SHIM_LIBC_DIAG_H
#define DIAG_PUSH_NEEDS_COMMENT _Pragma ("GCC diagnostic push")
#define DIAG_POP_NEEDS_COMMENT _Pragma ("GCC diagnostic pop")
#define DIAG_PUSH_NEEDS_COMMENT_CLANG DIAG_PUSH_NEEDS_COMMENT
#define DIAG_POP_NEEDS_COMMENT_CLANG DIAG_POP_NEEDS_COMMENT
#define DIAG_IGNORE_NEEDS_COMMENT(version, option)
#define DIAG_IGNORE_NEEDS_COMMENT_CLANG(version, option)
#define DIAG_IGNORE_Os_NEEDS_COMMENT(version, option)
#endif
