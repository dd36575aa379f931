// strata firmware boot, aarch64 board code: QEMU virt's PL011 UART and
// semihosting SYS_EXIT (QEMU runs with -semihosting), the only exit that
// carries a status: PSCI SYSTEM_OFF always exits 0.
#include "boot/common/platform.hpp"

namespace strata::fw {
namespace {
constexpr uptr UART_BASE = 0x0900'0000;  // PL011: DR at +0x00, FR at +0x18
constexpr u32 FR_TX_FULL = 1u << 5;
constexpr u64 SYS_EXIT = 0x18;
constexpr u64 ADP_STOPPED_APPLICATION_EXIT = 0x20026;

volatile u32* uart_reg(uptr offset) { return reinterpret_cast<volatile u32*>(UART_BASE + offset); }

[[noreturn]] void semihosting_exit(u64 code) {
  // AArch64 SYS_EXIT takes a two-word block: reason, then the exit status.
  u64 block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
  register u64 op __asm__("x0") = SYS_EXIT;
  register u64* arg __asm__("x1") = block;
  __asm__ __volatile__("hlt #0xf000" : : "r"(op), "r"(arg) : "memory");
  for (;;) __asm__ __volatile__("wfe");
}
}  // namespace

void console_putc(char c) {
  while ((*uart_reg(0x18) & FR_TX_FULL) != 0) {
  }
  *uart_reg(0x00) = static_cast<u8>(c);
}

void exit_pass() { semihosting_exit(0); }

void exit_fail(u32 code) { semihosting_exit(code == 0 ? 1 : code); }

const char* trap_name(uptr esr) {
  switch ((esr >> 26) & 0x3f) {  // exception class
    case 0x00: return "unknown instruction";
    case 0x15: return "svc";
    case 0x20: case 0x21: return "instruction abort";
    case 0x22: return "pc alignment fault";
    case 0x24: case 0x25: return "data abort";
    case 0x26: return "sp alignment fault";
    case 0x2f: return "serror";
    case 0x3c: return "brk";
    default: return "exception";
  }
}

u64 load_from_invalid_address() {
  // Above the 128 MiB of RAM the image runs with: nothing answers there.
  return *reinterpret_cast<volatile u64*>(uptr{0x4000'0000} + (uptr{1} << 30));
}

void cycle_counter_start() {
  u64 pmcr = 0;
  __asm__ __volatile__("mrs %0, pmcr_el0" : "=r"(pmcr));
  __asm__ __volatile__("msr pmcr_el0, %0" ::"r"(pmcr | 1));                 // E: counters on
  __asm__ __volatile__("msr pmcntenset_el0, %0\n isb" ::"r"(u64{1} << 31));  // the cycle counter
}

u64 cycle_counter() {
  u64 v = 0;
  __asm__ __volatile__("isb\n mrs %0, pmccntr_el0" : "=r"(v));
  return v;
}

u32 cycle_counter_bits() { return 64; }

void execute_illegal_instruction() { __asm__ __volatile__("udf #0"); }

}  // namespace strata::fw
