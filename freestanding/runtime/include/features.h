/* strata firmware: stand-in for glibc's <features.h>, which libstdc++'s
   headers reach for but bare metal does not have. Only runtime/new_delete.cpp
   sees this directory (see shared FREESTANDING notes in docs/firmware.md). */
#pragma once
#define __GLIBC_PREREQ(major, minor) 0
