// strata firmware boot, common to all ISAs: console formatting, the exit and
// trap entry points the start stubs call, and the platform hook strata_fatal
// the engines call on a failed CHECK.
//
// Output goes through console_putc() (boot/<isa>/platform.cpp). The harness
// (tests/firmware/run_qemu.sh) reads these lines: a run passes only with the
// ISA's pass exit code AND the line "strata-fw: PASS <n> checks".
#include "boot/common/platform.hpp"

#include "strata/core/check.hpp"

namespace strata::fw {

void put(const char* s) {
  if (s == nullptr) s = "(null)";
  for (; *s != '\0'; ++s) {
    if (*s == '\n') console_putc('\r');
    console_putc(*s);
  }
}

void put_hex(u64 v) {
  put("0x");
  int shift = 60;
  while (shift > 0 && ((v >> shift) & 0xf) == 0) shift -= 4;  // no leading zeros
  for (; shift >= 0; shift -= 4) console_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

void put_dec(u64 v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) console_putc(digits[--n]);
}

void put_tag(const char* s) {
  put("strata-fw: ");
  put(s);
}

[[gnu::weak]] u8* second_ram(usize& size) {
  size = 0;
  return nullptr;
}

}  // namespace strata::fw

using namespace strata;

extern "C" [[noreturn]] void fw_exit(int code) {
  if (code == 0) fw::exit_pass();
  fw::put_tag("exit with failure code ");
  fw::put_dec(static_cast<u64>(static_cast<u32>(code)));
  fw::put("\n");
  fw::exit_fail(static_cast<u32>(code));
}

extern "C" [[noreturn]] void fw_trap(uptr cause, uptr pc, uptr addr) {
  fw::put_tag("FAIL trap: ");
  fw::put(fw::trap_name(cause));
  fw::put(" cause=");
  fw::put_hex(cause);
  fw::put(" pc=");
  fw::put_hex(pc);
  fw::put(" addr=");
  fw::put_hex(addr);
  fw::put("\n");
  fw::exit_fail(2);
}

/// The platform hook of include/strata/core/check.hpp: a failed engine CHECK (or
/// operator new out of memory) ends the boot as a failure.
extern "C" [[noreturn]] void strata_fatal(const char* what, uptr value) {
  fw::put_tag("FAIL fatal: ");
  fw::put(what);
  fw::put(" ");
  fw::put_hex(value);
  fw::put("\n");
  fw::exit_fail(3);
}
