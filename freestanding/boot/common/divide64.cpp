// strata firmware boot, 32-bit ISAs only: unsigned 64-bit division.
//
// clang lowers u64 / and % on 32-bit targets to compiler-runtime calls
// (__udivdi3/__umoddi3 on RV32, __aeabi_uldivmod on ARM), and a bare-metal
// image has no compiler runtime. The test images need them (the console's
// decimal printing, the scenarios' random generator); the strata libraries
// never do (the symbol test proves it). Shift-and-subtract: slow, but only
// the test code divides.
#include "strata/core/types.hpp"

#if __SIZEOF_POINTER__ == 4
using strata::u64;

/// n / d, with n % d in *rem. d == 0 gives all ones and rem = n (no image
/// divides by zero).
extern "C" u64 fw_udivmod64(u64 n, u64 d, u64* rem) {
  if (d == 0) {
    *rem = n;
    return ~u64{0};
  }
  u64 q = 0;
  u64 r = 0;
  for (int bit = 63; bit >= 0; --bit) {
    r = (r << 1) | ((n >> bit) & 1);
    if (r >= d) {
      r -= d;
      q |= u64{1} << bit;
    }
  }
  *rem = r;
  return q;
}

#if defined(__riscv)
extern "C" u64 __udivdi3(u64 n, u64 d) {
  u64 r = 0;
  return fw_udivmod64(n, d, &r);
}
extern "C" u64 __umoddi3(u64 n, u64 d) {
  u64 r = 0;
  (void)fw_udivmod64(n, d, &r);
  return r;
}
#endif  // ARM: __aeabi_uldivmod is in boot/cortex-m/start.S (its result is two register pairs)
#endif
