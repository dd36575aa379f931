// strata firmware multi-task image, Cortex-M port (rtos_port.hpp): SysTick
// every TICK_CYCLES core cycles pends PendSV, whose handler
// (rtos_cortex_m.S) switches tasks; tasks run in thread mode on the process
// stack. strata's own strata_fw_in_interrupt (IPSR) tells the handlers.
#include "rtos_port.hpp"

namespace strata::fw::rtos {
namespace {
volatile u32& reg(uptr a) { return *reinterpret_cast<volatile u32*>(a); }
constexpr uptr SYST_CSR = 0xE000'E010, SYST_RVR = 0xE000'E014, SYST_CVR = 0xE000'E018;
constexpr uptr SCB_ICSR = 0xE000'ED04, SCB_SHPR3 = 0xE000'ED20;
constexpr u32 ICSR_PENDSVSET = 1u << 28;
/// SysTick period in core cycles: short, so that tasks are often preempted
/// inside the heap (a heap call is a few hundred cycles).
constexpr u32 TICK_CYCLES = 3000;
}  // namespace

const char* tick_description() { return "SysTick every 3000 core cycles"; }
static_assert(TICK_CYCLES == 3000, "tick_description says so");

uptr* initial_context(uptr* top, void (*entry)(uptr), uptr arg, void (*exit)()) {
  uptr* sp = top;
  *--sp = 1u << 24;                             // xPSR: Thumb
  *--sp = reinterpret_cast<uptr>(entry);        // pc
  *--sp = reinterpret_cast<uptr>(exit);         // lr
  for (int r = 0; r < 4; ++r) *--sp = 0;        // r12, r3, r2, r1
  *--sp = arg;                                  // r0
  for (int r = 0; r < 8; ++r) *--sp = 0;        // r4..r11 (popped by PendSV)
  return sp;
}

void start_ticks() {
  reg(SCB_SHPR3) = 0xffff'0000;  // PendSV and SysTick at the lowest priority
  reg(SYST_RVR) = TICK_CYCLES - 1;
  reg(SYST_CVR) = 0;
  reg(SYST_CSR) = 0x7;  // core clock, interrupt, enable
  __asm__ __volatile__("cpsie i" ::: "memory");  // the boot code starts with interrupts off
}

void yield() {
  reg(SCB_ICSR) = ICSR_PENDSVSET;
  __asm__ __volatile__("dsb\n isb" ::: "memory");
}

uptr irq_save() {
  u32 primask = 0;
  __asm__ __volatile__("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
  return primask;
}

void irq_restore(uptr saved) { __asm__ __volatile__("msr primask, %0" ::"r"(static_cast<u32>(saved)) : "memory"); }

}  // namespace strata::fw::rtos

/// SysTick (claims boot/cortex-m's weak handler): the kernel's tick, then
/// the switch, in PendSV once no other handler runs.
extern "C" void fw_systick_handler() {
  strata::fw::rtos::tick();
  strata::fw::rtos::reg(strata::fw::rtos::SCB_ICSR) = strata::fw::rtos::ICSR_PENDSVSET;
}
