/* strata firmware: libstdc++'s configuration without the hosted threading
   assumptions (gthreads, futex, sched_yield), so <new> compiles bare metal. */
#pragma once
#include_next <bits/c++config.h>
#undef _GLIBCXX_HAS_GTHREADS
#undef _GLIBCXX_HAVE_LINUX_FUTEX
#undef _GLIBCXX_USE_SCHED_YIELD
