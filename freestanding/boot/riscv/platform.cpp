// strata firmware boot, RISC-V board code (riscv64 and riscv32): QEMU virt's
// NS16550 UART and the SiFive test "finisher" that ends the emulation with an
// exit status.
#include "boot/common/platform.hpp"

namespace strata::fw {
namespace {
constexpr uptr UART_BASE = 0x1000'0000;  // NS16550: THR at +0, LSR at +5
constexpr u8 LSR_THR_EMPTY = 1u << 5;
constexpr uptr FINISHER = 0x10'0000;
constexpr u32 FINISHER_PASS = 0x5555;  // QEMU exits 0
constexpr u32 FINISHER_FAIL = 0x3333;  // QEMU exits (word >> 16)

volatile u8* uart_reg(uptr offset) { return reinterpret_cast<volatile u8*>(UART_BASE + offset); }

[[noreturn]] void finish(u32 word) {
  *reinterpret_cast<volatile u32*>(FINISHER) = word;
  for (;;) __asm__ __volatile__("wfi");
}
}  // namespace

void console_putc(char c) {
  while ((*uart_reg(5) & LSR_THR_EMPTY) == 0) {
  }
  *uart_reg(0) = static_cast<u8>(c);
}

void exit_pass() { finish(FINISHER_PASS); }

void exit_fail(u32 code) { finish(((code == 0 ? 1u : (code & 0xffffu)) << 16) | FINISHER_FAIL); }

const char* trap_name(uptr cause) {
  if ((cause >> (sizeof(uptr) * 8 - 1)) != 0) return "interrupt";  // mcause's top bit
  switch (cause) {
    case 0: return "instruction address misaligned";
    case 1: return "instruction access fault";
    case 2: return "illegal instruction";
    case 3: return "breakpoint";
    case 4: return "load address misaligned";
    case 5: return "load access fault";
    case 6: return "store address misaligned";
    case 7: return "store access fault";
    case 11: return "ecall from M-mode";
    default: return "exception";
  }
}

u64 load_from_invalid_address() {
  // Nothing is mapped at physical 0 on virt (the boot ROM starts at 0x1000).
  return *reinterpret_cast<volatile u64*>(uptr{0x8});
}

void cycle_counter_start() {}

u64 cycle_counter() {
  uptr v = 0;
  __asm__ __volatile__("csrr %0, minstret" : "=r"(v));
  return v;
}

u32 cycle_counter_bits() { return sizeof(uptr) * 8; }

void execute_illegal_instruction() { __asm__ __volatile__(".4byte 0x00000000"); }  // all-zero: defined illegal

}  // namespace strata::fw
