// strata firmware boot, Cortex-M board code (QEMU mps2-an385 / mps2-an386):
// the CMSDK APB UART0 as console, semihosting SYS_EXIT_EXTENDED as exit
// (QEMU runs with -semihosting-config enable=on), and the fault decoding
// behind start.S's fault_entry.
#include "boot/common/platform.hpp"

extern "C" strata::u8 __fast_ram_start[], __fast_ram_end[];  // link.ld

namespace strata::fw {
namespace {
constexpr uptr UART0 = 0x4000'4000;  // CMSDK APB UART: DATA +0, STATE +4, CTRL +8, BAUDDIV +0x10
constexpr u32 STATE_TX_FULL = 1u << 0;
constexpr u32 CTRL_TX_ENABLE = 1u << 0;
constexpr u32 SYS_EXIT_EXTENDED = 0x20;  // takes {reason, status}: the status reaches QEMU's exit code
constexpr u32 ADP_STOPPED_APPLICATION_EXIT = 0x20026;
// System control block: configurable fault status, and the two fault addresses.
constexpr uptr SCB_CFSR = 0xE000'ED28;
constexpr uptr SCB_MMFAR = 0xE000'ED34;
constexpr uptr SCB_BFAR = 0xE000'ED38;
constexpr u32 CFSR_MMARVALID = 1u << 7;
constexpr u32 CFSR_BFARVALID = 1u << 15;

volatile u32* reg(uptr address) { return reinterpret_cast<volatile u32*>(address); }

[[noreturn]] void semihosting_exit(u32 code) {
  u32 block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
  register u32 op __asm__("r0") = SYS_EXIT_EXTENDED;
  register u32* arg __asm__("r1") = block;
  __asm__ __volatile__("bkpt #0xab" : : "r"(op), "r"(arg) : "memory");
  for (;;) __asm__ __volatile__("wfi");
}
}  // namespace

void console_putc(char c) {
  if ((*reg(UART0 + 0x8) & CTRL_TX_ENABLE) == 0) {
    *reg(UART0 + 0x10) = 16;  // the smallest divider the UART accepts
    *reg(UART0 + 0x8) = CTRL_TX_ENABLE;
  }
  while ((*reg(UART0 + 0x4) & STATE_TX_FULL) != 0) {
  }
  *reg(UART0) = static_cast<u8>(c);
}

void exit_pass() { semihosting_exit(0); }

void exit_fail(u32 code) { semihosting_exit(code == 0 ? 1 : code); }

// cause = the exception number (bits 0..8, from IPSR) | the configurable fault
// status register's bus and usage fault bits (CFSR bits 8..31). Faults escalate
// to HardFault (3) unless enabled, so the status bits say what happened.
const char* trap_name(uptr cause) {
  if (cause & (1u << 16)) return "undefined instruction";
  if (cause & (1u << 17)) return "invalid state (no Thumb bit)";
  if (cause & (1u << 18)) return "invalid exception return";
  if (cause & (1u << 19)) return "no coprocessor";
  if (cause & (1u << 24)) return "unaligned access";
  if (cause & (1u << 25)) return "divide by zero";
  if (cause & (0x3fu << 8)) return "bus fault";
  switch (cause & 0x1ff) {
    case 2: return "nmi";
    case 3: return "hard fault";
    case 4: return "memmanage fault";
    case 5: return "bus fault";
    case 6: return "usage fault";
    case 11: return "svc";
    case 12: return "debug monitor";
    case 14: return "pendsv";
    case 15: return "systick";
    default: return (cause & 0x1ff) >= 16 ? "interrupt" : "exception";
  }
}

u64 load_from_invalid_address() {
  // Between the PSRAM and the peripherals: no RAM and no device answers.
  return *reinterpret_cast<volatile u32*>(uptr{0x3000'0000});
}

void execute_illegal_instruction() { __asm__ __volatile__("udf #0"); }

constexpr uptr SYST_CSR = 0xE000'E010, SYST_RVR = 0xE000'E014, SYST_CVR = 0xE000'E018;

void cycle_counter_start() {
  if ((*reg(SYST_CSR) & 1) != 0) return;
  *reg(SYST_RVR) = 0xff'ffff;  // free-running over all 24 bits, no interrupt
  *reg(SYST_CVR) = 0;
  *reg(SYST_CSR) = 0x5;  // core clock, enabled
}

u64 cycle_counter() { return 0xff'ffff - (*reg(SYST_CVR) & 0xff'ffff); }  // SysTick counts down

u32 cycle_counter_bits() { return 24; }

/// The fast SRAM above the stack (link.ld: __fast_ram_start .. __fast_ram_end).
u8* second_ram(usize& size) {
  size = static_cast<usize>(__fast_ram_end - __fast_ram_start);
  return __fast_ram_start;
}

}  // namespace strata::fw

using namespace strata;

/// start.S's fault_entry: exception number, stacked pc, the stacked frame.
extern "C" [[noreturn]] void fw_cortex_m_fault(u32 exception, u32 pc, const u32*) {
  const u32 cfsr = *fw::reg(fw::SCB_CFSR);
  uptr addr = 0;
  if (cfsr & fw::CFSR_BFARVALID) addr = *fw::reg(fw::SCB_BFAR);
  else if (cfsr & fw::CFSR_MMARVALID) addr = *fw::reg(fw::SCB_MMFAR);
  fw_trap((cfsr & ~u32{0xff}) | (exception & 0x1ff), pc, addr);
}
