/*
 * strata firmware: the smallest real user of the firmware C API, for
 * size_table.sh. Two boot images built on demand: size_probe, whose fw_main
 * calls strata_fw_init, malloc and free, and size_probe_empty (with
 * STRATA_FW_PROBE_EMPTY), whose fw_main does nothing. Linked with
 * --gc-sections, the difference of their .text is what malloc and free cost a
 * firmware: the C API entry points, the TLSF code they reach, memset.
 */
#include "strata/strata_fw.h"

#if STRATA_FW_PROBE_EMPTY
int fw_main(void) { return 0; }
#else
static unsigned char pool[1 << 16];

int fw_main(void) {
  if (strata_fw_init(pool, sizeof pool) != 0) return 1;
  void* p = STRATA_FW_NAME(malloc)(64);
  STRATA_FW_NAME(free)(p);
  return p == NULL;
}
#endif
